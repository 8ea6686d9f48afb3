//! The published contract of the users context.
//!
//! Other contexts call the users context only through [`UsersApi`], handed to
//! them by `app` as `Arc<dyn UsersApi>`. In the monolith the implementation is
//! in-process; once users runs as its own service, the same trait gets an HTTP
//! client implementation. This crate knows nothing of diesel or actix.

use kernel::UserId;
use kernel::auth::{AuthError, Principal, Role};
use serde::{Deserialize, Serialize};

/// What another context may know about a user: enough to address and show
/// them, nothing about credentials or sessions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSummary {
    pub id: UserId,
    /// Empty for an erased account.
    pub display_name: String,
    /// `None` for an erased account.
    pub email: Option<String>,
    pub email_verified: bool,
    pub roles: Vec<Role>,
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsersApiError {
    /// The users context could not answer (database down, network error once
    /// it is remote). Callers should degrade, not fail.
    #[error("the users context is unavailable: {0}")]
    Unavailable(String),
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait UsersApi: Send + Sync {
    /// Checks an access token and returns who is calling, with current roles.
    async fn authenticate(&self, access_token: &str) -> Result<Principal, AuthError>;

    /// A user's summary, or `None` if no account has this id.
    async fn user_summary(&self, id: UserId) -> Result<Option<UserSummary>, UsersApiError>;
}

/// Events the users context publishes (DESIGN.md §1). Subscribers receive
/// these typed structs; the wire name is `users.<Name>.v1`.
pub mod events {
    use kernel::UserId;
    use kernel::auth::Role;
    use kernel::events::Event;
    use serde::{Deserialize, Serialize};

    /// A customer signed up (or an admin was created).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct UserRegistered {
        pub user_id: UserId,
        pub email: String,
        pub display_name: String,
        pub roles: Vec<Role>,
    }

    impl Event for UserRegistered {
        const NAME: &'static str = "users.UserRegistered";
        const VERSION: u32 = 1;
    }

    /// The public part of a profile changed. Contact details (phone,
    /// addresses) are not broadcast: ask `UsersApi` when they are needed.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct UserProfileUpdated {
        pub user_id: UserId,
        pub display_name: String,
        pub language: String,
        pub currency: String,
        pub marketing_opt_in: bool,
    }

    impl Event for UserProfileUpdated {
        const NAME: &'static str = "users.UserProfileUpdated";
        const VERSION: u32 = 1;
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum DeactivationReason {
        /// An administrator deactivated the account.
        Administrator,
        /// The customer deleted their account.
        Erased,
    }

    /// The account can no longer sign in; its sessions have ended.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct UserDeactivated {
        pub user_id: UserId,
        pub reason: DeactivationReason,
    }

    impl Event for UserDeactivated {
        const NAME: &'static str = "users.UserDeactivated";
        const VERSION: u32 = 1;
    }

    /// The customer's personal data was erased. Every context holding
    /// personal data about this user must anonymise it.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct UserErased {
        pub user_id: UserId,
    }

    impl Event for UserErased {
        const NAME: &'static str = "users.UserErased";
        const VERSION: u32 = 1;
    }
}
