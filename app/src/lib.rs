//! `tienda`: the deployable. Configuration, the command line, the wiring of
//! the five contexts and the HTTP server. The only crate that depends on the
//! contexts' implementation crates.

pub mod cli;
pub mod config;
pub mod events_admin;
pub mod metrics;
pub mod openapi;
pub mod server;
pub mod telemetry;
pub mod wiring;

pub use config::Settings;
pub use wiring::Shop;
