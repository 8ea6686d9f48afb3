//! Events: facts a context publishes, delivered at least once to every
//! subscriber and applied effectively once (DESIGN.md §3).
//!
//! - A context records an event in its own `outbox` table **inside the same
//!   transaction** as the change it describes ([`Outbox::transaction`]): a
//!   rolled-back change publishes nothing, a committed one is never lost.
//! - A [`Relay`] per context hands committed rows, in emission order, to a
//!   [`Transport`]; the first transport is the in-process [`EventBus`].
//! - A subscriber's effect and its `inbox` record ("event X handled by
//!   subscriber S") commit together in the subscriber's own database
//!   ([`handle_once`]), so a redelivery has no second effect.
//! - Failed deliveries back off exponentially and end as dead letters that an
//!   operator lists and replays ([`admin`]).

pub mod admin;
mod bus;
mod inbox;
mod outbox;
mod relay;
mod schema;

pub use bus::EventBus;
pub use inbox::{HandlerError, handle_once};
pub use outbox::{EventContext, Outbox, Wake};
pub use relay::{Relay, RelayHandle, RelayMetrics, RelaySettings, RetryPolicy, RunReport};
pub use schema::{POSTGRES_DDL, SQLITE_DDL};

/// Creates the event tables on `conn`: for the kernel's own tests and tools.
/// Contexts create them in their own migrations.
pub fn create_tables(conn: &mut crate::db::DbConn) -> diesel::QueryResult<()> {
    use diesel::connection::SimpleConnection;
    match conn.backend() {
        crate::db::Backend::Sqlite => conn.batch_execute(SQLITE_DDL),
        crate::db::Backend::Postgres => conn.batch_execute(POSTGRES_DDL),
    }
}

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A typed event owned by the emitting context's api crate.
///
/// The wire name is `NAME` plus the version: `users.UserRegistered.v1`. A
/// change that breaks existing subscribers is a new version, published next
/// to the old one until every subscriber has moved.
pub trait Event: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// `<context>.<EventName>`, stable forever.
    const NAME: &'static str;
    const VERSION: u32;

    fn wire_name() -> String {
        format!("{}.v{}", Self::NAME, Self::VERSION)
    }

    /// The emitting context: the part of the name before the first dot.
    fn source() -> &'static str {
        Self::NAME.split('.').next().unwrap_or(Self::NAME)
    }
}

/// An event as it travels: metadata plus the JSON payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// UUID v7, unique per event; the inbox key.
    pub id: Uuid,
    /// `users.UserRegistered.v1`.
    pub name: String,
    /// The emitting context.
    pub source: String,
    pub occurred_at: DateTime<Utc>,
    /// The request or saga this event belongs to.
    pub correlation_id: Option<Uuid>,
    /// The event or command that caused this one.
    pub causation_id: Option<Uuid>,
    pub payload: serde_json::Value,
}

impl Envelope {
    /// The typed event inside, if the payload has its shape.
    pub fn decode<E: Event>(&self) -> Result<E, serde_json::Error> {
        serde_json::from_value(self.payload.clone())
    }
}

/// Why a delivery failed; kept as the dead letter's last error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DeliveryError(pub String);

/// Carries envelopes from a relay to subscribers. In process today; a broker
/// transport (NATS JetStream first) implements the same trait once contexts
/// run as separate processes.
pub trait Transport: Send + Sync {
    /// The subscribers an event of this name must reach.
    fn subscribers_of(&self, event_name: &str) -> Vec<String>;

    /// Hands one envelope to one subscriber. Blocking.
    fn deliver(&self, subscriber: &str, envelope: &Envelope) -> Result<(), DeliveryError>;
}
