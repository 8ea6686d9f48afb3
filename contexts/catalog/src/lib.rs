//! The catalog context: products, categories (a tree), prices, images,
//! inventory with reservations, and product search.
//!
//! It owns the `catalog` database (a SQLite file or a PostgreSQL schema) and
//! nothing else; other contexts reach it through `catalog-api`.

pub mod api_impl;
pub mod domain;
pub mod http;
pub mod images;
mod schema;
pub mod search;
pub mod seed;
pub mod service;
pub mod store;

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use kernel::db::{DbConn, DbError};

pub use api_impl::InProcessCatalogApi;
pub use http::{CatalogOpenApi, configure};
pub use service::{CatalogError, CatalogService};

/// The context's name: its database file, its PostgreSQL schema and role.
pub const CONTEXT: &str = "catalog";

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/catalog/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/catalog/postgres");

/// Applies the context's pending migrations on whichever backend `conn` is.
pub fn migrate(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    kernel::db::run_migrations(conn, CONTEXT, SQLITE_MIGRATIONS, POSTGRES_MIGRATIONS)
}
