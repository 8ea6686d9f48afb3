//! The orders context's HTTP edge (carts so far).

use crate::cart::{CartError, CartOwner, CartService, MAX_QUANTITY, PricedCart};
use crate::orders::{KeyState, Order, OrderError, OrderService, ShippingAddress};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use kernel::OrderId;
use kernel::ProductId;
use kernel::auth::Authenticated;
use kernel::auth::MaybeAuthenticated;
use kernel::http::{ApiError, Problem, ValidatedJson, blocking};
use kernel::http::{FieldErrors, cursor};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

/// The header a guest cart's token travels in, both ways.
pub const CART_TOKEN_HEADER: &str = "x-cart-token";

impl From<CartError> for ApiError {
    fn from(error: CartError) -> Self {
        match error {
            CartError::UnknownToken => ApiError::not_found("cart"),
            CartError::NotForSale(_) => {
                ApiError::invalid_field("product_id", "unknown_product", "no product for sale has this id")
            }
            CartError::InvalidQuantity => {
                ApiError::invalid_field("quantity", "range", format!("must be between 1 and {MAX_QUANTITY}"))
            }
            CartError::CatalogUnavailable(cause) => ApiError::unavailable(cause),
            CartError::Unavailable(cause) => ApiError::unavailable(cause),
            CartError::Internal(cause) => ApiError::internal(cause),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MoneyBody {
    pub amount: i64,
    pub currency: String,
}

impl From<kernel::Money> for MoneyBody {
    fn from(money: kernel::Money) -> Self {
        Self { amount: money.amount, currency: money.currency.code().to_owned() }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CartLineBody {
    pub product_id: ProductId,
    /// `null` when the product no longer exists.
    pub name: Option<String>,
    pub sku: Option<String>,
    /// The catalog's current price.
    pub unit_price: Option<MoneyBody>,
    pub quantity: i64,
    pub line_total: Option<MoneyBody>,
    /// Units the catalog can still sell.
    pub available: i64,
    /// For sale, with enough available for this line.
    pub in_stock: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CartBody {
    pub lines: Vec<CartLineBody>,
    /// `null` for an empty cart.
    pub total: Option<MoneyBody>,
    /// Every line can be bought as it is.
    pub checkout_ready: bool,
    /// Only when this request created a guest cart: send it back as `X-Cart-Token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cart_token: Option<String>,
}

impl From<PricedCart> for CartBody {
    fn from(cart: PricedCart) -> Self {
        Self {
            lines: cart
                .lines
                .into_iter()
                .map(|line| CartLineBody {
                    product_id: line.product_id,
                    in_stock: line.product.as_ref().is_some_and(|p| p.active && p.available >= line.quantity),
                    available: line.product.as_ref().map_or(0, |p| p.available),
                    name: line.product.as_ref().map(|p| p.name.clone()),
                    sku: line.product.as_ref().map(|p| p.sku.clone()),
                    unit_price: line.product.as_ref().map(|p| p.price.into()),
                    quantity: line.quantity,
                    line_total: line.line_total.map(MoneyBody::from),
                })
                .collect(),
            total: cart.total.map(MoneyBody::from),
            checkout_ready: cart.checkout_ready,
            cart_token: cart.issued_token,
        }
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetQuantity {
    #[validate(required, range(min = 1, max = 99, code = "range", message = "must be between 1 and 99"))]
    pub quantity: Option<i64>,
}

fn owner(req: &HttpRequest, principal: MaybeAuthenticated) -> Result<CartOwner, ApiError> {
    let guest_token = match req.headers().get(CART_TOKEN_HEADER) {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .filter(|token| !token.is_empty() && token.len() <= 100)
                .ok_or_else(|| ApiError::bad_request("invalid_cart_token", "X-Cart-Token is not a cart token"))?
                .to_owned(),
        ),
    };
    Ok(CartOwner { customer: principal.0.map(|p| p.user_id), guest_token })
}

fn respond(cart: PricedCart) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    if let Some(token) = cart.issued_token.as_deref().and_then(|t| HeaderValue::from_str(t).ok()) {
        response.insert_header((HeaderName::from_static(CART_TOKEN_HEADER), token));
    }
    response.json(CartBody::from(cart))
}

#[utoipa::path(
    get, path = "/api/v1/cart", tag = "cart",
    params(("X-Cart-Token" = Option<String>, Header, description = "A guest cart's token")),
    responses(
        (status = 200, description = "The cart, priced by the catalog now", body = CartBody),
        (status = 401, description = "An Authorization header that is not valid", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown cart token", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_cart(
    req: HttpRequest,
    service: web::Data<CartService>,
    principal: MaybeAuthenticated,
) -> Result<HttpResponse, ApiError> {
    let owner = owner(&req, principal)?;
    let service = service.into_inner();
    let reader = service.clone();
    let stored = blocking(move || reader.stored(&owner)).await?;
    Ok(respond(service.price(stored).await?))
}

#[utoipa::path(
    put, path = "/api/v1/cart/items/{product_id}", tag = "cart",
    params(
        ("product_id" = ProductId, Path, description = "Product id"),
        ("X-Cart-Token" = Option<String>, Header, description = "A guest cart's token"),
    ),
    request_body = SetQuantity,
    responses(
        (status = 200, description = "The cart; a new guest cart's token is in X-Cart-Token", body = CartBody),
        (status = 401, description = "An Authorization header that is not valid", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown cart token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Quantity out of 1–99, or the product is unknown or archived", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn set_item(
    req: HttpRequest,
    service: web::Data<CartService>,
    principal: MaybeAuthenticated,
    path: web::Path<ProductId>,
    ValidatedJson(body): ValidatedJson<SetQuantity>,
) -> Result<HttpResponse, ApiError> {
    let owner = owner(&req, principal)?;
    let product = path.into_inner();
    let quantity = body.quantity.unwrap_or_default();
    let service = service.into_inner();
    service.ensure_for_sale(product).await?;
    let writer = service.clone();
    let stored = blocking(move || writer.set_quantity(&owner, product, quantity)).await?;
    Ok(respond(service.price(stored).await?))
}

#[utoipa::path(
    delete, path = "/api/v1/cart/items/{product_id}", tag = "cart",
    params(
        ("product_id" = ProductId, Path, description = "Product id"),
        ("X-Cart-Token" = Option<String>, Header, description = "A guest cart's token"),
    ),
    responses(
        (status = 204, description = "The line is gone (or was never there)"),
        (status = 404, description = "Unknown cart token", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn remove_item(
    req: HttpRequest,
    service: web::Data<CartService>,
    principal: MaybeAuthenticated,
    path: web::Path<ProductId>,
) -> Result<HttpResponse, ApiError> {
    let owner = owner(&req, principal)?;
    let product = path.into_inner();
    let service = service.into_inner();
    blocking(move || service.remove_line(&owner, product)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    delete, path = "/api/v1/cart", tag = "cart",
    params(("X-Cart-Token" = Option<String>, Header, description = "A guest cart's token")),
    responses(
        (status = 204, description = "The cart is empty"),
        (status = 404, description = "Unknown cart token", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn clear_cart(
    req: HttpRequest,
    service: web::Data<CartService>,
    principal: MaybeAuthenticated,
) -> Result<HttpResponse, ApiError> {
    let owner = owner(&req, principal)?;
    let service = service.into_inner();
    blocking(move || service.clear(&owner)).await?;
    Ok(HttpResponse::NoContent().finish())
}

impl From<OrderError> for ApiError {
    fn from(error: OrderError) -> Self {
        match error {
            OrderError::NotFound => ApiError::not_found("order"),
            OrderError::EmptyCart => ApiError::conflict("cart_empty", "the cart is empty"),
            OrderError::CartNotReady => {
                ApiError::conflict("cart_not_ready", "a product in the cart is no longer for sale; review the cart")
            }
            OrderError::CartChanged => {
                ApiError::conflict("cart_changed", "the cart changed during checkout (another checkout took it)")
            }
            OrderError::Unavailable(cause) => ApiError::unavailable(cause),
            OrderError::Api(cause) => ApiError::unavailable(cause),
            OrderError::IllegalTransition { from, to } => {
                ApiError::conflict("illegal_transition", format!("the order is {from}; it cannot become {to}"))
            }
            OrderError::Internal(cause) => ApiError::internal(cause),
        }
    }
}

/// How long checkout waits for the saga before answering 202.
#[derive(Debug, Clone, Copy)]
pub struct CheckoutWait(pub std::time::Duration);

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentBody {
    /// A card token from the payment provider (sandbox: `tok_visa`, `tok_chargeDeclined`, …).
    pub token: String,
}

#[derive(Debug, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    #[validate(required)]
    pub shipping_address: Option<ShippingAddress>,
    #[validate(required)]
    pub payment: Option<PaymentBody>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderLineBody {
    pub product_id: kernel::ProductId,
    pub sku: String,
    /// As it was at checkout.
    pub name: String,
    pub unit_price: MoneyBody,
    pub quantity: i64,
    pub line_total: MoneyBody,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentStatusBody {
    /// pending, captured, failed, refunded.
    pub status: String,
    pub captured: MoneyBody,
    pub refunded: MoneyBody,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineBody {
    pub status: String,
    pub reason: Option<String>,
    pub at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderBody {
    pub id: OrderId,
    /// pending, confirmed, rejected, cancelling, cancelled, shipped, delivered.
    pub status: String,
    pub lines: Vec<OrderLineBody>,
    pub total: MoneyBody,
    pub payment: PaymentStatusBody,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejection_reason: Option<String>,
    pub shipping_address: ShippingAddress,
    pub timeline: Vec<TimelineBody>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl From<Order> for OrderBody {
    fn from(order: Order) -> Self {
        Self {
            id: order.id,
            status: order.status,
            lines: order
                .lines
                .into_iter()
                .map(|l| OrderLineBody {
                    product_id: l.product_id,
                    sku: l.sku,
                    name: l.name,
                    unit_price: l.unit_price.into(),
                    quantity: l.quantity,
                    line_total: l.line_total.into(),
                })
                .collect(),
            total: order.total.into(),
            payment: PaymentStatusBody {
                status: order.payment.status,
                captured: order.payment.captured.into(),
                refunded: order.payment.refunded.into(),
            },
            rejection_reason: order.rejection_reason,
            shipping_address: order.shipping_address,
            timeline: order
                .timeline
                .into_iter()
                .map(|t| TimelineBody { status: t.status, reason: t.reason, at: t.at })
                .collect(),
            created_at: order.created_at,
            updated_at: order.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderList {
    pub items: Vec<OrderBody>,
    pub next_cursor: Option<String>,
}

fn address_errors(errors: &mut FieldErrors, address: &ShippingAddress) {
    let fields = [
        ("shipping_address.recipient", &address.recipient, 100),
        ("shipping_address.line1", &address.line1, 200),
        ("shipping_address.city", &address.city, 100),
        ("shipping_address.postal_code", &address.postal_code, 20),
    ];
    for (field, value, max) in fields {
        let value = value.trim();
        if value.is_empty() {
            errors.push(field, "required", "must not be empty");
        } else if value.chars().count() > max || value.chars().any(char::is_control) {
            errors.push(field, "invalid", format!("at most {max} characters, no control characters"));
        }
    }
    let country = address.country.trim();
    if country.len() != 2 || !country.chars().all(|c| c.is_ascii_alphabetic()) {
        errors.push("shipping_address.country", "invalid_country", "an ISO 3166-1 alpha-2 code");
    }
}

fn request_hash(body: &CheckoutRequest) -> String {
    use sha2::{Digest, Sha256};
    let canonical = serde_json::to_string(body).unwrap_or_default();
    Sha256::digest(canonical.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn stored_response(status: u16, body: String, replayed: bool) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(status).unwrap_or(actix_web::http::StatusCode::OK);
    let content_type = if status.is_client_error() { kernel::http::PROBLEM_JSON } else { "application/json" };
    let mut response = HttpResponse::build(status);
    response.content_type(content_type);
    if replayed {
        response.insert_header((HeaderName::from_static("idempotent-replayed"), HeaderValue::from_static("true")));
    }
    response.body(body)
}

#[utoipa::path(
    post, path = "/api/v1/checkout", tag = "orders",
    security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "Unique per checkout attempt; a retry with the same key and body gets the same answer")),
    request_body = CheckoutRequest,
    responses(
        (status = 201, description = "The order in its final state (confirmed, or rejected with a reason)", body = OrderBody),
        (status = 202, description = "The order is still pending; poll its URL", body = OrderBody),
        (status = 400, description = "No Idempotency-Key, or a malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Empty or changed cart, or the same key still in flight", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, or the key was used with another body", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn checkout(
    req: HttpRequest,
    carts: web::Data<CartService>,
    orders: web::Data<OrderService>,
    wait: web::Data<CheckoutWait>,
    Authenticated(principal): Authenticated,
    ValidatedJson(body): ValidatedJson<CheckoutRequest>,
) -> Result<HttpResponse, ApiError> {
    let key = req
        .headers()
        .get("idempotency-key")
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|key| !key.is_empty() && key.len() <= 200)
        .ok_or_else(|| {
            ApiError::bad_request("missing_idempotency_key", "send an Idempotency-Key header (1–200 characters)")
        })?
        .to_owned();
    let mut errors = FieldErrors::default();
    if let Some(address) = &body.shipping_address {
        address_errors(&mut errors, address);
    }
    if body.payment.as_ref().is_some_and(|p| p.token.trim().is_empty()) {
        errors.push("payment.token", "required", "must not be empty");
    }
    errors.finish()?;
    let user = principal.user_id;
    let hash = request_hash(&body);
    let orders = orders.into_inner();
    let claim = {
        let (orders, key, hash) = (orders.clone(), key.clone(), hash.clone());
        blocking(move || orders.claim_key(user, &key, &hash)).await?
    };
    match claim {
        KeyState::Done { status, body } => return Ok(stored_response(status, body, true)),
        KeyState::Mismatch => {
            return Err(ApiError::invalid_field(
                "Idempotency-Key",
                "idempotency_key_reused",
                "this key was used for a different checkout",
            ));
        }
        KeyState::InFlight => {
            return Err(ApiError::conflict("idempotency_key_in_flight", "a checkout with this key is still running"));
        }
        KeyState::Fresh => {}
    }
    let outcome = place_and_wait(&carts.into_inner(), &orders, user, body, wait.0).await;
    let (status, text) = match &outcome {
        Ok((status, order)) => (*status, serde_json::to_string(order).unwrap_or_default()),
        Err(error) if error.status.is_client_error() => {
            (error.status.as_u16(), serde_json::to_string(&error.problem()).unwrap_or_default())
        }
        Err(_) => {
            // Our failure: forget the key so the client's retry runs again.
            let (orders, key) = (orders.clone(), key.clone());
            let _ = blocking(move || orders.release_key(user, &key)).await;
            return outcome.map(|_| HttpResponse::InternalServerError().finish());
        }
    };
    {
        let (orders, key, text) = (orders.clone(), key.clone(), text.clone());
        blocking(move || orders.finish_key(user, &key, status, &text)).await?;
    }
    let mut response = stored_response(status, text, false);
    if let Ok((_, order)) = &outcome
        && let Ok(location) = HeaderValue::from_str(&format!("/api/v1/orders/{}", order.id))
    {
        response.headers_mut().insert(actix_web::http::header::LOCATION, location);
    }
    Ok(response)
}

async fn place_and_wait(
    carts: &std::sync::Arc<CartService>,
    orders: &std::sync::Arc<OrderService>,
    user: kernel::UserId,
    body: CheckoutRequest,
    wait: std::time::Duration,
) -> Result<(u16, OrderBody), ApiError> {
    let owner = CartOwner { customer: Some(user), guest_token: None };
    let stored = {
        let (carts, owner) = (carts.clone(), owner.clone());
        blocking(move || carts.stored(&owner)).await?
    };
    let priced = carts.price(stored.clone()).await?;
    let (address, token) = match (body.shipping_address, body.payment) {
        (Some(address), Some(payment)) => (address, payment.token),
        _ => return Err(ApiError::internal("validated fields missing")),
    };
    let placed = {
        let orders = orders.clone();
        blocking(move || orders.place(user, &stored.id, &priced, address, token)).await?
    };
    let deadline = std::time::Instant::now() + wait;
    let mut order = placed;
    while !order.is_final() && std::time::Instant::now() < deadline {
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
        let (orders, id) = (orders.clone(), order.id);
        order = blocking(move || orders.order(id)).await?;
    }
    Ok((if order.is_final() { 201 } else { 202 }, OrderBody::from(order)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderListQuery {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

#[utoipa::path(
    get, path = "/api/v1/orders", tag = "orders",
    security(("bearer" = [])),
    params(OrderListQuery),
    responses(
        (status = 200, description = "The caller's orders, newest first", body = OrderList),
        (status = 400, description = "Invalid cursor", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_orders(
    orders: web::Data<OrderService>,
    Authenticated(principal): Authenticated,
    query: web::Query<OrderListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let limit = cursor::limit(query.limit)? as i64;
    let before = match &query.cursor {
        Some(text) => Some(
            OrderId::parse(&cursor::decode(text)?)
                .map_err(|_| ApiError::bad_request("invalid_cursor", "the cursor is not one this API issued"))?,
        ),
        None => None,
    };
    let orders = orders.into_inner();
    let (items, more) = blocking(move || orders.history_of(principal.user_id, before, limit)).await?;
    let next_cursor = if more { items.last().map(|o| cursor::encode(&o.id.to_string())) } else { None };
    Ok(HttpResponse::Ok().json(OrderList { items: items.into_iter().map(OrderBody::from).collect(), next_cursor }))
}

#[utoipa::path(
    get, path = "/api/v1/orders/{id}", tag = "orders",
    security(("bearer" = [])),
    params(("id" = OrderId, Path, description = "Order id")),
    responses(
        (status = 200, description = "The order with its lines, payment and timeline", body = OrderBody),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order of the caller's", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_order(
    orders: web::Data<OrderService>,
    Authenticated(principal): Authenticated,
    path: web::Path<OrderId>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let orders = orders.into_inner();
    let order = blocking(move || orders.order_of(principal.user_id, id)).await?;
    Ok(HttpResponse::Ok().json(OrderBody::from(order)))
}

#[utoipa::path(
    post, path = "/api/v1/orders/{id}/cancel", tag = "orders",
    security(("bearer" = [])),
    params(("id" = OrderId, Path, description = "Order id")),
    responses(
        (status = 202, description = "Cancelling: the cancellation saga refunds and restocks, then the order is cancelled (an order still checking out is cancelled once confirmed)", body = OrderBody),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order of the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already shipped, rejected or cancelled", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn cancel_order(
    orders: web::Data<OrderService>,
    Authenticated(principal): Authenticated,
    path: web::Path<OrderId>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let orders = orders.into_inner();
    let order = blocking(move || orders.request_cancellation(principal.user_id, id)).await?;
    Ok(HttpResponse::Accepted().json(OrderBody::from(order)))
}

async fn fulfil(
    orders: web::Data<OrderService>,
    principal: kernel::auth::Principal,
    id: OrderId,
    to: &'static str,
) -> Result<HttpResponse, ApiError> {
    principal.require_role(&[kernel::auth::Role::Admin])?;
    let orders = orders.into_inner();
    let order = blocking(move || orders.advance_fulfilment(id, to)).await?;
    Ok(HttpResponse::Ok().json(OrderBody::from(order)))
}

#[utoipa::path(
    post, path = "/api/v1/admin/orders/{id}/ship", tag = "admin",
    security(("bearer" = [])),
    params(("id" = OrderId, Path, description = "Order id")),
    responses(
        (status = 200, description = "Shipped", body = OrderBody),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown order", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not confirmed", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn ship(
    orders: web::Data<OrderService>,
    Authenticated(principal): Authenticated,
    path: web::Path<OrderId>,
) -> Result<HttpResponse, ApiError> {
    fulfil(orders, principal, path.into_inner(), "shipped").await
}

#[utoipa::path(
    post, path = "/api/v1/admin/orders/{id}/deliver", tag = "admin",
    security(("bearer" = [])),
    params(("id" = OrderId, Path, description = "Order id")),
    responses(
        (status = 200, description = "Delivered", body = OrderBody),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown order", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not shipped", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn deliver(
    orders: web::Data<OrderService>,
    Authenticated(principal): Authenticated,
    path: web::Path<OrderId>,
) -> Result<HttpResponse, ApiError> {
    fulfil(orders, principal, path.into_inner(), "delivered").await
}

/// Mounts the orders context's routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/v1/cart").route(web::get().to(get_cart)).route(web::delete().to(clear_cart)))
        .service(
            web::resource("/api/v1/cart/items/{product_id}")
                .route(web::put().to(set_item))
                .route(web::delete().to(remove_item)),
        )
        .service(web::resource("/api/v1/checkout").route(web::post().to(checkout)))
        .service(web::resource("/api/v1/orders").route(web::get().to(list_orders)))
        .service(web::resource("/api/v1/orders/{id}").route(web::get().to(get_order)))
        .service(web::resource("/api/v1/orders/{id}/cancel").route(web::post().to(cancel_order)))
        .service(web::resource("/api/v1/admin/orders/{id}/ship").route(web::post().to(ship)))
        .service(web::resource("/api/v1/admin/orders/{id}/deliver").route(web::post().to(deliver)));
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(get_cart, set_item, remove_item, clear_cart, checkout, list_orders, get_order, cancel_order, ship, deliver),
    tags(
        (name = "cart", description = "Carts for customers and guests (X-Cart-Token)"),
        (name = "orders", description = "Checkout and order history"),
    )
)]
pub struct OrdersOpenApi;
