//! The orders context's HTTP edge (carts so far).

use crate::cart::{CartError, CartOwner, CartService, MAX_QUANTITY, PricedCart};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use kernel::ProductId;
use kernel::auth::MaybeAuthenticated;
use kernel::http::{ApiError, Problem, ValidatedJson, blocking};
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

/// Mounts the orders context's routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/v1/cart").route(web::get().to(get_cart)).route(web::delete().to(clear_cart)))
        .service(
            web::resource("/api/v1/cart/items/{product_id}")
                .route(web::put().to(set_item))
                .route(web::delete().to(remove_item)),
        );
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(get_cart, set_item, remove_item, clear_cart),
    tags((name = "cart", description = "Carts for customers and guests (X-Cart-Token)"))
)]
pub struct OrdersOpenApi;
