//! The orchestration context: sagas that replace the legacy shop's single
//! database transaction across users, products and orders. Each saga and
//! each step's outcome is persisted here, so a process killed mid-saga
//! resumes it on restart.
//!
//! Sagas: checkout (reserve → charge → commit → confirm; compensations
//! refund → release → reject), cancellation (refund → restock → cancel) and
//! return (keyed refund → restock → complete, or hand back to an agent).

pub mod checkout;
pub mod http;
pub mod runner;
mod schema;

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use kernel::db::{DbConn, DbError};

/// The context's name: its database file, its PostgreSQL schema and role.
pub const CONTEXT: &str = "orchestration";

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/orchestration/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/orchestration/postgres");

/// Applies the context's pending migrations on whichever backend `conn` is.
pub fn migrate(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    kernel::db::run_migrations(conn, CONTEXT, SQLITE_MIGRATIONS, POSTGRES_MIGRATIONS)
}
