//! The published contract of the support context. Plain data only.

/// Events support publishes; wire names `support.<Name>.v1`.
pub mod events {
    use kernel::UserId;
    use kernel::events::Event;
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
}
