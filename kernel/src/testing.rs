//! Test support: the databases every repository test runs against.
//!
//! SQLite always (a fresh file in a temporary directory, so WAL and locking
//! behave as in production); PostgreSQL too when `TEST_DATABASE_URL` is set,
//! in a fresh database with its own per-context roles, dropped afterwards.

use crate::db::{
    ContextDatabase, DatabaseSettings, Location, MigrateFn, provision_postgres, quote_ident, quote_literal,
};
use diesel::Connection;
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use std::time::Duration;

/// The variable that turns on the PostgreSQL half of every database test.
pub const TEST_DATABASE_URL: &str = "TEST_DATABASE_URL";

/// A scratch PostgreSQL database, dropped (with the roles made for it) on drop.
#[derive(Debug)]
pub struct ScratchPostgres {
    admin_url: String,
    name: String,
    url: String,
}

impl ScratchPostgres {
    /// Creates a fresh database on the server of `admin_url`.
    pub fn create(admin_url: &str) -> Self {
        let name = format!("tienda_test_{}", uuid::Uuid::now_v7().simple());
        let mut admin = PgConnection::establish(admin_url)
            .unwrap_or_else(|error| panic!("TEST_DATABASE_URL is not reachable: {error}"));
        admin
            .batch_execute(&format!("CREATE DATABASE {}", quote_ident(&name)))
            .unwrap_or_else(|error| panic!("cannot create test database {name}: {error}"));
        let url = with_database_name(admin_url, &name);
        Self { admin_url: admin_url.to_owned(), name, url }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// A prefix for role names unique to this database (roles are cluster-wide).
    pub fn role_prefix(&self) -> &str {
        &self.name
    }
}

impl Drop for ScratchPostgres {
    fn drop(&mut self) {
        let Ok(mut admin) = PgConnection::establish(&self.admin_url) else {
            return;
        };
        let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(&self.name)));
        let _ = admin.batch_execute(&format!(
            "DO $$ DECLARE r record; BEGIN
               FOR r IN SELECT rolname FROM pg_roles WHERE rolname LIKE {} LOOP
                 EXECUTE format('DROP ROLE IF EXISTS %I', r.rolname);
               END LOOP; END $$;",
            quote_literal(&format!("{}\\_%", self.name))
        ));
    }
}

/// Replaces the database name in a `postgres://` URL.
pub fn with_database_name(url: &str, database: &str) -> String {
    let (base, query) = match url.find('?') {
        Some(at) => (&url[..at], &url[at..]),
        None => (url, ""),
    };
    let authority_start = base.find("://").map(|at| at + 3).unwrap_or(0);
    let path_start = base[authority_start..].find('/').map(|at| authority_start + at);
    let host_part = match path_start {
        Some(at) => &base[..at],
        None => base,
    };
    format!("{host_part}/{database}{query}")
}

/// One context's database on one backend, migrated and empty.
pub struct TestDatabase {
    pub db: ContextDatabase,
    // Dropped after `db`, so the pool's connections are closed first.
    _sqlite_dir: Option<tempfile::TempDir>,
    _postgres: Option<ScratchPostgres>,
}

impl TestDatabase {
    pub fn label(&self) -> &'static str {
        match self.db.backend() {
            crate::db::Backend::Sqlite => "sqlite",
            crate::db::Backend::Postgres => "postgres",
        }
    }

    pub fn sqlite(context: &'static str, migrate: MigrateFn) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join(format!("{context}.db"));
        let db = ContextDatabase::open(DatabaseSettings {
            context,
            location: Location::Sqlite { path: path.display().to_string() },
            role: None,
            max_connections: 8,
            acquire_timeout: Duration::from_secs(10),
        })
        .expect("open sqlite test database");
        db.migrate(migrate).expect("migrate sqlite test database");
        Self { db, _sqlite_dir: Some(dir), _postgres: None }
    }

    pub fn postgres(admin_url: &str, context: &'static str, migrate: MigrateFn) -> Self {
        let scratch = ScratchPostgres::create(admin_url);
        let role = format!("{}_{context}", scratch.role_prefix());
        provision_postgres(scratch.url(), context, Some(&role)).expect("provision test schema");
        let db = ContextDatabase::open(DatabaseSettings {
            context,
            location: Location::Postgres { url: scratch.url().to_owned() },
            role: Some(role),
            max_connections: 8,
            acquire_timeout: Duration::from_secs(10),
        })
        .expect("open postgres test database");
        db.migrate(migrate).expect("migrate postgres test database");
        Self { db, _sqlite_dir: None, _postgres: Some(scratch) }
    }
}

/// SQLite always; PostgreSQL as well when `TEST_DATABASE_URL` is set.
pub fn test_databases(context: &'static str, migrate: MigrateFn) -> Vec<TestDatabase> {
    let mut databases = vec![TestDatabase::sqlite(context, migrate)];
    if let Ok(url) = std::env::var(TEST_DATABASE_URL)
        && !url.is_empty()
    {
        databases.push(TestDatabase::postgres(&url, context, migrate));
    }
    databases
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_name_is_replaced() {
        assert_eq!(
            with_database_name("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(with_database_name("postgres://h", "t1"), "postgres://h/t1");
        assert_eq!(with_database_name("postgres://h/db?sslmode=disable", "t1"), "postgres://h/t1?sslmode=disable");
    }
}
