//! Database plumbing shared by every context.
//!
//! One connection type ([`DbConn`]) serves SQLite and PostgreSQL, so a context's
//! repository code is written once. Each context gets its own pool
//! ([`ContextDatabase`]): on SQLite its own file, on PostgreSQL its own schema
//! (selected per pooled connection) and optionally its own role, so that SQL
//! written in one context cannot read another context's tables.

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness};
use std::time::Duration;

/// One connection over either backend. Repository functions take `&mut DbConn`
/// so they compose inside one transaction.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl DbConn {
    pub fn backend(&self) -> Backend {
        match self {
            DbConn::Pg(_) => Backend::Postgres,
            DbConn::Sqlite(_) => Backend::Sqlite,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unsupported database URL `{0}`: use postgres://… or sqlite://<file>")]
    UnsupportedUrl(String),
    #[error("could not connect to the {context} database: {source}")]
    Connect {
        context: String,
        #[source]
        source: diesel::ConnectionError,
    },
    #[error("could not configure a {context} connection: {source}")]
    Configure {
        context: String,
        #[source]
        source: diesel::result::Error,
    },
    #[error("the {context} database is unavailable: {source}")]
    Pool {
        context: String,
        #[source]
        source: r2d2::Error,
    },
    #[error("migrating the {context} database failed: {message}")]
    Migration { context: String, message: String },
    #[error("preparing the {context} database failed: {source}")]
    Provision {
        context: String,
        #[source]
        source: diesel::result::Error,
    },
    #[error("creating the data directory {path} failed: {source}")]
    DataDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
}

/// Where a context's data lives, decided from the URL scheme and nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite database file (`sqlite://path/to/file.db`).
    Sqlite { path: String },
    /// A PostgreSQL server (`postgres://…`); the context lives in its own schema.
    Postgres { url: String },
}

impl Location {
    pub fn parse(url: &str) -> Result<Self, DbError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Location::Postgres { url: url.to_owned() });
        }
        if let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))
            && !path.is_empty()
        {
            return Ok(Location::Sqlite { path: path.to_owned() });
        }
        Err(DbError::UnsupportedUrl(redact_url(url)))
    }

    pub fn backend(&self) -> Backend {
        match self {
            Location::Sqlite { .. } => Backend::Sqlite,
            Location::Postgres { .. } => Backend::Postgres,
        }
    }
}

/// Hides a password in a URL before it goes into an error message or a log line.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.find(':') {
                Some(colon) => format!("{}{}:***{}", &url[..scheme_end + 3], &credentials[..colon], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// How one context connects.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// The context's name; also its PostgreSQL schema.
    pub context: &'static str,
    pub location: Location,
    /// On PostgreSQL, the role the pool switches to (`SET ROLE`) on every
    /// connection, so the database itself refuses cross-context access.
    pub role: Option<String>,
    pub max_connections: u32,
    /// How long to wait for a free connection before reporting the database
    /// as unavailable.
    pub acquire_timeout: Duration,
}

/// An r2d2 connection manager that picks the backend from the URL and keeps the
/// real connection error (diesel's derived `establish` discards it and may
/// silently create a SQLite file named like the URL).
#[derive(Debug, Clone)]
pub struct ContextConnectionManager {
    settings: DatabaseSettings,
}

impl ContextConnectionManager {
    pub fn new(settings: DatabaseSettings) -> Self {
        Self { settings }
    }

    fn configure(&self, conn: &mut DbConn) -> Result<(), diesel::result::Error> {
        match conn {
            DbConn::Sqlite(sqlite) => sqlite.batch_execute(
                // busy_timeout first: the following pragmas may already need the lock.
                "PRAGMA busy_timeout = 5000;
                 PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = NORMAL;
                 PRAGMA foreign_keys = ON;",
            ),
            DbConn::Pg(pg) => {
                let mut sql = String::new();
                if let Some(role) = &self.settings.role {
                    sql.push_str(&format!("SET ROLE {};", quote_ident(role)));
                }
                sql.push_str(&format!("SET search_path TO {};", quote_ident(self.settings.context)));
                pg.batch_execute(&sql)
            }
        }
    }
}

impl r2d2::ManageConnection for ContextConnectionManager {
    type Connection = DbConn;
    type Error = DbError;

    fn connect(&self) -> Result<DbConn, DbError> {
        let context = self.settings.context.to_owned();
        let mut conn = match &self.settings.location {
            Location::Sqlite { path } => SqliteConnection::establish(path).map(DbConn::Sqlite),
            Location::Postgres { url } => PgConnection::establish(url).map(DbConn::Pg),
        }
        .map_err(|source| DbError::Connect { context: context.clone(), source })?;
        self.configure(&mut conn).map_err(|source| DbError::Configure { context, source })?;
        Ok(conn)
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), DbError> {
        conn.batch_execute("SELECT 1").map_err(DbError::Query)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        <DbConn as Connection>::TransactionManager::is_broken_transaction_manager(conn)
    }
}

pub type Pool = r2d2::Pool<ContextConnectionManager>;
pub type PooledConn = r2d2::PooledConnection<ContextConnectionManager>;

/// The pair of embedded migration sets of one context, one per backend.
///
/// `EmbeddedMigrations` is neither `Copy` nor `Clone`, so a context hands over a
/// function that runs its own `const` migrations.
pub type MigrateFn = fn(&mut DbConn) -> Result<Vec<String>, DbError>;

/// Runs the pending migrations of one backend's set. Returns the versions applied.
pub fn run_migrations(
    conn: &mut DbConn,
    context: &str,
    sqlite: EmbeddedMigrations,
    postgres: EmbeddedMigrations,
) -> Result<Vec<String>, DbError> {
    let applied = match conn.backend() {
        Backend::Sqlite => conn.run_pending_migrations(sqlite),
        Backend::Postgres => conn.run_pending_migrations(postgres),
    }
    .map_err(|error| DbError::Migration { context: context.to_owned(), message: error.to_string() })?;
    Ok(applied.iter().map(|version| version.to_string()).collect())
}

/// A context's pool.
#[derive(Clone)]
pub struct ContextDatabase {
    context: &'static str,
    backend: Backend,
    pool: Pool,
}

impl std::fmt::Debug for ContextDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContextDatabase")
            .field("context", &self.context)
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl ContextDatabase {
    /// Opens the pool without touching the database: the first connection is
    /// made on first use, so a database that is down is reported by the health
    /// check rather than by a crash at start.
    pub fn open(settings: DatabaseSettings) -> Result<Self, DbError> {
        if let Location::Sqlite { path } = &settings.location
            && let Some(parent) = std::path::Path::new(path).parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)
                .map_err(|source| DbError::DataDir { path: parent.display().to_string(), source })?;
        }
        let context = settings.context;
        let backend = settings.location.backend();
        let pool = r2d2::Pool::builder()
            .max_size(settings.max_connections.max(1))
            .min_idle(Some(0))
            .connection_timeout(settings.acquire_timeout)
            .build_unchecked(ContextConnectionManager::new(settings));
        Ok(Self { context, backend, pool })
    }

    pub fn context(&self) -> &'static str {
        self.context
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn conn(&self) -> Result<PooledConn, DbError> {
        self.pool.get().map_err(|source| DbError::Pool { context: self.context.to_owned(), source })
    }

    /// Applies the context's pending migrations.
    pub fn migrate(&self, migrate: MigrateFn) -> Result<Vec<String>, DbError> {
        let mut conn = self.conn()?;
        migrate(&mut conn)
    }

    /// Checks that a connection can be had within `timeout` and answers a
    /// trivial query.
    pub fn ping_within(&self, timeout: Duration) -> Result<(), DbError> {
        let mut conn = self
            .pool
            .get_timeout(timeout)
            .map_err(|source| DbError::Pool { context: self.context.to_owned(), source })?;
        conn.batch_execute("SELECT 1")?;
        Ok(())
    }
}

/// Runs `work` in a transaction that takes the write lock up front.
///
/// On SQLite a deferred transaction that reads and then writes fails with
/// `database is locked` under concurrency (the read lock cannot be upgraded);
/// `BEGIN IMMEDIATE` serialises writers instead. On PostgreSQL this is an
/// ordinary transaction. Use it for every read-modify-write use case.
pub fn write_transaction<T, E, F>(conn: &mut DbConn, work: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    match conn {
        DbConn::Pg(_) => return conn.transaction(work),
        DbConn::Sqlite(sqlite) => {
            AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
        }
    }
    // The derived transaction manager keeps its state in the inner connection,
    // so savepoints opened by `work` nest inside this transaction as usual.
    type Manager = <DbConn as Connection>::TransactionManager;
    match work(conn) {
        Ok(value) => {
            Manager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(error) => match Manager::rollback_transaction(conn) {
            Ok(()) | Err(diesel::result::Error::BrokenTransactionManager) => Err(error),
            Err(rollback_error) => Err(rollback_error.into()),
        },
    }
}

/// Timestamps are stored as UTC without a zone (the portable `Timestamp`
/// type); these are the two conversions, in one place.
pub fn to_db_time(at: chrono::DateTime<chrono::Utc>) -> chrono::NaiveDateTime {
    at.naive_utc()
}

pub fn from_db_time(at: chrono::NaiveDateTime) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_naive_utc_and_offset(at, chrono::Utc)
}

/// Quotes a PostgreSQL identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quotes a PostgreSQL string literal.
pub fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// Creates, idempotently, a context's PostgreSQL schema and, when asked, the
/// role that owns it. The role gets no other privilege, and PUBLIC none on the
/// schema, so a connection acting as one context's role is refused another's.
///
/// Runs as the user of the URL, which needs CREATEROLE for roles.
pub fn provision_postgres(url: &str, context: &str, role: Option<&str>) -> Result<(), DbError> {
    let mut admin =
        PgConnection::establish(url).map_err(|source| DbError::Connect { context: context.to_owned(), source })?;
    let provision = |conn: &mut PgConnection| -> Result<(), diesel::result::Error> {
        let schema = quote_ident(context);
        match role {
            Some(role) => {
                let quoted = quote_ident(role);
                let exists: bool = diesel::select(diesel::dsl::exists(
                    pg_roles::table.filter(diesel::ExpressionMethods::eq(pg_roles::rolname, role)),
                ))
                .get_result(conn)?;
                if !exists {
                    conn.batch_execute(&format!("CREATE ROLE {quoted} NOLOGIN"))?;
                }
                // Membership lets the pool `SET ROLE` to it.
                conn.batch_execute(&format!("GRANT {quoted} TO CURRENT_USER"))?;
                conn.batch_execute(&format!(
                    "CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {quoted};
                     ALTER SCHEMA {schema} OWNER TO {quoted};
                     REVOKE ALL ON SCHEMA {schema} FROM PUBLIC;"
                ))
            }
            None => conn.batch_execute(&format!(
                "CREATE SCHEMA IF NOT EXISTS {schema};
                 REVOKE ALL ON SCHEMA {schema} FROM PUBLIC;"
            )),
        }
    };
    // Two instances starting at once may race on CREATE ROLE; the loser retries
    // once and then finds the role.
    provision(&mut admin)
        .or_else(|_| provision(&mut admin))
        .map_err(|source| DbError::Provision { context: context.to_owned(), source })
}

mod pg_roles {
    diesel::table! {
        pg_catalog.pg_roles (rolname) {
            rolname -> Text,
        }
    }
    pub use self::pg_roles::*;
}

use diesel::QueryDsl;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_is_chosen_from_the_scheme() {
        assert_eq!(Location::parse("postgres://u@h/db").map(|l| l.backend()).ok(), Some(Backend::Postgres));
        assert_eq!(Location::parse("postgresql://h/db").map(|l| l.backend()).ok(), Some(Backend::Postgres));
        assert_eq!(
            Location::parse("sqlite://data/users.db").ok(),
            Some(Location::Sqlite { path: "data/users.db".into() })
        );
        assert!(matches!(Location::parse("host=db user=x"), Err(DbError::UnsupportedUrl(_))));
        assert!(matches!(Location::parse("mysql://h/db"), Err(DbError::UnsupportedUrl(_))));
        assert!(matches!(Location::parse("sqlite://"), Err(DbError::UnsupportedUrl(_))));
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact_url("postgres://app:s3cret@db:5432/shop"), "postgres://app:***@db:5432/shop");
        assert_eq!(redact_url("postgres://app@db/shop"), "postgres://app@db/shop");
        let error = Location::parse("mysql://app:s3cret@db/shop").expect_err("unsupported");
        assert!(!error.to_string().contains("s3cret"));
    }

    #[test]
    fn identifiers_and_literals_are_quoted() {
        assert_eq!(quote_ident(r#"we"ird"#), r#""we""ird""#);
        assert_eq!(quote_literal("o'neil"), "'o''neil'");
    }
}
