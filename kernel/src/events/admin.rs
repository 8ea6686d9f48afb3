//! Operator views of a context's event tables: dead letters, replay, and
//! the age of the oldest event still on its way.

use super::relay::{DEAD, PENDING};
use super::schema::{outbox, outbox_deliveries};
use crate::db::DbConn;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct DeadLetter {
    pub event_id: String,
    /// `users.UserRegistered.v1`.
    pub event_name: String,
    pub subscriber: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub occurred_at: DateTime<Utc>,
}

/// Every dead-lettered delivery, oldest event first.
pub fn dead_letters(conn: &mut DbConn) -> QueryResult<Vec<DeadLetter>> {
    let rows: Vec<(String, String, String, i32, Option<String>, NaiveDateTime)> = outbox_deliveries::table
        .inner_join(outbox::table)
        .filter(outbox_deliveries::status.eq(DEAD))
        .order((outbox_deliveries::event_seq.asc(), outbox_deliveries::subscriber.asc()))
        .select((
            outbox::event_id,
            outbox::name,
            outbox_deliveries::subscriber,
            outbox_deliveries::attempts,
            outbox_deliveries::last_error,
            outbox::occurred_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(event_id, event_name, subscriber, attempts, last_error, occurred_at)| DeadLetter {
            event_id,
            event_name,
            subscriber,
            attempts,
            last_error,
            occurred_at: crate::db::from_db_time(occurred_at),
        })
        .collect())
}

/// Puts an event's dead deliveries back in the queue with a fresh attempt
/// count. Returns how many there were (0: no dead letter with that id here).
pub fn replay(conn: &mut DbConn, event_id: &str, now: DateTime<Utc>) -> QueryResult<usize> {
    let seq: Option<i64> =
        outbox::table.filter(outbox::event_id.eq(event_id)).select(outbox::seq).first(conn).optional()?;
    let Some(seq) = seq else { return Ok(0) };
    diesel::update(
        outbox_deliveries::table
            .filter(outbox_deliveries::event_seq.eq(seq))
            .filter(outbox_deliveries::status.eq(DEAD)),
    )
    .set((
        outbox_deliveries::status.eq(PENDING),
        outbox_deliveries::attempts.eq(0),
        outbox_deliveries::next_attempt_at.eq(now.naive_utc()),
    ))
    .execute(conn)
}

/// How long the oldest event not yet delivered everywhere has waited:
/// rows not yet fanned out, and pending deliveries. `None` when none is.
pub fn oldest_pending_age(conn: &mut DbConn, now: DateTime<Utc>) -> QueryResult<Option<chrono::Duration>> {
    let not_fanned_out: Option<NaiveDateTime> =
        outbox::table.filter(outbox::fanned_out.eq(false)).select(diesel::dsl::min(outbox::occurred_at)).first(conn)?;
    let undelivered: Option<NaiveDateTime> = outbox_deliveries::table
        .inner_join(outbox::table)
        .filter(outbox_deliveries::status.eq(PENDING))
        .select(diesel::dsl::min(outbox::occurred_at))
        .first(conn)?;
    let oldest = match (not_fanned_out, undelivered) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Ok(oldest.map(|at| (now - crate::db::from_db_time(at)).max(chrono::Duration::zero())))
}

/// Outbox rows in emission order, for tests and tooling: (event id, name).
pub fn recorded_events(conn: &mut DbConn) -> QueryResult<Vec<(String, String)>> {
    outbox::table.order(outbox::seq.asc()).select((outbox::event_id, outbox::name)).load(conn)
}
