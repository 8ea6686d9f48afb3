//! Carts. A signed-in customer has one cart; a visitor gets a guest cart,
//! found again by a secret token the client keeps (`X-Cart-Token`; only its
//! hash is stored). When a request carries both a customer and a guest
//! token, the guest cart is merged into the customer's and removed.

use crate::schema::{cart_items, carts};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use catalog_api::{CatalogApi, ProductSnapshot, StockError};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use kernel::db::{ContextDatabase, DbConn, DbError, write_transaction};
use kernel::{Clock, Money, ProductId, UserId};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Quantities per line are 1 to this.
pub const MAX_QUANTITY: i64 = 99;

#[derive(Debug, thiserror::Error)]
pub enum CartError {
    #[error("the cart token is unknown")]
    UnknownToken,
    #[error("product {0} is not for sale")]
    NotForSale(ProductId),
    #[error("quantity must be between 1 and {MAX_QUANTITY}")]
    InvalidQuantity,
    #[error("the catalog is unavailable: {0}")]
    CatalogUnavailable(String),
    #[error(transparent)]
    Unavailable(DbError),
    #[error("{0}")]
    Internal(String),
}

impl From<diesel::result::Error> for CartError {
    fn from(error: diesel::result::Error) -> Self {
        CartError::Internal(error.to_string())
    }
}

impl From<DbError> for CartError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::Query(error) => CartError::Internal(error.to_string()),
            other => CartError::Unavailable(other),
        }
    }
}

/// Who is asking for a cart.
#[derive(Debug, Clone)]
pub struct CartOwner {
    pub customer: Option<UserId>,
    /// The guest token the client sent, if any.
    pub guest_token: Option<String>,
}

/// A cart as stored: ids and quantities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCart {
    pub id: String,
    /// Set when a new guest cart was created for this request: the client
    /// must keep it.
    pub issued_token: Option<String>,
    pub lines: Vec<(ProductId, i64)>,
}

/// One line as the customer sees it, priced by the catalog now.
#[derive(Debug, Clone)]
pub struct PricedLine {
    pub product_id: ProductId,
    pub quantity: i64,
    /// `None` when the catalog no longer has the product.
    pub product: Option<ProductSnapshot>,
    pub line_total: Option<Money>,
}

#[derive(Debug, Clone)]
pub struct PricedCart {
    pub issued_token: Option<String>,
    pub lines: Vec<PricedLine>,
    /// `None` for an empty cart or one mixing currencies.
    pub total: Option<Money>,
    /// Every line is for sale in the quantity asked.
    pub checkout_ready: bool,
    /// Every line names a product for sale (stock aside): what checkout
    /// needs. Whether the units are there is the reservation's to decide.
    pub purchasable: bool,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = carts)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct CartRow {
    id: String,
    owner_id: Option<String>,
    token_hash: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

fn hash_token(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("ct_{}", URL_SAFE_NO_PAD.encode(bytes))
}

pub struct CartService {
    db: ContextDatabase,
    clock: Arc<dyn Clock>,
    catalog: Arc<dyn CatalogApi>,
}

impl CartService {
    pub fn new(db: ContextDatabase, clock: Arc<dyn Clock>, catalog: Arc<dyn CatalogApi>) -> Self {
        Self { db, clock, catalog }
    }

    pub fn database(&self) -> &ContextDatabase {
        &self.db
    }

    fn now(&self) -> NaiveDateTime {
        self.clock.now().naive_utc()
    }

    fn find(&self, conn: &mut DbConn, owner: &CartOwner) -> Result<Option<CartRow>, CartError> {
        let by_owner = match owner.customer {
            Some(customer) => carts::table
                .filter(carts::owner_id.eq(customer.to_string()))
                .select(CartRow::as_select())
                .first(conn)
                .optional()?,
            None => None,
        };
        let by_token = match &owner.guest_token {
            Some(token) => {
                let row = carts::table
                    .filter(carts::token_hash.eq(hash_token(token)))
                    .select(CartRow::as_select())
                    .first(conn)
                    .optional()?;
                if row.is_none() {
                    return Err(CartError::UnknownToken);
                }
                row
            }
            None => None,
        };
        match (owner.customer, by_owner, by_token) {
            // A customer who brings a guest cart: merge it in.
            (Some(customer), mine, Some(guest)) if guest.owner_id.is_none() => {
                let target = match mine {
                    Some(mine) => mine,
                    None => {
                        // The guest cart simply becomes the customer's.
                        diesel::update(carts::table.find(&guest.id))
                            .set((carts::owner_id.eq(customer.to_string()), carts::token_hash.eq(None::<String>)))
                            .execute(conn)?;
                        return Ok(Some(CartRow { owner_id: Some(customer.to_string()), token_hash: None, ..guest }));
                    }
                };
                let guest_items: Vec<(String, i64)> = cart_items::table
                    .filter(cart_items::cart_id.eq(&guest.id))
                    .select((cart_items::product_id, cart_items::quantity))
                    .load(conn)?;
                for (product, quantity) in guest_items {
                    let existing: Option<i64> = cart_items::table
                        .filter(cart_items::cart_id.eq(&target.id))
                        .filter(cart_items::product_id.eq(&product))
                        .select(cart_items::quantity)
                        .first(conn)
                        .optional()?;
                    let merged = (existing.unwrap_or(0) + quantity).min(MAX_QUANTITY);
                    self.put_line(conn, &target.id, &product, merged)?;
                }
                diesel::delete(cart_items::table.filter(cart_items::cart_id.eq(&guest.id))).execute(conn)?;
                diesel::delete(carts::table.find(&guest.id)).execute(conn)?;
                Ok(Some(target))
            }
            (Some(_), mine, _) => Ok(mine),
            (None, _, guest) => Ok(guest),
        }
    }

    fn put_line(&self, conn: &mut DbConn, cart: &str, product: &str, quantity: i64) -> Result<(), CartError> {
        let updated = diesel::update(
            cart_items::table.filter(cart_items::cart_id.eq(cart)).filter(cart_items::product_id.eq(product)),
        )
        .set(cart_items::quantity.eq(quantity))
        .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(cart_items::table)
                .values((
                    cart_items::cart_id.eq(cart),
                    cart_items::product_id.eq(product),
                    cart_items::quantity.eq(quantity),
                    cart_items::added_at.eq(self.now()),
                ))
                .execute(conn)?;
        }
        Ok(())
    }

    fn find_or_create(&self, conn: &mut DbConn, owner: &CartOwner) -> Result<(CartRow, Option<String>), CartError> {
        if let Some(row) = self.find(conn, owner)? {
            return Ok((row, None));
        }
        let now = self.now();
        let token = owner.customer.is_none().then(new_token);
        let row = CartRow {
            id: uuid::Uuid::now_v7().to_string(),
            owner_id: owner.customer.map(|c| c.to_string()),
            token_hash: token.as_deref().map(hash_token),
            created_at: now,
            updated_at: now,
        };
        diesel::insert_into(carts::table).values(&row).execute(conn)?;
        Ok((row, token))
    }

    fn lines(&self, conn: &mut DbConn, cart: &str) -> Result<Vec<(ProductId, i64)>, CartError> {
        let rows: Vec<(String, i64)> = cart_items::table
            .filter(cart_items::cart_id.eq(cart))
            .order(cart_items::added_at.asc())
            .select((cart_items::product_id, cart_items::quantity))
            .load(conn)?;
        rows.into_iter()
            .map(|(id, quantity)| {
                Ok((ProductId::parse(&id).map_err(|_| CartError::Internal("stored product id".into()))?, quantity))
            })
            .collect()
    }

    /// The cart's lines (merging a guest cart in when a customer brings one).
    /// Reading never creates a cart.
    pub fn stored(&self, owner: &CartOwner) -> Result<StoredCart, CartError> {
        let mut conn = self.db.conn()?;
        write_transaction(&mut conn, |conn| match self.find(conn, owner)? {
            Some(row) => Ok(StoredCart { lines: self.lines(conn, &row.id)?, id: row.id, issued_token: None }),
            None => Ok(StoredCart { id: String::new(), issued_token: None, lines: vec![] }),
        })
    }

    /// Sets a line's quantity, creating the cart if needed. The product must
    /// be for sale (checked with the catalog before calling).
    pub fn set_quantity(&self, owner: &CartOwner, product: ProductId, quantity: i64) -> Result<StoredCart, CartError> {
        if !(1..=MAX_QUANTITY).contains(&quantity) {
            return Err(CartError::InvalidQuantity);
        }
        let mut conn = self.db.conn()?;
        write_transaction(&mut conn, |conn| {
            let (row, issued_token) = self.find_or_create(conn, owner)?;
            self.put_line(conn, &row.id, &product.to_string(), quantity)?;
            diesel::update(carts::table.find(&row.id)).set(carts::updated_at.eq(self.now())).execute(conn)?;
            Ok(StoredCart { lines: self.lines(conn, &row.id)?, id: row.id, issued_token })
        })
    }

    pub fn remove_line(&self, owner: &CartOwner, product: ProductId) -> Result<(), CartError> {
        let mut conn = self.db.conn()?;
        write_transaction(&mut conn, |conn| {
            if let Some(row) = self.find(conn, owner)? {
                diesel::delete(
                    cart_items::table
                        .filter(cart_items::cart_id.eq(&row.id))
                        .filter(cart_items::product_id.eq(product.to_string())),
                )
                .execute(conn)?;
            }
            Ok(())
        })
    }

    pub fn clear(&self, owner: &CartOwner) -> Result<(), CartError> {
        let mut conn = self.db.conn()?;
        write_transaction(&mut conn, |conn| {
            if let Some(row) = self.find(conn, owner)? {
                diesel::delete(cart_items::table.filter(cart_items::cart_id.eq(&row.id))).execute(conn)?;
            }
            Ok(())
        })
    }

    /// Checks with the catalog that a product can go into a cart.
    pub async fn ensure_for_sale(&self, product: ProductId) -> Result<ProductSnapshot, CartError> {
        let snapshots = self.catalog.product_snapshots(vec![product]).await.map_err(catalog_error)?;
        match snapshots.into_iter().next() {
            Some(snapshot) if snapshot.active => Ok(snapshot),
            _ => Err(CartError::NotForSale(product)),
        }
    }

    /// Prices a stored cart with the catalog's current snapshots.
    pub async fn price(&self, cart: StoredCart) -> Result<PricedCart, CartError> {
        let ids: Vec<ProductId> = cart.lines.iter().map(|(id, _)| *id).collect();
        let snapshots: BTreeMap<ProductId, ProductSnapshot> = if ids.is_empty() {
            BTreeMap::new()
        } else {
            self.catalog.product_snapshots(ids).await.map_err(catalog_error)?.into_iter().map(|s| (s.id, s)).collect()
        };
        let mut total: Option<Money> = None;
        let mut mixed = false;
        let mut checkout_ready = !cart.lines.is_empty();
        let mut purchasable = !cart.lines.is_empty();
        let lines = cart
            .lines
            .into_iter()
            .map(|(product_id, quantity)| {
                let product = snapshots.get(&product_id).cloned();
                let line_total = product.as_ref().and_then(|p| p.price.checked_mul(quantity).ok());
                match (&product, line_total) {
                    (Some(p), Some(amount)) => {
                        checkout_ready &= p.active && p.available >= quantity;
                        purchasable &= p.active;
                        total = match total {
                            None => Some(amount),
                            Some(sum) => match sum.checked_add(amount) {
                                Ok(sum) => Some(sum),
                                Err(_) => {
                                    mixed = true;
                                    Some(sum)
                                }
                            },
                        };
                    }
                    _ => {
                        checkout_ready = false;
                        purchasable = false;
                    }
                }
                PricedLine { product_id, quantity, product, line_total }
            })
            .collect();
        Ok(PricedCart {
            issued_token: cart.issued_token,
            lines,
            total: if mixed { None } else { total },
            checkout_ready: checkout_ready && !mixed,
            purchasable: purchasable && !mixed,
        })
    }

    pub fn clock_now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}

fn catalog_error(error: StockError) -> CartError {
    CartError::CatalogUnavailable(error.to_string())
}
