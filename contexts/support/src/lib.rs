//! The support context: tickets (inquiry, return, complaint, feedback),
//! messages (with agents' internal notes), assignment and the agents' queue.
//!
//! It reaches users and orders only through `users-api` and `orders-api`:
//! ownership of an order is checked with `OrdersApi::order_summary`, and an
//! agent's view composes the customer's and the order's summaries — with a
//! partial answer, not an error, when one of them is unavailable.
//!
//! Ratings and statistics live in `feedback`, returns (validated against the
//! order, approved or rejected, completed by the return saga through
//! `SupportApi`) in `returns`.

pub mod domain;
pub mod feedback;
pub mod http;
pub mod returns;
mod schema;
pub mod service;

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use kernel::db::{DbConn, DbError};

pub use service::{SupportError, SupportService};

/// The context's name: its database file, its PostgreSQL schema and role.
pub const CONTEXT: &str = "support";

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/support/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/support/postgres");

/// Applies the context's pending migrations on whichever backend `conn` is.
pub fn migrate(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    kernel::db::run_migrations(conn, CONTEXT, SQLITE_MIGRATIONS, POSTGRES_MIGRATIONS)
}
