//! The published contract of the support context: what the return saga
//! tells support (`SupportApi`), and the events support publishes.

use kernel::{Money, ProductId};
use serde::{Deserialize, Serialize};

/// Units of one product coming back, at the price they were sold at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnLine {
    pub product_id: ProductId,
    pub quantity: i64,
    pub unit_price: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum SupportApiError {
    #[error("ticket {0} does not exist")]
    UnknownTicket(String),
    #[error("temporary failure: {0}")]
    Transient(String),
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait SupportApi: Send + Sync {
    /// The return is refunded and restocked: mark it completed and tell the
    /// customer on the ticket. Idempotent.
    async fn return_completed(&self, ticket_id: String, refunded: Money) -> Result<(), SupportApiError>;

    /// The return could not be completed: flag the ticket for an agent. Idempotent.
    async fn return_failed(&self, ticket_id: String, reason: String) -> Result<(), SupportApiError>;
}

/// Events support publishes; wire names `support.<Name>.v1`.
pub mod events {
    use super::ReturnLine;
    use kernel::events::Event;
    use kernel::{Money, OrderId, UserId};
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct TicketOpened {
        pub ticket_id: String,
        pub user_id: UserId,
        pub kind: String,
    }

    impl Event for TicketOpened {
        const NAME: &'static str = "support.TicketOpened";
        const VERSION: u32 = 1;
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct TicketResolved {
        pub ticket_id: String,
        pub user_id: UserId,
    }

    impl Event for TicketResolved {
        const NAME: &'static str = "support.TicketResolved";
        const VERSION: u32 = 1;
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct ReturnRequested {
        pub ticket_id: String,
        pub order_id: OrderId,
        pub user_id: UserId,
    }

    impl Event for ReturnRequested {
        const NAME: &'static str = "support.ReturnRequested";
        const VERSION: u32 = 1;
    }

    /// An agent approved a return: the return saga refunds exactly these
    /// lines' prices and restocks them.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct ReturnApproved {
        pub ticket_id: String,
        pub order_id: OrderId,
        pub lines: Vec<ReturnLine>,
        pub amount: Money,
    }

    impl Event for ReturnApproved {
        const NAME: &'static str = "support.ReturnApproved";
        const VERSION: u32 = 1;
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct ReturnRejected {
        pub ticket_id: String,
        pub order_id: OrderId,
        pub reason: String,
    }

    impl Event for ReturnRejected {
        const NAME: &'static str = "support.ReturnRejected";
        const VERSION: u32 = 1;
    }
}
