//! The users context's use cases. Synchronous: they do database work and
//! password hashing, and the HTTP edge runs them on the blocking pool.

use crate::domain::{Account, Address, DisplayName, Email, Language, NewPassword, Phone, roles_to_text};
use crate::passwords::PasswordHasher;
use crate::store::{
    self, AccountRow, OneTimeTokenRow, RefreshTokenRow, SessionRow, StoreError, from_db_time, to_db_time,
};
use crate::tokens::{TokenError, TokenIssuer, hash_secret, new_secret};
use chrono::{DateTime, Duration, Utc};
use kernel::auth::{AuthError, Principal, Role};
use kernel::db::{ContextDatabase, DbConn, DbError, write_transaction};
use kernel::events::Outbox;
use kernel::http::FieldError;
use kernel::mail::{MailMessage, Mailer};
use kernel::{Clock, Currency, SessionId, UserId};
use std::sync::Arc;
use users_api::events::{DeactivationReason, UserDeactivated, UserErased, UserProfileUpdated, UserRegistered};

/// Policy knobs of the users context, with production defaults.
#[derive(Debug, Clone)]
pub struct UsersSettings {
    pub access_token_ttl: Duration,
    /// Sliding: each refresh extends the session by this much.
    pub session_ttl: Duration,
    pub lockout_threshold: usize,
    pub lockout_window: Duration,
    pub verification_ttl: Duration,
    pub password_reset_ttl: Duration,
    /// Base URL put into mailed links.
    pub public_url: String,
}

impl Default for UsersSettings {
    fn default() -> Self {
        Self {
            access_token_ttl: Duration::minutes(15),
            session_ttl: Duration::days(30),
            lockout_threshold: 5,
            lockout_window: Duration::minutes(15),
            verification_ttl: Duration::hours(48),
            password_reset_ttl: Duration::hours(1),
            public_url: "http://localhost:8080".to_owned(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    #[error("the email address is already registered")]
    EmailTaken,
    #[error("invalid email or password")]
    InvalidCredentials,
    #[error("too many failed logins; try again in {retry_after_seconds} s")]
    LockedOut { retry_after_seconds: u64 },
    #[error("the refresh token is invalid or expired")]
    InvalidRefreshToken,
    #[error("the refresh token was already used; the session has been ended")]
    RefreshTokenReused,
    #[error("the token is invalid, used or expired")]
    InvalidOneTimeToken,
    #[error("the email address is already verified")]
    AlreadyVerified,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    Conflict(&'static str, &'static str),
    #[error(transparent)]
    Unavailable(DbError),
    #[error("mail delivery failed: {0}")]
    MailUnavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl UsersError {
    pub fn field(field: &str, code: &str, message: impl Into<String>) -> Self {
        UsersError::Invalid(vec![FieldError {
            field: field.to_owned(),
            code: code.to_owned(),
            message: message.into(),
        }])
    }
}

impl From<StoreError> for UsersError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::EmailTaken => UsersError::EmailTaken,
            StoreError::Corrupt(what) => UsersError::Internal(what),
            StoreError::Database(error) => UsersError::Internal(error.to_string()),
        }
    }
}

impl From<diesel::result::Error> for UsersError {
    fn from(error: diesel::result::Error) -> Self {
        UsersError::Internal(error.to_string())
    }
}

impl From<DbError> for UsersError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::Query(error) => UsersError::Internal(error.to_string()),
            other => UsersError::Unavailable(other),
        }
    }
}

/// What a successful login or refresh hands to the client.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    pub access_token: String,
    pub expires_in: i64,
    pub refresh_token: String,
    pub session_id: SessionId,
    pub user_id: UserId,
}

/// A validated sign-up.
#[derive(Debug)]
pub struct Registration {
    pub email: Email,
    pub password: NewPassword,
    pub display_name: DisplayName,
}

/// A validated profile change; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct ProfileChanges {
    pub display_name: Option<DisplayName>,
    /// `Some(None)` clears the phone number.
    pub phone: Option<Option<Phone>>,
    pub addresses: Option<Vec<Address>>,
    pub language: Option<Language>,
    pub currency: Option<Currency>,
    pub marketing_opt_in: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct SessionView {
    pub id: SessionId,
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_refreshed_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct AccountPage {
    pub items: Vec<Account>,
    pub next_after: Option<UserId>,
}

const PURPOSE_VERIFY: &str = "verify_email";
const PURPOSE_RESET: &str = "password_reset";

/// The ports the users context is built from; `app` supplies them.
pub struct UsersPorts {
    pub db: ContextDatabase,
    pub clock: Arc<dyn Clock>,
    pub hasher: PasswordHasher,
    pub tokens: TokenIssuer,
    pub mailer: Arc<dyn Mailer>,
    /// Where the context records the events it publishes.
    pub outbox: Outbox,
}

pub struct UsersService {
    db: ContextDatabase,
    clock: Arc<dyn Clock>,
    hasher: PasswordHasher,
    tokens: TokenIssuer,
    mailer: Arc<dyn Mailer>,
    outbox: Outbox,
    settings: UsersSettings,
}

impl UsersService {
    pub fn new(ports: UsersPorts, settings: UsersSettings) -> Self {
        let UsersPorts { db, clock, hasher, tokens, mailer, outbox } = ports;
        Self { db, clock, hasher, tokens, mailer, outbox, settings }
    }

    pub fn database(&self) -> &ContextDatabase {
        &self.db
    }

    fn conn(&self) -> Result<kernel::db::PooledConn, UsersError> {
        Ok(self.db.conn()?)
    }

    // ----- accounts -----

    pub fn register(&self, registration: Registration) -> Result<Account, UsersError> {
        self.create_account(registration, &[Role::Customer])
    }

    /// Creates an account with the given roles (the CLI's `admin create`).
    pub fn create_account(&self, registration: Registration, roles: &[Role]) -> Result<Account, UsersError> {
        let hash = self.hasher.hash(registration.password.expose()).map_err(|e| UsersError::Internal(e.to_string()))?;
        let now = to_db_time(self.clock.now());
        let row = AccountRow {
            id: UserId::new().to_string(),
            email: registration.email.as_str().to_owned(),
            password_hash: hash,
            display_name: registration.display_name.as_str().to_owned(),
            phone: None,
            addresses: "[]".to_owned(),
            language: "en".to_owned(),
            currency: "EUR".to_owned(),
            marketing_opt_in: false,
            roles: roles_to_text(roles),
            active: true,
            email_verified_at: None,
            erased_at: None,
            created_at: now,
            updated_at: now,
        };
        let account = row.to_account()?;
        let mut conn = self.conn()?;
        self.outbox.transaction(&mut conn, |conn| {
            store::insert_account(conn, &row)?;
            self.outbox.record(
                conn,
                &UserRegistered {
                    user_id: account.id,
                    email: account.email.as_str().to_owned(),
                    display_name: account.display_name.as_str().to_owned(),
                    roles: account.roles.clone(),
                },
            )?;
            Ok::<_, UsersError>(())
        })?;
        tracing::info!(user.id = %row.id, "account registered");
        Ok(account)
    }

    pub fn account(&self, id: UserId) -> Result<Account, UsersError> {
        let mut conn = self.conn()?;
        let row = store::find_account(&mut conn, id)?.ok_or(UsersError::NotFound("account"))?;
        Ok(row.to_account()?)
    }

    pub fn update_profile(&self, id: UserId, changes: ProfileChanges) -> Result<Account, UsersError> {
        let now = to_db_time(self.clock.now());
        let mut conn = self.conn()?;
        self.outbox.transaction(&mut conn, |conn| {
            let mut row = store::find_account(conn, id)?.ok_or(UsersError::NotFound("account"))?;
            if let Some(name) = changes.display_name {
                row.display_name = name.as_str().to_owned();
            }
            if let Some(phone) = changes.phone {
                row.phone = phone.map(|phone| phone.as_str().to_owned());
            }
            if let Some(addresses) = changes.addresses {
                row.addresses = serde_json::to_string(&addresses).map_err(|e| UsersError::Internal(e.to_string()))?;
            }
            if let Some(language) = changes.language {
                row.language = language.as_str().to_owned();
            }
            if let Some(currency) = changes.currency {
                row.currency = currency.code().to_owned();
            }
            if let Some(opt_in) = changes.marketing_opt_in {
                row.marketing_opt_in = opt_in;
            }
            row.updated_at = now;
            store::save_account(conn, &row)?;
            let account = row.to_account()?;
            self.outbox.record(
                conn,
                &UserProfileUpdated {
                    user_id: account.id,
                    display_name: account.display_name.as_str().to_owned(),
                    language: account.preferences.language.as_str().to_owned(),
                    currency: account.preferences.currency.code().to_owned(),
                    marketing_opt_in: account.preferences.marketing_opt_in,
                },
            )?;
            Ok(account)
        })
    }

    /// Deactivates the account and erases its personal data, keeping the id
    /// (orders and tickets elsewhere still point at it).
    pub fn erase_account(&self, id: UserId) -> Result<(), UsersError> {
        let now = self.clock.now();
        let mut conn = self.conn()?;
        self.outbox.transaction(&mut conn, |conn| {
            let mut row = store::find_account(conn, id)?.ok_or(UsersError::NotFound("account"))?;
            row.email = Email::erased_placeholder(&id).as_str().to_owned();
            // Not a PHC string: nothing verifies against it.
            row.password_hash = "!erased".to_owned();
            row.display_name = String::new();
            row.phone = None;
            row.addresses = "[]".to_owned();
            row.marketing_opt_in = false;
            row.active = false;
            row.email_verified_at = None;
            row.erased_at = Some(to_db_time(now));
            row.updated_at = to_db_time(now);
            store::save_account(conn, &row)?;
            store::revoke_sessions_of(conn, id, None, "account_erased", now)?;
            store::void_tokens_of(conn, id, None, now)?;
            self.outbox.record(conn, &UserDeactivated { user_id: id, reason: DeactivationReason::Erased })?;
            self.outbox.record(conn, &UserErased { user_id: id })?;
            Ok::<_, UsersError>(())
        })?;
        tracing::info!(user.id = %id, "account erased");
        Ok(())
    }

    // ----- sessions -----

    pub fn login(&self, email: &str, password: &str, user_agent: Option<String>) -> Result<IssuedTokens, UsersError> {
        let Ok(email) = Email::parse(email) else {
            self.hasher.waste_time(password);
            return Err(UsersError::InvalidCredentials);
        };
        let now = self.clock.now();
        let attempt_id = uuid::Uuid::now_v7().to_string();
        let mut conn = self.conn()?;
        // Count the attempt as a failure before checking the password, so that
        // parallel guesses cannot slip past the threshold; a success removes it.
        write_transaction(&mut conn, |conn| {
            store::lock_login_attempts(conn, email.as_str())?;
            let failures = store::recent_failures(conn, email.as_str(), now - self.settings.lockout_window)?;
            if failures.len() >= self.settings.lockout_threshold {
                let unlocks_at = failures[self.settings.lockout_threshold - 1] + self.settings.lockout_window;
                let wait = (unlocks_at - now).num_milliseconds().max(0);
                return Err(UsersError::LockedOut { retry_after_seconds: (wait as u64).div_ceil(1000).max(1) });
            }
            store::insert_failure(conn, &attempt_id, email.as_str(), now)?;
            Ok(())
        })?;

        let account = store::find_account_by_email(&mut conn, &email)?;
        let verified = match &account {
            Some(row) => self.hasher.verify(password, &row.password_hash) && row.active,
            None => {
                self.hasher.waste_time(password);
                false
            }
        };
        let Some(account) = account.filter(|_| verified) else {
            tracing::info!("login failed");
            return Err(UsersError::InvalidCredentials);
        };
        let user_id = UserId::parse(&account.id).map_err(|_| UsersError::Internal("stored account id".into()))?;
        let issued = write_transaction(&mut conn, |conn| {
            store::clear_failures(conn, email.as_str())?;
            self.open_session(conn, user_id, user_agent, now)
        })?;
        tracing::info!(user.id = %user_id, session.id = %issued.session_id, "logged in");
        Ok(issued)
    }

    fn open_session(
        &self,
        conn: &mut DbConn,
        user_id: UserId,
        user_agent: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<IssuedTokens, UsersError> {
        let session_id = SessionId::new();
        store::insert_session(
            conn,
            &SessionRow {
                id: session_id.to_string(),
                account_id: user_id.to_string(),
                user_agent: user_agent.map(|agent| agent.chars().take(200).collect()),
                created_at: to_db_time(now),
                last_refreshed_at: to_db_time(now),
                expires_at: to_db_time(now + self.settings.session_ttl),
                revoked_at: None,
                revoked_reason: None,
            },
        )?;
        self.issue_pair(conn, user_id, session_id, now)
    }

    fn issue_pair(
        &self,
        conn: &mut DbConn,
        user_id: UserId,
        session_id: SessionId,
        now: DateTime<Utc>,
    ) -> Result<IssuedTokens, UsersError> {
        let refresh_token = new_secret();
        store::insert_refresh_token(
            conn,
            &RefreshTokenRow {
                token_hash: hash_secret(&refresh_token),
                session_id: session_id.to_string(),
                issued_at: to_db_time(now),
                superseded_at: None,
            },
        )?;
        let access_token =
            self.tokens.issue_access(user_id, session_id, now).map_err(|e| UsersError::Internal(e.to_string()))?;
        Ok(IssuedTokens {
            access_token,
            expires_in: self.tokens.access_ttl().num_seconds(),
            refresh_token,
            session_id,
            user_id,
        })
    }

    /// Rotates the token pair. Presenting a refresh token that was already
    /// rotated means it leaked: the whole session is revoked.
    pub fn refresh(&self, refresh_token: &str) -> Result<IssuedTokens, UsersError> {
        enum Outcome {
            Rotated(IssuedTokens),
            Reused(SessionId),
        }
        let now = self.clock.now();
        let token_hash = hash_secret(refresh_token);
        let mut conn = self.conn()?;
        let outcome = write_transaction(&mut conn, |conn| {
            let token = store::find_refresh_token(conn, &token_hash)?.ok_or(UsersError::InvalidRefreshToken)?;
            let session_id =
                SessionId::parse(&token.session_id).map_err(|_| UsersError::Internal("stored session id".into()))?;
            if token.superseded_at.is_some() {
                store::revoke_session(conn, session_id, "refresh_token_reuse", now)?;
                return Ok(Outcome::Reused(session_id));
            }
            let (session, account) =
                store::find_session_with_account(conn, session_id)?.ok_or(UsersError::InvalidRefreshToken)?;
            if !session.is_live(now) || !account.active {
                return Err(UsersError::InvalidRefreshToken);
            }
            if !store::supersede_refresh_token(conn, &token_hash, now)? {
                // A concurrent request spent the same token first: a replay.
                store::revoke_session(conn, session_id, "refresh_token_reuse", now)?;
                return Ok(Outcome::Reused(session_id));
            }
            store::extend_session(conn, &session.id, now, now + self.settings.session_ttl)?;
            let user_id = UserId::parse(&account.id).map_err(|_| UsersError::Internal("stored account id".into()))?;
            Ok(Outcome::Rotated(self.issue_pair(conn, user_id, session_id, now)?))
        })?;
        match outcome {
            Outcome::Rotated(issued) => Ok(issued),
            Outcome::Reused(session_id) => {
                tracing::warn!(session.id = %session_id, "refresh token reused; session revoked");
                Err(UsersError::RefreshTokenReused)
            }
        }
    }

    /// Checks an access token on every request: signature and expiry, then
    /// that its session is live and its account active, with current roles.
    pub fn authenticate(&self, access_token: &str) -> Result<Principal, AuthError> {
        let now = self.clock.now();
        let (user_id, session_id) = self.tokens.verify_access(access_token, now).map_err(|error| match error {
            TokenError::Expired => AuthError::Expired,
            TokenError::Invalid => AuthError::InvalidToken,
        })?;
        let mut conn = self.db.conn().map_err(|e| AuthError::Unavailable(e.to_string()))?;
        let (session, account) = store::find_session_with_account(&mut conn, session_id)
            .map_err(|e| AuthError::Unavailable(e.to_string()))?
            .ok_or(AuthError::SessionEnded)?;
        if !session.is_live(now) || !account.active || account.id != user_id.to_string() {
            return Err(AuthError::SessionEnded);
        }
        Ok(Principal { user_id, session_id, roles: crate::domain::roles_from_text(&account.roles) })
    }

    pub fn logout(&self, session_id: SessionId) -> Result<(), UsersError> {
        let mut conn = self.conn()?;
        store::revoke_session(&mut conn, session_id, "logout", self.clock.now())?;
        Ok(())
    }

    pub fn sessions(&self, user_id: UserId) -> Result<Vec<SessionView>, UsersError> {
        let mut conn = self.conn()?;
        store::live_sessions_of(&mut conn, user_id, self.clock.now())?
            .into_iter()
            .map(|row| {
                Ok(SessionView {
                    id: SessionId::parse(&row.id).map_err(|_| UsersError::Internal("stored session id".into()))?,
                    user_agent: row.user_agent,
                    created_at: from_db_time(row.created_at),
                    last_refreshed_at: from_db_time(row.last_refreshed_at),
                    expires_at: from_db_time(row.expires_at),
                })
            })
            .collect()
    }

    /// Ends one of the user's own sessions; another user's is "not found".
    pub fn end_session(&self, user_id: UserId, session_id: SessionId) -> Result<(), UsersError> {
        let now = self.clock.now();
        let mut conn = self.conn()?;
        write_transaction(&mut conn, |conn| match store::find_session(conn, session_id)? {
            Some(session) if session.account_id == user_id.to_string() && session.is_live(now) => {
                store::revoke_session(conn, session_id, "ended_by_user", now)?;
                Ok(())
            }
            _ => Err(UsersError::NotFound("session")),
        })
    }

    // ----- passwords -----

    /// Changes the password after checking the current one, and ends every
    /// other session.
    pub fn change_password(&self, principal: &Principal, current: &str, new_password: &str) -> Result<(), UsersError> {
        let mut conn = self.conn()?;
        let row = store::find_account(&mut conn, principal.user_id)?.ok_or(UsersError::NotFound("account"))?;
        if !self.hasher.verify(current, &row.password_hash) {
            return Err(UsersError::field("current_password", "incorrect", "the current password is not correct"));
        }
        let new_password = parse_new_password(new_password, &row.email, "new_password")?;
        let hash = self.hasher.hash(new_password.expose()).map_err(|e| UsersError::Internal(e.to_string()))?;
        let now = self.clock.now();
        write_transaction(&mut conn, |conn| {
            let mut row = store::find_account(conn, principal.user_id)?.ok_or(UsersError::NotFound("account"))?;
            row.password_hash = hash;
            row.updated_at = to_db_time(now);
            store::save_account(conn, &row)?;
            store::revoke_sessions_of(conn, principal.user_id, Some(principal.session_id), "password_changed", now)?;
            store::void_tokens_of(conn, principal.user_id, Some(PURPOSE_RESET), now)?;
            Ok::<_, UsersError>(())
        })?;
        tracing::info!(user.id = %principal.user_id, "password changed");
        Ok(())
    }

    /// Mails a reset token if an active account has this email. Always
    /// succeeds from the caller's point of view: no account enumeration.
    pub fn request_password_reset(&self, email: &str) -> Result<(), UsersError> {
        let Ok(email) = Email::parse(email) else {
            return Ok(());
        };
        let mut conn = self.conn()?;
        let Some(row) = store::find_account_by_email(&mut conn, &email)?.filter(|row| row.active) else {
            return Ok(());
        };
        let user_id = UserId::parse(&row.id).map_err(|_| UsersError::Internal("stored account id".into()))?;
        let token =
            self.store_one_time_token(&mut conn, user_id, &email, PURPOSE_RESET, self.settings.password_reset_ttl)?;
        self.send_mail(MailMessage {
            to: email.as_str().to_owned(),
            subject: "Reset your Tienda password".to_owned(),
            text: format!(
                "Someone asked to reset the password of your Tienda account.\n\n\
                 If it was you, set a new password within {} minutes with this token:\n\n    {token}\n\n\
                 (POST {}/api/v1/password-resets/confirm with {{\"token\": \"…\", \"new_password\": \"…\"}})\n\n\
                 If it was not you, ignore this message; your password stays as it is.\n",
                self.settings.password_reset_ttl.num_minutes(),
                self.settings.public_url
            ),
        })
    }

    /// Sets a new password from a mailed token and ends every session.
    pub fn confirm_password_reset(&self, token: &str, new_password: &str) -> Result<(), UsersError> {
        let now = self.clock.now();
        let token_hash = hash_secret(token);
        let mut conn = self.conn()?;
        let stored = store::find_usable_token(&mut conn, &token_hash, PURPOSE_RESET, now)?
            .ok_or(UsersError::InvalidOneTimeToken)?;
        let user_id =
            UserId::parse(&stored.account_id).map_err(|_| UsersError::Internal("stored account id".into()))?;
        let new_password = parse_new_password(new_password, &stored.email, "new_password")?;
        let hash = self.hasher.hash(new_password.expose()).map_err(|e| UsersError::Internal(e.to_string()))?;
        write_transaction(&mut conn, |conn| {
            if !store::use_token(conn, &token_hash, now)? {
                return Err(UsersError::InvalidOneTimeToken);
            }
            let mut row = store::find_account(conn, user_id)?.ok_or(UsersError::InvalidOneTimeToken)?;
            if !row.active || row.email != stored.email {
                return Err(UsersError::InvalidOneTimeToken);
            }
            row.password_hash = hash;
            // Receiving the mail proved the address.
            row.email_verified_at = row.email_verified_at.or(Some(to_db_time(now)));
            row.updated_at = to_db_time(now);
            store::save_account(conn, &row)?;
            store::revoke_sessions_of(conn, user_id, None, "password_reset", now)?;
            store::void_tokens_of(conn, user_id, Some(PURPOSE_RESET), now)?;
            Ok(())
        })?;
        tracing::info!(user.id = %user_id, "password reset");
        Ok(())
    }

    // ----- email verification -----

    pub fn request_verification(&self, user_id: UserId) -> Result<(), UsersError> {
        let mut conn = self.conn()?;
        let row = store::find_account(&mut conn, user_id)?.ok_or(UsersError::NotFound("account"))?;
        if row.email_verified_at.is_some() {
            return Err(UsersError::AlreadyVerified);
        }
        let email = Email::from_trusted(row.email.clone());
        let token =
            self.store_one_time_token(&mut conn, user_id, &email, PURPOSE_VERIFY, self.settings.verification_ttl)?;
        self.send_mail(MailMessage {
            to: row.email,
            subject: "Confirm your email address".to_owned(),
            text: format!(
                "Hello {},\n\nconfirm this address for your Tienda account with this token:\n\n    {token}\n\n\
                 (POST {}/api/v1/users/verify with {{\"token\": \"…\"}}; it expires in {} hours.)\n",
                row.display_name,
                self.settings.public_url,
                self.settings.verification_ttl.num_hours()
            ),
        })
    }

    pub fn verify_email(&self, token: &str) -> Result<(), UsersError> {
        let now = self.clock.now();
        let token_hash = hash_secret(token);
        let mut conn = self.conn()?;
        write_transaction(&mut conn, |conn| {
            let stored = store::find_usable_token(conn, &token_hash, PURPOSE_VERIFY, now)?
                .ok_or(UsersError::InvalidOneTimeToken)?;
            let user_id =
                UserId::parse(&stored.account_id).map_err(|_| UsersError::Internal("stored account id".into()))?;
            let mut row = store::find_account(conn, user_id)?.ok_or(UsersError::InvalidOneTimeToken)?;
            if row.email != stored.email || !row.active || !store::use_token(conn, &token_hash, now)? {
                return Err(UsersError::InvalidOneTimeToken);
            }
            row.email_verified_at = Some(to_db_time(now));
            row.updated_at = to_db_time(now);
            store::save_account(conn, &row)?;
            Ok(())
        })
    }

    fn store_one_time_token(
        &self,
        conn: &mut DbConn,
        user_id: UserId,
        email: &Email,
        purpose: &str,
        ttl: Duration,
    ) -> Result<String, UsersError> {
        let now = self.clock.now();
        let token = new_secret();
        write_transaction(conn, |conn| {
            // Only the newest token of a purpose works.
            store::void_tokens_of(conn, user_id, Some(purpose), now)?;
            store::insert_one_time_token(
                conn,
                &OneTimeTokenRow {
                    token_hash: hash_secret(&token),
                    account_id: user_id.to_string(),
                    purpose: purpose.to_owned(),
                    email: email.as_str().to_owned(),
                    created_at: to_db_time(now),
                    expires_at: to_db_time(now + ttl),
                    used_at: None,
                },
            )?;
            Ok::<_, UsersError>(())
        })?;
        Ok(token)
    }

    fn send_mail(&self, message: MailMessage) -> Result<(), UsersError> {
        self.mailer.send(&message).map_err(|error| {
            tracing::error!(error = %error, "mail delivery failed");
            UsersError::MailUnavailable(error.to_string())
        })
    }

    // ----- administration -----

    pub fn list_accounts(
        &self,
        email_contains: Option<&str>,
        after: Option<UserId>,
        limit: usize,
    ) -> Result<AccountPage, UsersError> {
        let mut conn = self.conn()?;
        let limit = limit.clamp(1, 100);
        let mut rows = store::list_accounts(&mut conn, email_contains, after, limit as i64 + 1)?;
        let has_more = rows.len() > limit;
        rows.truncate(limit);
        let items = rows.iter().map(AccountRow::to_account).collect::<Result<Vec<_>, _>>()?;
        let next_after = if has_more { items.last().map(|account| account.id) } else { None };
        Ok(AccountPage { items, next_after })
    }

    /// Changes roles and/or the active flag. Deactivating ends every session.
    pub fn administer(
        &self,
        actor: &Principal,
        id: UserId,
        roles: Option<Vec<Role>>,
        active: Option<bool>,
    ) -> Result<Account, UsersError> {
        if actor.user_id == id {
            let demotes = roles.as_ref().is_some_and(|roles| !roles.contains(&Role::Admin));
            if demotes || active == Some(false) {
                return Err(UsersError::Conflict(
                    "cannot_change_own_admin",
                    "an administrator cannot remove their own admin role or deactivate themselves",
                ));
            }
        }
        let now = self.clock.now();
        let mut conn = self.conn()?;
        self.outbox.transaction(&mut conn, |conn| {
            let mut row = store::find_account(conn, id)?.ok_or(UsersError::NotFound("account"))?;
            if row.erased_at.is_some() && active == Some(true) {
                return Err(UsersError::Conflict("account_erased", "an erased account cannot be reactivated"));
            }
            if let Some(roles) = &roles {
                row.roles = roles_to_text(roles);
            }
            if let Some(active) = active {
                if row.active && !active {
                    store::revoke_sessions_of(conn, id, None, "deactivated", now)?;
                    self.outbox
                        .record(conn, &UserDeactivated { user_id: id, reason: DeactivationReason::Administrator })?;
                }
                row.active = active;
            }
            row.updated_at = to_db_time(now);
            store::save_account(conn, &row)?;
            Ok(row.to_account()?)
        })
    }
}

/// Checks a new password against the policy, reporting under `field`.
fn parse_new_password(raw: &str, email: &str, field: &str) -> Result<NewPassword, UsersError> {
    let local_part = email.split('@').next();
    NewPassword::parse(raw, local_part).map_err(|error| UsersError::field(field, error.code(), error.to_string()))
}
