//! The users context's HTTP edge: wire types, validation into domain types,
//! the mapping of `UsersError` to problem documents, and the routes.

use crate::domain::{
    Account, Address, DisplayName, Email, EmailError, Language, MAX_ADDRESSES, NewPassword, Phone, ProfileError,
};
use crate::service::{IssuedTokens, ProfileChanges, Registration, SessionView, UsersError, UsersService};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use kernel::auth::{Authenticated, Role};
use kernel::http::{ApiError, FieldCode, FieldErrors, Problem, ValidatedJson, blocking, cursor};
use kernel::{Currency, SessionId, UserId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

impl From<UsersError> for ApiError {
    fn from(error: UsersError) -> Self {
        match error {
            UsersError::EmailTaken => {
                ApiError::conflict("email_taken", "an account with this email address already exists")
            }
            UsersError::InvalidCredentials => {
                ApiError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", "Invalid credentials")
                    .with_detail("the email or password is not correct")
            }
            UsersError::LockedOut { retry_after_seconds } => ApiError::too_many_requests(
                "too_many_login_attempts",
                retry_after_seconds,
                "too many failed logins for this account; wait before trying again",
            ),
            UsersError::InvalidRefreshToken => {
                ApiError::new(StatusCode::UNAUTHORIZED, "invalid_refresh_token", "Invalid refresh token")
                    .with_detail("the refresh token is unknown, expired or its session has ended")
            }
            UsersError::RefreshTokenReused => {
                ApiError::new(StatusCode::UNAUTHORIZED, "refresh_token_reused", "Refresh token reused")
                    .with_detail("this refresh token was already used; the session has been ended for safety")
            }
            UsersError::InvalidOneTimeToken => {
                ApiError::invalid_field("token", "invalid_token", "the token is invalid, already used or expired")
            }
            UsersError::AlreadyVerified => {
                ApiError::conflict("already_verified", "the email address is already verified")
            }
            UsersError::NotFound(what) => ApiError::not_found(what),
            UsersError::Invalid(errors) => ApiError::validation(errors),
            UsersError::Conflict(code, detail) => ApiError::conflict(code, detail),
            UsersError::Unavailable(cause) => ApiError::unavailable(cause),
            UsersError::MailUnavailable(cause) => {
                let mut error = ApiError::unavailable(cause);
                error.code = "mail_unavailable".into();
                error
            }
            UsersError::Internal(cause) => ApiError::internal(cause),
        }
    }
}

fn email_field(errors: &mut FieldErrors, raw: &str) -> Option<Email> {
    Email::parse(raw)
        .map_err(|error| {
            let code = match error {
                EmailError::Empty => "required",
                EmailError::TooLong => "too_long",
                EmailError::Invalid => "invalid_email",
            };
            errors.push("email", code, error.to_string());
        })
        .ok()
}

// ----- wire types -----

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    #[validate(required)]
    #[schema(example = "ana@example.com")]
    pub email: Option<String>,
    #[validate(required)]
    #[schema(example = "correct horse battery", min_length = 10, max_length = 128)]
    pub password: Option<String>,
    #[validate(required)]
    #[schema(example = "Ana García", max_length = 100)]
    pub display_name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PreferencesBody {
    /// BCP 47 language tag: `en`, `es`, `de-CH`.
    pub language: String,
    /// ISO 4217 code.
    pub currency: String,
    pub marketing_opt_in: bool,
}

/// A postal address.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressBody {
    pub label: Option<String>,
    pub recipient: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    pub region: Option<String>,
    /// ISO 3166-1 alpha-2.
    #[schema(example = "ES")]
    pub country: String,
}

impl From<&Address> for AddressBody {
    fn from(address: &Address) -> Self {
        Self {
            label: address.label.clone(),
            recipient: address.recipient.clone(),
            line1: address.line1.clone(),
            line2: address.line2.clone(),
            city: address.city.clone(),
            postal_code: address.postal_code.clone(),
            region: address.region.clone(),
            country: address.country.clone(),
        }
    }
}

impl AddressBody {
    fn unchecked(&self) -> Address {
        Address {
            label: self.label.clone(),
            recipient: self.recipient.clone(),
            line1: self.line1.clone(),
            line2: self.line2.clone(),
            city: self.city.clone(),
            postal_code: self.postal_code.clone(),
            region: self.region.clone(),
            country: self.country.clone(),
        }
    }
}

/// An account as its owner (or an admin) sees it. Never the password hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountBody {
    pub id: UserId,
    pub email: String,
    pub email_verified: bool,
    pub display_name: String,
    pub phone: Option<String>,
    pub addresses: Vec<AddressBody>,
    pub preferences: PreferencesBody,
    pub roles: Vec<Role>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Account> for AccountBody {
    fn from(account: Account) -> Self {
        Self {
            id: account.id,
            email: account.email.as_str().to_owned(),
            email_verified: account.email_verified_at.is_some(),
            display_name: account.display_name.as_str().to_owned(),
            phone: account.phone,
            addresses: account.addresses.iter().map(AddressBody::from).collect(),
            preferences: PreferencesBody {
                language: account.preferences.language.as_str().to_owned(),
                currency: account.preferences.currency.code().to_owned(),
                marketing_opt_in: account.preferences.marketing_opt_in,
            },
            roles: account.roles,
            active: account.active,
            created_at: account.created_at,
            updated_at: account.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[validate(required)]
    pub email: Option<String>,
    #[validate(required)]
    pub password: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenBody {
    pub access_token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Single use: each refresh returns a new one.
    pub refresh_token: String,
}

impl From<IssuedTokens> for TokenBody {
    fn from(issued: IssuedTokens) -> Self {
        Self {
            access_token: issued.access_token,
            token_type: "Bearer",
            expires_in: issued.expires_in,
            refresh_token: issued.refresh_token,
        }
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    #[validate(required, length(min = 1))]
    pub refresh_token: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreferencesPatch {
    pub language: Option<String>,
    pub currency: Option<String>,
    pub marketing_opt_in: Option<bool>,
}

/// Fields to change; absent fields stay as they are.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    pub display_name: Option<String>,
    /// `null` removes the phone number.
    #[serde(default, deserialize_with = "kernel::http::double_option")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    /// Replaces the whole list.
    #[validate(length(max = 10, code = "too_many", message = "at most 10 addresses"))]
    pub addresses: Option<Vec<AddressBody>>,
    #[validate(nested)]
    pub preferences: Option<PreferencesPatch>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    #[validate(required)]
    pub current_password: Option<String>,
    #[validate(required)]
    pub new_password: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionBody {
    pub id: SessionId,
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_refreshed_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// True for the session this request was made with.
    pub current: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    pub items: Vec<SessionBody>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    #[validate(required, length(min = 1))]
    pub token: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetRequest {
    #[validate(required)]
    pub email: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetConfirm {
    #[validate(required, length(min = 1))]
    pub token: Option<String>,
    #[validate(required)]
    pub new_password: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AdminUserQuery {
    /// Only accounts whose email contains this text.
    pub email: Option<String>,
    /// Page size, 1–100 (default 20).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountList {
    pub items: Vec<AccountBody>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminUserPatch {
    /// Replaces the roles: any of `customer`, `support_agent`, `admin`.
    pub roles: Option<Vec<String>>,
    /// `false` deactivates the account and ends all its sessions.
    pub active: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    pub status: &'static str,
}

fn user_agent(req: &HttpRequest) -> Option<String> {
    req.headers().get(actix_web::http::header::USER_AGENT).and_then(|value| value.to_str().ok()).map(str::to_owned)
}

fn required(value: Option<String>) -> String {
    // `#[validate(required)]` has already refused `None`.
    value.unwrap_or_default()
}

// ----- handlers -----

#[utoipa::path(
    post, path = "/api/v1/users", tag = "users",
    request_body = SignupRequest,
    responses(
        (status = 201, description = "Account created", body = AccountBody),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Email already registered", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn sign_up(
    service: web::Data<UsersService>,
    ValidatedJson(body): ValidatedJson<SignupRequest>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = FieldErrors::default();
    let email = email_field(&mut errors, &required(body.email));
    let display_name = errors.check("display_name", DisplayName::parse(&required(body.display_name)));
    let local_part = email.as_ref().and_then(|email| email.as_str().split('@').next().map(str::to_owned));
    let password = NewPassword::parse(&required(body.password), local_part.as_deref())
        .map_err(|error| errors.push("password", error.code(), error.to_string()))
        .ok();
    errors.finish()?;
    let (Some(email), Some(display_name), Some(password)) = (email, display_name, password) else {
        return Err(ApiError::internal("validated fields missing"));
    };
    let service = service.into_inner();
    let account = blocking(move || service.register(Registration { email, password, display_name })).await?;
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::LOCATION, "/api/v1/users/me"))
        .json(AccountBody::from(account)))
}

#[utoipa::path(
    post, path = "/api/v1/sessions", tag = "sessions",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = TokenBody),
        (status = 401, description = "Unknown email or wrong password (indistinguishable)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing fields", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts; see Retry-After", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn log_in(
    req: HttpRequest,
    service: web::Data<UsersService>,
    ValidatedJson(body): ValidatedJson<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let service = service.into_inner();
    let agent = user_agent(&req);
    let (email, password) = (required(body.email), required(body.password));
    let issued = blocking(move || service.login(&email, &password, agent)).await?;
    Ok(HttpResponse::Ok().insert_header(no_store()).json(TokenBody::from(issued)))
}

fn no_store() -> (actix_web::http::header::HeaderName, &'static str) {
    (actix_web::http::header::CACHE_CONTROL, "no-store")
}

#[utoipa::path(
    post, path = "/api/v1/sessions/refresh", tag = "sessions",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new token pair; the old refresh token is spent", body = TokenBody),
        (status = 401, description = "Invalid, expired or reused refresh token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing refresh token", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn refresh(
    service: web::Data<UsersService>,
    ValidatedJson(body): ValidatedJson<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let service = service.into_inner();
    let token = required(body.refresh_token);
    let issued = blocking(move || service.refresh(&token)).await?;
    Ok(HttpResponse::Ok().insert_header(no_store()).json(TokenBody::from(issued)))
}

#[utoipa::path(
    delete, path = "/api/v1/sessions/current", tag = "sessions",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Logged out; the access token stops working at once"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn log_out(
    service: web::Data<UsersService>,
    Authenticated(principal): Authenticated,
) -> Result<HttpResponse, ApiError> {
    let service = service.into_inner();
    blocking(move || service.logout(principal.session_id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    get, path = "/api/v1/users/me", tag = "users",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's account", body = AccountBody),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn me(
    service: web::Data<UsersService>,
    Authenticated(principal): Authenticated,
) -> Result<HttpResponse, ApiError> {
    let service = service.into_inner();
    let account = blocking(move || service.account(principal.user_id)).await?;
    Ok(HttpResponse::Ok().json(AccountBody::from(account)))
}

#[utoipa::path(
    patch, path = "/api/v1/users/me", tag = "users",
    security(("bearer" = [])),
    request_body = ProfilePatch,
    responses(
        (status = 200, description = "The updated account", body = AccountBody),
        (status = 400, description = "Malformed body or unknown field", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_me(
    service: web::Data<UsersService>,
    Authenticated(principal): Authenticated,
    ValidatedJson(body): ValidatedJson<ProfilePatch>,
) -> Result<HttpResponse, ApiError> {
    let changes = profile_changes(body)?;
    let service = service.into_inner();
    let account = blocking(move || service.update_profile(principal.user_id, changes)).await?;
    Ok(HttpResponse::Ok().json(AccountBody::from(account)))
}

fn profile_changes(body: ProfilePatch) -> Result<ProfileChanges, ApiError> {
    let mut errors = FieldErrors::default();
    let mut changes = ProfileChanges {
        display_name: body.display_name.and_then(|name| errors.check("display_name", DisplayName::parse(&name))),
        ..ProfileChanges::default()
    };
    changes.phone = match body.phone {
        None => None,
        Some(None) => Some(None),
        Some(Some(raw)) if raw.trim().is_empty() => Some(None),
        Some(Some(raw)) => errors.check("phone", Phone::parse(&raw)).map(Some),
    };
    if let Some(addresses) = body.addresses {
        if addresses.len() > MAX_ADDRESSES {
            errors.push("addresses", "too_many", format!("at most {MAX_ADDRESSES} addresses"));
        }
        let mut parsed = Vec::with_capacity(addresses.len());
        for (index, address) in addresses.iter().enumerate() {
            match Address::parse(&address.unchecked()) {
                Ok(address) => parsed.push(address),
                Err(field_errors) => {
                    for (field, error) in field_errors {
                        errors.push(format!("addresses[{index}].{field}"), error.code(), error.to_string());
                    }
                }
            }
        }
        changes.addresses = Some(parsed);
    }
    if let Some(preferences) = body.preferences {
        changes.language =
            preferences.language.and_then(|raw| errors.check("preferences.language", Language::parse(&raw)));
        changes.currency = preferences.currency.and_then(|raw| {
            errors.check("preferences.currency", Currency::parse(raw.trim()).map_err(|_| ProfileError::Currency))
        });
        changes.marketing_opt_in = preferences.marketing_opt_in;
    }
    errors.finish()?;
    Ok(changes)
}

#[utoipa::path(
    delete, path = "/api/v1/users/me", tag = "users",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Account deactivated and personal data erased; the id is kept"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn erase_me(
    service: web::Data<UsersService>,
    Authenticated(principal): Authenticated,
) -> Result<HttpResponse, ApiError> {
    let service = service.into_inner();
    blocking(move || service.erase_account(principal.user_id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    post, path = "/api/v1/users/me/password", tag = "users",
    security(("bearer" = [])),
    request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "Password changed; every other session ended"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Wrong current password or weak new one", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn change_password(
    service: web::Data<UsersService>,
    Authenticated(principal): Authenticated,
    ValidatedJson(body): ValidatedJson<ChangePasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let service = service.into_inner();
    let (current, new_password) = (required(body.current_password), required(body.new_password));
    blocking(move || service.change_password(&principal, &current, &new_password)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    get, path = "/api/v1/users/me/sessions", tag = "sessions",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's live sessions, newest first", body = SessionList),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn my_sessions(
    service: web::Data<UsersService>,
    Authenticated(principal): Authenticated,
) -> Result<HttpResponse, ApiError> {
    let service = service.into_inner();
    let current = principal.session_id;
    let sessions = blocking(move || service.sessions(principal.user_id)).await?;
    let items = sessions
        .into_iter()
        .map(|session: SessionView| SessionBody {
            current: session.id == current,
            id: session.id,
            user_agent: session.user_agent,
            created_at: session.created_at,
            last_refreshed_at: session.last_refreshed_at,
            expires_at: session.expires_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(SessionList { items, next_cursor: None }))
}

#[utoipa::path(
    delete, path = "/api/v1/users/me/sessions/{id}", tag = "sessions",
    security(("bearer" = [])),
    params(("id" = SessionId, Path, description = "Session id")),
    responses(
        (status = 204, description = "Session ended"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such live session of the caller's", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn end_my_session(
    service: web::Data<UsersService>,
    Authenticated(principal): Authenticated,
    path: web::Path<SessionId>,
) -> Result<HttpResponse, ApiError> {
    let service = service.into_inner();
    let session_id = path.into_inner();
    blocking(move || service.end_session(principal.user_id, session_id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    post, path = "/api/v1/users/me/verification", tag = "users",
    security(("bearer" = [])),
    responses(
        (status = 202, description = "A verification token has been mailed", body = Accepted),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already verified", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn request_verification(
    service: web::Data<UsersService>,
    Authenticated(principal): Authenticated,
) -> Result<HttpResponse, ApiError> {
    let service = service.into_inner();
    blocking(move || service.request_verification(principal.user_id)).await?;
    Ok(HttpResponse::Accepted().json(Accepted { status: "verification_sent" }))
}

#[utoipa::path(
    post, path = "/api/v1/users/verify", tag = "users",
    request_body = TokenRequest,
    responses(
        (status = 204, description = "Email verified"),
        (status = 422, description = "Invalid, used or expired token", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn verify_email(
    service: web::Data<UsersService>,
    ValidatedJson(body): ValidatedJson<TokenRequest>,
) -> Result<HttpResponse, ApiError> {
    let service = service.into_inner();
    let token = required(body.token);
    blocking(move || service.verify_email(&token)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    post, path = "/api/v1/password-resets", tag = "users",
    request_body = PasswordResetRequest,
    responses(
        (status = 202, description = "Always, whether or not an account has this email", body = Accepted),
        (status = 422, description = "Missing email", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn request_password_reset(
    service: web::Data<UsersService>,
    ValidatedJson(body): ValidatedJson<PasswordResetRequest>,
) -> Result<HttpResponse, ApiError> {
    let service = service.into_inner();
    let email = required(body.email);
    // Answer before any lookup or mail happens, so neither the status nor the
    // time taken tells whether the account exists.
    actix_web::rt::spawn(async move {
        if let Err(error) = blocking(move || service.request_password_reset(&email)).await {
            tracing::error!(error = %error, "password reset request failed");
        }
    });
    Ok(HttpResponse::Accepted().json(Accepted { status: "reset_requested" }))
}

#[utoipa::path(
    post, path = "/api/v1/password-resets/confirm", tag = "users",
    request_body = PasswordResetConfirm,
    responses(
        (status = 204, description = "Password set; every session ended"),
        (status = 422, description = "Invalid token or weak password", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn confirm_password_reset(
    service: web::Data<UsersService>,
    ValidatedJson(body): ValidatedJson<PasswordResetConfirm>,
) -> Result<HttpResponse, ApiError> {
    let service = service.into_inner();
    let (token, new_password) = (required(body.token), required(body.new_password));
    blocking(move || service.confirm_password_reset(&token, &new_password)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    get, path = "/api/v1/admin/users", tag = "admin",
    security(("bearer" = [])),
    params(AdminUserQuery),
    responses(
        (status = 200, description = "Accounts in creation order", body = AccountList),
        (status = 400, description = "Invalid cursor", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid limit", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn admin_list_users(
    service: web::Data<UsersService>,
    Authenticated(principal): Authenticated,
    query: web::Query<AdminUserQuery>,
) -> Result<HttpResponse, ApiError> {
    principal.require_role(&[Role::Admin])?;
    let query = query.into_inner();
    let limit = cursor::limit(query.limit)?;
    let after = match &query.cursor {
        Some(text) => Some(
            UserId::parse(&cursor::decode(text)?)
                .map_err(|_| ApiError::bad_request("invalid_cursor", "the cursor is not one this API issued"))?,
        ),
        None => None,
    };
    let email = query.email.filter(|email| !email.trim().is_empty());
    let service = service.into_inner();
    let page = blocking(move || service.list_accounts(email.as_deref().map(str::trim), after, limit)).await?;
    Ok(HttpResponse::Ok().json(AccountList {
        items: page.items.into_iter().map(AccountBody::from).collect(),
        next_cursor: page.next_after.map(|id| cursor::encode(&id.to_string())),
    }))
}

#[utoipa::path(
    patch, path = "/api/v1/admin/users/{id}", tag = "admin",
    security(("bearer" = [])),
    params(("id" = UserId, Path, description = "User id")),
    request_body = AdminUserPatch,
    responses(
        (status = 200, description = "The updated account", body = AccountBody),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Would remove the caller's own admin rights, or reactivate an erased account", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown role", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn admin_update_user(
    service: web::Data<UsersService>,
    Authenticated(principal): Authenticated,
    path: web::Path<UserId>,
    ValidatedJson(body): ValidatedJson<AdminUserPatch>,
) -> Result<HttpResponse, ApiError> {
    principal.require_role(&[Role::Admin])?;
    let mut errors = FieldErrors::default();
    let roles = body.roles.map(|names| {
        names
            .iter()
            .enumerate()
            .filter_map(|(index, name)| {
                let role = Role::parse(name.trim());
                if role.is_none() {
                    errors.push(
                        format!("roles[{index}]"),
                        "unknown_role",
                        "roles are customer, support_agent and admin",
                    );
                }
                role
            })
            .collect::<Vec<_>>()
    });
    errors.finish()?;
    let id = path.into_inner();
    let service = service.into_inner();
    let account = blocking(move || service.administer(&principal, id, roles, body.active)).await?;
    Ok(HttpResponse::Ok().json(AccountBody::from(account)))
}

/// Mounts the users context's routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/v1/users").route(web::post().to(sign_up)))
        .service(
            web::resource("/api/v1/users/me")
                .route(web::get().to(me))
                .route(web::patch().to(update_me))
                .route(web::delete().to(erase_me)),
        )
        .service(web::resource("/api/v1/users/me/password").route(web::post().to(change_password)))
        .service(web::resource("/api/v1/users/me/sessions").route(web::get().to(my_sessions)))
        .service(web::resource("/api/v1/users/me/sessions/{id}").route(web::delete().to(end_my_session)))
        .service(web::resource("/api/v1/users/me/verification").route(web::post().to(request_verification)))
        .service(web::resource("/api/v1/users/verify").route(web::post().to(verify_email)))
        .service(web::resource("/api/v1/sessions").route(web::post().to(log_in)))
        .service(web::resource("/api/v1/sessions/refresh").route(web::post().to(refresh)))
        .service(web::resource("/api/v1/sessions/current").route(web::delete().to(log_out)))
        .service(web::resource("/api/v1/password-resets").route(web::post().to(request_password_reset)))
        .service(web::resource("/api/v1/password-resets/confirm").route(web::post().to(confirm_password_reset)))
        .service(web::resource("/api/v1/admin/users").route(web::get().to(admin_list_users)))
        .service(web::resource("/api/v1/admin/users/{id}").route(web::patch().to(admin_update_user)));
}

/// The users context's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        sign_up, log_in, refresh, log_out, me, update_me, erase_me, change_password, my_sessions,
        end_my_session, request_verification, verify_email, request_password_reset,
        confirm_password_reset, admin_list_users, admin_update_user
    ),
    tags(
        (name = "users", description = "Accounts, profiles, email verification and password resets"),
        (name = "sessions", description = "Login, token refresh, logout and session management"),
        (name = "admin", description = "Administration (role `admin`)"),
    )
)]
pub struct UsersOpenApi;
