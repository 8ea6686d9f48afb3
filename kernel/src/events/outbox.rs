use super::schema::outbox;
use super::{Envelope, Event};
use crate::clock::Clock;
use crate::db::{DbConn, write_transaction};
use diesel::prelude::*;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;
use uuid::Uuid;

/// A coalescing wake-up signal from committers to a relay: any number of
/// `notify` calls before the relay looks count as one.
#[derive(Clone, Default)]
pub struct Wake(Arc<(Mutex<bool>, Condvar)>);

impl Wake {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn notify(&self) {
        let (flag, condvar) = &*self.0;
        *flag.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = true;
        condvar.notify_all();
    }

    /// Waits until notified or `timeout` passes; true when notified.
    pub fn wait(&self, timeout: Duration) -> bool {
        let (flag, condvar) = &*self.0;
        let guard = flag.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (mut guard, _) = condvar
            .wait_timeout_while(guard, timeout, |notified| !*notified)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        std::mem::replace(&mut *guard, false)
    }
}

/// Correlation of an event with the request or saga that produced it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventContext {
    pub correlation_id: Option<Uuid>,
    pub causation_id: Option<Uuid>,
}

/// A context's handle on its own outbox.
#[derive(Clone)]
pub struct Outbox {
    context: &'static str,
    clock: Arc<dyn Clock>,
    wake: Wake,
}

impl Outbox {
    pub fn new(context: &'static str, clock: Arc<dyn Clock>) -> Self {
        Self { context, clock, wake: Wake::new() }
    }

    pub fn context(&self) -> &'static str {
        self.context
    }

    /// The signal the context's relay waits on.
    pub fn wake(&self) -> Wake {
        self.wake.clone()
    }

    /// Writes `event` into the outbox on `conn`. Call it inside the
    /// transaction that makes the change the event reports.
    pub fn record<E: Event>(&self, conn: &mut DbConn, event: &E) -> QueryResult<Envelope> {
        self.record_in(conn, event, EventContext::default())
    }

    pub fn record_in<E: Event>(&self, conn: &mut DbConn, event: &E, context: EventContext) -> QueryResult<Envelope> {
        debug_assert_eq!(E::source(), self.context, "a context records only its own events");
        let payload =
            serde_json::to_value(event).map_err(|error| diesel::result::Error::SerializationError(Box::new(error)))?;
        let envelope = Envelope {
            id: Uuid::now_v7(),
            name: E::wire_name(),
            source: self.context.to_owned(),
            occurred_at: self.clock.now(),
            correlation_id: context.correlation_id,
            causation_id: context.causation_id,
            payload,
        };
        diesel::insert_into(outbox::table)
            .values((
                outbox::event_id.eq(envelope.id.to_string()),
                outbox::name.eq(&envelope.name),
                outbox::payload.eq(envelope.payload.to_string()),
                outbox::occurred_at.eq(envelope.occurred_at.naive_utc()),
                outbox::correlation_id.eq(envelope.correlation_id.map(|id| id.to_string())),
                outbox::causation_id.eq(envelope.causation_id.map(|id| id.to_string())),
                outbox::fanned_out.eq(false),
            ))
            .execute(conn)?;
        Ok(envelope)
    }

    /// Runs `work` in a write transaction and, once it has committed, wakes
    /// the relay so recorded events go out without waiting for a sweep.
    pub fn transaction<T, E, F>(&self, conn: &mut DbConn, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E>,
        E: From<diesel::result::Error>,
    {
        let result = write_transaction(conn, work);
        if result.is_ok() {
            self.wake.notify();
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wake_coalesces_and_times_out() {
        let wake = Wake::new();
        assert!(!wake.wait(Duration::from_millis(5)));
        wake.notify();
        wake.notify();
        assert!(wake.wait(Duration::from_millis(5)));
        assert!(!wake.wait(Duration::from_millis(5)));
        let waiter = wake.clone();
        let handle = std::thread::spawn(move || waiter.wait(Duration::from_secs(5)));
        std::thread::sleep(Duration::from_millis(20));
        wake.notify();
        assert!(handle.join().expect("thread"));
    }
}
