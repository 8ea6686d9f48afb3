//! The published contract of the orders context: what the checkout saga
//! asks of orders (charge, refund, confirm, reject) and the events orders
//! publish. Plain data and traits only.

use kernel::{Money, OrderId, ProductId, UserId};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChargeOutcome {
    /// The money is taken.
    Captured(Money),
    /// The payment provider refused, for good (`card_declined`, …).
    Declined(String),
}

/// What another context (support) may know of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderSummary {
    pub order_id: OrderId,
    /// The owner: compare it with the caller to check ownership.
    pub user_id: UserId,
    /// pending, confirmed, rejected, cancelling, cancelled, shipped, delivered.
    pub status: String,
    pub lines: Vec<SummaryLine>,
    pub total: Money,
    pub captured: Money,
    pub refunded: Money,
    /// When it was delivered, for return windows.
    pub delivered_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryLine {
    pub product_id: ProductId,
    pub name: String,
    pub quantity: i64,
    /// As sold.
    pub unit_price: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum OrdersApiError {
    #[error("order {0} does not exist")]
    UnknownOrder(OrderId),
    /// Worth retrying: the payment provider or a database did not answer.
    #[error("temporary failure: {0}")]
    Transient(String),
    #[error("order {0} cannot go from {1} to {2}")]
    IllegalTransition(OrderId, String, String),
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait OrdersApi: Send + Sync {
    /// Charges the order's total with the payment the customer gave.
    /// Idempotent per order: a second call reports the first outcome.
    async fn charge(&self, order_id: OrderId) -> Result<ChargeOutcome, OrdersApiError>;

    /// Refunds `amount`, or everything captured and not yet refunded when
    /// `None`; never more. Idempotent per `key` (name the cause: `checkout`,
    /// `return <ticket>`): a repeat returns the first refund's amount.
    async fn refund(&self, order_id: OrderId, amount: Option<Money>, key: String) -> Result<Money, OrdersApiError>;

    /// Pending → confirmed. Idempotent.
    async fn confirm(&self, order_id: OrderId) -> Result<(), OrdersApiError>;

    /// Pending → rejected with a reason (`out_of_stock`, `payment_declined`…). Idempotent.
    async fn reject(&self, order_id: OrderId, reason: String) -> Result<(), OrdersApiError>;

    /// An order's summary, `None` if no order has this id.
    async fn order_summary(&self, order_id: OrderId) -> Result<Option<OrderSummary>, OrdersApiError>;

    /// Cancelling → cancelled, once refund and restock are done. Idempotent.
    async fn cancel(&self, order_id: OrderId) -> Result<(), OrdersApiError>;
}

/// Events the orders context publishes; wire names `orders.<Name>.v1`.
pub mod events {
    use kernel::events::Event;
    use kernel::{Money, OrderId, ProductId, UserId};
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub struct PlacedLine {
        pub product_id: ProductId,
        pub quantity: i64,
        pub unit_price: Money,
    }

    /// A customer checked out: the order is pending until the checkout saga
    /// confirms or rejects it.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct OrderPlaced {
        pub order_id: OrderId,
        pub user_id: UserId,
        pub lines: Vec<PlacedLine>,
        pub total: Money,
    }

    impl Event for OrderPlaced {
        const NAME: &'static str = "orders.OrderPlaced";
        const VERSION: u32 = 1;
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct OrderConfirmed {
        pub order_id: OrderId,
        pub user_id: UserId,
    }

    impl Event for OrderConfirmed {
        const NAME: &'static str = "orders.OrderConfirmed";
        const VERSION: u32 = 1;
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct OrderRejected {
        pub order_id: OrderId,
        pub user_id: UserId,
        pub reason: String,
    }

    impl Event for OrderRejected {
        const NAME: &'static str = "orders.OrderRejected";
        const VERSION: u32 = 1;
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct PaymentCaptured {
        pub order_id: OrderId,
        pub amount: Money,
    }

    impl Event for PaymentCaptured {
        const NAME: &'static str = "orders.PaymentCaptured";
        const VERSION: u32 = 1;
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct PaymentRefunded {
        pub order_id: OrderId,
        pub amount: Money,
    }

    /// A customer asked to cancel a confirmed order: the cancellation saga
    /// refunds and restocks, then the order is cancelled.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct CancellationRequested {
        pub order_id: OrderId,
        pub user_id: UserId,
        pub lines: Vec<PlacedLine>,
    }

    impl Event for CancellationRequested {
        const NAME: &'static str = "orders.CancellationRequested";
        const VERSION: u32 = 1;
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct OrderCancelled {
        pub order_id: OrderId,
        pub user_id: UserId,
    }

    impl Event for OrderCancelled {
        const NAME: &'static str = "orders.OrderCancelled";
        const VERSION: u32 = 1;
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct OrderShipped {
        pub order_id: OrderId,
        pub user_id: UserId,
    }

    impl Event for OrderShipped {
        const NAME: &'static str = "orders.OrderShipped";
        const VERSION: u32 = 1;
    }

    /// Support listens for this: only delivered orders can be returned.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct OrderDelivered {
        pub order_id: OrderId,
        pub user_id: UserId,
    }

    impl Event for OrderDelivered {
        const NAME: &'static str = "orders.OrderDelivered";
        const VERSION: u32 = 1;
    }

    impl Event for PaymentRefunded {
        const NAME: &'static str = "orders.PaymentRefunded";
        const VERSION: u32 = 1;
    }
}
