//! Operators' view of every context's dead letters, over HTTP (admin only)
//! and shared with the `tienda events` commands.

use crate::wiring::Shop;
use actix_web::{HttpResponse, web};
use kernel::auth::{Authenticated, Role};
use kernel::db::DbError;
use kernel::events::admin::{self, DeadLetter};
use kernel::http::{ApiError, Problem, blocking};
use serde::Serialize;
use std::sync::Arc;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ContextDeadLetter {
    /// The context whose outbox holds the event.
    pub context: &'static str,
    #[serde(flatten)]
    pub dead_letter: DeadLetter,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeadLetterList {
    pub items: Vec<ContextDeadLetter>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Replayed {
    pub event_id: String,
    /// Deliveries put back in the queue.
    pub replayed: usize,
}

/// Dead letters of every context that publishes events.
pub fn list_dead_letters(shop: &Shop) -> Result<Vec<ContextDeadLetter>, DbError> {
    let mut all = Vec::new();
    for relay in &shop.relays {
        let mut conn = relay.db.conn()?;
        for dead_letter in admin::dead_letters(&mut conn)? {
            all.push(ContextDeadLetter { context: relay.context, dead_letter });
        }
    }
    Ok(all)
}

/// Requeues the dead deliveries of one event, wherever it lives, and wakes
/// nothing: the next sweep picks them up.
pub fn replay(shop: &Shop, event_id: &str) -> Result<usize, DbError> {
    let mut replayed = 0;
    for relay in &shop.relays {
        let mut conn = relay.db.conn()?;
        replayed += admin::replay(&mut conn, event_id, shop.clock.now())?;
    }
    Ok(replayed)
}

fn db_error(error: DbError) -> ApiError {
    match error {
        DbError::Query(error) => ApiError::internal(error),
        other => ApiError::unavailable(other),
    }
}

#[utoipa::path(
    get, path = "/api/v1/admin/events/dead-letters", tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every dead-lettered delivery, oldest first", body = DeadLetterList),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn dead_letters(
    shop: web::Data<Shop>,
    Authenticated(principal): Authenticated,
) -> Result<HttpResponse, ApiError> {
    principal.require_role(&[Role::Admin])?;
    let shop: Arc<Shop> = shop.into_inner();
    let items = blocking(move || list_dead_letters(&shop).map_err(db_error)).await?;
    Ok(HttpResponse::Ok().json(DeadLetterList { items, next_cursor: None }))
}

#[utoipa::path(
    post, path = "/api/v1/admin/events/{event_id}/replay", tag = "admin",
    security(("bearer" = [])),
    params(("event_id" = String, Path, description = "The dead-lettered event's id")),
    responses(
        (status = 202, description = "Its dead deliveries are queued again", body = Replayed),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No dead letter has this event id", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn replay_event(
    shop: web::Data<Shop>,
    Authenticated(principal): Authenticated,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    principal.require_role(&[Role::Admin])?;
    let event_id = path.into_inner().to_string();
    let shop: Arc<Shop> = shop.into_inner();
    let id = event_id.clone();
    let replayed = blocking(move || replay(&shop, &id).map_err(db_error)).await?;
    if replayed == 0 {
        return Err(ApiError::not_found("dead letter"));
    }
    Ok(HttpResponse::Accepted().json(Replayed { event_id, replayed }))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/v1/admin/events/dead-letters").route(web::get().to(dead_letters)))
        .service(web::resource("/api/v1/admin/events/{event_id}/replay").route(web::post().to(replay_event)));
}
