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
