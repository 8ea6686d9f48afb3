use super::Envelope;
use super::schema::inbox;
use crate::db::{ContextDatabase, DbConn, DbError, write_transaction};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// Why a subscriber could not apply an event. Either way the delivery is
/// retried; the message becomes the dead letter's last error.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("{0}")]
    Failed(String),
    #[error("the payload does not decode as the subscribed event: {0}")]
    Decode(String),
    #[error(transparent)]
    Database(#[from] DbError),
}

impl From<DieselError> for HandlerError {
    fn from(error: DieselError) -> Self {
        HandlerError::Database(DbError::Query(error))
    }
}

/// Inside the transaction: an inbox key that exists is not a failure.
enum Abort {
    /// The event was handled before (or a concurrent delivery just did).
    Duplicate,
    Failed(HandlerError),
}

impl From<DieselError> for Abort {
    fn from(error: DieselError) -> Self {
        Abort::Failed(error.into())
    }
}

/// Applies `effect` for `envelope` at most once per `subscriber`: the effect
/// and the inbox record commit in one transaction in the subscriber's own
/// database, so a redelivered event finds its record and is skipped.
///
/// Returns whether the effect ran this time.
pub fn handle_once<F>(
    db: &ContextDatabase,
    subscriber: &str,
    envelope: &Envelope,
    effect: F,
) -> Result<bool, HandlerError>
where
    F: FnOnce(&mut DbConn) -> Result<(), HandlerError>,
{
    let mut conn = db.conn()?;
    let event_id = envelope.id.to_string();
    let result = write_transaction(&mut conn, |conn| {
        // Insert first: the primary key is the check. A duplicate aborts the
        // transaction (on PostgreSQL too), which is what a redelivery needs.
        diesel::insert_into(inbox::table)
            .values((
                inbox::subscriber.eq(subscriber),
                inbox::event_id.eq(&event_id),
                inbox::handled_at.eq(chrono::Utc::now().naive_utc()),
            ))
            .execute(conn)
            .map_err(|error| match error {
                DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => Abort::Duplicate,
                other => Abort::from(other),
            })?;
        effect(conn).map_err(Abort::Failed)
    });
    match result {
        Ok(()) => Ok(true),
        Err(Abort::Duplicate) => Ok(false),
        Err(Abort::Failed(error)) => Err(error),
    }
}
