//! The support context's HTTP edge.

use crate::domain::{Kind, Status};
use crate::service::{
    Actor, MessageRow, QueueFilter, SupportError, SupportService, Ticket, TicketChanges, TicketRow, utc,
};
use actix_web::{HttpResponse, web};
use kernel::auth::{Authenticated, Principal, Role};
use kernel::http::{ApiError, FieldErrors, Problem, ValidatedJson, blocking, cursor};
use kernel::{OrderId, UserId};
use orders_api::OrdersApi;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use users_api::UsersApi;
use utoipa::ToSchema;
use validator::Validate;

impl From<SupportError> for ApiError {
    fn from(error: SupportError) -> Self {
        match error {
            SupportError::NotFound => ApiError::not_found("ticket"),
            SupportError::IllegalTransition { from, to } => {
                ApiError::conflict("illegal_transition", format!("the ticket is {from}; it cannot become {to}"))
            }
            SupportError::Closed => ApiError::conflict("ticket_closed", "the ticket is closed"),
            SupportError::NotRated(detail) => ApiError::conflict("cannot_rate", detail),
            SupportError::Unavailable(cause) => ApiError::unavailable(cause),
            SupportError::Internal(cause) => ApiError::internal(cause),
        }
    }
}

/// The other contexts support composes its answers from.
pub struct Neighbours {
    pub users: Arc<dyn UsersApi>,
    pub orders: Arc<dyn OrdersApi>,
}

fn is_agent(principal: &Principal) -> bool {
    principal.has_role(Role::SupportAgent) || principal.has_role(Role::Admin)
}

fn actor(principal: &Principal) -> Actor {
    if is_agent(principal) { Actor::Agent(principal.user_id) } else { Actor::Customer(principal.user_id) }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenTicket {
    /// inquiry, return, complaint or feedback.
    #[validate(required)]
    pub kind: Option<String>,
    #[validate(required, length(min = 1, max = 200))]
    pub subject: Option<String>,
    #[validate(required, length(min = 1, max = 10000))]
    pub body: Option<String>,
    pub order_id: Option<OrderId>,
    /// For `return` tickets: what comes back.
    pub lines: Option<Vec<ReturnLineRequest>>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnLineRequest {
    pub product_id: kernel::ProductId,
    pub quantity: i64,
    pub reason: String,
}

/// How long after delivery a return can be asked for.
#[derive(Debug, Clone, Copy)]
pub struct ReturnWindow(pub chrono::Duration);

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectReturn {
    #[validate(required, length(min = 1, max = 500))]
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    #[validate(required, length(min = 1, max = 10000))]
    pub body: Option<String>,
    /// Agents only: a note the customer never sees.
    pub internal: Option<bool>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTicket {
    pub status: Option<String>,
    /// low, normal, high, urgent.
    pub priority: Option<String>,
    /// `null` unassigns.
    #[serde(default, deserialize_with = "kernel::http::double_option")]
    #[schema(value_type = Option<UserId>)]
    pub assignee_id: Option<Option<UserId>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageBody {
    pub id: String,
    /// customer, agent or system (the shop reporting on a return).
    pub author: String,
    pub body: String,
    pub internal: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl From<MessageRow> for MessageBody {
    fn from(m: MessageRow) -> Self {
        Self { id: m.id, author: m.author, body: m.body, internal: m.internal, created_at: utc(m.created_at) }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TicketBody {
    pub id: String,
    pub kind: String,
    pub subject: String,
    pub order_id: Option<String>,
    pub status: String,
    pub priority: String,
    pub assignee_id: Option<String>,
    /// For returns: requested, approved, rejected, completed, failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_status: Option<String>,
    /// An agent should look (a return that could not be completed).
    pub needs_attention: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<MessageBody>>,
}

impl From<TicketRow> for TicketBody {
    fn from(row: TicketRow) -> Self {
        Self {
            id: row.id,
            kind: row.kind,
            subject: row.subject,
            order_id: row.order_id,
            status: row.status,
            priority: row.priority,
            assignee_id: row.assignee_id,
            return_status: row.return_status,
            needs_attention: row.needs_attention,
            created_at: utc(row.created_at),
            updated_at: utc(row.updated_at),
            messages: None,
        }
    }
}

impl From<Ticket> for TicketBody {
    fn from(ticket: Ticket) -> Self {
        Self { messages: Some(ticket.messages.into_iter().map(MessageBody::from).collect()), ..ticket.row.into() }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerSummary {
    pub display_name: String,
    pub email: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderSummaryBody {
    pub status: String,
    /// Minor units.
    pub total: i64,
    pub currency: String,
    pub lines: Vec<String>,
}

/// What an agent sees: the ticket, plus the customer and the order from their
/// contexts. Either may be `null` with a reason when its context did not answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentTicketBody {
    #[serde(flatten)]
    pub ticket: TicketBody,
    pub customer: Option<CustomerSummary>,
    pub order: Option<OrderSummaryBody>,
    /// What could not be composed, e.g. `["customer: the users context is unavailable"]`.
    pub unavailable: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TicketList {
    pub items: Vec<TicketBody>,
    pub next_cursor: Option<String>,
}

#[utoipa::path(
    post, path = "/api/v1/support/tickets", tag = "support",
    security(("bearer" = [])),
    request_body = OpenTicket,
    responses(
        (status = 201, description = "Opened", body = TicketBody),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The order is not the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown kind or invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The orders context could not confirm the order", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn open(
    support: web::Data<SupportService>,
    neighbours: web::Data<Neighbours>,
    window: web::Data<ReturnWindow>,
    Authenticated(principal): Authenticated,
    ValidatedJson(body): ValidatedJson<OpenTicket>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = FieldErrors::default();
    let kind = Kind::parse(body.kind.as_deref().unwrap_or_default());
    if kind.is_none() {
        errors.push("kind", "invalid_kind", "inquiry, return, complaint or feedback");
    }
    let is_return = kind == Some(Kind::Return);
    match (&body.lines, is_return) {
        (Some(lines), true) => {
            if lines.is_empty() || lines.len() > 50 {
                errors.push("lines", "required", "one to fifty lines");
            }
            for (index, line) in lines.iter().enumerate() {
                if line.quantity < 1 {
                    errors.push(format!("lines[{index}].quantity"), "range", "at least 1");
                }
                if line.reason.trim().is_empty() {
                    errors.push(format!("lines[{index}].reason"), "required", "say why it comes back");
                }
            }
            if body.order_id.is_none() {
                errors.push("order_id", "required", "a return names the order");
            }
        }
        (None, true) => errors.push("lines", "required", "a return lists what comes back"),
        (Some(_), false) => errors.push("lines", "not_allowed", "only return tickets have lines"),
        (None, false) => {}
    }
    errors.finish()?;
    let mut summary = None;
    if let Some(order) = body.order_id {
        let found = neighbours.orders.order_summary(order).await.map_err(ApiError::unavailable)?;
        match found {
            Some(found) if found.user_id == principal.user_id => summary = Some(found),
            _ => return Err(ApiError::not_found("order")),
        }
    }
    if let (true, Some(summary), Some(lines)) = (is_return, summary, body.lines.clone()) {
        let (subject, text) = (body.subject.clone().unwrap_or_default(), body.body.clone().unwrap_or_default());
        let lines = lines
            .into_iter()
            .map(|l| crate::returns::RequestedLine {
                product_id: l.product_id,
                quantity: l.quantity,
                reason: l.reason.trim().to_owned(),
            })
            .collect();
        let window = window.0;
        let support = support.into_inner();
        let user = principal.user_id;
        let outcome =
            blocking(move || support.request_return(user, &summary, subject.trim().to_owned(), text, lines, window))
                .await?;
        return match outcome {
            Ok(ticket) => Ok(HttpResponse::Created().json(TicketBody::from(ticket))),
            Err(crate::returns::ReturnProblem::NotDelivered) => {
                Err(ApiError::invalid_field("order_id", "order_not_delivered", "only delivered orders can be returned"))
            }
            Err(crate::returns::ReturnProblem::WindowClosed) => {
                Err(ApiError::invalid_field("order_id", "return_window_closed", "the return window has closed"))
            }
            Err(crate::returns::ReturnProblem::NotInOrder(index)) => Err(ApiError::invalid_field(
                &format!("lines[{index}].product_id"),
                "not_in_order",
                "the order has no such product",
            )),
            Err(crate::returns::ReturnProblem::TooMany(index)) => Err(ApiError::invalid_field(
                &format!("lines[{index}].quantity"),
                "too_many",
                "more than was bought, minus what is already being returned",
            )),
        };
    }
    let (kind, subject, text) = match (kind, body.subject, body.body) {
        (Some(kind), Some(subject), Some(text)) => (kind, subject.trim().to_owned(), text),
        _ => return Err(ApiError::internal("validated fields missing")),
    };
    let support = support.into_inner();
    let ticket = blocking(move || support.open(principal.user_id, kind, subject, text, body.order_id)).await?;
    Ok(HttpResponse::Created().json(TicketBody::from(ticket)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

#[utoipa::path(
    get, path = "/api/v1/support/tickets", tag = "support",
    security(("bearer" = [])),
    params(Page),
    responses(
        (status = 200, description = "The caller's tickets, newest first", body = TicketList),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn mine(
    support: web::Data<SupportService>,
    Authenticated(principal): Authenticated,
    query: web::Query<Page>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let limit = cursor::limit(query.limit)? as i64;
    let before = query.cursor.as_deref().map(cursor::decode).transpose()?;
    let support = support.into_inner();
    let rows = blocking(move || support.tickets_of(principal.user_id, before.as_deref(), limit + 1)).await?;
    Ok(HttpResponse::Ok().json(page(rows, limit)))
}

fn page(rows: Vec<TicketRow>, limit: i64) -> TicketList {
    let more = rows.len() as i64 > limit;
    let items: Vec<TicketBody> = rows.into_iter().take(limit as usize).map(TicketBody::from).collect();
    let next_cursor = if more { items.last().map(|t| cursor::encode(&t.id)) } else { None };
    TicketList { items, next_cursor }
}

#[utoipa::path(
    get, path = "/api/v1/support/tickets/{id}", tag = "support",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Ticket id")),
    responses(
        (status = 200, description = "The ticket and its messages; agents also get the customer and order summaries", body = AgentTicketBody),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such ticket of the caller's", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn view(
    support: web::Data<SupportService>,
    neighbours: web::Data<Neighbours>,
    Authenticated(principal): Authenticated,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner().to_string();
    let actor = actor(&principal);
    let support = support.into_inner();
    let ticket = blocking(move || support.view(&id, actor)).await?;
    if !is_agent(&principal) {
        return Ok(HttpResponse::Ok().json(TicketBody::from(ticket)));
    }
    // API composition: each neighbour may fail on its own.
    let mut unavailable = Vec::new();
    let customer = match UserId::parse(&ticket.row.user_id) {
        Ok(user) => match neighbours.users.user_summary(user).await {
            Ok(summary) => summary.map(|s| CustomerSummary { display_name: s.display_name, email: s.email }),
            Err(error) => {
                unavailable.push(format!("customer: {error}"));
                None
            }
        },
        Err(_) => None,
    };
    let order = match ticket.row.order_id.as_deref().and_then(|id| OrderId::parse(id).ok()) {
        Some(order) => match neighbours.orders.order_summary(order).await {
            Ok(summary) => summary.map(|s| OrderSummaryBody {
                status: s.status,
                total: s.total.amount,
                currency: s.total.currency.code().to_owned(),
                lines: s.lines.iter().map(|l| format!("{} × {}", l.quantity, l.name)).collect(),
            }),
            Err(error) => {
                unavailable.push(format!("order: {error}"));
                None
            }
        },
        None => None,
    };
    Ok(HttpResponse::Ok().json(AgentTicketBody { ticket: TicketBody::from(ticket), customer, order, unavailable }))
}

#[utoipa::path(
    post, path = "/api/v1/support/tickets/{id}/messages", tag = "support",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Ticket id")),
    request_body = NewMessage,
    responses(
        (status = 201, description = "Added; a customer's reply reopens a resolved ticket", body = TicketBody),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such ticket of the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The ticket is closed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Empty body, or a customer asking for an internal note", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn reply(
    support: web::Data<SupportService>,
    Authenticated(principal): Authenticated,
    path: web::Path<uuid::Uuid>,
    ValidatedJson(body): ValidatedJson<NewMessage>,
) -> Result<HttpResponse, ApiError> {
    let internal = body.internal.unwrap_or(false);
    if internal && !is_agent(&principal) {
        return Err(ApiError::invalid_field("internal", "agents_only", "only agents write internal notes"));
    }
    let id = path.into_inner().to_string();
    let actor = actor(&principal);
    let text = body.body.unwrap_or_default();
    let support = support.into_inner();
    let ticket = blocking(move || support.reply(&id, actor, &text, internal)).await?;
    Ok(HttpResponse::Created().json(TicketBody::from(ticket)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueueQuery {
    pub status: Option<String>,
    pub kind: Option<String>,
    /// `me` or `none`.
    pub assigned: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

#[utoipa::path(
    get, path = "/api/v1/support/queue", tag = "support",
    security(("bearer" = [])),
    params(QueueQuery),
    responses(
        (status = 200, description = "Tickets for agents, oldest first", body = TicketList),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a support agent", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown filter value", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn queue(
    support: web::Data<SupportService>,
    Authenticated(principal): Authenticated,
    query: web::Query<QueueQuery>,
) -> Result<HttpResponse, ApiError> {
    principal.require_role(&[Role::SupportAgent, Role::Admin])?;
    let query = query.into_inner();
    let mut errors = FieldErrors::default();
    let mut filter = QueueFilter::default();
    if let Some(status) = &query.status {
        filter.status = Status::parse(status);
        if filter.status.is_none() {
            errors.push("status", "invalid_status", "open, pending, resolved or closed");
        }
    }
    if let Some(kind) = &query.kind {
        filter.kind = Kind::parse(kind);
        if filter.kind.is_none() {
            errors.push("kind", "invalid_kind", "inquiry, return, complaint or feedback");
        }
    }
    match query.assigned.as_deref() {
        None => {}
        Some("me") => filter.assigned = Some(Some(principal.user_id)),
        Some("none") => filter.assigned = Some(None),
        Some(_) => errors.push("assigned", "invalid_assigned", "me or none"),
    }
    errors.finish()?;
    let limit = cursor::limit(query.limit)? as i64;
    let after = query.cursor.as_deref().map(cursor::decode).transpose()?;
    let support = support.into_inner();
    let rows = blocking(move || support.queue(&filter, after.as_deref(), limit + 1)).await?;
    Ok(HttpResponse::Ok().json(page(rows, limit)))
}

#[utoipa::path(
    patch, path = "/api/v1/support/tickets/{id}", tag = "support",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Ticket id")),
    request_body = UpdateTicket,
    responses(
        (status = 200, description = "Updated", body = TicketBody),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a support agent", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown ticket", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Illegal status transition", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown status or priority", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    support: web::Data<SupportService>,
    Authenticated(principal): Authenticated,
    path: web::Path<uuid::Uuid>,
    ValidatedJson(body): ValidatedJson<UpdateTicket>,
) -> Result<HttpResponse, ApiError> {
    principal.require_role(&[Role::SupportAgent, Role::Admin])?;
    let mut errors = FieldErrors::default();
    let status = body.status.as_deref().and_then(|s| {
        let parsed = Status::parse(s);
        if parsed.is_none() {
            errors.push("status", "invalid_status", "open, pending, resolved or closed");
        }
        parsed
    });
    if body.priority.as_deref().is_some_and(|p| !SupportService::is_priority(p)) {
        errors.push("priority", "invalid_priority", "low, normal, high or urgent");
    }
    errors.finish()?;
    let changes = TicketChanges { status, priority: body.priority, assignee: body.assignee_id };
    let id = path.into_inner().to_string();
    let support = support.into_inner();
    let row = blocking(move || support.update(&id, changes)).await?;
    Ok(HttpResponse::Ok().json(TicketBody::from(row)))
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingRequest {
    #[validate(required, range(min = 1, max = 5, code = "range", message = "between 1 and 5"))]
    pub score: Option<i32>,
    #[validate(length(max = 2000))]
    pub comment: Option<String>,
}

#[utoipa::path(
    post, path = "/api/v1/support/tickets/{id}/rating", tag = "support",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Ticket id")),
    request_body = RatingRequest,
    responses(
        (status = 204, description = "Rated"),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such ticket of the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not resolved yet, or already rated", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Score not 1–5", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn rate(
    support: web::Data<SupportService>,
    Authenticated(principal): Authenticated,
    path: web::Path<uuid::Uuid>,
    ValidatedJson(body): ValidatedJson<RatingRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner().to_string();
    let (score, comment) = (body.score.unwrap_or_default(), body.comment.unwrap_or_default());
    let support = support.into_inner();
    blocking(move || support.rate(principal.user_id, &id, score, comment.trim())).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatsBody {
    /// Open or pending tickets per kind.
    pub open_by_kind: std::collections::BTreeMap<String, i64>,
    pub median_first_response_seconds: Option<f64>,
    pub median_resolution_seconds: Option<f64>,
    pub average_rating: Option<f64>,
    pub ratings: i64,
}

#[utoipa::path(
    get, path = "/api/v1/admin/support/stats", tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Support statistics", body = StatsBody),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn stats(
    support: web::Data<SupportService>,
    Authenticated(principal): Authenticated,
) -> Result<HttpResponse, ApiError> {
    principal.require_role(&[Role::Admin])?;
    let support = support.into_inner();
    let stats = blocking(move || support.stats()).await?;
    Ok(HttpResponse::Ok().json(StatsBody {
        open_by_kind: stats.open_by_kind.into_iter().collect(),
        median_first_response_seconds: stats.median_first_response_seconds,
        median_resolution_seconds: stats.median_resolution_seconds,
        average_rating: stats.average_rating,
        ratings: stats.ratings,
    }))
}

#[utoipa::path(
    post, path = "/api/v1/support/tickets/{id}/return/approve", tag = "support",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Ticket id")),
    responses(
        (status = 200, description = "Approved (again: nothing more happens); the return saga refunds and restocks", body = TicketBody),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a support agent", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such return ticket", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already rejected", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn approve_return(
    support: web::Data<SupportService>,
    Authenticated(principal): Authenticated,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    principal.require_role(&[Role::SupportAgent, Role::Admin])?;
    let id = path.into_inner().to_string();
    let support = support.into_inner();
    let ticket = blocking(move || support.approve_return(&id, principal.user_id)).await?;
    Ok(HttpResponse::Ok().json(TicketBody::from(ticket)))
}

#[utoipa::path(
    post, path = "/api/v1/support/tickets/{id}/return/reject", tag = "support",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Ticket id")),
    request_body = RejectReturn,
    responses(
        (status = 200, description = "Rejected", body = TicketBody),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a support agent", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such return ticket", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already approved", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No reason", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn reject_return(
    support: web::Data<SupportService>,
    Authenticated(principal): Authenticated,
    path: web::Path<uuid::Uuid>,
    ValidatedJson(body): ValidatedJson<RejectReturn>,
) -> Result<HttpResponse, ApiError> {
    principal.require_role(&[Role::SupportAgent, Role::Admin])?;
    let id = path.into_inner().to_string();
    let reason = body.reason.unwrap_or_default();
    let support = support.into_inner();
    let ticket = blocking(move || support.reject_return(&id, principal.user_id, reason.trim())).await?;
    Ok(HttpResponse::Ok().json(TicketBody::from(ticket)))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/v1/support/tickets").route(web::post().to(open)).route(web::get().to(mine)))
        .service(
            web::resource("/api/v1/support/tickets/{id}").route(web::get().to(view)).route(web::patch().to(update)),
        )
        .service(web::resource("/api/v1/support/tickets/{id}/messages").route(web::post().to(reply)))
        .service(web::resource("/api/v1/support/tickets/{id}/rating").route(web::post().to(rate)))
        .service(web::resource("/api/v1/support/tickets/{id}/return/approve").route(web::post().to(approve_return)))
        .service(web::resource("/api/v1/support/tickets/{id}/return/reject").route(web::post().to(reject_return)))
        .service(web::resource("/api/v1/support/queue").route(web::get().to(queue)))
        .service(web::resource("/api/v1/admin/support/stats").route(web::get().to(stats)));
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(open, mine, view, reply, queue, update, rate, stats, approve_return, reject_return), tags((name = "support", description = "Tickets and the agents' queue")))]
pub struct SupportOpenApi;
