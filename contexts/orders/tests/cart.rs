//! Carts on real databases, with the catalog mocked through its published
//! trait (mockall): guest carts, customer carts, merging, pricing.

use catalog_api::{MockCatalogApi, ProductSnapshot};
use chrono::Utc;
use kernel::clock::ManualClock;
use kernel::testing::test_databases;
use kernel::{Currency, Money, ProductId, UserId};
use orders::cart::{CartError, CartOwner, CartService, MAX_QUANTITY};
use std::sync::Arc;

fn snapshot(id: ProductId, price: i64, available: i64, active: bool) -> ProductSnapshot {
    ProductSnapshot {
        id,
        sku: format!("SKU-{}", &id.to_string()[..8]),
        name: format!("Product {}", &id.to_string()[..8]),
        price: Money::new(price, Currency::parse("EUR").expect("EUR")),
        active,
        available,
    }
}

/// A catalog that knows `products` and nothing else.
fn catalog(products: Vec<ProductSnapshot>) -> MockCatalogApi {
    let mut mock = MockCatalogApi::new();
    mock.expect_product_snapshots()
        .returning(move |ids| Ok(ids.iter().filter_map(|id| products.iter().find(|p| p.id == *id).cloned()).collect()));
    mock
}

fn guest(token: Option<&str>) -> CartOwner {
    CartOwner { customer: None, guest_token: token.map(str::to_owned) }
}

#[test]
fn guests_get_a_token_and_customers_merge_their_guest_cart_on_sign_in() {
    for db in test_databases(orders::CONTEXT, orders::migrate) {
        let (lamp, mug) = (ProductId::new(), ProductId::new());
        let service = CartService::new(
            db.db.clone(),
            Arc::new(ManualClock::new(Utc::now())),
            Arc::new(catalog(vec![snapshot(lamp, 2500, 10, true), snapshot(mug, 900, 150, true)])),
        );
        // Reading creates nothing.
        assert!(service.stored(&guest(None)).expect("empty").lines.is_empty());
        let created = service.set_quantity(&guest(None), lamp, 2).expect("guest cart");
        let token = created.issued_token.clone().expect("a token for the new guest cart");
        assert!(token.starts_with("ct_"));
        let again = service.set_quantity(&guest(Some(&token)), mug, 98).expect("same cart");
        assert_eq!(again.issued_token, None);
        assert_eq!(again.lines, vec![(lamp, 2), (mug, 98)]);
        assert!(matches!(service.stored(&guest(Some("ct_forged"))), Err(CartError::UnknownToken)));

        let customer = UserId::new();
        service.set_quantity(&CartOwner { customer: Some(customer), guest_token: None }, mug, 5).expect("own cart");
        let merged =
            service.stored(&CartOwner { customer: Some(customer), guest_token: Some(token.clone()) }).expect("merge");
        let mut lines = merged.lines.clone();
        lines.sort();
        let mut expected = vec![(lamp, 2), (mug, MAX_QUANTITY)];
        expected.sort();
        assert_eq!(lines, expected, "{}: quantities added, capped at 99", db.label());
        // The guest cart is gone once merged.
        assert!(matches!(service.stored(&guest(Some(&token))), Err(CartError::UnknownToken)));
        assert!(matches!(
            service.set_quantity(&CartOwner { customer: Some(customer), guest_token: None }, lamp, 0),
            Err(CartError::InvalidQuantity)
        ));
    }
}

#[test]
fn a_guest_cart_becomes_a_new_customers_cart() {
    for db in test_databases(orders::CONTEXT, orders::migrate) {
        let lamp = ProductId::new();
        let service = CartService::new(
            db.db.clone(),
            Arc::new(ManualClock::new(Utc::now())),
            Arc::new(catalog(vec![snapshot(lamp, 2500, 10, true)])),
        );
        let token = service.set_quantity(&guest(None), lamp, 3).expect("guest").issued_token.expect("token");
        let customer = UserId::new();
        let adopted = service.stored(&CartOwner { customer: Some(customer), guest_token: Some(token) }).expect("adopt");
        assert_eq!(adopted.lines, vec![(lamp, 3)]);
        let own = service.stored(&CartOwner { customer: Some(customer), guest_token: None }).expect("own");
        assert_eq!(own.lines, vec![(lamp, 3)], "{}", db.label());
    }
}

#[test]
fn pricing_uses_the_catalogs_current_snapshots() {
    for db in test_databases(orders::CONTEXT, orders::migrate) {
        let (lamp, gone, scarce) = (ProductId::new(), ProductId::new(), ProductId::new());
        let service = CartService::new(
            db.db.clone(),
            Arc::new(ManualClock::new(Utc::now())),
            Arc::new(catalog(vec![snapshot(lamp, 2500, 10, true), snapshot(scarce, 100, 1, true)])),
        );
        let owner = CartOwner { customer: Some(UserId::new()), guest_token: None };
        service.set_quantity(&owner, lamp, 2).expect("lamp");
        actix_web::rt::System::new().block_on(async {
            let priced = service.price(service.stored(&owner).expect("cart")).await.expect("priced");
            assert_eq!(priced.total.map(|t| t.amount), Some(5000));
            assert!(priced.checkout_ready);

            service.set_quantity(&owner, scarce, 3).expect("more than available");
            service.set_quantity(&owner, gone, 1).expect("a product the catalog later drops");
            let priced = service.price(service.stored(&owner).expect("cart")).await.expect("priced");
            assert!(!priced.checkout_ready, "{}", db.label());
            let gone_line = priced.lines.iter().find(|l| l.product_id == gone).expect("line kept");
            assert!(gone_line.product.is_none() && gone_line.line_total.is_none());
            assert_eq!(priced.total.map(|t| t.amount), Some(5300));
            assert!(service.ensure_for_sale(gone).await.is_err());
            assert!(service.ensure_for_sale(lamp).await.is_ok());
        });
        service.remove_line(&owner, gone).expect("remove");
        service.clear(&owner).expect("clear");
        assert!(service.stored(&owner).expect("cart").lines.is_empty());
    }
}

#[test]
fn an_unavailable_catalog_is_reported_not_hidden() {
    let db = kernel::testing::TestDatabase::sqlite(orders::CONTEXT, orders::migrate);
    let mut mock = MockCatalogApi::new();
    mock.expect_product_snapshots()
        .returning(|_| Err(catalog_api::StockError::Unavailable("catalog database is down".into())));
    let service = CartService::new(db.db.clone(), Arc::new(ManualClock::new(Utc::now())), Arc::new(mock));
    actix_web::rt::System::new().block_on(async {
        assert!(matches!(service.ensure_for_sale(ProductId::new()).await, Err(CartError::CatalogUnavailable(_))));
    });
}
