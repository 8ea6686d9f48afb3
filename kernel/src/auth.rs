//! Who is calling: the authenticated principal every context's routes use the
//! same way, without knowing how tokens are issued or checked.
//!
//! The users context implements [`Authenticator`]; `app` puts it into the
//! actix app data as `Arc<dyn Authenticator>`; routes take an [`Authenticated`]
//! argument and call [`Principal::require_role`] where a role is needed.

use crate::http::ApiError;
use crate::id::{SessionId, UserId};
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Customer,
    SupportAgent,
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Customer, Role::SupportAgent, Role::Admin];

    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::SupportAgent => "support_agent",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == text)
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: UserId,
    pub session_id: SessionId,
    pub roles: Vec<Role>,
}

impl Principal {
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// 403 unless the principal has at least one of `roles`.
    pub fn require_role(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.iter().any(|role| self.has_role(*role)) { Ok(()) } else { Err(ApiError::forbidden()) }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("the access token is invalid")]
    InvalidToken,
    #[error("the access token has expired")]
    Expired,
    #[error("the session has ended")]
    SessionEnded,
    #[error("authentication is unavailable: {0}")]
    Unavailable(String),
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Unavailable(cause) => ApiError::unavailable(cause),
            other => ApiError::unauthorized(other.to_string()),
        }
    }
}

/// Checks an access token. Implemented by the users context.
#[async_trait::async_trait]
pub trait Authenticator: Send + Sync {
    async fn authenticate(&self, access_token: &str) -> Result<Principal, AuthError>;
}

/// Extracts the caller from `Authorization: Bearer <token>`; 401 otherwise.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Principal);

impl FromRequest for Authenticated {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let authenticator = req.app_data::<web::Data<Arc<dyn Authenticator>>>().cloned();
        let token = bearer_token(req);
        Box::pin(async move {
            let Some(authenticator) = authenticator else {
                return Err(ApiError::internal("no Authenticator registered in app data").into());
            };
            let token = token.map_err(actix_web::Error::from)?;
            let principal = authenticator.authenticate(&token).await.map_err(ApiError::from)?;
            Ok(Authenticated(principal))
        })
    }
}

/// The caller when an `Authorization` header is sent, `None` for a visitor.
/// A header that is sent but invalid is still a 401: a customer whose token
/// expired must not silently shop as a guest.
#[derive(Debug, Clone)]
pub struct MaybeAuthenticated(pub Option<Principal>);

impl FromRequest for MaybeAuthenticated {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        if !req.headers().contains_key(header::AUTHORIZATION) {
            return Box::pin(async { Ok(MaybeAuthenticated(None)) });
        }
        let authenticated = Authenticated::from_request(req, payload);
        Box::pin(async move { Ok(MaybeAuthenticated(Some(authenticated.await?.0))) })
    }
}

fn bearer_token(req: &HttpRequest) -> Result<String, ApiError> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("send an access token as `Authorization: Bearer <token>`"))?;
    let value = value.to_str().map_err(|_| ApiError::unauthorized("the Authorization header is not valid text"))?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(|| ApiError::unauthorized("the Authorization header must be `Bearer <token>`"))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::unauthorized("the Authorization header must be `Bearer <token>`"));
    }
    Ok(token.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_text() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn role_guard_answers_403() {
        let principal = Principal { user_id: UserId::new(), session_id: SessionId::new(), roles: vec![Role::Customer] };
        assert!(principal.require_role(&[Role::Customer]).is_ok());
        let error = principal.require_role(&[Role::Admin, Role::SupportAgent]).expect_err("forbidden");
        assert_eq!(error.status, actix_web::http::StatusCode::FORBIDDEN);
    }
}
