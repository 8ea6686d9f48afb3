//! The HTTP server: cross-cutting middleware, every context's routes, the
//! OpenAPI document and the operational endpoints.

use crate::metrics::MetricsSources;
use crate::openapi::api_doc;
use crate::wiring::Shop;
use actix_web::dev::{Server, Service};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::ErrorHandlers;
use actix_web::{App, HttpMessage, HttpResponse, HttpServer, web};
use kernel::db::ContextDatabase;
use kernel::http::ApiError;
use kernel::http::{json_config, path_config, problem_for_bare_errors, query_config, route_not_found};
use serde::Serialize;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;
use tracing_actix_web::{RequestId, TracingLogger};
use utoipa_swagger_ui::SwaggerUi;

/// Databases reported by the readiness check.
#[derive(Clone)]
pub struct Databases(Vec<ContextDatabase>);

/// Binds the shop's HTTP server to `listener`; the returned server must be
/// awaited (or spawned) to run. SIGTERM/SIGINT start a graceful shutdown.
pub fn build(shop: Arc<Shop>, listener: TcpListener) -> std::io::Result<Server> {
    let users = web::Data::from(shop.users.clone());
    let catalog = web::Data::from(shop.catalog.clone());
    let carts = web::Data::from(shop.carts.clone());
    let orders = web::Data::from(shop.orders.clone());
    let sagas = web::Data::new(orchestration::http::SagaAdmin(shop.sagas_db.clone()));
    let support = web::Data::from(shop.support.clone());
    let return_window =
        web::Data::new(support::http::ReturnWindow(chrono::Duration::days(shop.settings.support.return_window_days)));
    let neighbours =
        web::Data::new(support::http::Neighbours { users: shop.users_api.clone(), orders: shop.orders_api.clone() });
    let checkout_wait =
        web::Data::new(orders::http::CheckoutWait(std::time::Duration::from_millis(shop.settings.checkout.wait_ms)));
    let authenticator = web::Data::new(shop.authenticator());
    let databases = web::Data::new(Databases(shop.databases.clone()));
    let metrics = web::Data::new(MetricsSources::from_relays(&shop.relays, shop.clock.clone()));
    let shop_data = web::Data::from(shop.clone());
    let openapi = api_doc();
    let workers = match shop.settings.workers {
        0 => std::thread::available_parallelism().map(usize::from).unwrap_or(2),
        n => n,
    };
    let server = HttpServer::new(move || {
        App::new()
            .app_data(json_config())
            .app_data(path_config())
            .app_data(query_config())
            .app_data(web::PayloadConfig::new(kernel::http::MAX_JSON_BODY))
            .app_data(users.clone())
            .app_data(catalog.clone())
            .app_data(carts.clone())
            .app_data(orders.clone())
            .app_data(sagas.clone())
            .app_data(support.clone())
            .app_data(neighbours.clone())
            .app_data(return_window.clone())
            .app_data(checkout_wait.clone())
            .app_data(authenticator.clone())
            .app_data(databases.clone())
            .app_data(metrics.clone())
            .app_data(shop_data.clone())
            .wrap(ErrorHandlers::new().default_handler(problem_for_bare_errors))
            .wrap_fn(|req, srv| {
                let request_id = req.extensions().get::<RequestId>().map(|id| id.to_string());
                let response = srv.call(req);
                async move {
                    let mut response = response.await?;
                    if let Some(id) = request_id.and_then(|id| HeaderValue::from_str(&id).ok()) {
                        response.headers_mut().insert(HeaderName::from_static("x-request-id"), id);
                    }
                    Ok(response)
                }
            })
            .wrap(TracingLogger::default())
            .service(web::resource("/health/live").route(web::get().to(live)))
            .service(web::resource("/health/ready").route(web::get().to(ready)))
            .service(web::resource("/metrics").route(web::get().to(crate::metrics::metrics)))
            .service(web::redirect("/api/docs", "/api/docs/"))
            .service(SwaggerUi::new("/api/docs/{_:.*}").url("/api/openapi.json", openapi.clone()))
            .configure(users::configure)
            .configure(catalog::configure)
            .configure(orders::configure)
            .configure(orchestration::http::configure)
            .configure(support::http::configure)
            .configure(crate::events_admin::configure)
            .default_service(web::to(route_not_found))
    })
    .workers(workers)
    .shutdown_timeout(shop.settings.shutdown_timeout_secs)
    .listen(listener)?
    .run();
    Ok(server)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Liveness {
    pub status: &'static str,
}

/// The process is up and serving.
#[utoipa::path(get, path = "/health/live", tag = "operations",
    responses((status = 200, description = "Alive", body = Liveness)))]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(Liveness { status: "ok" })
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ContextHealth {
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// `ready`.
    pub status: &'static str,
    /// Each context's database: `up`.
    pub contexts: std::collections::BTreeMap<String, ContextHealth>,
}

/// The 503 answer: a problem document naming each context's state.
#[derive(Serialize, utoipa::ToSchema)]
pub struct NotReadyProblem {
    #[serde(flatten)]
    pub problem: kernel::http::Problem,
    /// Each context's database: `up`, or `down` with the reason.
    pub contexts: std::collections::BTreeMap<String, ContextHealth>,
}

/// Every context's database answers.
#[utoipa::path(get, path = "/health/ready", tag = "operations",
    responses(
        (status = 200, description = "Every context's database answers", body = Readiness),
        (status = 503, description = "At least one is down; the body names it", body = NotReadyProblem, content_type = "application/problem+json"),
    ))]
pub async fn ready(databases: web::Data<Databases>) -> HttpResponse {
    // `web::block` starts its work at once, so the checks run concurrently.
    let pending: Vec<_> = databases
        .0
        .iter()
        .cloned()
        .map(|db| (db.context(), web::block(move || db.ping_within(Duration::from_secs(2)))))
        .collect();
    let mut contexts = std::collections::BTreeMap::new();
    for (context, check) in pending {
        let health = match check.await {
            Ok(Ok(())) => ContextHealth { status: "up", error: None },
            Ok(Err(error)) => ContextHealth { status: "down", error: Some(error.to_string()) },
            Err(error) => ContextHealth { status: "down", error: Some(error.to_string()) },
        };
        if let Some(error) = &health.error {
            tracing::warn!(context, error = %error, "context database is down");
        }
        contexts.insert(context.to_owned(), health);
    }
    let down: Vec<&str> =
        contexts.iter().filter(|(_, health)| health.status != "up").map(|(name, _)| name.as_str()).collect();
    if down.is_empty() {
        return HttpResponse::Ok().json(Readiness { status: "ready", contexts });
    }
    let problem = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", "Not ready")
        .with_detail(format!("database unavailable: {}", down.join(", ")))
        .problem();
    let body = serde_json::to_vec(&NotReadyProblem { problem, contexts }).unwrap_or_default();
    HttpResponse::ServiceUnavailable().content_type(kernel::http::PROBLEM_JSON).body(body)
}
