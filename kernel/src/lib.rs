//! The shared kernel: the few things every context agrees on.
//!
//! Ids, money, the clock, the authenticated principal, database plumbing,
//! mail delivery and the HTTP error conventions. Nothing here knows about any
//! context's domain; a type belongs here only when two contexts must agree on
//! it exactly.

pub mod auth;
pub mod clock;
pub mod db;
pub mod events;
pub mod http;
pub mod id;
pub mod mail;
pub mod money;
pub mod testing;

pub use clock::{Clock, SystemClock};
pub use id::{OrderId, ProductId, SessionId, UserId};
pub use money::{Currency, Money};

#[doc(hidden)]
pub use utoipa as __utoipa;
