//! Operators' view of sagas: `GET /api/v1/admin/sagas`, `GET …/{id}`.

use crate::runner::{self, SagaRow, SagaView, utc};
use actix_web::{HttpResponse, web};
use kernel::auth::{Authenticated, Role};
use kernel::db::{ContextDatabase, DbError};
use kernel::http::{ApiError, Problem, blocking, cursor};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The orchestration database, for the admin routes.
pub struct SagaAdmin(pub ContextDatabase);

#[derive(Debug, Serialize, ToSchema)]
pub struct SagaBody {
    pub id: String,
    /// `checkout`.
    pub kind: String,
    pub order_id: String,
    /// running, compensating, completed, failed.
    pub state: String,
    /// The step it is at (or ended on).
    pub step: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl From<SagaRow> for SagaBody {
    fn from(row: SagaRow) -> Self {
        Self {
            id: row.id,
            kind: row.kind,
            order_id: row.order_id,
            state: row.state,
            step: row.step,
            attempts: row.attempts,
            last_error: row.last_error,
            created_at: utc(row.created_at),
            updated_at: utc(row.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StepBody {
    pub step: String,
    /// ok, failed (compensation starts), retry.
    pub outcome: String,
    pub detail: Option<String>,
    pub at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SagaDetail {
    #[serde(flatten)]
    pub saga: SagaBody,
    pub steps: Vec<StepBody>,
}

impl From<SagaView> for SagaDetail {
    fn from(view: SagaView) -> Self {
        Self {
            saga: view.saga.into(),
            steps: view
                .steps
                .into_iter()
                .map(|s| StepBody { step: s.step, outcome: s.outcome, detail: s.detail, at: utc(s.at) })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SagaList {
    pub items: Vec<SagaBody>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SagaQuery {
    /// running, compensating, completed or failed.
    pub state: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

fn db_error(error: DbError) -> ApiError {
    match error {
        DbError::Query(error) => ApiError::internal(error),
        other => ApiError::unavailable(other),
    }
}

#[utoipa::path(
    get, path = "/api/v1/admin/sagas", tag = "admin",
    security(("bearer" = [])),
    params(SagaQuery),
    responses(
        (status = 200, description = "Sagas, newest first", body = SagaList),
        (status = 400, description = "Invalid cursor", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown state or invalid limit", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    admin: web::Data<SagaAdmin>,
    Authenticated(principal): Authenticated,
    query: web::Query<SagaQuery>,
) -> Result<HttpResponse, ApiError> {
    principal.require_role(&[Role::Admin])?;
    let query = query.into_inner();
    if let Some(state) = &query.state
        && ![runner::RUNNING, runner::COMPENSATING, runner::COMPLETED, runner::FAILED].contains(&state.as_str())
    {
        return Err(ApiError::invalid_field("state", "invalid_state", "running, compensating, completed or failed"));
    }
    let limit = cursor::limit(query.limit)? as i64;
    let before = query.cursor.as_deref().map(cursor::decode).transpose()?;
    let admin = admin.into_inner();
    let state = query.state.clone();
    let rows = blocking(move || {
        let mut conn = admin.0.conn().map_err(db_error)?;
        runner::list_sagas(&mut conn, state.as_deref(), before.as_deref(), limit + 1).map_err(ApiError::internal)
    })
    .await?;
    let more = rows.len() as i64 > limit;
    let items: Vec<SagaBody> = rows.into_iter().take(limit as usize).map(SagaBody::from).collect();
    let next_cursor = if more { items.last().map(|s| cursor::encode(&s.id)) } else { None };
    Ok(HttpResponse::Ok().json(SagaList { items, next_cursor }))
}

#[utoipa::path(
    get, path = "/api/v1/admin/sagas/{id}", tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Saga id")),
    responses(
        (status = 200, description = "The saga with its step log", body = SagaDetail),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown saga", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn detail(
    admin: web::Data<SagaAdmin>,
    Authenticated(principal): Authenticated,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    principal.require_role(&[Role::Admin])?;
    let id = path.into_inner().to_string();
    let admin = admin.into_inner();
    let view = blocking(move || {
        let mut conn = admin.0.conn().map_err(db_error)?;
        runner::saga(&mut conn, &id).map_err(ApiError::internal)
    })
    .await?
    .ok_or_else(|| ApiError::not_found("saga"))?;
    Ok(HttpResponse::Ok().json(SagaDetail::from(view)))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/v1/admin/sagas").route(web::get().to(list)))
        .service(web::resource("/api/v1/admin/sagas/{id}").route(web::get().to(detail)));
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(list, detail))]
pub struct OrchestrationOpenApi;
