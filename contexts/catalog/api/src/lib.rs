//! The published contract of the catalog context.
//!
//! Other contexts see products only as [`ProductSnapshot`]s and move stock
//! only through [`CatalogApi`]: reserve for an order, commit the reservation
//! when paid, release it when not, restock returns. This crate knows nothing
//! of diesel or actix.

use chrono::{DateTime, Utc};
use kernel::{Money, OrderId, ProductId};
use serde::{Deserialize, Serialize};

/// What another context may copy about a product at the moment it matters
/// (an order line keeps the name and price it was sold at).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductSnapshot {
    pub id: ProductId,
    pub sku: String,
    pub name: String,
    pub price: Money,
    /// Offered to shoppers (active and not archived).
    pub active: bool,
    /// On hand minus reserved.
    pub available: i64,
}

/// A quantity of one product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockLine {
    pub product_id: ProductId,
    pub quantity: i64,
}

/// Stock held for an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    pub order_id: OrderId,
    /// One line per product, quantities summed.
    pub lines: Vec<StockLine>,
    pub expires_at: DateTime<Utc>,
    pub state: ReservationState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReservationState {
    Held,
    Committed,
    Released,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum StockError {
    #[error("not enough stock of {product_id}: {requested} requested, {available} available")]
    InsufficientStock { product_id: ProductId, requested: i64, available: i64 },
    #[error("product {0} does not exist")]
    UnknownProduct(ProductId),
    #[error("product {0} is not for sale")]
    NotForSale(ProductId),
    #[error("quantities must be positive")]
    InvalidQuantity,
    #[error("no reservation for order {0}")]
    NoReservation(OrderId),
    #[error("the reservation of order {0} was already released")]
    AlreadyReleased(OrderId),
    #[error("the catalog is unavailable: {0}")]
    Unavailable(String),
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait CatalogApi: Send + Sync {
    /// Snapshots of the products that exist among `ids` (archived ones
    /// included, marked inactive), in the order asked.
    async fn product_snapshots(&self, ids: Vec<ProductId>) -> Result<Vec<ProductSnapshot>, StockError>;

    /// Holds every line for `order_id` until `ttl` passes, or none of them.
    /// Lines naming one product twice are summed. Idempotent per order: a
    /// second call returns the first reservation.
    async fn reserve(
        &self,
        order_id: OrderId,
        lines: Vec<StockLine>,
        ttl: std::time::Duration,
    ) -> Result<Reservation, StockError>;

    /// The held units are sold: they leave stock. Idempotent.
    async fn commit(&self, order_id: OrderId) -> Result<Reservation, StockError>;

    /// The held units return to availability. Idempotent; a committed
    /// reservation is not released (restock instead).
    async fn release(&self, order_id: OrderId) -> Result<Reservation, StockError>;

    /// Units come back into stock (a return, a cancelled order). Idempotent
    /// per product and `reason`, so name the cause in it (`order <id> cancelled`).
    async fn restock(&self, lines: Vec<StockLine>, reason: String) -> Result<(), StockError>;
}

/// Events the catalog publishes; wire names `catalog.<Name>.v1`.
pub mod events {
    use kernel::events::Event;
    use kernel::{Money, OrderId, ProductId};
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct ProductCreated {
        pub product_id: ProductId,
        pub sku: String,
        pub name: String,
        pub price: Money,
        pub category_id: Option<uuid::Uuid>,
    }

    impl Event for ProductCreated {
        const NAME: &'static str = "catalog.ProductCreated";
        const VERSION: u32 = 1;
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct ProductUpdated {
        pub product_id: ProductId,
        pub name: String,
        pub active: bool,
        pub archived: bool,
    }

    impl Event for ProductUpdated {
        const NAME: &'static str = "catalog.ProductUpdated";
        const VERSION: u32 = 1;
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct PriceChanged {
        pub product_id: ProductId,
        pub old_price: Money,
        pub new_price: Money,
    }

    impl Event for PriceChanged {
        const NAME: &'static str = "catalog.PriceChanged";
        const VERSION: u32 = 1;
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct StockChanged {
        pub product_id: ProductId,
        pub on_hand: i64,
        pub reserved: i64,
        pub available: i64,
        /// Available at or below the low-stock threshold.
        pub low_stock: bool,
    }

    impl Event for StockChanged {
        const NAME: &'static str = "catalog.StockChanged";
        const VERSION: u32 = 1;
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct StockReserved {
        pub order_id: OrderId,
        pub lines: Vec<super::StockLine>,
    }

    impl Event for StockReserved {
        const NAME: &'static str = "catalog.StockReserved";
        const VERSION: u32 = 1;
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum ReleaseReason {
        Released,
        Expired,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct ReservationReleased {
        pub order_id: OrderId,
        pub lines: Vec<super::StockLine>,
        pub reason: ReleaseReason,
    }

    impl Event for ReservationReleased {
        const NAME: &'static str = "catalog.ReservationReleased";
        const VERSION: u32 = 1;
    }
}
