use super::{DeliveryError, Envelope, Event, HandlerError, Transport, handle_once};
use crate::db::{ContextDatabase, DbConn};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

type Handler = Arc<dyn Fn(&Envelope) -> Result<(), DeliveryError> + Send + Sync>;

#[derive(Default)]
struct Registry {
    /// Wire name → subscribers, in registration order.
    subscribers: BTreeMap<String, Vec<String>>,
    /// (subscriber, wire name) → handler.
    handlers: BTreeMap<(String, String), Handler>,
}

/// The in-process transport: subscribers registered by `app` at wiring time,
/// each applying its effect in its own context's database through the inbox.
#[derive(Default, Clone)]
pub struct EventBus {
    registry: Arc<RwLock<Registry>>,
}

impl EventBus {
    pub fn new() -> Self {
        Self::default()
    }

    /// Subscribes `subscriber` (a stable name such as
    /// `orders.anonymise_addresses`; it keys the inbox) to events of type `E`.
    /// `handler` receives the typed event and a connection to `db` inside the
    /// transaction that also records the inbox entry.
    pub fn subscribe<E, F>(&self, subscriber: &str, db: ContextDatabase, handler: F)
    where
        E: Event,
        F: Fn(&mut DbConn, E, &Envelope) -> Result<(), HandlerError> + Send + Sync + 'static,
    {
        let name = E::wire_name();
        let owner = subscriber.to_owned();
        let handler: Handler = Arc::new(move |envelope: &Envelope| {
            let event: E = envelope
                .decode()
                .map_err(|error| DeliveryError(HandlerError::Decode(error.to_string()).to_string()))?;
            handle_once(&db, &owner, envelope, |conn| handler(conn, event, envelope))
                .map(|_| ())
                .map_err(|error| DeliveryError(error.to_string()))
        });
        let mut registry = self.registry.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        let subscribers = registry.subscribers.entry(name.clone()).or_default();
        if !subscribers.iter().any(|existing| existing == subscriber) {
            subscribers.push(subscriber.to_owned());
        }
        registry.handlers.insert((subscriber.to_owned(), name), handler);
    }
}

impl Transport for EventBus {
    fn subscribers_of(&self, event_name: &str) -> Vec<String> {
        let registry = self.registry.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        registry.subscribers.get(event_name).cloned().unwrap_or_default()
    }

    fn deliver(&self, subscriber: &str, envelope: &Envelope) -> Result<(), DeliveryError> {
        let handler = {
            let registry = self.registry.read().unwrap_or_else(|poisoned| poisoned.into_inner());
            registry.handlers.get(&(subscriber.to_owned(), envelope.name.clone())).cloned()
        };
        match handler {
            Some(handler) => handler(envelope),
            None => Err(DeliveryError(format!("no subscriber `{subscriber}` for {} in this process", envelope.name))),
        }
    }
}
