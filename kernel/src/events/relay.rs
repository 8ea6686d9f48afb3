use super::schema::{outbox, outbox_deliveries, outbox_relay_lease};
use super::{Envelope, Transport, Wake};
use crate::clock::Clock;
use crate::db::{ContextDatabase, DbConn, DbError, write_transaction};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

pub(crate) const PENDING: &str = "pending";
pub(crate) const DELIVERED: &str = "delivered";
pub(crate) const DEAD: &str = "dead";
const LEASE: &str = "relay";

/// Exponential backoff: `base · 2^(attempt−1)`, capped; after `max_attempts`
/// failures the delivery is dead-lettered.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_attempts: 10, base_delay: Duration::from_millis(500), max_delay: Duration::from_secs(600) }
    }
}

impl RetryPolicy {
    /// The wait after the `attempts`-th failure.
    pub fn delay(&self, attempts: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(31));
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }
}

#[derive(Debug, Clone, Copy)]
pub struct RelaySettings {
    pub retry: RetryPolicy,
    /// Rows handled per query.
    pub batch_size: i64,
    /// How often the relay looks even without a wake-up (rows left by a crash,
    /// retries that have come due).
    pub sweep_interval: Duration,
    /// How long a relay's claim on its context's outbox lasts without renewal;
    /// a relay that died is replaced after this.
    pub lease_ttl: Duration,
}

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            batch_size: 200,
            sweep_interval: Duration::from_secs(1),
            lease_ttl: Duration::from_secs(15),
        }
    }
}

/// Counters for `/metrics`, since the process started.
#[derive(Debug, Default)]
pub struct RelayMetrics {
    relayed: AtomicU64,
    delivered: AtomicU64,
    failed: AtomicU64,
    dead_lettered: AtomicU64,
}

impl RelayMetrics {
    /// Outbox rows taken up (fanned out to their subscribers).
    pub fn relayed(&self) -> u64 {
        self.relayed.load(Ordering::Relaxed)
    }
    /// Successful deliveries to a subscriber.
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }
    /// Failed delivery attempts (each retry counts).
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }
    pub fn dead_lettered(&self) -> u64 {
        self.dead_lettered.load(Ordering::Relaxed)
    }
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RunReport {
    /// False when another relay holds this context's outbox.
    pub leader: bool,
    pub fanned_out: usize,
    pub delivered: usize,
    pub failed: usize,
    pub dead_lettered: usize,
}

impl RunReport {
    pub fn progressed(&self) -> bool {
        self.fanned_out + self.delivered + self.dead_lettered > 0
    }
}

#[derive(Queryable)]
struct DueDelivery {
    event_seq: i64,
    attempts: i32,
    next_attempt_at: NaiveDateTime,
    event_id: String,
    name: String,
    payload: String,
    occurred_at: NaiveDateTime,
    correlation_id: Option<String>,
    causation_id: Option<String>,
}

impl DueDelivery {
    fn envelope(&self, source: &str) -> Result<Envelope, String> {
        let parse = |text: &str| uuid::Uuid::parse_str(text).map_err(|error| format!("stored id: {error}"));
        Ok(Envelope {
            id: parse(&self.event_id)?,
            name: self.name.clone(),
            source: source.to_owned(),
            occurred_at: crate::db::from_db_time(self.occurred_at),
            correlation_id: self.correlation_id.as_deref().map(parse).transpose()?,
            causation_id: self.causation_id.as_deref().map(parse).transpose()?,
            payload: serde_json::from_str(&self.payload).map_err(|error| format!("stored payload: {error}"))?,
        })
    }
}

/// Delivers one context's outbox: fans each committed row out to the
/// subscribers of its event, then hands every subscriber its deliveries in
/// emission order. At most one relay per context works at a time (a lease
/// row), so two instances on one database neither share rows nor reorder them.
pub struct Relay {
    db: ContextDatabase,
    transport: Arc<dyn Transport>,
    clock: Arc<dyn Clock>,
    settings: RelaySettings,
    holder: String,
    wake: Wake,
    metrics: Arc<RelayMetrics>,
}

impl Relay {
    pub fn new(
        db: ContextDatabase,
        wake: Wake,
        transport: Arc<dyn Transport>,
        clock: Arc<dyn Clock>,
        settings: RelaySettings,
    ) -> Self {
        Self {
            db,
            transport,
            clock,
            settings,
            holder: uuid::Uuid::now_v7().to_string(),
            wake,
            metrics: Arc::new(RelayMetrics::default()),
        }
    }

    pub fn context(&self) -> &'static str {
        self.db.context()
    }

    pub fn metrics(&self) -> Arc<RelayMetrics> {
        self.metrics.clone()
    }

    /// One pass: claim or renew the lease, fan out, deliver what is due.
    pub fn run_once(&self) -> Result<RunReport, DbError> {
        let mut conn = self.db.conn()?;
        let mut report = RunReport { leader: self.claim_lease(&mut conn)?, ..RunReport::default() };
        if !report.leader {
            return Ok(report);
        }
        report.fanned_out = self.fan_out(&mut conn)?;
        self.deliver_due(&mut conn, &mut report)?;
        Ok(report)
    }

    fn now(&self) -> NaiveDateTime {
        self.clock.now().naive_utc()
    }

    fn claim_lease(&self, conn: &mut DbConn) -> Result<bool, DbError> {
        let now = self.now();
        let until = now + chrono::Duration::from_std(self.settings.lease_ttl).unwrap_or(chrono::Duration::seconds(15));
        let claimed = write_transaction(conn, |conn| {
            let renewed = diesel::update(
                outbox_relay_lease::table
                    .filter(outbox_relay_lease::name.eq(LEASE))
                    .filter(outbox_relay_lease::holder.eq(&self.holder).or(outbox_relay_lease::expires_at.lt(now))),
            )
            .set((outbox_relay_lease::holder.eq(&self.holder), outbox_relay_lease::expires_at.eq(until)))
            .execute(conn)?;
            if renewed == 1 {
                return Ok(true);
            }
            let taken: i64 =
                outbox_relay_lease::table.filter(outbox_relay_lease::name.eq(LEASE)).count().get_result(conn)?;
            if taken > 0 {
                return Ok(false);
            }
            diesel::insert_into(outbox_relay_lease::table)
                .values((
                    outbox_relay_lease::name.eq(LEASE),
                    outbox_relay_lease::holder.eq(&self.holder),
                    outbox_relay_lease::expires_at.eq(until),
                ))
                .execute(conn)?;
            Ok::<_, DieselError>(true)
        });
        match claimed {
            Ok(claimed) => Ok(claimed),
            // Another relay inserted the lease first.
            Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(false),
            Err(error) => Err(DbError::Query(error)),
        }
    }

    /// Gives up the lease, so a successor need not wait for it to expire.
    pub fn release_lease(&self) -> Result<(), DbError> {
        let mut conn = self.db.conn()?;
        diesel::delete(outbox_relay_lease::table.filter(outbox_relay_lease::holder.eq(&self.holder)))
            .execute(&mut conn)?;
        Ok(())
    }

    fn fan_out(&self, conn: &mut DbConn) -> Result<usize, DbError> {
        let now = self.now();
        let rows = write_transaction(conn, |conn| {
            let rows = self.rows_to_fan_out(conn)?;
            for (seq, name) in &rows {
                for subscriber in self.transport.subscribers_of(name) {
                    diesel::insert_into(outbox_deliveries::table)
                        .values((
                            outbox_deliveries::event_seq.eq(seq),
                            outbox_deliveries::subscriber.eq(subscriber),
                            outbox_deliveries::status.eq(PENDING),
                            outbox_deliveries::attempts.eq(0),
                            outbox_deliveries::next_attempt_at.eq(now),
                        ))
                        .execute(conn)?;
                }
                diesel::update(outbox::table.find(seq)).set(outbox::fanned_out.eq(true)).execute(conn)?;
            }
            Ok::<_, DieselError>(rows.len())
        })?;
        self.metrics.relayed.fetch_add(rows as u64, Ordering::Relaxed);
        Ok(rows)
    }

    /// The next batch of rows not yet fanned out, locked for this
    /// transaction. On PostgreSQL rows another relay has locked are skipped
    /// (`SKIP LOCKED`), so even two relays whose leases overlap never fan out
    /// one row twice; on SQLite the write transaction already serialises them.
    fn rows_to_fan_out(&self, conn: &mut DbConn) -> Result<Vec<(i64, String)>, DieselError> {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            seq: i64,
            #[diesel(sql_type = diesel::sql_types::Text)]
            name: String,
        }
        match conn.backend() {
            crate::db::Backend::Postgres => Ok(diesel::sql_query(
                "SELECT seq, name FROM outbox WHERE NOT fanned_out ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED",
            )
            .bind::<diesel::sql_types::BigInt, _>(self.settings.batch_size)
            .load::<Row>(conn)?
            .into_iter()
            .map(|row| (row.seq, row.name))
            .collect()),
            crate::db::Backend::Sqlite => outbox::table
                .filter(outbox::fanned_out.eq(false))
                .order(outbox::seq.asc())
                .limit(self.settings.batch_size)
                .select((outbox::seq, outbox::name))
                .load(conn),
        }
    }

    fn deliver_due(&self, conn: &mut DbConn, report: &mut RunReport) -> Result<(), DbError> {
        let subscribers: Vec<String> = outbox_deliveries::table
            .filter(outbox_deliveries::status.eq(PENDING))
            .select(outbox_deliveries::subscriber)
            .distinct()
            .load(conn)?;
        for subscriber in subscribers {
            self.deliver_to(conn, &subscriber, report)?;
        }
        Ok(())
    }

    /// Delivers `subscriber`'s pending deliveries in emission order, stopping
    /// at the first one that is not yet due, so its order is kept.
    fn deliver_to(&self, conn: &mut DbConn, subscriber: &str, report: &mut RunReport) -> Result<(), DbError> {
        let due: Vec<DueDelivery> = outbox_deliveries::table
            .inner_join(outbox::table)
            .filter(outbox_deliveries::subscriber.eq(subscriber))
            .filter(outbox_deliveries::status.eq(PENDING))
            .order(outbox_deliveries::event_seq.asc())
            .limit(self.settings.batch_size)
            .select((
                outbox_deliveries::event_seq,
                outbox_deliveries::attempts,
                outbox_deliveries::next_attempt_at,
                outbox::event_id,
                outbox::name,
                outbox::payload,
                outbox::occurred_at,
                outbox::correlation_id,
                outbox::causation_id,
            ))
            .load(conn)?;
        // Successes are marked in one statement per batch rather than one
        // commit each; a crash in between only means a redelivery, which the
        // subscriber's inbox absorbs.
        let mut delivered = Vec::new();
        for delivery in due {
            let now = self.now();
            if delivery.next_attempt_at > now {
                break;
            }
            let outcome = delivery
                .envelope(self.context())
                .and_then(|envelope| self.transport.deliver(subscriber, &envelope).map_err(|error| error.0));
            let attempts = delivery.attempts + 1;
            let error = match outcome {
                Ok(()) => {
                    delivered.push(delivery.event_seq);
                    continue;
                }
                Err(error) => error,
            };
            let row = outbox_deliveries::table
                .filter(outbox_deliveries::event_seq.eq(delivery.event_seq))
                .filter(outbox_deliveries::subscriber.eq(subscriber));
            report.failed += 1;
            self.metrics.failed.fetch_add(1, Ordering::Relaxed);
            if attempts as u32 >= self.settings.retry.max_attempts {
                diesel::update(row)
                    .set((
                        outbox_deliveries::status.eq(DEAD),
                        outbox_deliveries::attempts.eq(attempts),
                        outbox_deliveries::last_error.eq(Some(&error)),
                    ))
                    .execute(conn)?;
                tracing::error!(
                    event.context = self.context(), event.seq = delivery.event_seq, event.name = %delivery.name,
                    event.subscriber = subscriber, error = %error, "delivery dead-lettered"
                );
                report.dead_lettered += 1;
                self.metrics.dead_lettered.fetch_add(1, Ordering::Relaxed);
                // A dead letter no longer holds up the events behind it.
                continue;
            }
            let delay = self.settings.retry.delay(attempts as u32);
            let retry_at = now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::seconds(1));
            diesel::update(row)
                .set((
                    outbox_deliveries::attempts.eq(attempts),
                    outbox_deliveries::next_attempt_at.eq(retry_at),
                    outbox_deliveries::last_error.eq(Some(&error)),
                ))
                .execute(conn)?;
            tracing::warn!(
                event.context = self.context(), event.seq = delivery.event_seq, event.name = %delivery.name,
                event.subscriber = subscriber, attempt = attempts, retry_in_ms = delay.as_millis() as u64,
                error = %error, "delivery failed; will retry"
            );
            break;
        }
        if !delivered.is_empty() {
            diesel::update(
                outbox_deliveries::table
                    .filter(outbox_deliveries::subscriber.eq(subscriber))
                    .filter(outbox_deliveries::event_seq.eq_any(&delivered)),
            )
            .set((
                outbox_deliveries::status.eq(DELIVERED),
                outbox_deliveries::attempts.eq(outbox_deliveries::attempts + 1),
                outbox_deliveries::delivered_at.eq(Some(self.now())),
            ))
            .execute(conn)?;
            report.delivered += delivered.len();
            self.metrics.delivered.fetch_add(delivered.len() as u64, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Runs the relay on its own thread: a pass whenever a commit wakes it,
    /// and a sweep every `sweep_interval` regardless.
    pub fn spawn(self) -> RelayHandle {
        let stop = Arc::new(AtomicBool::new(false));
        let wake = self.wake.clone();
        let metrics = self.metrics.clone();
        let context = self.context();
        let flag = stop.clone();
        let thread =
            std::thread::Builder::new().name(format!("relay-{context}")).spawn(move || self.run_until(&flag)).ok();
        if thread.is_none() {
            tracing::error!(event.context = context, "could not start the relay thread");
        }
        RelayHandle { context, stop, wake, metrics, thread }
    }

    fn run_until(self, stop: &AtomicBool) {
        loop {
            let stopping = stop.load(Ordering::Acquire);
            // Keep passing while there is work; then wait for a wake or a sweep.
            loop {
                match self.run_once() {
                    Ok(report) if report.progressed() => continue,
                    Ok(_) => break,
                    Err(error) => {
                        tracing::warn!(event.context = self.context(), error = %error, "relay pass failed");
                        break;
                    }
                }
            }
            if stopping {
                if let Err(error) = self.release_lease() {
                    tracing::warn!(event.context = self.context(), error = %error, "could not release the relay lease");
                }
                return;
            }
            self.wake.wait(self.settings.sweep_interval);
        }
    }
}

/// A running relay. `stop` drains what is due, releases the lease and joins.
pub struct RelayHandle {
    context: &'static str,
    stop: Arc<AtomicBool>,
    wake: Wake,
    metrics: Arc<RelayMetrics>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RelayHandle {
    pub fn context(&self) -> &'static str {
        self.context
    }

    pub fn metrics(&self) -> Arc<RelayMetrics> {
        self.metrics.clone()
    }

    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Release);
        self.wake.notify();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for RelayHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy =
            RetryPolicy { max_attempts: 5, base_delay: Duration::from_millis(100), max_delay: Duration::from_secs(1) };
        let delays: Vec<u128> = (1..=6).map(|n| policy.delay(n).as_millis()).collect();
        assert_eq!(delays, vec![100, 200, 400, 800, 1000, 1000]);
        assert_eq!(policy.delay(200), Duration::from_secs(1));
    }
}
