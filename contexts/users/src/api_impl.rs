//! The in-process implementation of the published `UsersApi` and of the
//! kernel's `Authenticator` port.

use crate::service::{UsersError, UsersService};
use kernel::UserId;
use kernel::auth::{AuthError, Authenticator, Principal};
use std::sync::Arc;
use users_api::{UserSummary, UsersApi, UsersApiError};

#[derive(Clone)]
pub struct InProcessUsersApi {
    service: Arc<UsersService>,
}

impl InProcessUsersApi {
    pub fn new(service: Arc<UsersService>) -> Self {
        Self { service }
    }
}

#[async_trait::async_trait]
impl UsersApi for InProcessUsersApi {
    async fn authenticate(&self, access_token: &str) -> Result<Principal, AuthError> {
        let service = self.service.clone();
        let token = access_token.to_owned();
        actix_web::web::block(move || service.authenticate(&token))
            .await
            .map_err(|error| AuthError::Unavailable(error.to_string()))?
    }

    async fn user_summary(&self, id: UserId) -> Result<Option<UserSummary>, UsersApiError> {
        let service = self.service.clone();
        let result = actix_web::web::block(move || service.account(id))
            .await
            .map_err(|error| UsersApiError::Unavailable(error.to_string()))?;
        match result {
            Ok(account) => Ok(Some(UserSummary {
                id: account.id,
                display_name: account.display_name.as_str().to_owned(),
                email: account.erased_at.is_none().then(|| account.email.as_str().to_owned()),
                email_verified: account.email_verified_at.is_some(),
                roles: account.roles,
                active: account.active,
            })),
            Err(UsersError::NotFound(_)) => Ok(None),
            Err(other) => Err(UsersApiError::Unavailable(other.to_string())),
        }
    }
}

#[async_trait::async_trait]
impl Authenticator for InProcessUsersApi {
    async fn authenticate(&self, access_token: &str) -> Result<Principal, AuthError> {
        UsersApi::authenticate(self, access_token).await
    }
}
