//! The users context: accounts, credentials (argon2id), sessions and refresh
//! tokens, roles, profiles and preferences.
//!
//! It owns the `users` database (a SQLite file or a PostgreSQL schema) and
//! nothing else; other contexts reach it through `users-api`.

pub mod api_impl;
pub mod domain;
pub mod http;
pub mod passwords;
mod schema;
pub mod service;
pub mod store;
pub mod tokens;

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use kernel::db::{DbConn, DbError};

pub use api_impl::InProcessUsersApi;
pub use http::{UsersOpenApi, configure};
pub use service::{UsersError, UsersService, UsersSettings};

/// The context's name: its database file, its PostgreSQL schema and role.
pub const CONTEXT: &str = "users";

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/users/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/users/postgres");

/// Applies the context's pending migrations on whichever backend `conn` is.
pub fn migrate(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    kernel::db::run_migrations(conn, CONTEXT, SQLITE_MIGRATIONS, POSTGRES_MIGRATIONS)
}
