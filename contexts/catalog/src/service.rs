//! The catalog's use cases: products, categories, images, stock, stock
//! reservations for orders, and search. Synchronous; the HTTP edge and the
//! in-process `CatalogApi` run them on the blocking pool.

use crate::domain::{CategoryTree, LOW_STOCK_THRESHOLD, Sku, Slug};
use crate::images::{ImageKind, ImageStore};
use crate::search::{self, After, SearchFilter, Sort};
use crate::store::{
    self, AdjustmentRow, CategoryRow, ImageRow, NewProductRow, ProductEdit, ProductRow, ReservationRow, db_time,
    is_unique_violation, utc,
};
use catalog_api::events::{
    PriceChanged, ProductCreated, ProductUpdated, ReleaseReason, ReservationReleased, StockChanged, StockReserved,
};
use catalog_api::{ProductSnapshot, Reservation, ReservationState, StockError, StockLine};
use chrono::{DateTime, Utc};
use kernel::db::{ContextDatabase, DbConn, DbError};
use kernel::events::Outbox;
use kernel::{Clock, Currency, Money, OrderId, ProductId};
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("invalid {field}: {message}")]
    Invalid { field: String, code: &'static str, message: String },
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error(transparent)]
    Stock(StockError),
    /// A concurrent write of the same key won (handled inside the service).
    #[error("a concurrent request did this first")]
    Duplicate,
    #[error(transparent)]
    Unavailable(DbError),
    #[error("{0}")]
    Internal(String),
}

impl CatalogError {
    pub fn invalid(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        CatalogError::Invalid { field: field.to_owned(), code, message: message.into() }
    }

    fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        CatalogError::Conflict { code, message: message.into() }
    }
}

impl From<diesel::result::Error> for CatalogError {
    fn from(error: diesel::result::Error) -> Self {
        CatalogError::Internal(error.to_string())
    }
}

impl From<DbError> for CatalogError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::Query(error) => CatalogError::Internal(error.to_string()),
            other => CatalogError::Unavailable(other),
        }
    }
}

impl From<StockError> for CatalogError {
    fn from(error: StockError) -> Self {
        CatalogError::Stock(error)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub id: String,
    pub url: String,
    pub alt: String,
    pub uploaded: bool,
}

#[derive(Debug, Clone)]
pub struct Product {
    pub id: ProductId,
    pub seq: i64,
    pub sku: String,
    pub name: String,
    pub description: String,
    pub price: Money,
    pub category_id: Option<String>,
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub active: bool,
    pub archived: bool,
    pub on_hand: i64,
    pub reserved: i64,
    pub images: Vec<Image>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Product {
    pub fn available(&self) -> i64 {
        (self.on_hand - self.reserved).max(0)
    }

    pub fn for_sale(&self) -> bool {
        self.active && !self.archived
    }
}

/// A validated new product.
#[derive(Debug, Clone)]
pub struct NewProduct {
    pub sku: Sku,
    pub name: String,
    pub description: String,
    pub price: Money,
    pub category_id: Option<String>,
    pub images: Vec<(String, String)>,
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub active: bool,
    pub initial_stock: i64,
}

/// A validated change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProductChanges {
    pub sku: Option<Sku>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub price: Option<Money>,
    /// `Some(None)` removes the category.
    pub category_id: Option<Option<String>>,
    /// Replaces the linked images (uploaded ones stay, after them).
    pub images: Option<Vec<(String, String)>>,
    pub attributes: Option<serde_json::Map<String, serde_json::Value>>,
    pub active: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct CategoryNode {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub parent_id: Option<String>,
    pub children: Vec<CategoryNode>,
}

#[derive(Debug, Clone)]
pub struct Facet {
    pub category_id: String,
    pub slug: String,
    pub name: String,
    pub count: i64,
}

#[derive(Debug, Clone)]
pub struct SearchPage {
    pub items: Vec<Product>,
    pub next: Option<After>,
    pub sort: Sort,
    pub facets: Vec<Facet>,
}

#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub text: Option<String>,
    /// A category id or slug; its descendants are included.
    pub category: Option<String>,
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    pub in_stock: bool,
    pub sort: Option<Sort>,
    pub after: Option<After>,
    pub limit: i64,
}

#[derive(Debug, Clone)]
pub struct Adjustment {
    pub id: String,
    pub delta: i64,
    pub reason: String,
    pub on_hand_after: i64,
    pub created_at: DateTime<Utc>,
}

const HELD: &str = "held";
const COMMITTED: &str = "committed";
const RELEASED: &str = "released";

pub struct CatalogService {
    db: ContextDatabase,
    clock: Arc<dyn Clock>,
    outbox: Outbox,
    images: ImageStore,
}

impl CatalogService {
    pub fn new(db: ContextDatabase, clock: Arc<dyn Clock>, outbox: Outbox, images: ImageStore) -> Self {
        Self { db, clock, outbox, images }
    }

    pub fn database(&self) -> &ContextDatabase {
        &self.db
    }

    pub fn image_store(&self) -> &ImageStore {
        &self.images
    }

    fn conn(&self) -> Result<kernel::db::PooledConn, CatalogError> {
        Ok(self.db.conn()?)
    }

    // ----- categories -----

    pub fn create_category(
        &self,
        name: String,
        slug: Slug,
        parent: Option<String>,
    ) -> Result<CategoryNode, CatalogError> {
        let now = db_time(self.clock.now());
        let row = CategoryRow {
            id: uuid::Uuid::now_v7().to_string(),
            name,
            slug: slug.as_str().to_owned(),
            parent_id: parent,
            created_at: now,
            updated_at: now,
        };
        let mut conn = self.conn()?;
        self.outbox.transaction(&mut conn, |conn| {
            if let Some(parent) = &row.parent_id
                && store::find_category(conn, parent)?.is_none()
            {
                return Err(CatalogError::invalid("parent_id", "unknown_category", "no such category"));
            }
            store::insert_category(conn, &row).map_err(|error| {
                if is_unique_violation(&error) {
                    CatalogError::conflict("slug_taken", "a category already has this slug")
                } else {
                    error.into()
                }
            })
        })?;
        Ok(CategoryNode { id: row.id, name: row.name, slug: row.slug, parent_id: row.parent_id, children: vec![] })
    }

    /// Renames and/or moves a category. `parent`: `Some(None)` makes it a root.
    pub fn update_category(
        &self,
        id: &str,
        name: Option<String>,
        slug: Option<Slug>,
        parent: Option<Option<String>>,
    ) -> Result<CategoryNode, CatalogError> {
        let now = db_time(self.clock.now());
        let mut conn = self.conn()?;
        self.outbox.transaction(&mut conn, |conn| {
            let mut row = store::find_category(conn, id)?.ok_or(CatalogError::NotFound("category"))?;
            if let Some(name) = name {
                row.name = name;
            }
            if let Some(slug) = slug {
                row.slug = slug.as_str().to_owned();
            }
            if let Some(parent) = parent {
                if let Some(parent_id) = &parent {
                    if store::find_category(conn, parent_id)?.is_none() {
                        return Err(CatalogError::invalid("parent_id", "unknown_category", "no such category"));
                    }
                    let tree = CategoryTree::new(store::all_categories(conn)?.into_iter().map(|c| (c.id, c.parent_id)));
                    if tree.would_cycle(id, parent_id) {
                        return Err(CatalogError::conflict(
                            "category_cycle",
                            "a category cannot move under itself or its descendants",
                        ));
                    }
                }
                row.parent_id = parent;
            }
            row.updated_at = now;
            store::save_category(conn, &row).map_err(|error| {
                if is_unique_violation(&error) {
                    CatalogError::conflict("slug_taken", "a category already has this slug")
                } else {
                    error.into()
                }
            })?;
            Ok(CategoryNode { id: row.id, name: row.name, slug: row.slug, parent_id: row.parent_id, children: vec![] })
        })
    }

    /// Deletes an empty category (no children, no products).
    pub fn delete_category(&self, id: &str) -> Result<(), CatalogError> {
        let mut conn = self.conn()?;
        self.outbox.transaction(&mut conn, |conn| {
            if store::find_category(conn, id)?.is_none() {
                return Err(CatalogError::NotFound("category"));
            }
            if store::category_in_use(conn, id)? {
                return Err(CatalogError::conflict(
                    "category_not_empty",
                    "the category still has subcategories or products",
                ));
            }
            store::delete_category(conn, id)?;
            Ok(())
        })
    }

    /// The whole tree, roots first, children by name.
    pub fn category_tree(&self) -> Result<Vec<CategoryNode>, CatalogError> {
        let mut conn = self.conn()?;
        let rows = store::all_categories(&mut conn)?;
        let mut children: BTreeMap<Option<String>, Vec<CategoryRow>> = BTreeMap::new();
        for row in rows {
            children.entry(row.parent_id.clone()).or_default().push(row);
        }
        fn build(
            parent: Option<String>,
            children: &mut BTreeMap<Option<String>, Vec<CategoryRow>>,
        ) -> Vec<CategoryNode> {
            let rows = children.remove(&parent).unwrap_or_default();
            rows.into_iter()
                .map(|row| CategoryNode {
                    children: build(Some(row.id.clone()), children),
                    id: row.id,
                    name: row.name,
                    slug: row.slug,
                    parent_id: row.parent_id,
                })
                .collect()
        }
        Ok(build(None, &mut children))
    }

    fn resolve_category(&self, conn: &mut DbConn, key: &str) -> Result<Option<CategoryRow>, CatalogError> {
        if let Some(row) = store::find_category(conn, key)? {
            return Ok(Some(row));
        }
        Ok(store::find_category_by_slug(conn, key)?)
    }

    // ----- products -----

    fn assemble(&self, conn: &mut DbConn, rows: Vec<ProductRow>) -> Result<Vec<Product>, CatalogError> {
        let ids: Vec<String> = rows.iter().map(|row| row.id.clone()).collect();
        let mut images: BTreeMap<String, Vec<Image>> = BTreeMap::new();
        for image in store::images_of(conn, &ids)? {
            images.entry(image.product_id.clone()).or_default().push(Image {
                url: image.url,
                alt: image.alt,
                uploaded: image.stored_file.is_some(),
                id: image.id,
            });
        }
        rows.into_iter()
            .map(|row| {
                let corrupt = |what: &str| CatalogError::Internal(format!("product {}: stored {what}", row.id));
                Ok(Product {
                    id: ProductId::parse(&row.id).map_err(|_| corrupt("id"))?,
                    seq: row.seq,
                    price: Money::new(
                        row.price_amount,
                        Currency::parse(&row.price_currency).map_err(|_| corrupt("currency"))?,
                    ),
                    attributes: serde_json::from_str(&row.attributes).map_err(|_| corrupt("attributes"))?,
                    images: images.remove(&row.id).unwrap_or_default(),
                    archived: row.archived_at.is_some(),
                    created_at: utc(row.created_at),
                    updated_at: utc(row.updated_at),
                    sku: row.sku,
                    name: row.name,
                    description: row.description,
                    category_id: row.category_id,
                    active: row.active,
                    on_hand: row.on_hand,
                    reserved: row.reserved,
                })
            })
            .collect()
    }

    fn load_product(&self, conn: &mut DbConn, id: ProductId) -> Result<Product, CatalogError> {
        let row = store::find_product(conn, &id.to_string())?.ok_or(CatalogError::NotFound("product"))?;
        self.assemble(conn, vec![row])?.pop().ok_or(CatalogError::NotFound("product"))
    }

    pub fn product(&self, id: ProductId) -> Result<Product, CatalogError> {
        let mut conn = self.conn()?;
        self.load_product(&mut conn, id)
    }

    pub fn create_product(&self, new: NewProduct) -> Result<Product, CatalogError> {
        let now = db_time(self.clock.now());
        let id = ProductId::new();
        let attributes = serde_json::Value::Object(new.attributes.clone()).to_string();
        let mut conn = self.conn()?;
        self.outbox.transaction(&mut conn, |conn| {
            if let Some(category) = &new.category_id
                && store::find_category(conn, category)?.is_none()
            {
                return Err(CatalogError::invalid("category_id", "unknown_category", "no such category"));
            }
            store::insert_product(
                conn,
                &NewProductRow {
                    id: id.to_string(),
                    sku: new.sku.as_str().to_owned(),
                    name: new.name.clone(),
                    description: new.description.clone(),
                    price_amount: new.price.amount,
                    price_currency: new.price.currency.code().to_owned(),
                    category_id: new.category_id.clone(),
                    attributes,
                    active: new.active,
                    on_hand: new.initial_stock,
                    reserved: 0,
                    created_at: now,
                    updated_at: now,
                },
            )
            .map_err(|error| {
                if is_unique_violation(&error) {
                    CatalogError::conflict("sku_taken", "a product already has this SKU")
                } else {
                    error.into()
                }
            })?;
            for (position, (url, alt)) in new.images.iter().enumerate() {
                store::insert_image(conn, &linked_image(&id, position as i32, url, alt, now))?;
            }
            if new.initial_stock > 0 {
                store::insert_adjustment(
                    conn,
                    &AdjustmentRow {
                        id: uuid::Uuid::now_v7().to_string(),
                        product_id: id.to_string(),
                        delta: new.initial_stock,
                        reason: "initial stock".to_owned(),
                        on_hand_after: new.initial_stock,
                        created_at: now,
                    },
                )?;
            }
            self.outbox.record(
                conn,
                &ProductCreated {
                    product_id: id,
                    sku: new.sku.as_str().to_owned(),
                    name: new.name.clone(),
                    price: new.price,
                    category_id: new.category_id.as_deref().and_then(|c| uuid::Uuid::parse_str(c).ok()),
                },
            )?;
            self.load_product(conn, id)
        })
    }

    pub fn update_product(&self, id: ProductId, changes: ProductChanges) -> Result<Product, CatalogError> {
        let now = db_time(self.clock.now());
        let mut conn = self.conn()?;
        self.outbox.transaction(&mut conn, |conn| {
            let before = self.load_product(conn, id)?;
            if let Some(Some(category)) = &changes.category_id
                && store::find_category(conn, category)?.is_none()
            {
                return Err(CatalogError::invalid("category_id", "unknown_category", "no such category"));
            }
            let edit = ProductEdit {
                sku: changes.sku.as_ref().map_or(before.sku.clone(), |sku| sku.as_str().to_owned()),
                name: changes.name.clone().unwrap_or(before.name.clone()),
                description: changes.description.clone().unwrap_or(before.description.clone()),
                price_amount: changes.price.map_or(before.price.amount, |p| p.amount),
                price_currency: changes.price.map_or(before.price.currency, |p| p.currency).code().to_owned(),
                category_id: changes.category_id.clone().unwrap_or(before.category_id.clone()),
                attributes: serde_json::Value::Object(changes.attributes.clone().unwrap_or(before.attributes.clone()))
                    .to_string(),
                active: changes.active.unwrap_or(before.active),
                updated_at: now,
            };
            store::edit_product(conn, &id.to_string(), &edit).map_err(|error| {
                if is_unique_violation(&error) {
                    CatalogError::conflict("sku_taken", "a product already has this SKU")
                } else {
                    error.into()
                }
            })?;
            if let Some(images) = &changes.images {
                // Linked images are replaced; uploaded ones keep their rows and
                // positions, which sort after the links (uploads number on
                // from the highest position).
                store::delete_linked_images(conn, &id.to_string())?;
                for (position, (url, alt)) in images.iter().enumerate() {
                    store::insert_image(
                        conn,
                        &linked_image(&id, position as i32 - images.len() as i32, url, alt, now),
                    )?;
                }
            }
            let after = self.load_product(conn, id)?;
            self.outbox.record(
                conn,
                &ProductUpdated {
                    product_id: id,
                    name: after.name.clone(),
                    active: after.active,
                    archived: after.archived,
                },
            )?;
            if after.price != before.price {
                self.outbox
                    .record(conn, &PriceChanged { product_id: id, old_price: before.price, new_price: after.price })?;
            }
            Ok(after)
        })
    }

    /// Hides a product from shoppers; it stays readable by id (order history).
    pub fn archive_product(&self, id: ProductId) -> Result<(), CatalogError> {
        let now = db_time(self.clock.now());
        let mut conn = self.conn()?;
        self.outbox.transaction(&mut conn, |conn| {
            let product = self.load_product(conn, id)?;
            if product.archived {
                return Ok(());
            }
            store::archive_product(conn, &id.to_string(), now)?;
            self.outbox
                .record(conn, &ProductUpdated { product_id: id, name: product.name, active: false, archived: true })?;
            Ok(())
        })
    }

    pub fn add_uploaded_image(&self, id: ProductId, bytes: &[u8], alt: String) -> Result<Image, CatalogError> {
        let kind = ImageKind::sniff(bytes).ok_or(CatalogError::Conflict {
            code: "unsupported_image",
            message: "only PNG, JPEG and WebP images are accepted".to_owned(),
        })?;
        let now = db_time(self.clock.now());
        let image_id = uuid::Uuid::now_v7().to_string();
        let mut conn = self.conn()?;
        // The product must exist before a file is written.
        self.load_product(&mut conn, id)?;
        let stored = self.images.save(&image_id, kind, bytes).map_err(|e| CatalogError::Internal(e.to_string()))?;
        let url = format!("/api/v1/catalog/images/{stored}");
        let result = self.outbox.transaction(&mut conn, |conn| {
            let position = store::next_image_position(conn, &id.to_string())?;
            store::insert_image(
                conn,
                &ImageRow {
                    id: image_id.clone(),
                    product_id: id.to_string(),
                    position,
                    url: url.clone(),
                    alt: alt.clone(),
                    stored_file: Some(stored.clone()),
                    content_type: Some(kind.content_type().to_owned()),
                    created_at: now,
                },
            )?;
            Ok::<_, CatalogError>(())
        });
        if let Err(error) = result {
            self.images.remove(&stored);
            return Err(error);
        }
        Ok(Image { id: image_id, url, alt, uploaded: true })
    }

    pub fn delete_image(&self, id: ProductId, image_id: &str) -> Result<(), CatalogError> {
        let mut conn = self.conn()?;
        let removed = self
            .outbox
            .transaction(&mut conn, |conn| store::delete_image(conn, &id.to_string(), image_id))?
            .ok_or(CatalogError::NotFound("image"))?;
        if let Some(file) = removed.stored_file {
            self.images.remove(&file);
        }
        Ok(())
    }

    /// The stored file and content type of an uploaded image.
    pub fn stored_image(&self, stored_file: &str) -> Result<(std::path::PathBuf, String), CatalogError> {
        let mut conn = self.conn()?;
        let row = store::find_stored_image(&mut conn, stored_file)?.ok_or(CatalogError::NotFound("image"))?;
        let content_type = row.content_type.unwrap_or_else(|| "application/octet-stream".to_owned());
        Ok((self.images.path(stored_file), content_type))
    }

    // ----- stock -----

    fn stock_changed(&self, conn: &mut DbConn, product_id: &str) -> Result<(), CatalogError> {
        let row = store::find_product(conn, product_id)?.ok_or(CatalogError::NotFound("product"))?;
        let available = row.on_hand - row.reserved;
        self.outbox.record(
            conn,
            &StockChanged {
                product_id: ProductId::parse(&row.id).map_err(|_| CatalogError::Internal("stored id".into()))?,
                on_hand: row.on_hand,
                reserved: row.reserved,
                available,
                low_stock: available <= LOW_STOCK_THRESHOLD,
            },
        )?;
        Ok(())
    }

    /// Changes on-hand stock with a reason kept in the audit trail. A delta
    /// that would leave less than is reserved is refused.
    pub fn adjust_stock(&self, id: ProductId, delta: i64, reason: String) -> Result<Product, CatalogError> {
        let now = db_time(self.clock.now());
        let mut conn = self.conn()?;
        self.outbox.transaction(&mut conn, |conn| {
            let key = id.to_string();
            if store::find_product(conn, &key)?.is_none() {
                return Err(CatalogError::NotFound("product"));
            }
            if !store::adjust_on_hand(conn, &key, delta, now)? {
                return Err(CatalogError::conflict(
                    "stock_below_reserved",
                    "on-hand stock cannot go below the units reserved for orders",
                ));
            }
            let on_hand_after = store::find_product(conn, &key)?.map(|row| row.on_hand).unwrap_or_default();
            store::insert_adjustment(
                conn,
                &AdjustmentRow {
                    id: uuid::Uuid::now_v7().to_string(),
                    product_id: key.clone(),
                    delta,
                    reason: reason.clone(),
                    on_hand_after,
                    created_at: now,
                },
            )?;
            self.stock_changed(conn, &key)?;
            self.load_product(conn, id)
        })
    }

    pub fn adjustments(&self, id: ProductId) -> Result<Vec<Adjustment>, CatalogError> {
        let mut conn = self.conn()?;
        if store::find_product(&mut conn, &id.to_string())?.is_none() {
            return Err(CatalogError::NotFound("product"));
        }
        Ok(store::adjustments_of(&mut conn, &id.to_string())?
            .into_iter()
            .map(|row| Adjustment {
                id: row.id,
                delta: row.delta,
                reason: row.reason,
                on_hand_after: row.on_hand_after,
                created_at: utc(row.created_at),
            })
            .collect())
    }

    // ----- reservations (the CatalogApi) -----

    pub fn snapshots(&self, ids: &[ProductId]) -> Result<Vec<ProductSnapshot>, CatalogError> {
        let mut conn = self.conn()?;
        let keys: Vec<String> = ids.iter().map(ToString::to_string).collect();
        let rows = store::find_products(&mut conn, &keys)?;
        let products = self.assemble(&mut conn, rows)?;
        let by_id: BTreeMap<ProductId, Product> = products.into_iter().map(|p| (p.id, p)).collect();
        Ok(ids
            .iter()
            .filter_map(|id| by_id.get(id))
            .map(|p| ProductSnapshot {
                id: p.id,
                sku: p.sku.clone(),
                name: p.name.clone(),
                price: p.price,
                active: p.for_sale(),
                available: p.available(),
            })
            .collect())
    }

    fn reservation(&self, order_id: OrderId, rows: &[ReservationRow]) -> Result<Reservation, CatalogError> {
        let first = rows.first().ok_or(StockError::NoReservation(order_id))?;
        let state = match first.status.as_str() {
            HELD => ReservationState::Held,
            COMMITTED => ReservationState::Committed,
            _ => ReservationState::Released,
        };
        let lines = rows
            .iter()
            .map(|row| {
                Ok(StockLine {
                    product_id: ProductId::parse(&row.product_id)
                        .map_err(|_| CatalogError::Internal("stored product id".into()))?,
                    quantity: row.quantity,
                })
            })
            .collect::<Result<Vec<_>, CatalogError>>()?;
        Ok(Reservation { order_id, lines, expires_at: utc(first.expires_at), state })
    }

    /// Holds every line or none. Lines are summed per product and taken in
    /// product-id order, so two reservations always lock rows in the same
    /// order and cannot deadlock. Idempotent per order.
    pub fn reserve(
        &self,
        order_id: OrderId,
        lines: &[StockLine],
        ttl: std::time::Duration,
    ) -> Result<Reservation, CatalogError> {
        let mut summed: BTreeMap<String, i64> = BTreeMap::new();
        for line in lines {
            if line.quantity <= 0 {
                return Err(StockError::InvalidQuantity.into());
            }
            let total = summed.entry(line.product_id.to_string()).or_default();
            *total = total.checked_add(line.quantity).ok_or(StockError::InvalidQuantity)?;
        }
        if summed.is_empty() {
            return Err(StockError::InvalidQuantity.into());
        }
        let now = self.clock.now();
        let expires_at = now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::minutes(15));
        let mut conn = self.conn()?;
        let attempt = self.outbox.transaction(&mut conn, |conn| {
            let existing = store::reservation_of(conn, &order_id.to_string())?;
            if !existing.is_empty() {
                return self.reservation(order_id, &existing);
            }
            for (product_id, quantity) in &summed {
                if !store::hold(conn, product_id, *quantity, db_time(now))? {
                    let id = ProductId::parse(product_id).map_err(|_| CatalogError::Internal("id".into()))?;
                    return Err(match store::find_product(conn, product_id)? {
                        None => StockError::UnknownProduct(id),
                        Some(row) if !row.active || row.archived_at.is_some() => StockError::NotForSale(id),
                        Some(row) => StockError::InsufficientStock {
                            product_id: id,
                            requested: *quantity,
                            available: row.on_hand - row.reserved,
                        },
                    }
                    .into());
                }
                store::insert_reservation(
                    conn,
                    &ReservationRow {
                        order_id: order_id.to_string(),
                        product_id: product_id.clone(),
                        quantity: *quantity,
                        status: HELD.to_owned(),
                        expires_at: db_time(expires_at),
                        created_at: db_time(now),
                        updated_at: db_time(now),
                    },
                )
                .map_err(|error| if is_unique_violation(&error) { CatalogError::Duplicate } else { error.into() })?;
                self.stock_changed(conn, product_id)?;
            }
            let rows = store::reservation_of(conn, &order_id.to_string())?;
            let reservation = self.reservation(order_id, &rows)?;
            self.outbox.record(conn, &StockReserved { order_id, lines: reservation.lines.clone() })?;
            Ok(reservation)
        });
        match attempt {
            // A concurrent call for the same order committed first (on
            // PostgreSQL both can look before either writes): theirs stands.
            Err(CatalogError::Duplicate) => {
                let rows = store::reservation_of(&mut conn, &order_id.to_string())?;
                self.reservation(order_id, &rows)
            }
            other => other,
        }
    }

    pub fn commit(&self, order_id: OrderId) -> Result<Reservation, CatalogError> {
        let now = db_time(self.clock.now());
        let mut conn = self.conn()?;
        self.outbox.transaction(&mut conn, |conn| {
            let rows = store::reservation_of(conn, &order_id.to_string())?;
            let reservation = self.reservation(order_id, &rows)?;
            match reservation.state {
                ReservationState::Committed => return Ok(reservation),
                ReservationState::Released => {
                    return Err(StockError::AlreadyReleased(order_id).into());
                }
                ReservationState::Held => {}
            }
            for row in &rows {
                store::take(conn, &row.product_id, row.quantity, now)?;
                self.stock_changed(conn, &row.product_id)?;
            }
            store::set_reservation_status(conn, &order_id.to_string(), COMMITTED, now)?;
            Ok(Reservation { state: ReservationState::Committed, ..reservation })
        })
    }

    pub fn release(&self, order_id: OrderId) -> Result<Reservation, CatalogError> {
        self.release_with(order_id, ReleaseReason::Released)
    }

    fn release_with(&self, order_id: OrderId, reason: ReleaseReason) -> Result<Reservation, CatalogError> {
        let now = db_time(self.clock.now());
        let mut conn = self.conn()?;
        self.outbox.transaction(&mut conn, |conn| {
            let rows = store::reservation_of(conn, &order_id.to_string())?;
            let reservation = self.reservation(order_id, &rows)?;
            if reservation.state != ReservationState::Held {
                return Ok(reservation);
            }
            for row in &rows {
                store::unhold(conn, &row.product_id, row.quantity, now)?;
                self.stock_changed(conn, &row.product_id)?;
            }
            store::set_reservation_status(conn, &order_id.to_string(), RELEASED, now)?;
            self.outbox.record(conn, &ReservationReleased { order_id, lines: reservation.lines.clone(), reason })?;
            Ok(Reservation { state: ReservationState::Released, ..reservation })
        })
    }

    /// Releases held reservations past their expiry (a saga that died).
    /// Returns how many orders' reservations it released.
    pub fn sweep_expired(&self) -> Result<usize, CatalogError> {
        let mut conn = self.conn()?;
        let expired = store::expired_orders(&mut conn, db_time(self.clock.now()), 500)?;
        drop(conn);
        let mut released = 0;
        for order in expired {
            let order_id = OrderId::parse(&order).map_err(|_| CatalogError::Internal("stored order id".into()))?;
            if self.release_with(order_id, ReleaseReason::Expired)?.state == ReservationState::Released {
                released += 1;
            }
        }
        if released > 0 {
            tracing::info!(reservations.released = released, "expired reservations released");
        }
        Ok(released)
    }

    /// Returns units to stock. Idempotent per (product, reason): name the
    /// cause in the reason (`order <id> cancelled`).
    pub fn restock(&self, lines: &[StockLine], reason: &str) -> Result<(), CatalogError> {
        let now = db_time(self.clock.now());
        let mut summed: BTreeMap<String, i64> = BTreeMap::new();
        for line in lines {
            if line.quantity <= 0 {
                return Err(StockError::InvalidQuantity.into());
            }
            *summed.entry(line.product_id.to_string()).or_default() += line.quantity;
        }
        let mut conn = self.conn()?;
        self.outbox.transaction(&mut conn, |conn| {
            for (product_id, quantity) in &summed {
                // The reason names what is restocked (a return, a cancelled
                // order): the same restock asked twice is applied once.
                if store::adjustment_exists(conn, product_id, reason)? {
                    continue;
                }
                if !store::adjust_on_hand(conn, product_id, *quantity, now)? {
                    let id = ProductId::parse(product_id).map_err(|_| CatalogError::Internal("id".into()))?;
                    return Err(StockError::UnknownProduct(id).into());
                }
                let on_hand_after = store::find_product(conn, product_id)?.map(|r| r.on_hand).unwrap_or_default();
                store::insert_adjustment(
                    conn,
                    &AdjustmentRow {
                        id: uuid::Uuid::now_v7().to_string(),
                        product_id: product_id.clone(),
                        delta: *quantity,
                        reason: reason.to_owned(),
                        on_hand_after,
                        created_at: now,
                    },
                )?;
                self.stock_changed(conn, product_id)?;
            }
            Ok(())
        })
    }

    // ----- search -----

    pub fn search(&self, request: SearchRequest) -> Result<SearchPage, CatalogError> {
        let mut conn = self.conn()?;
        let category_ids = match &request.category {
            None => None,
            Some(key) => {
                let Some(category) = self.resolve_category(&mut conn, key)? else {
                    return Err(CatalogError::invalid("category", "unknown_category", "no such category"));
                };
                let tree =
                    CategoryTree::new(store::all_categories(&mut conn)?.into_iter().map(|c| (c.id, c.parent_id)));
                Some(tree.with_descendants(&category.id))
            }
        };
        let terms = request.text.as_deref().map(search::terms).unwrap_or_default();
        let sort = request.sort.unwrap_or(if terms.is_empty() { Sort::Newest } else { Sort::Relevance });
        let sort = if sort == Sort::Relevance && terms.is_empty() { Sort::Newest } else { sort };
        let filter = SearchFilter {
            terms,
            category_ids,
            min_price: request.min_price,
            max_price: request.max_price,
            in_stock: request.in_stock,
        };
        let limit = request.limit.clamp(1, 100);
        let hits = search::search(&mut conn, &filter, sort, request.after, limit + 1)?;
        let has_more = hits.len() as i64 > limit;
        let mut rows = Vec::new();
        let mut last = None;
        for hit in hits.into_iter().take(limit as usize) {
            let (row, score) = hit.into_row();
            last = Some(After { score, price: row.price_amount, seq: row.seq });
            rows.push(row);
        }
        let items = self.assemble(&mut conn, rows)?;
        let names: BTreeMap<String, (String, String)> =
            store::all_categories(&mut conn)?.into_iter().map(|c| (c.id, (c.slug, c.name))).collect();
        let mut facets: Vec<Facet> = search::category_facets(&mut conn, &filter)?
            .into_iter()
            .filter_map(|row| {
                let id = row.category_id?;
                let (slug, name) = names.get(&id)?.clone();
                Some(Facet { category_id: id, slug, name, count: row.count })
            })
            .collect();
        facets.sort_by(|a, b| b.count.cmp(&a.count).then(a.name.cmp(&b.name)));
        Ok(SearchPage { items, next: if has_more { last } else { None }, sort, facets })
    }
}

fn linked_image(id: &ProductId, position: i32, url: &str, alt: &str, now: chrono::NaiveDateTime) -> ImageRow {
    ImageRow {
        id: uuid::Uuid::now_v7().to_string(),
        product_id: id.to_string(),
        position,
        url: url.to_owned(),
        alt: alt.to_owned(),
        stored_file: None,
        content_type: None,
        created_at: now,
    }
}
