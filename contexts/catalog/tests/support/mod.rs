//! Catalog test fixtures on real databases (SQLite always, PostgreSQL with
//! TEST_DATABASE_URL).

#![allow(dead_code)]

use catalog::domain::{Sku, Slug};
use catalog::images::ImageStore;
use catalog::service::{CatalogService, NewProduct, Product};
use chrono::Utc;
use kernel::clock::ManualClock;
use kernel::events::Outbox;
use kernel::testing::{TestDatabase, test_databases};
use kernel::{Currency, Money};
use std::sync::Arc;

pub struct Catalog {
    pub service: Arc<CatalogService>,
    pub clock: Arc<ManualClock>,
    pub db: TestDatabase,
    _images: tempfile::TempDir,
}

pub fn catalogs() -> Vec<Catalog> {
    test_databases(catalog::CONTEXT, catalog::migrate)
        .into_iter()
        .map(|db| {
            let clock = Arc::new(ManualClock::new(Utc::now()));
            let images = tempfile::tempdir().expect("tempdir");
            let service = Arc::new(CatalogService::new(
                db.db.clone(),
                clock.clone(),
                Outbox::new(catalog::CONTEXT, clock.clone()),
                ImageStore::new(images.path()),
            ));
            Catalog { service, clock, db, _images: images }
        })
        .collect()
}

pub fn eur(amount: i64) -> Money {
    Money::new(amount, Currency::parse("EUR").expect("EUR"))
}

impl Catalog {
    pub fn label(&self) -> &'static str {
        self.db.label()
    }

    pub fn product(
        &self,
        sku: &str,
        name: &str,
        description: &str,
        price: i64,
        stock: i64,
        category: Option<&str>,
    ) -> Product {
        self.service
            .create_product(NewProduct {
                sku: Sku::parse(sku).expect("sku"),
                name: name.to_owned(),
                description: description.to_owned(),
                price: eur(price),
                category_id: category.map(str::to_owned),
                images: vec![],
                attributes: serde_json::Map::new(),
                active: true,
                initial_stock: stock,
            })
            .expect("create product")
    }

    pub fn category(&self, name: &str, slug: &str, parent: Option<&str>) -> String {
        self.service
            .create_category(name.to_owned(), Slug::parse(slug).expect("slug"), parent.map(str::to_owned))
            .expect("create category")
            .id
    }
}
