//! The OpenAPI document, assembled from every context's annotated routes.

use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tienda",
        description = "A shop as a modular monolith: users, catalog, orders, support and orchestration. \
            Errors are `application/problem+json` (RFC 9457) with a stable `code`.",
        license(name = "MIT OR Apache-2.0"),
    ),
    paths(
        crate::server::live,
        crate::server::ready,
        crate::metrics::metrics,
        crate::events_admin::dead_letters,
        crate::events_admin::replay_event
    ),
    components(schemas(kernel::http::Problem, kernel::http::FieldError)),
    tags(
        (name = "operations", description = "Health checks and metrics"),
        (name = "admin", description = "Administration (role `admin`)"),
    ),
)]
struct ShopApi;

/// The whole document: the shop's own paths plus each context's.
pub fn api_doc() -> utoipa::openapi::OpenApi {
    let mut doc = ShopApi::openapi();
    doc.merge(users::UsersOpenApi::openapi());
    doc.merge(catalog::CatalogOpenApi::openapi());
    doc.merge(orders::OrdersOpenApi::openapi());
    doc.merge(orchestration::http::OrchestrationOpenApi::openapi());
    doc.merge(support::http::SupportOpenApi::openapi());
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
    );
    doc
}
