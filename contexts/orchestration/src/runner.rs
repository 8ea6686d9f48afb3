//! Persisted saga instances and the runner that advances them.

use crate::checkout::{self, CheckoutData, MAX_ATTEMPTS, Step, Transition};
use crate::schema::{saga_steps, sagas};
use catalog_api::{CatalogApi, StockLine};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use kernel::db::{ContextDatabase, DbConn, DbError, write_transaction};
use kernel::events::Wake;
use kernel::{Clock, OrderId};
use orders_api::OrdersApi;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub const RUNNING: &str = "running";
pub const COMPENSATING: &str = "compensating";
pub const COMPLETED: &str = "completed";
pub const FAILED: &str = "failed";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sagas)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct SagaRow {
    pub id: String,
    pub kind: String,
    pub order_id: String,
    pub state: String,
    pub step: String,
    pub data: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = saga_steps)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct StepRow {
    pub id: String,
    pub saga_id: String,
    pub step: String,
    pub outcome: String,
    pub detail: Option<String>,
    pub at: NaiveDateTime,
}

pub use kernel::db::from_db_time as utc;

/// Starts a checkout saga for an order, once (the (kind, order) pair is
/// unique). Called inside the inbox transaction of the `OrderPlaced` subscriber.
pub fn start_checkout(
    conn: &mut DbConn,
    order_id: OrderId,
    lines: Vec<StockLine>,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    start(conn, checkout::KIND, Step::Reserve, order_id, lines, now)
}

/// Starts a return saga for an approved return, once per ticket.
pub fn start_return(
    conn: &mut DbConn,
    order_id: OrderId,
    ticket_id: &str,
    lines: Vec<StockLine>,
    amount: kernel::Money,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    // One return saga per ticket (an order may have several returns): the
    // kind names the ticket, `return:<ticket id>`.
    let kind = format!("{}:{ticket_id}", checkout::RETURN);
    let exists: i64 = sagas::table.filter(sagas::kind.eq(&kind)).count().get_result(conn)?;
    if exists > 0 {
        return Ok(false);
    }
    let data = serde_json::to_string(&CheckoutData {
        lines,
        failure: None,
        ticket_id: Some(ticket_id.to_owned()),
        amount: Some(amount),
    })
    .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
    diesel::insert_into(sagas::table)
        .values((
            sagas::id.eq(uuid::Uuid::now_v7().to_string()),
            sagas::kind.eq(&kind),
            sagas::order_id.eq(order_id.to_string()),
            sagas::state.eq(RUNNING),
            sagas::step.eq(Step::Refund.name()),
            sagas::data.eq(data),
            sagas::attempts.eq(0),
            sagas::next_attempt_at.eq(now),
            sagas::created_at.eq(now),
            sagas::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(true)
}

/// Starts a cancellation saga for an order, once.
pub fn start_cancellation(
    conn: &mut DbConn,
    order_id: OrderId,
    lines: Vec<StockLine>,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    start(conn, checkout::CANCELLATION, Step::Refund, order_id, lines, now)
}

fn start(
    conn: &mut DbConn,
    kind: &str,
    first: Step,
    order_id: OrderId,
    lines: Vec<StockLine>,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let exists: i64 = sagas::table
        .filter(sagas::kind.eq(kind))
        .filter(sagas::order_id.eq(order_id.to_string()))
        .count()
        .get_result(conn)?;
    if exists > 0 {
        return Ok(false);
    }
    let data = serde_json::to_string(&CheckoutData { lines, failure: None, ticket_id: None, amount: None })
        .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
    diesel::insert_into(sagas::table)
        .values((
            sagas::id.eq(uuid::Uuid::now_v7().to_string()),
            sagas::kind.eq(kind),
            sagas::order_id.eq(order_id.to_string()),
            sagas::state.eq(RUNNING),
            sagas::step.eq(first.name()),
            sagas::data.eq(data),
            sagas::attempts.eq(0),
            sagas::next_attempt_at.eq(now),
            sagas::created_at.eq(now),
            sagas::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(true)
}

/// A test-only hook: stop dead (until killed) right after a step's call
/// succeeded and before its outcome is recorded — the worst moment to die.
#[derive(Debug, Clone, Default)]
pub struct FaultInjection {
    pub hang_after_step: Option<String>,
}

pub struct SagaRunner {
    db: ContextDatabase,
    clock: Arc<dyn Clock>,
    catalog: Arc<dyn CatalogApi>,
    orders: Arc<dyn OrdersApi>,
    support: Arc<dyn support_api::SupportApi>,
    wake: Wake,
    fault: FaultInjection,
    step_timeout: Duration,
}

/// A step that has not answered after this long is retried.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(30);

impl SagaRunner {
    pub fn new(
        db: ContextDatabase,
        clock: Arc<dyn Clock>,
        catalog: Arc<dyn CatalogApi>,
        orders: Arc<dyn OrdersApi>,
        support: Arc<dyn support_api::SupportApi>,
        wake: Wake,
        fault: FaultInjection,
    ) -> Self {
        Self { db, clock, catalog, orders, support, wake, fault, step_timeout: STEP_TIMEOUT }
    }

    pub fn with_step_timeout(self, step_timeout: Duration) -> Self {
        Self { step_timeout, ..self }
    }

    fn due(&self, conn: &mut DbConn) -> QueryResult<Vec<SagaRow>> {
        sagas::table
            .filter(sagas::state.eq_any([RUNNING, COMPENSATING]))
            .filter(sagas::next_attempt_at.le(self.clock.now().naive_utc()))
            .order(sagas::id.asc())
            .limit(50)
            .select(SagaRow::as_select())
            .load(conn)
    }

    /// Advances every due saga by one step. Returns how many moved.
    pub async fn run_once(&self) -> Result<usize, DbError> {
        let due = {
            let mut conn = self.db.conn()?;
            self.due(&mut conn)?
        };
        let mut moved = 0;
        for saga in due {
            if self.advance(&saga).await? {
                moved += 1;
            }
        }
        Ok(moved)
    }

    async fn advance(&self, saga: &SagaRow) -> Result<bool, DbError> {
        let (Ok(order_id), Some(step)) = (OrderId::parse(&saga.order_id), Step::parse(&saga.step)) else {
            tracing::error!(saga.id = %saga.id, "saga has a corrupt order id or step");
            return Ok(false);
        };
        let mut data: CheckoutData = match serde_json::from_str(&saga.data) {
            Ok(data) => data,
            Err(error) => {
                tracing::error!(saga.id = %saga.id, error = %error, "saga data does not parse");
                return Ok(false);
            }
        };
        let call = async {
            if saga.kind.starts_with(checkout::RETURN) {
                checkout::run_return_step(
                    step,
                    order_id,
                    &data,
                    self.catalog.as_ref(),
                    self.orders.as_ref(),
                    self.support.as_ref(),
                )
                .await
            } else if saga.kind == checkout::CANCELLATION {
                checkout::run_cancellation_step(step, order_id, &data, self.catalog.as_ref(), self.orders.as_ref())
                    .await
            } else {
                checkout::run_step(step, order_id, &data, self.catalog.as_ref(), self.orders.as_ref()).await
            }
        };
        let mut transition = match actix_web::rt::time::timeout(self.step_timeout, call).await {
            Ok(transition) => transition,
            Err(_) => Transition::Retry(format!("the {} step timed out after {:?}", step.name(), self.step_timeout)),
        };
        if saga.kind.starts_with(checkout::RETURN)
            && step == Step::Refund
            && matches!(transition, Transition::Retry(_))
            && saga.attempts + 1 >= MAX_ATTEMPTS
        {
            // Nothing to undo yet: hand the ticket back to an agent.
            transition = Transition::Compensate(Step::FailReturn, "the refund kept failing".into());
        }
        if matches!(transition, Transition::Retry(_)) && saga.attempts + 1 >= MAX_ATTEMPTS {
            let given_up = checkout::give_up(step);
            if !matches!(given_up, Transition::Retry(_)) {
                transition = given_up;
            }
        }
        if self.fault.hang_after_step.as_deref() == Some(step.name()) && !matches!(transition, Transition::Retry(_)) {
            tracing::warn!(saga.step = step.name(), "fault injection: hanging after the step, before recording it");
            eprintln!("FAULT-POINT-REACHED {}", step.name());
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
        let now = self.clock.now().naive_utc();
        let (state, next_step, attempts, next_at, outcome, detail) = match &transition {
            Transition::Next(next) => (saga.state.as_str(), next.name(), 0, now, "ok", None),
            Transition::Compensate(next, reason) => {
                data.failure = Some(reason.clone());
                (COMPENSATING, next.name(), 0, now, "failed", Some(reason.clone()))
            }
            Transition::Completed => (COMPLETED, step.name(), 0, now, "ok", None),
            Transition::Failed => (FAILED, step.name(), 0, now, "ok", data.failure.clone()),
            Transition::Retry(cause) => {
                let delay = 100i64.saturating_mul(1 << saga.attempts.clamp(0, 10)).min(30_000);
                (
                    saga.state.as_str(),
                    step.name(),
                    saga.attempts + 1,
                    now + chrono::Duration::milliseconds(delay),
                    "retry",
                    Some(cause.clone()),
                )
            }
        };
        let data_text = serde_json::to_string(&data).unwrap_or_else(|_| saga.data.clone());
        let mut conn = self.db.conn()?;
        write_transaction(&mut conn, |conn| {
            diesel::insert_into(saga_steps::table)
                .values((
                    saga_steps::id.eq(uuid::Uuid::now_v7().to_string()),
                    saga_steps::saga_id.eq(&saga.id),
                    saga_steps::step.eq(step.name()),
                    saga_steps::outcome.eq(outcome),
                    saga_steps::detail.eq(detail.clone()),
                    saga_steps::at.eq(now),
                ))
                .execute(conn)?;
            diesel::update(sagas::table.find(&saga.id))
                .set((
                    sagas::state.eq(state),
                    sagas::step.eq(next_step),
                    sagas::data.eq(&data_text),
                    sagas::attempts.eq(attempts),
                    sagas::next_attempt_at.eq(next_at),
                    sagas::last_error.eq(if outcome == "ok" { None } else { detail.clone() }),
                    sagas::updated_at.eq(now),
                ))
                .execute(conn)?;
            Ok::<_, diesel::result::Error>(())
        })?;
        tracing::info!(saga.id = %saga.id, order.id = %order_id, saga.step = step.name(), saga.outcome = outcome, "saga step");
        Ok(!matches!(transition, Transition::Retry(_)))
    }

    /// Runs on its own thread (with an actix runtime for the async ports)
    /// until `stop` is set: a pass when woken, and a sweep every `sweep`.
    pub fn spawn(self, sweep: Duration) -> RunnerHandle {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let wake = self.wake.clone();
        let thread = std::thread::Builder::new()
            .name("saga-runner".into())
            .spawn(move || {
                actix_web::rt::System::new().block_on(async move {
                    while !flag.load(Ordering::Acquire) {
                        loop {
                            match self.run_once().await {
                                Ok(0) => break,
                                Ok(_) => continue,
                                Err(error) => {
                                    tracing::warn!(error = %error, "saga pass failed");
                                    break;
                                }
                            }
                        }
                        let wake = self.wake.clone();
                        let _ = actix_web::web::block(move || wake.wait(sweep)).await;
                    }
                });
            })
            .ok();
        RunnerHandle { stop, wake, thread }
    }
}

pub struct RunnerHandle {
    stop: Arc<AtomicBool>,
    wake: Wake,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for RunnerHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        self.wake.notify();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A saga with its step log, for operators.
#[derive(Debug, Clone)]
pub struct SagaView {
    pub saga: SagaRow,
    pub steps: Vec<StepRow>,
}

/// Sagas, newest first, optionally in one state.
pub fn list_sagas(
    conn: &mut DbConn,
    state: Option<&str>,
    before: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<SagaRow>> {
    let mut query = sagas::table.order(sagas::id.desc()).limit(limit).select(SagaRow::as_select()).into_boxed();
    if let Some(state) = state {
        query = query.filter(sagas::state.eq(state.to_owned()));
    }
    if let Some(before) = before {
        query = query.filter(sagas::id.lt(before.to_owned()));
    }
    query.load(conn)
}

pub fn saga(conn: &mut DbConn, id: &str) -> QueryResult<Option<SagaView>> {
    let Some(saga) = sagas::table.find(id).select(SagaRow::as_select()).first(conn).optional()? else {
        return Ok(None);
    };
    let steps = saga_steps::table
        .filter(saga_steps::saga_id.eq(id))
        .order(saga_steps::id.asc())
        .select(StepRow::as_select())
        .load(conn)?;
    Ok(Some(SagaView { saga, steps }))
}
