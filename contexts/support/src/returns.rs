//! Returns (RMA): a return ticket carries lines checked against the order
//! (delivered, within the return window, never more than bought minus what
//! is already being returned); an agent approves or rejects; the return saga
//! refunds and restocks and reports back through `SupportApi`.

use crate::schema::{return_lines, tickets};
use crate::service::{Actor, SupportError, SupportService, Ticket};
use chrono::{Duration, Utc};
use diesel::prelude::*;
use kernel::{Currency, Money, OrderId, ProductId, UserId};
use orders_api::OrderSummary;
use std::sync::Arc;
use support_api::events::{ReturnApproved, ReturnRejected, ReturnRequested, TicketOpened};
use support_api::{ReturnLine, SupportApi, SupportApiError};

/// A line the customer asks to return.
#[derive(Debug, Clone)]
pub struct RequestedLine {
    pub product_id: ProductId,
    pub quantity: i64,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReturnProblem {
    NotDelivered,
    WindowClosed,
    NotInOrder(usize),
    TooMany(usize),
}

impl SupportService {
    /// Opens a return ticket for `order` (already known to be the customer's).
    pub fn request_return(
        &self,
        user: UserId,
        order: &OrderSummary,
        subject: String,
        body: String,
        lines: Vec<RequestedLine>,
        window: Duration,
    ) -> Result<Result<Ticket, ReturnProblem>, SupportError> {
        let delivered = match (order.status.as_str(), order.delivered_at) {
            ("delivered", Some(at)) => at,
            _ => return Ok(Err(ReturnProblem::NotDelivered)),
        };
        if Utc::now() > delivered + window {
            return Ok(Err(ReturnProblem::WindowClosed));
        }
        let id = uuid::Uuid::now_v7().to_string();
        let now = Utc::now().naive_utc();
        let mut conn = self.database().conn()?;
        let outcome = self.outbox().transaction(&mut conn, |conn| {
            for (index, line) in lines.iter().enumerate() {
                let Some(bought) = order.lines.iter().find(|l| l.product_id == line.product_id) else {
                    return Ok(Err(ReturnProblem::NotInOrder(index)));
                };
                // Already on its way back: requested, approved or completed returns.
                let returning: Vec<i64> = return_lines::table
                    .inner_join(tickets::table)
                    .filter(return_lines::order_id.eq(order.order_id.to_string()))
                    .filter(return_lines::product_id.eq(line.product_id.to_string()))
                    .filter(tickets::return_status.eq_any(["requested", "approved", "completed"]))
                    .select(return_lines::quantity)
                    .load(conn)?;
                if line.quantity + returning.iter().sum::<i64>() > bought.quantity {
                    return Ok(Err(ReturnProblem::TooMany(index)));
                }
            }
            diesel::insert_into(tickets::table)
                .values((
                    tickets::id.eq(&id),
                    tickets::user_id.eq(user.to_string()),
                    tickets::kind.eq("return"),
                    tickets::subject.eq(&subject),
                    tickets::order_id.eq(Some(order.order_id.to_string())),
                    tickets::status.eq("open"),
                    tickets::priority.eq("normal"),
                    tickets::return_status.eq(Some("requested")),
                    tickets::created_at.eq(now),
                    tickets::updated_at.eq(now),
                ))
                .execute(conn)?;
            for line in &lines {
                let bought = order.lines.iter().find(|l| l.product_id == line.product_id);
                let price = bought.map(|b| b.unit_price).unwrap_or(order.total);
                diesel::insert_into(return_lines::table)
                    .values((
                        return_lines::ticket_id.eq(&id),
                        return_lines::order_id.eq(order.order_id.to_string()),
                        return_lines::product_id.eq(line.product_id.to_string()),
                        return_lines::quantity.eq(line.quantity),
                        return_lines::reason.eq(&line.reason),
                        return_lines::unit_price.eq(price.amount),
                        return_lines::currency.eq(price.currency.code()),
                    ))
                    .execute(conn)?;
            }
            self.post(conn, &id, Actor::Customer(user), &body, false)?;
            self.outbox()
                .record(conn, &TicketOpened { ticket_id: id.clone(), user_id: user, kind: "return".into() })?;
            self.outbox()
                .record(conn, &ReturnRequested { ticket_id: id.clone(), order_id: order.order_id, user_id: user })?;
            Ok::<_, SupportError>(Ok(()))
        })?;
        match outcome {
            Ok(()) => Ok(Ok(self.view(&id, Actor::Customer(user))?)),
            Err(problem) => Ok(Err(problem)),
        }
    }

    fn return_lines(
        &self,
        conn: &mut kernel::db::DbConn,
        id: &str,
    ) -> Result<(OrderId, Vec<ReturnLine>), SupportError> {
        let rows: Vec<(String, String, i64, i64, String)> = return_lines::table
            .filter(return_lines::ticket_id.eq(id))
            .select((
                return_lines::order_id,
                return_lines::product_id,
                return_lines::quantity,
                return_lines::unit_price,
                return_lines::currency,
            ))
            .load(conn)?;
        let corrupt = || SupportError::Internal("stored return line".into());
        let order = rows
            .first()
            .map(|r| OrderId::parse(&r.0))
            .transpose()
            .map_err(|_| corrupt())?
            .ok_or(SupportError::NotFound)?;
        let lines = rows
            .into_iter()
            .map(|(_, product, quantity, price, currency)| {
                Ok(ReturnLine {
                    product_id: ProductId::parse(&product).map_err(|_| corrupt())?,
                    quantity,
                    unit_price: Money::new(price, Currency::parse(&currency).map_err(|_| corrupt())?),
                })
            })
            .collect::<Result<_, SupportError>>()?;
        Ok((order, lines))
    }

    /// Requested → approved (starting the return saga). Approving again does
    /// nothing; a rejected return cannot be approved.
    pub fn approve_return(&self, id: &str, agent: UserId) -> Result<Ticket, SupportError> {
        let mut conn = self.database().conn()?;
        self.outbox().transaction(&mut conn, |conn| {
            let status: Option<String> = tickets::table
                .find(id)
                .select(tickets::return_status)
                .first(conn)
                .optional()?
                .ok_or(SupportError::NotFound)?;
            match status.as_deref() {
                Some("requested") => {}
                Some("approved") | Some("completed") => return Ok(()),
                Some(other) => {
                    return Err(SupportError::IllegalTransition { from: other.into(), to: "approved".into() });
                }
                None => return Err(SupportError::NotFound),
            }
            let (order_id, lines) = self.return_lines(conn, id)?;
            let currency = lines.first().map(|l| l.unit_price.currency).ok_or(SupportError::NotFound)?;
            let amount = lines
                .iter()
                .try_fold(Money::zero(currency), |sum, l| {
                    l.unit_price.checked_mul(l.quantity).and_then(|m| sum.checked_add(m))
                })
                .map_err(|e| SupportError::Internal(e.to_string()))?;
            diesel::update(tickets::table.find(id)).set(tickets::return_status.eq(Some("approved"))).execute(conn)?;
            self.post(
                conn,
                id,
                Actor::Agent(agent),
                &format!("Your return is approved: {amount} will be refunded."),
                false,
            )?;
            self.outbox().record(conn, &ReturnApproved { ticket_id: id.to_owned(), order_id, lines, amount })?;
            Ok(())
        })?;
        self.view(id, Actor::Agent(agent))
    }

    pub fn reject_return(&self, id: &str, agent: UserId, reason: &str) -> Result<Ticket, SupportError> {
        let mut conn = self.database().conn()?;
        self.outbox().transaction(&mut conn, |conn| {
            let status: Option<String> = tickets::table
                .find(id)
                .select(tickets::return_status)
                .first(conn)
                .optional()?
                .ok_or(SupportError::NotFound)?;
            match status.as_deref() {
                Some("requested") => {}
                Some("rejected") => return Ok(()),
                Some(other) => {
                    return Err(SupportError::IllegalTransition { from: other.into(), to: "rejected".into() });
                }
                None => return Err(SupportError::NotFound),
            }
            let (order_id, _) = self.return_lines(conn, id)?;
            diesel::update(tickets::table.find(id)).set(tickets::return_status.eq(Some("rejected"))).execute(conn)?;
            self.post(conn, id, Actor::Agent(agent), &format!("Your return was not accepted: {reason}"), false)?;
            self.outbox()
                .record(conn, &ReturnRejected { ticket_id: id.to_owned(), order_id, reason: reason.to_owned() })?;
            Ok(())
        })?;
        self.view(id, Actor::Agent(agent))
    }

    fn finish_return(&self, id: &str, to: &str, message: &str, internal: bool) -> Result<(), SupportError> {
        let mut conn = self.database().conn()?;
        self.outbox().transaction(&mut conn, |conn| {
            let status: Option<String> = tickets::table
                .find(id)
                .select(tickets::return_status)
                .first(conn)
                .optional()?
                .ok_or(SupportError::NotFound)?;
            if status.as_deref() != Some("approved") {
                return Ok(());
            }
            diesel::update(tickets::table.find(id))
                .set((tickets::return_status.eq(Some(to)), tickets::needs_attention.eq(to == "failed")))
                .execute(conn)?;
            self.post(conn, id, Actor::System, message, internal)?;
            Ok(())
        })
    }
}

/// The in-process `SupportApi` the return saga calls.
pub struct InProcessSupportApi {
    service: Arc<SupportService>,
}

impl InProcessSupportApi {
    pub fn new(service: Arc<SupportService>) -> Self {
        Self { service }
    }
}

#[async_trait::async_trait]
impl SupportApi for InProcessSupportApi {
    async fn return_completed(&self, ticket_id: String, refunded: Money) -> Result<(), SupportApiError> {
        let service = self.service.clone();
        actix_web::web::block(move || {
            service.finish_return(
                &ticket_id,
                "completed",
                &format!("Refunded {refunded}; the items are back in stock."),
                false,
            )
        })
        .await
        .map_err(|e| SupportApiError::Transient(e.to_string()))?
        .map_err(|e| SupportApiError::Transient(e.to_string()))
    }

    async fn return_failed(&self, ticket_id: String, reason: String) -> Result<(), SupportApiError> {
        let service = self.service.clone();
        actix_web::web::block(move || {
            service.finish_return(&ticket_id, "failed", &format!("The return could not be completed: {reason}"), true)
        })
        .await
        .map_err(|e| SupportApiError::Transient(e.to_string()))?
        .map_err(|e| SupportApiError::Transient(e.to_string()))
    }
}
