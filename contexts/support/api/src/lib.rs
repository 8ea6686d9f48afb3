//! The published contract of the support context: the traits, DTOs, events and
//! errors other contexts may use. Empty until the context is built; it will
//! hold plain data and traits only (no diesel, no actix).
