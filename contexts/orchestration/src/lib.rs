//! The orchestration context: saga instances and their step logs (checkout, cancellation, return/refund) and timers.
//!
//! Still inside the legacy shop: this crate has its database (file or schema)
//! but no tables or routes yet. It will depend only on `kernel` and on other
//! contexts' `-api` crates (DESIGN.md §2); `docs/MIGRATION.md` gives the order
//! in which contexts leave the legacy database.

/// The context's name: its database file, its PostgreSQL schema and role.
pub const CONTEXT: &str = "orchestration";
