//! Persistence of the users context. Rows are diesel's business and stay in
//! this module; functions take `&mut DbConn` so a use case can compose several
//! of them in one transaction.

use crate::domain::{Account, Address, DisplayName, Email, Language, Preferences, roles_from_text};
use crate::schema::{accounts, login_failures, one_time_tokens, refresh_tokens, sessions};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use kernel::db::DbConn;
use kernel::{Currency, SessionId, UserId};

pub use kernel::db::{from_db_time, to_db_time};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = accounts)]
// Saving a row writes its `None`s as NULL (clearing a phone number).
#[diesel(treat_none_as_null = true)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct AccountRow {
    pub id: String,
    pub email: String,
    pub password_hash: String,
    pub display_name: String,
    pub phone: Option<String>,
    pub addresses: String,
    pub language: String,
    pub currency: String,
    pub marketing_opt_in: bool,
    pub roles: String,
    pub active: bool,
    pub email_verified_at: Option<NaiveDateTime>,
    pub erased_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the email address is already registered")]
    EmailTaken,
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Database(#[from] DieselError),
}

impl AccountRow {
    pub fn to_account(&self) -> Result<Account, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("account {}: {what}", self.id));
        let addresses: Vec<Address> = serde_json::from_str(&self.addresses).map_err(|_| corrupt("addresses"))?;
        Ok(Account {
            id: UserId::parse(&self.id).map_err(|_| corrupt("id"))?,
            email: Email::from_trusted(self.email.clone()),
            email_verified_at: self.email_verified_at.map(from_db_time),
            display_name: DisplayName::from_trusted(self.display_name.clone()),
            phone: self.phone.clone(),
            addresses,
            preferences: Preferences {
                language: Language::parse(&self.language).map_err(|_| corrupt("language"))?,
                currency: Currency::parse(&self.currency).map_err(|_| corrupt("currency"))?,
                marketing_opt_in: self.marketing_opt_in,
            },
            roles: roles_from_text(&self.roles),
            active: self.active,
            erased_at: self.erased_at.map(from_db_time),
            created_at: from_db_time(self.created_at),
            updated_at: from_db_time(self.updated_at),
        })
    }
}

pub fn insert_account(conn: &mut DbConn, row: &AccountRow) -> Result<(), StoreError> {
    diesel::insert_into(accounts::table).values(row).execute(conn).map_err(|error| match error {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => StoreError::EmailTaken,
        other => StoreError::Database(other),
    })?;
    Ok(())
}

pub fn find_account(conn: &mut DbConn, id: UserId) -> Result<Option<AccountRow>, StoreError> {
    Ok(accounts::table.find(id.to_string()).select(AccountRow::as_select()).first(conn).optional()?)
}

pub fn find_account_by_email(conn: &mut DbConn, email: &Email) -> Result<Option<AccountRow>, StoreError> {
    Ok(accounts::table
        .filter(accounts::email.eq(email.as_str()))
        .select(AccountRow::as_select())
        .first(conn)
        .optional()?)
}

/// Writes every column of the row back (the use case changed it in memory).
pub fn save_account(conn: &mut DbConn, row: &AccountRow) -> Result<(), StoreError> {
    diesel::update(accounts::table.find(&row.id)).set(row).execute(conn).map_err(|error| match error {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => StoreError::EmailTaken,
        other => StoreError::Database(other),
    })?;
    Ok(())
}

/// Accounts in id (= creation) order after `after`, optionally those whose
/// email contains `email_contains`.
pub fn list_accounts(
    conn: &mut DbConn,
    email_contains: Option<&str>,
    after: Option<UserId>,
    limit: i64,
) -> Result<Vec<AccountRow>, StoreError> {
    let mut query = accounts::table.select(AccountRow::as_select()).order(accounts::id.asc()).limit(limit).into_boxed();
    if let Some(fragment) = email_contains {
        let escaped = fragment.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        query = query.filter(accounts::email.like(format!("%{escaped}%")).escape('\\'));
    }
    if let Some(after) = after {
        query = query.filter(accounts::id.gt(after.to_string()));
    }
    Ok(query.load(conn)?)
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct SessionRow {
    pub id: String,
    pub account_id: String,
    pub user_agent: Option<String>,
    pub created_at: NaiveDateTime,
    pub last_refreshed_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
    pub revoked_reason: Option<String>,
}

impl SessionRow {
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && from_db_time(self.expires_at) > now
    }
}

pub fn insert_session(conn: &mut DbConn, row: &SessionRow) -> Result<(), StoreError> {
    diesel::insert_into(sessions::table).values(row).execute(conn)?;
    Ok(())
}

/// The session and its account in one query: the per-request authentication.
pub fn find_session_with_account(
    conn: &mut DbConn,
    session: SessionId,
) -> Result<Option<(SessionRow, AccountRow)>, StoreError> {
    Ok(sessions::table
        .inner_join(accounts::table)
        .filter(sessions::id.eq(session.to_string()))
        .select((SessionRow::as_select(), AccountRow::as_select()))
        .first(conn)
        .optional()?)
}

pub fn find_session(conn: &mut DbConn, session: SessionId) -> Result<Option<SessionRow>, StoreError> {
    Ok(sessions::table.find(session.to_string()).select(SessionRow::as_select()).first(conn).optional()?)
}

pub fn live_sessions_of(conn: &mut DbConn, account: UserId, now: DateTime<Utc>) -> Result<Vec<SessionRow>, StoreError> {
    Ok(sessions::table
        .filter(sessions::account_id.eq(account.to_string()))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::expires_at.gt(to_db_time(now)))
        .order(sessions::created_at.desc())
        .select(SessionRow::as_select())
        .load(conn)?)
}

/// Revokes one session if it is still live; returns whether it was.
pub fn revoke_session(
    conn: &mut DbConn,
    session: SessionId,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let changed = diesel::update(
        sessions::table.filter(sessions::id.eq(session.to_string())).filter(sessions::revoked_at.is_null()),
    )
    .set((sessions::revoked_at.eq(to_db_time(now)), sessions::revoked_reason.eq(reason)))
    .execute(conn)?;
    Ok(changed > 0)
}

/// Revokes every live session of an account, except `keep` if given.
pub fn revoke_sessions_of(
    conn: &mut DbConn,
    account: UserId,
    keep: Option<SessionId>,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let keep = keep.map(|id| id.to_string()).unwrap_or_default();
    Ok(diesel::update(
        sessions::table
            .filter(sessions::account_id.eq(account.to_string()))
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::id.ne(keep)),
    )
    .set((sessions::revoked_at.eq(to_db_time(now)), sessions::revoked_reason.eq(reason)))
    .execute(conn)?)
}

pub fn extend_session(
    conn: &mut DbConn,
    session: &str,
    now: DateTime<Utc>,
    expires: DateTime<Utc>,
) -> Result<(), StoreError> {
    diesel::update(sessions::table.find(session))
        .set((sessions::last_refreshed_at.eq(to_db_time(now)), sessions::expires_at.eq(to_db_time(expires))))
        .execute(conn)?;
    Ok(())
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = refresh_tokens)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct RefreshTokenRow {
    pub token_hash: String,
    pub session_id: String,
    pub issued_at: NaiveDateTime,
    pub superseded_at: Option<NaiveDateTime>,
}

pub fn insert_refresh_token(conn: &mut DbConn, row: &RefreshTokenRow) -> Result<(), StoreError> {
    diesel::insert_into(refresh_tokens::table).values(row).execute(conn)?;
    Ok(())
}

pub fn find_refresh_token(conn: &mut DbConn, token_hash: &str) -> Result<Option<RefreshTokenRow>, StoreError> {
    Ok(refresh_tokens::table.find(token_hash).select(RefreshTokenRow::as_select()).first(conn).optional()?)
}

/// Marks a token superseded if it is not yet; returns whether this call did.
pub fn supersede_refresh_token(conn: &mut DbConn, token_hash: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let changed = diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::token_hash.eq(token_hash))
            .filter(refresh_tokens::superseded_at.is_null()),
    )
    .set(refresh_tokens::superseded_at.eq(to_db_time(now)))
    .execute(conn)?;
    Ok(changed > 0)
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = one_time_tokens)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct OneTimeTokenRow {
    pub token_hash: String,
    pub account_id: String,
    pub purpose: String,
    pub email: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
}

pub fn insert_one_time_token(conn: &mut DbConn, row: &OneTimeTokenRow) -> Result<(), StoreError> {
    diesel::insert_into(one_time_tokens::table).values(row).execute(conn)?;
    Ok(())
}

/// An unused, unexpired token of the given purpose.
pub fn find_usable_token(
    conn: &mut DbConn,
    token_hash: &str,
    purpose: &str,
    now: DateTime<Utc>,
) -> Result<Option<OneTimeTokenRow>, StoreError> {
    Ok(one_time_tokens::table
        .filter(one_time_tokens::token_hash.eq(token_hash))
        .filter(one_time_tokens::purpose.eq(purpose))
        .filter(one_time_tokens::used_at.is_null())
        .filter(one_time_tokens::expires_at.gt(to_db_time(now)))
        .select(OneTimeTokenRow::as_select())
        .first(conn)
        .optional()?)
}

/// Uses a token up; false if it was already used (a concurrent request won).
pub fn use_token(conn: &mut DbConn, token_hash: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let changed = diesel::update(
        one_time_tokens::table
            .filter(one_time_tokens::token_hash.eq(token_hash))
            .filter(one_time_tokens::used_at.is_null()),
    )
    .set(one_time_tokens::used_at.eq(to_db_time(now)))
    .execute(conn)?;
    Ok(changed > 0)
}

/// Voids every outstanding token of an account and purpose.
pub fn void_tokens_of(
    conn: &mut DbConn,
    account: UserId,
    purpose: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut query = diesel::update(one_time_tokens::table)
        .filter(one_time_tokens::account_id.eq(account.to_string()))
        .filter(one_time_tokens::used_at.is_null())
        .into_boxed();
    if let Some(purpose) = purpose {
        query = query.filter(one_time_tokens::purpose.eq(purpose.to_owned()));
    }
    query.set(one_time_tokens::used_at.eq(to_db_time(now))).execute(conn)?;
    Ok(())
}

/// Times of the failures for `email` since `since`, newest first.
pub fn recent_failures(conn: &mut DbConn, email: &str, since: DateTime<Utc>) -> Result<Vec<DateTime<Utc>>, StoreError> {
    let times: Vec<NaiveDateTime> = login_failures::table
        .filter(login_failures::email.eq(email))
        .filter(login_failures::failed_at.gt(to_db_time(since)))
        .order(login_failures::failed_at.desc())
        .select(login_failures::failed_at)
        .load(conn)?;
    Ok(times.into_iter().map(from_db_time).collect())
}

pub fn insert_failure(conn: &mut DbConn, id: &str, email: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
    diesel::insert_into(login_failures::table)
        .values((
            login_failures::id.eq(id),
            login_failures::email.eq(email),
            login_failures::failed_at.eq(to_db_time(at)),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn clear_failures(conn: &mut DbConn, email: &str) -> Result<(), StoreError> {
    diesel::delete(login_failures::table.filter(login_failures::email.eq(email))).execute(conn)?;
    Ok(())
}

/// Deletes failure records older than `before` (housekeeping).
pub fn prune_failures(conn: &mut DbConn, before: DateTime<Utc>) -> Result<usize, StoreError> {
    Ok(diesel::delete(login_failures::table.filter(login_failures::failed_at.lt(to_db_time(before)))).execute(conn)?)
}

/// Serialises concurrent login attempts for one email on PostgreSQL, so the
/// lockout count cannot be raced past. (SQLite's write transaction already
/// serialises them.)
pub fn lock_login_attempts(conn: &mut DbConn, email: &str) -> Result<(), StoreError> {
    if let DbConn::Pg(_) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind::<diesel::sql_types::Text, _>(email)
            .execute(conn)?;
    }
    Ok(())
}
