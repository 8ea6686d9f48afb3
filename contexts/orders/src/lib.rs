//! The orders context: carts, orders and their lines (price snapshots),
//! payments behind a gateway port, and order history.
//!
//! Carts (customers, and guests by cart token, merged on sign-in), checkout
//! into pending orders with price snapshots, payments through a gateway port
//! (authorize, capture, keyed refunds), fulfilment and cancellation. It reads
//! products only through `catalog-api`; the sagas drive it through
//! `orders-api`.

pub mod api_impl;
pub mod cart;
pub mod http;
pub mod orders;
pub mod payments;
mod schema;

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use kernel::db::{DbConn, DbError};

pub use api_impl::InProcessOrdersApi;
pub use cart::{CartError, CartService};
pub use http::{OrdersOpenApi, configure};
pub use orders::OrderService;

/// The context's name: its database file, its PostgreSQL schema and role.
pub const CONTEXT: &str = "orders";

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/orders/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/orders/postgres");

/// Applies the context's pending migrations on whichever backend `conn` is.
pub fn migrate(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    kernel::db::run_migrations(conn, CONTEXT, SQLITE_MIGRATIONS, POSTGRES_MIGRATIONS)
}
