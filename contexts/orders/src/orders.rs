//! Orders and their payments: checkout turns a cart into a pending order in
//! one transaction (lines snapshotted, cart emptied, `OrderPlaced` recorded);
//! the checkout saga then charges, confirms or rejects it through
//! `OrdersApi`.

use crate::cart::PricedCart;
use crate::payments::{GatewayError, PaymentGateway};
use crate::schema::{cart_items, carts, idempotency_keys, order_history, order_lines, orders, payments, refunds};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use kernel::db::{ContextDatabase, DbConn, DbError};
use kernel::events::Outbox;
use kernel::{Clock, Currency, Money, OrderId, ProductId, UserId};
use orders_api::events::{
    CancellationRequested, OrderCancelled, OrderConfirmed, OrderDelivered, OrderPlaced, OrderRejected, OrderShipped,
    PaymentCaptured, PaymentRefunded, PlacedLine,
};
use orders_api::{ChargeOutcome, OrdersApiError};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error("order not found")]
    NotFound,
    #[error("the cart is empty")]
    EmptyCart,
    #[error("the cart cannot be bought as it is")]
    CartNotReady,
    #[error("the cart changed while checking out")]
    CartChanged,
    #[error(transparent)]
    Unavailable(DbError),
    #[error(transparent)]
    Api(OrdersApiError),
    #[error("the order is {from}; it cannot become {to}")]
    IllegalTransition { from: String, to: String },
    #[error("{0}")]
    Internal(String),
}

impl From<diesel::result::Error> for OrderError {
    fn from(error: diesel::result::Error) -> Self {
        OrderError::Internal(error.to_string())
    }
}

impl From<DbError> for OrderError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::Query(error) => OrderError::Internal(error.to_string()),
            other => OrderError::Unavailable(other),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShippingAddress {
    pub recipient: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    pub country: String,
}

#[derive(Debug, Clone)]
pub struct OrderLine {
    pub product_id: ProductId,
    pub sku: String,
    pub name: String,
    pub unit_price: Money,
    pub quantity: i64,
    pub line_total: Money,
}

#[derive(Debug, Clone)]
pub struct Payment {
    pub status: String,
    pub captured: Money,
    pub refunded: Money,
}

#[derive(Debug, Clone)]
pub struct TimelineEntry {
    pub status: String,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Order {
    pub id: OrderId,
    pub user_id: UserId,
    pub status: String,
    pub lines: Vec<OrderLine>,
    pub total: Money,
    pub payment: Payment,
    pub rejection_reason: Option<String>,
    pub shipping_address: ShippingAddress,
    pub timeline: Vec<TimelineEntry>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Order {
    pub fn is_final(&self) -> bool {
        self.status != "pending"
    }
}

/// What an idempotency key has seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyState {
    /// New: this request goes ahead.
    Fresh,
    /// The same request finished before: replay its answer.
    Done { status: u16, body: String },
    /// The same key with another body.
    Mismatch,
    /// The same request is still running.
    InFlight,
}

use kernel::db::from_db_time as utc;

fn unique_violation(error: &diesel::result::Error) -> bool {
    matches!(error, diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _))
}

pub struct OrderService {
    db: ContextDatabase,
    clock: Arc<dyn Clock>,
    outbox: Outbox,
    gateway: Arc<dyn PaymentGateway>,
}

impl OrderService {
    pub fn new(db: ContextDatabase, clock: Arc<dyn Clock>, outbox: Outbox, gateway: Arc<dyn PaymentGateway>) -> Self {
        Self { db, clock, outbox, gateway }
    }

    fn now(&self) -> NaiveDateTime {
        self.clock.now().naive_utc()
    }

    pub fn database(&self) -> &ContextDatabase {
        &self.db
    }

    // ----- idempotency keys -----

    /// Claims `key` for this request, or says what it already did.
    pub fn claim_key(&self, user: UserId, key: &str, request_hash: &str) -> Result<KeyState, OrderError> {
        let mut conn = self.db.conn()?;
        let insert = diesel::insert_into(idempotency_keys::table)
            .values((
                idempotency_keys::user_id.eq(user.to_string()),
                idempotency_keys::idempotency_key.eq(key),
                idempotency_keys::request_hash.eq(request_hash),
                idempotency_keys::state.eq("in_flight"),
                idempotency_keys::created_at.eq(self.now()),
            ))
            .execute(&mut conn);
        match insert {
            Ok(_) => return Ok(KeyState::Fresh),
            Err(error) if unique_violation(&error) => {}
            Err(error) => return Err(error.into()),
        }
        let (hash, state, status, body): (String, String, Option<i32>, Option<String>) = idempotency_keys::table
            .find((user.to_string(), key))
            .select((
                idempotency_keys::request_hash,
                idempotency_keys::state,
                idempotency_keys::response_status,
                idempotency_keys::response_body,
            ))
            .first(&mut conn)?;
        Ok(match (hash == request_hash, state.as_str(), status, body) {
            (false, _, _, _) => KeyState::Mismatch,
            (true, "done", Some(status), Some(body)) => KeyState::Done { status: status as u16, body },
            _ => KeyState::InFlight,
        })
    }

    pub fn finish_key(&self, user: UserId, key: &str, status: u16, body: &str) -> Result<(), OrderError> {
        let mut conn = self.db.conn()?;
        diesel::update(idempotency_keys::table.find((user.to_string(), key)))
            .set((
                idempotency_keys::state.eq("done"),
                idempotency_keys::response_status.eq(Some(status as i32)),
                idempotency_keys::response_body.eq(Some(body)),
            ))
            .execute(&mut conn)?;
        Ok(())
    }

    /// Forgets a key whose request failed on our side, so a retry can run.
    pub fn release_key(&self, user: UserId, key: &str) -> Result<(), OrderError> {
        let mut conn = self.db.conn()?;
        diesel::delete(idempotency_keys::table.find((user.to_string(), key))).execute(&mut conn)?;
        Ok(())
    }

    // ----- checkout -----

    /// Turns the priced cart into a pending order: lines snapshotted, cart
    /// emptied, `OrderPlaced` recorded — one transaction. A second checkout of
    /// the same cart finds it empty (or changed) and is refused.
    pub fn place(
        &self,
        user: UserId,
        cart_id: &str,
        cart: &PricedCart,
        address: ShippingAddress,
        payment_token: String,
    ) -> Result<Order, OrderError> {
        if cart.lines.is_empty() {
            return Err(OrderError::EmptyCart);
        }
        // Stock is not checked here: the saga's reservation decides, so a
        // cart that lost the race for the last units becomes an order
        // rejected `out_of_stock`, never an oversold one.
        let total = match (cart.purchasable, cart.total) {
            (true, Some(total)) => total,
            _ => return Err(OrderError::CartNotReady),
        };
        let order_id = OrderId::new();
        let now = self.now();
        let mut conn = self.db.conn()?;
        self.outbox.transaction(&mut conn, |conn| {
            // The cart is emptied with the count checked, so a concurrent
            // checkout of the same cart cannot also succeed.
            let removed = diesel::delete(cart_items::table.filter(cart_items::cart_id.eq(cart_id))).execute(conn)?;
            if removed != cart.lines.len() {
                return Err(OrderError::CartChanged);
            }
            diesel::update(carts::table.find(cart_id)).set(carts::updated_at.eq(now)).execute(conn)?;
            diesel::insert_into(orders::table)
                .values((
                    orders::id.eq(order_id.to_string()),
                    orders::user_id.eq(user.to_string()),
                    orders::status.eq("pending"),
                    orders::currency.eq(total.currency.code()),
                    orders::total_amount.eq(total.amount),
                    orders::shipping_address
                        .eq(serde_json::to_string(&address).map_err(|e| OrderError::Internal(e.to_string()))?),
                    orders::payment_token.eq(&payment_token),
                    orders::created_at.eq(now),
                    orders::updated_at.eq(now),
                ))
                .execute(conn)?;
            let mut placed = Vec::new();
            for line in &cart.lines {
                let (Some(product), Some(line_total)) = (&line.product, line.line_total) else {
                    return Err(OrderError::CartNotReady);
                };
                diesel::insert_into(order_lines::table)
                    .values((
                        order_lines::order_id.eq(order_id.to_string()),
                        order_lines::product_id.eq(line.product_id.to_string()),
                        order_lines::sku.eq(&product.sku),
                        order_lines::name.eq(&product.name),
                        order_lines::unit_price.eq(product.price.amount),
                        order_lines::quantity.eq(line.quantity),
                        order_lines::line_total.eq(line_total.amount),
                    ))
                    .execute(conn)?;
                placed.push(PlacedLine {
                    product_id: line.product_id,
                    quantity: line.quantity,
                    unit_price: product.price,
                });
            }
            diesel::insert_into(payments::table)
                .values((
                    payments::order_id.eq(order_id.to_string()),
                    payments::status.eq("pending"),
                    payments::amount.eq(total.amount),
                    payments::currency.eq(total.currency.code()),
                    payments::created_at.eq(now),
                    payments::updated_at.eq(now),
                ))
                .execute(conn)?;
            self.history(conn, order_id, "pending", None)?;
            self.outbox.record(conn, &OrderPlaced { order_id, user_id: user, lines: placed, total })?;
            self.load(conn, order_id)
        })
    }

    fn history(&self, conn: &mut DbConn, order: OrderId, status: &str, reason: Option<&str>) -> QueryResult<()> {
        diesel::insert_into(order_history::table)
            .values((
                order_history::id.eq(uuid::Uuid::now_v7().to_string()),
                order_history::order_id.eq(order.to_string()),
                order_history::status.eq(status),
                order_history::reason.eq(reason),
                order_history::at.eq(self.now()),
            ))
            .execute(conn)
            .map(|_| ())
    }

    fn load(&self, conn: &mut DbConn, id: OrderId) -> Result<Order, OrderError> {
        type Row = (String, String, String, i64, String, Option<String>, NaiveDateTime, NaiveDateTime);
        let row: Option<Row> = orders::table
            .find(id.to_string())
            .select((
                orders::user_id,
                orders::status,
                orders::currency,
                orders::total_amount,
                orders::shipping_address,
                orders::rejection_reason,
                orders::created_at,
                orders::updated_at,
            ))
            .first(conn)
            .optional()?;
        let Some((user, status, currency, total, address, reason, created, updated)) = row else {
            return Err(OrderError::NotFound);
        };
        let corrupt = |what: &str| OrderError::Internal(format!("order {id}: stored {what}"));
        let currency = Currency::parse(&currency).map_err(|_| corrupt("currency"))?;
        let lines: Vec<(String, String, String, i64, i64, i64)> = order_lines::table
            .filter(order_lines::order_id.eq(id.to_string()))
            .order(order_lines::product_id.asc())
            .select((
                order_lines::product_id,
                order_lines::sku,
                order_lines::name,
                order_lines::unit_price,
                order_lines::quantity,
                order_lines::line_total,
            ))
            .load(conn)?;
        let (pay_status, captured, refunded): (String, i64, i64) = payments::table
            .find(id.to_string())
            .select((payments::status, payments::captured, payments::refunded))
            .first(conn)?;
        let timeline: Vec<(String, Option<String>, NaiveDateTime)> = order_history::table
            .filter(order_history::order_id.eq(id.to_string()))
            .order(order_history::id.asc())
            .select((order_history::status, order_history::reason, order_history::at))
            .load(conn)?;
        Ok(Order {
            id,
            user_id: UserId::parse(&user).map_err(|_| corrupt("user"))?,
            status,
            lines: lines
                .into_iter()
                .map(|(product, sku, name, unit, quantity, line_total)| {
                    Ok(OrderLine {
                        product_id: ProductId::parse(&product).map_err(|_| corrupt("product"))?,
                        sku,
                        name,
                        unit_price: Money::new(unit, currency),
                        quantity,
                        line_total: Money::new(line_total, currency),
                    })
                })
                .collect::<Result<_, OrderError>>()?,
            total: Money::new(total, currency),
            payment: Payment {
                status: pay_status,
                captured: Money::new(captured, currency),
                refunded: Money::new(refunded, currency),
            },
            rejection_reason: reason,
            shipping_address: serde_json::from_str(&address).map_err(|_| corrupt("address"))?,
            timeline: timeline
                .into_iter()
                .map(|(status, reason, at)| TimelineEntry { status, reason, at: utc(at) })
                .collect(),
            created_at: utc(created),
            updated_at: utc(updated),
        })
    }

    /// An order of `user`; someone else's is "not found".
    pub fn order_of(&self, user: UserId, id: OrderId) -> Result<Order, OrderError> {
        let mut conn = self.db.conn()?;
        let order = self.load(&mut conn, id)?;
        if order.user_id != user {
            return Err(OrderError::NotFound);
        }
        Ok(order)
    }

    pub fn order(&self, id: OrderId) -> Result<Order, OrderError> {
        let mut conn = self.db.conn()?;
        self.load(&mut conn, id)
    }

    /// The user's orders, newest first, after the cursor id.
    pub fn history_of(
        &self,
        user: UserId,
        before: Option<OrderId>,
        limit: i64,
    ) -> Result<(Vec<Order>, bool), OrderError> {
        let mut conn = self.db.conn()?;
        let mut query = orders::table
            .filter(orders::user_id.eq(user.to_string()))
            .order(orders::id.desc())
            .limit(limit + 1)
            .select(orders::id)
            .into_boxed();
        if let Some(before) = before {
            query = query.filter(orders::id.lt(before.to_string()));
        }
        let ids: Vec<String> = query.load(&mut conn)?;
        let more = ids.len() as i64 > limit;
        let orders = ids
            .iter()
            .take(limit as usize)
            .map(|id| self.load(&mut conn, OrderId::parse(id).map_err(|_| OrderError::Internal("stored id".into()))?))
            .collect::<Result<_, _>>()?;
        Ok((orders, more))
    }

    // ----- what the saga asks (OrdersApi) -----

    /// pending → authorized → captured, each state committed before the
    /// next call, so a retry after a crash resumes where it stopped; the
    /// provider dedups both calls (by order, by reference).
    pub fn charge(&self, id: OrderId) -> Result<ChargeOutcome, OrdersApiError> {
        let transient = |e: &dyn std::fmt::Display| OrdersApiError::Transient(e.to_string());
        let mut conn = self.db.conn().map_err(|e| transient(&e))?;
        loop {
            let found: Option<(String, i64, String, String, Option<String>)> = payments::table
                .inner_join(orders::table)
                .filter(payments::order_id.eq(id.to_string()))
                .select((
                    payments::status,
                    payments::amount,
                    payments::currency,
                    orders::payment_token,
                    payments::provider_ref,
                ))
                .first(&mut conn)
                .optional()
                .map_err(|e| transient(&e))?;
            let Some((status, amount, currency, token, reference)) = found else {
                return Err(OrdersApiError::UnknownOrder(id));
            };
            let currency = Currency::parse(&currency).map_err(|e| transient(&e))?;
            let amount = Money::new(amount, currency);
            match status.as_str() {
                "captured" | "refunded" | "partially_refunded" => return Ok(ChargeOutcome::Captured(amount)),
                "failed" => return Ok(ChargeOutcome::Declined("payment_declined".into())),
                "authorized" => {
                    let reference = reference.unwrap_or_default();
                    self.gateway.capture(&reference, amount).map_err(|e| transient(&e))?;
                    self.outbox
                        .transaction(&mut conn, |conn| {
                            diesel::update(payments::table.find(id.to_string()))
                                .set((
                                    payments::status.eq("captured"),
                                    payments::captured.eq(amount.amount),
                                    payments::updated_at.eq(self.now()),
                                ))
                                .execute(conn)?;
                            self.outbox.record(conn, &PaymentCaptured { order_id: id, amount })?;
                            Ok::<_, diesel::result::Error>(())
                        })
                        .map_err(|e| transient(&e))?;
                    return Ok(ChargeOutcome::Captured(amount));
                }
                _ => match self.gateway.authorize(id, amount, &token) {
                    Ok(authorization) => {
                        diesel::update(payments::table.find(id.to_string()))
                            .set((
                                payments::status.eq("authorized"),
                                payments::provider_ref.eq(Some(&authorization.reference)),
                                payments::updated_at.eq(self.now()),
                            ))
                            .execute(&mut conn)
                            .map_err(|e| transient(&e))?;
                        // On to the capture.
                    }
                    Err(GatewayError::Declined(reason)) => {
                        diesel::update(payments::table.find(id.to_string()))
                            .set((
                                payments::status.eq("failed"),
                                payments::last_error.eq(Some(&reason)),
                                payments::updated_at.eq(self.now()),
                            ))
                            .execute(&mut conn)
                            .map_err(|e| transient(&e))?;
                        return Ok(ChargeOutcome::Declined(reason));
                    }
                    Err(GatewayError::Transient(reason)) => {
                        let _ = diesel::update(payments::table.find(id.to_string()))
                            .set(payments::last_error.eq(Some(&reason)))
                            .execute(&mut conn);
                        return Err(OrdersApiError::Transient(reason));
                    }
                },
            }
        }
    }

    /// A refund under `key`, applied once: a repeat (after a crash) returns
    /// what the first one refunded.
    pub fn refund_once(&self, id: OrderId, amount: Option<Money>, key: &str) -> Result<Money, OrdersApiError> {
        let transient = |e: &dyn std::fmt::Display| OrdersApiError::Transient(e.to_string());
        let mut conn = self.db.conn().map_err(|e| transient(&e))?;
        let done: Option<i64> = refunds::table
            .find((id.to_string(), key))
            .select(refunds::amount)
            .first(&mut conn)
            .optional()
            .map_err(|e| transient(&e))?;
        let currency: Option<String> = payments::table
            .find(id.to_string())
            .select(payments::currency)
            .first(&mut conn)
            .optional()
            .map_err(|e| transient(&e))?;
        let Some(currency) = currency else { return Err(OrdersApiError::UnknownOrder(id)) };
        let currency = Currency::parse(&currency).map_err(|e| transient(&e))?;
        if let Some(done) = done {
            return Ok(Money::new(done, currency));
        }
        let refunded = self.refund(id, amount)?;
        let insert = diesel::insert_into(refunds::table)
            .values((
                refunds::order_id.eq(id.to_string()),
                refunds::refund_key.eq(key),
                refunds::amount.eq(refunded.amount),
                refunds::created_at.eq(self.now()),
            ))
            .execute(&mut conn);
        match insert {
            Ok(_) => Ok(refunded),
            Err(error) if unique_violation(&error) => Ok(refunded),
            Err(error) => Err(transient(&error)),
        }
    }

    /// Refunds `amount` (all that is left when `None`, never more than was
    /// captured and not yet refunded). Returns the amount refunded now.
    pub fn refund(&self, id: OrderId, amount: Option<Money>) -> Result<Money, OrdersApiError> {
        let transient = |e: &dyn std::fmt::Display| OrdersApiError::Transient(e.to_string());
        let mut conn = self.db.conn().map_err(|e| transient(&e))?;
        let found: Option<(i64, i64, String, Option<String>)> = payments::table
            .find(id.to_string())
            .select((payments::captured, payments::refunded, payments::currency, payments::provider_ref))
            .first(&mut conn)
            .optional()
            .map_err(|e| transient(&e))?;
        let Some((captured, refunded, currency, reference)) = found else {
            return Err(OrdersApiError::UnknownOrder(id));
        };
        let currency = Currency::parse(&currency).map_err(|e| transient(&e))?;
        let left = captured - refunded;
        let now_refunding = amount.map_or(left, |a| a.amount.min(left)).max(0);
        if now_refunding == 0 {
            return Ok(Money::zero(currency));
        }
        let due = Money::new(now_refunding, currency);
        self.gateway.refund(reference.as_deref().unwrap_or_default(), due).map_err(|e| transient(&e))?;
        self.outbox
            .transaction(&mut conn, |conn| {
                // Conditional on the refunded total read above: a concurrent
                // refund makes this one a no-op rather than a double refund.
                let changed = diesel::update(
                    payments::table
                        .filter(payments::order_id.eq(id.to_string()))
                        .filter(payments::refunded.eq(refunded)),
                )
                .set((
                    payments::status.eq(if refunded + now_refunding == captured {
                        "refunded"
                    } else {
                        "partially_refunded"
                    }),
                    payments::refunded.eq(refunded + now_refunding),
                    payments::updated_at.eq(self.now()),
                ))
                .execute(conn)?;
                if changed == 1 {
                    self.outbox.record(conn, &PaymentRefunded { order_id: id, amount: due })?;
                }
                Ok::<_, diesel::result::Error>(())
            })
            .map_err(|e| transient(&e))?;
        Ok(due)
    }

    fn transition(&self, id: OrderId, to: &str, reason: Option<&str>) -> Result<(), OrdersApiError> {
        let mut conn = self.db.conn().map_err(|e| OrdersApiError::Transient(e.to_string()))?;
        self.outbox
            .transaction(&mut conn, |conn| {
                let found: Option<(String, String)> = orders::table
                    .find(id.to_string())
                    .select((orders::status, orders::user_id))
                    .first(conn)
                    .optional()?;
                let Some((from, user)) = found else { return Err(OrdersApiError::UnknownOrder(id).into()) };
                if from == to {
                    return Ok(());
                }
                if from != "pending" {
                    return Err(OrdersApiError::IllegalTransition(id, from, to.to_owned()).into());
                }
                let user_id = UserId::parse(&user).map_err(|_| OrderError::Internal("stored user id".into()))?;
                diesel::update(orders::table.find(id.to_string()))
                    .set((
                        orders::status.eq(to),
                        orders::rejection_reason.eq(reason),
                        orders::updated_at.eq(self.now()),
                    ))
                    .execute(conn)?;
                self.history(conn, id, to, reason)?;
                match reason {
                    Some(reason) => {
                        self.outbox.record(conn, &OrderRejected { order_id: id, user_id, reason: reason.to_owned() })?
                    }
                    None => self.outbox.record(conn, &OrderConfirmed { order_id: id, user_id })?,
                };
                // This transaction holds the row now, so the flag read here is
                // final: a customer who asked to cancel during checkout gets it.
                let flagged: bool = orders::table.find(id.to_string()).select(orders::cancel_requested).first(conn)?;
                if flagged && reason.is_none() {
                    let order = self.load(conn, id)?;
                    self.begin_cancellation(conn, &order)?;
                }
                Ok::<_, OrderError>(())
            })
            .map_err(OrderError::into_api)
    }

    /// Confirmed → shipped → delivered, by an operator.
    pub fn advance_fulfilment(&self, id: OrderId, to: &str) -> Result<Order, OrderError> {
        let from_required = match to {
            "shipped" => "confirmed",
            "delivered" => "shipped",
            other => return Err(OrderError::Internal(format!("no fulfilment status {other}"))),
        };
        let mut conn = self.db.conn()?;
        self.outbox.transaction(&mut conn, |conn| {
            let (from, user): (String, String) = orders::table
                .find(id.to_string())
                .select((orders::status, orders::user_id))
                .first(conn)
                .optional()?
                .ok_or(OrderError::NotFound)?;
            if from != from_required {
                return Err(OrderError::IllegalTransition { from, to: to.to_owned() });
            }
            let user_id = UserId::parse(&user).map_err(|_| OrderError::Internal("stored user id".into()))?;
            diesel::update(orders::table.find(id.to_string()))
                .set((orders::status.eq(to), orders::updated_at.eq(self.now())))
                .execute(conn)?;
            self.history(conn, id, to, None)?;
            if to == "shipped" {
                self.outbox.record(conn, &OrderShipped { order_id: id, user_id })?;
            } else {
                self.outbox.record(conn, &OrderDelivered { order_id: id, user_id })?;
            }
            self.load(conn, id)
        })
    }

    /// A customer cancels a confirmed order: it becomes `cancelling` and the
    /// cancellation saga refunds and restocks. Shipped orders cannot be.
    pub fn request_cancellation(&self, user: UserId, id: OrderId) -> Result<Order, OrderError> {
        let mut conn = self.db.conn()?;
        self.outbox.transaction(&mut conn, |conn| {
            let order = self.load(conn, id)?;
            if order.user_id != user {
                return Err(OrderError::NotFound);
            }
            // Still checking out: flag it; confirmation will start the
            // cancellation (a rejected order needs none).
            let flagged = diesel::update(
                orders::table.filter(orders::id.eq(id.to_string())).filter(orders::status.eq("pending")),
            )
            .set(orders::cancel_requested.eq(true))
            .execute(conn)?;
            if flagged == 1 {
                self.history(conn, id, "cancellation_requested", None)?;
                return self.load(conn, id);
            }
            let order = self.load(conn, id)?;
            if order.status != "confirmed" {
                return Err(OrderError::IllegalTransition { from: order.status, to: "cancelled".into() });
            }
            self.begin_cancellation(conn, &order)?;
            self.load(conn, id)
        })
    }

    /// confirmed → cancelling, and the event that starts the cancellation saga.
    fn begin_cancellation(&self, conn: &mut DbConn, order: &Order) -> Result<(), OrderError> {
        diesel::update(orders::table.find(order.id.to_string()))
            .set((orders::status.eq("cancelling"), orders::updated_at.eq(self.now())))
            .execute(conn)?;
        self.history(conn, order.id, "cancelling", None)?;
        let lines = order
            .lines
            .iter()
            .map(|l| PlacedLine { product_id: l.product_id, quantity: l.quantity, unit_price: l.unit_price })
            .collect();
        self.outbox.record(conn, &CancellationRequested { order_id: order.id, user_id: order.user_id, lines })?;
        Ok(())
    }

    pub fn cancel(&self, id: OrderId) -> Result<(), OrdersApiError> {
        let mut conn = self.db.conn().map_err(|e| OrdersApiError::Transient(e.to_string()))?;
        self.outbox
            .transaction(&mut conn, |conn| {
                let (from, user): (String, String) = orders::table
                    .find(id.to_string())
                    .select((orders::status, orders::user_id))
                    .first(conn)
                    .optional()?
                    .ok_or(OrdersApiError::UnknownOrder(id))?;
                match from.as_str() {
                    "cancelled" => return Ok(()),
                    "cancelling" => {}
                    _ => return Err(OrdersApiError::IllegalTransition(id, from, "cancelled".into()).into()),
                }
                let user_id = UserId::parse(&user).map_err(|_| OrderError::Internal("stored user id".into()))?;
                diesel::update(orders::table.find(id.to_string()))
                    .set((orders::status.eq("cancelled"), orders::updated_at.eq(self.now())))
                    .execute(conn)?;
                self.history(conn, id, "cancelled", None)?;
                self.outbox.record(conn, &OrderCancelled { order_id: id, user_id })?;
                Ok::<_, OrderError>(())
            })
            .map_err(OrderError::into_api)
    }

    /// Strips personal data from a user's orders (kept for accounting):
    /// the shipping address becomes a placeholder.
    pub fn anonymise_orders_of(&self, conn: &mut DbConn, user: UserId) -> QueryResult<usize> {
        let erased = ShippingAddress {
            recipient: "(erased)".into(),
            line1: "(erased)".into(),
            line2: None,
            city: "(erased)".into(),
            postal_code: "(erased)".into(),
            country: "ZZ".into(),
        };
        let text = serde_json::to_string(&erased).unwrap_or_default();
        diesel::update(orders::table.filter(orders::user_id.eq(user.to_string())))
            .set(orders::shipping_address.eq(text))
            .execute(conn)
    }

    pub fn confirm(&self, id: OrderId) -> Result<(), OrdersApiError> {
        self.transition(id, "confirmed", None)
    }

    pub fn reject(&self, id: OrderId, reason: &str) -> Result<(), OrdersApiError> {
        self.transition(id, "rejected", Some(reason))
    }
}

impl From<OrdersApiError> for OrderError {
    fn from(error: OrdersApiError) -> Self {
        OrderError::Api(error)
    }
}

impl OrderError {
    fn into_api(self) -> OrdersApiError {
        match self {
            OrderError::Api(error) => error,
            other => OrdersApiError::Transient(other.to_string()),
        }
    }
}
