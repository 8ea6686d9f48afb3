//! The catalog's HTTP edge: wire types, validation into domain types, the
//! mapping of `CatalogError` to problem documents, and the routes.

use crate::domain::{Sku, Slug, clean_text};
use crate::images::MAX_IMAGE_BYTES;
use crate::search::{After, Sort};
use crate::service::{
    Adjustment, CatalogError, CatalogService, CategoryNode, Image, NewProduct, Product, ProductChanges, SearchPage,
    SearchRequest,
};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use catalog_api::StockError;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use kernel::auth::{Authenticated, Role};
use kernel::http::{ApiError, FieldErrors, Problem, ValidatedJson, blocking, cursor};
use kernel::{Currency, Money, ProductId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

impl From<CatalogError> for ApiError {
    fn from(error: CatalogError) -> Self {
        match error {
            CatalogError::NotFound(what) => ApiError::not_found(what),
            CatalogError::Invalid { field, code, message } => ApiError::invalid_field(&field, code, message),
            CatalogError::Conflict { code: "unsupported_image", message } => {
                ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_image", "Unsupported media type")
                    .with_detail(message)
            }
            CatalogError::Conflict { code, message } => ApiError::conflict(code, message),
            CatalogError::Stock(error @ StockError::InsufficientStock { .. }) => {
                ApiError::conflict("insufficient_stock", error.to_string())
            }
            CatalogError::Stock(StockError::Unavailable(cause)) => ApiError::unavailable(cause),
            CatalogError::Stock(error) => ApiError::conflict("stock_conflict", error.to_string()),
            CatalogError::Unavailable(cause) => ApiError::unavailable(cause),
            CatalogError::Duplicate => ApiError::conflict("conflict", "a concurrent request changed this first"),
            CatalogError::Internal(cause) => ApiError::internal(cause),
        }
    }
}

// ----- wire types -----

/// An amount in minor units (1999 = 19.99) and an ISO 4217 currency.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoneyBody {
    #[schema(example = 1999)]
    pub amount: i64,
    #[schema(example = "EUR")]
    pub currency: String,
}

impl From<Money> for MoneyBody {
    fn from(money: Money) -> Self {
        Self { amount: money.amount, currency: money.currency.code().to_owned() }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageLink {
    pub url: String,
    pub alt: String,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProduct {
    #[validate(required)]
    #[schema(example = "WH-1000XM4")]
    pub sku: Option<String>,
    #[validate(required)]
    pub name: Option<String>,
    pub description: Option<String>,
    #[validate(required)]
    pub price: Option<MoneyBody>,
    pub category_id: Option<uuid::Uuid>,
    pub images: Option<Vec<ImageLink>>,
    #[schema(value_type = Object)]
    pub attributes: Option<serde_json::Map<String, serde_json::Value>>,
    /// Offered to shoppers; default true.
    pub active: Option<bool>,
    /// Initial on-hand stock; default 0.
    pub stock: Option<i64>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProduct {
    pub sku: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub price: Option<MoneyBody>,
    /// `null` removes the category.
    #[serde(default, deserialize_with = "kernel::http::double_option")]
    #[schema(value_type = Option<uuid::Uuid>)]
    pub category_id: Option<Option<uuid::Uuid>>,
    /// Replaces the linked images; uploaded ones stay.
    pub images: Option<Vec<ImageLink>>,
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<serde_json::Map<String, serde_json::Value>>,
    pub active: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImageBody {
    pub id: String,
    pub url: String,
    pub alt: String,
}

impl From<Image> for ImageBody {
    fn from(image: Image) -> Self {
        Self { id: image.id, url: image.url, alt: image.alt }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProductBody {
    pub id: ProductId,
    pub sku: String,
    pub name: String,
    pub description: String,
    pub price: MoneyBody,
    pub category_id: Option<String>,
    pub images: Vec<ImageBody>,
    #[schema(value_type = Object)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub active: bool,
    /// Archived products are hidden from shoppers but stay readable by id.
    pub archived: bool,
    pub in_stock: bool,
    /// On hand minus reserved.
    pub available: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Product> for ProductBody {
    fn from(product: Product) -> Self {
        let available = product.available();
        Self {
            in_stock: product.for_sale() && available > 0,
            available,
            id: product.id,
            sku: product.sku,
            name: product.name,
            description: product.description,
            price: product.price.into(),
            category_id: product.category_id,
            images: product.images.into_iter().map(ImageBody::from).collect(),
            attributes: product.attributes,
            active: product.active,
            archived: product.archived,
            created_at: product.created_at,
            updated_at: product.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Words to find in name, description and SKU (stemmed, prefix-matched).
    pub q: Option<String>,
    /// A category id or slug; its subcategories are included.
    pub category: Option<String>,
    /// Minor units.
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    pub in_stock: Option<bool>,
    /// `relevance` (default with `q`), `price_asc`, `price_desc`, `newest` (default without `q`).
    pub sort: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryFacet {
    pub category_id: String,
    pub slug: String,
    pub name: String,
    pub count: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Facets {
    /// Matches per category for this query and its other filters.
    pub categories: Vec<CategoryFacet>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProductList {
    pub items: Vec<ProductBody>,
    pub next_cursor: Option<String>,
    pub facets: Facets,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCategory {
    #[validate(required)]
    pub name: Option<String>,
    #[validate(required)]
    #[schema(example = "headphones")]
    pub slug: Option<String>,
    pub parent_id: Option<uuid::Uuid>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCategory {
    pub name: Option<String>,
    pub slug: Option<String>,
    /// Moves the category; `null` makes it a root.
    #[serde(default, deserialize_with = "kernel::http::double_option")]
    #[schema(value_type = Option<uuid::Uuid>)]
    pub parent_id: Option<Option<uuid::Uuid>>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(no_recursion)]
pub struct CategoryBody {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub parent_id: Option<String>,
    pub children: Vec<CategoryBody>,
}

impl From<CategoryNode> for CategoryBody {
    fn from(node: CategoryNode) -> Self {
        Self {
            id: node.id,
            name: node.name,
            slug: node.slug,
            parent_id: node.parent_id,
            children: node.children.into_iter().map(CategoryBody::from).collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryTreeBody {
    pub items: Vec<CategoryBody>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockAdjustmentRequest {
    /// Units to add (positive) or remove (negative).
    #[validate(required, range(min = -1_000_000_000, max = 1_000_000_000))]
    pub delta: Option<i64>,
    #[validate(required)]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdjustmentBody {
    pub id: String,
    pub delta: i64,
    pub reason: String,
    pub on_hand_after: i64,
    pub created_at: DateTime<Utc>,
}

impl From<Adjustment> for AdjustmentBody {
    fn from(a: Adjustment) -> Self {
        Self { id: a.id, delta: a.delta, reason: a.reason, on_hand_after: a.on_hand_after, created_at: a.created_at }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StockBody {
    pub product_id: ProductId,
    pub on_hand: i64,
    pub reserved: i64,
    pub available: i64,
    /// Newest first.
    pub adjustments: Vec<AdjustmentBody>,
}

// ----- parsing -----

fn money(errors: &mut FieldErrors, field: &str, body: &MoneyBody) -> Option<Money> {
    let currency = match Currency::parse(body.currency.trim()) {
        Ok(currency) => Some(currency),
        Err(_) => {
            errors.push(format!("{field}.currency"), "invalid_currency", "not a supported ISO 4217 currency");
            None
        }
    };
    if !(0..=1_000_000_000_000).contains(&body.amount) {
        errors.push(format!("{field}.amount"), "range", "must be between 0 and 10^12 minor units");
        return None;
    }
    currency.map(|currency| Money::new(body.amount, currency))
}

fn image_links(errors: &mut FieldErrors, links: &[ImageLink]) -> Vec<(String, String)> {
    if links.len() > 20 {
        errors.push("images", "too_many", "at most 20 images");
    }
    links
        .iter()
        .enumerate()
        .filter_map(|(index, link)| {
            let url = link.url.trim();
            let url_ok = (url.starts_with("https://") || url.starts_with("http://"))
                && url.len() <= 2000
                && !url.chars().any(|c| c.is_whitespace() || c.is_control());
            if !url_ok {
                errors.push(format!("images[{index}].url"), "invalid_url", "an http(s) URL of at most 2000 characters");
            }
            let alt = errors.check(&format!("images[{index}].alt"), clean_text(&link.alt, 200, true, false));
            match (url_ok, alt) {
                (true, Some(alt)) => Some((url.to_owned(), alt)),
                _ => None,
            }
        })
        .collect()
}

fn attributes_ok(errors: &mut FieldErrors, attributes: &serde_json::Map<String, serde_json::Value>) {
    if attributes.len() > 50 || serde_json::Value::Object(attributes.clone()).to_string().len() > 10_000 {
        errors.push("attributes", "too_large", "at most 50 attributes and 10 000 bytes");
    }
}

fn required<T>(value: Option<T>) -> Result<T, ApiError> {
    value.ok_or_else(|| ApiError::internal("validated field missing"))
}

// ----- handlers: products -----

#[utoipa::path(
    post, path = "/api/v1/catalog/products", tag = "catalog",
    security(("bearer" = [])),
    request_body = CreateProduct,
    responses(
        (status = 201, description = "Created", body = ProductBody),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "SKU already used", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_product(
    service: web::Data<CatalogService>,
    Authenticated(principal): Authenticated,
    ValidatedJson(body): ValidatedJson<CreateProduct>,
) -> Result<HttpResponse, ApiError> {
    principal.require_role(&[Role::Admin])?;
    let mut errors = FieldErrors::default();
    let sku = errors.check("sku", Sku::parse(body.sku.as_deref().unwrap_or_default()));
    let name = errors.check("name", clean_text(body.name.as_deref().unwrap_or_default(), 200, true, false));
    let description =
        errors.check("description", clean_text(body.description.as_deref().unwrap_or(""), 5000, false, true));
    let price = body.price.as_ref().and_then(|p| money(&mut errors, "price", p));
    let images = image_links(&mut errors, body.images.as_deref().unwrap_or_default());
    let attributes = body.attributes.unwrap_or_default();
    attributes_ok(&mut errors, &attributes);
    let stock = body.stock.unwrap_or(0);
    if !(0..=1_000_000_000).contains(&stock) {
        errors.push("stock", "range", "must be between 0 and 10^9");
    }
    errors.finish()?;
    let new = NewProduct {
        sku: required(sku)?,
        name: required(name)?,
        description: required(description)?,
        price: required(price)?,
        category_id: body.category_id.map(|id| id.to_string()),
        images,
        attributes,
        active: body.active.unwrap_or(true),
        initial_stock: stock,
    };
    let service = service.into_inner();
    let product = blocking(move || service.create_product(new)).await?;
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::LOCATION, format!("/api/v1/catalog/products/{}", product.id)))
        .json(ProductBody::from(product)))
}

#[utoipa::path(
    get, path = "/api/v1/catalog/products/{id}", tag = "catalog",
    params(("id" = ProductId, Path, description = "Product id")),
    responses(
        (status = 200, description = "The product, with availability", body = ProductBody),
        (status = 404, description = "Unknown product", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_product(
    service: web::Data<CatalogService>,
    path: web::Path<ProductId>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let service = service.into_inner();
    let product = blocking(move || service.product(id)).await?;
    Ok(HttpResponse::Ok().json(ProductBody::from(product)))
}

#[utoipa::path(
    patch, path = "/api/v1/catalog/products/{id}", tag = "catalog",
    security(("bearer" = [])),
    params(("id" = ProductId, Path, description = "Product id")),
    request_body = UpdateProduct,
    responses(
        (status = 200, description = "Updated", body = ProductBody),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown product", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "SKU already used", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_product(
    service: web::Data<CatalogService>,
    Authenticated(principal): Authenticated,
    path: web::Path<ProductId>,
    ValidatedJson(body): ValidatedJson<UpdateProduct>,
) -> Result<HttpResponse, ApiError> {
    principal.require_role(&[Role::Admin])?;
    let mut errors = FieldErrors::default();
    let changes = ProductChanges {
        sku: body.sku.as_deref().and_then(|sku| errors.check("sku", Sku::parse(sku))),
        name: body.name.as_deref().and_then(|name| errors.check("name", clean_text(name, 200, true, false))),
        description: body
            .description
            .as_deref()
            .and_then(|text| errors.check("description", clean_text(text, 5000, false, true))),
        price: body.price.as_ref().and_then(|price| money(&mut errors, "price", price)),
        category_id: body.category_id.map(|id| id.map(|id| id.to_string())),
        images: body.images.as_deref().map(|links| image_links(&mut errors, links)),
        attributes: body.attributes.inspect(|attributes| attributes_ok(&mut errors, attributes)),
        active: body.active,
    };
    errors.finish()?;
    let id = path.into_inner();
    let service = service.into_inner();
    let product = blocking(move || service.update_product(id, changes)).await?;
    Ok(HttpResponse::Ok().json(ProductBody::from(product)))
}

#[utoipa::path(
    delete, path = "/api/v1/catalog/products/{id}", tag = "catalog",
    security(("bearer" = [])),
    params(("id" = ProductId, Path, description = "Product id")),
    responses(
        (status = 204, description = "Archived: hidden from shoppers, still readable by id"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown product", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn archive_product(
    service: web::Data<CatalogService>,
    Authenticated(principal): Authenticated,
    path: web::Path<ProductId>,
) -> Result<HttpResponse, ApiError> {
    principal.require_role(&[Role::Admin])?;
    let id = path.into_inner();
    let service = service.into_inner();
    blocking(move || service.archive_product(id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

fn encode_cursor(sort: Sort, after: After) -> String {
    cursor::encode(&format!("{}|{}|{}|{}", sort.as_str(), after.score, after.price, after.seq))
}

fn decode_cursor(text: &str, sort: Sort) -> Result<After, ApiError> {
    let bad = || ApiError::bad_request("invalid_cursor", "the cursor is not one this API issued for this sort");
    let decoded = cursor::decode(text)?;
    let parts: Vec<&str> = decoded.split('|').collect();
    let [sort_name, score, price, seq] = parts.as_slice() else {
        return Err(bad());
    };
    if *sort_name != sort.as_str() {
        return Err(bad());
    }
    Ok(After {
        score: score.parse().map_err(|_| bad())?,
        price: price.parse().map_err(|_| bad())?,
        seq: seq.parse().map_err(|_| bad())?,
    })
}

#[utoipa::path(
    get, path = "/api/v1/catalog/products", tag = "catalog",
    params(SearchParams),
    responses(
        (status = 200, description = "A page of products with category facets", body = ProductList),
        (status = 400, description = "Invalid cursor or parameter", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid filter", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn search_products(
    service: web::Data<CatalogService>,
    query: web::Query<SearchParams>,
) -> Result<HttpResponse, ApiError> {
    let params = query.into_inner();
    let mut errors = FieldErrors::default();
    let explicit_sort = match params.sort.as_deref() {
        None => None,
        Some(name) => match Sort::parse(name) {
            Some(sort) => Some(sort),
            None => {
                errors.push("sort", "invalid_sort", "one of relevance, price_asc, price_desc, newest");
                None
            }
        },
    };
    for (field, value) in [("min_price", params.min_price), ("max_price", params.max_price)] {
        if value.is_some_and(|v| v < 0) {
            errors.push(field, "range", "must be zero or more");
        }
    }
    if let (Some(min), Some(max)) = (params.min_price, params.max_price)
        && min > max
    {
        errors.push("max_price", "range", "must not be below min_price");
    }
    if params.q.as_deref().is_some_and(|q| q.chars().count() > 200) {
        errors.push("q", "too_long", "at most 200 characters");
    }
    errors.finish()?;
    let limit = cursor::limit(params.limit)? as i64;
    let has_terms = params.q.as_deref().is_some_and(|q| !crate::search::terms(q).is_empty());
    let effective_sort = match explicit_sort {
        Some(Sort::Relevance) | None if has_terms => Sort::Relevance,
        Some(Sort::Relevance) | None => Sort::Newest,
        Some(sort) => sort,
    };
    let after = params.cursor.as_deref().map(|c| decode_cursor(c, effective_sort)).transpose()?;
    let request = SearchRequest {
        text: params.q,
        category: params.category.filter(|c| !c.trim().is_empty()),
        min_price: params.min_price,
        max_price: params.max_price,
        in_stock: params.in_stock.unwrap_or(false),
        sort: Some(effective_sort),
        after,
        limit,
    };
    let service = service.into_inner();
    let page: SearchPage = blocking(move || service.search(request)).await?;
    Ok(HttpResponse::Ok().json(ProductList {
        next_cursor: page.next.map(|after| encode_cursor(page.sort, after)),
        items: page.items.into_iter().map(ProductBody::from).collect(),
        facets: Facets {
            categories: page
                .facets
                .into_iter()
                .map(|f| CategoryFacet { category_id: f.category_id, slug: f.slug, name: f.name, count: f.count })
                .collect(),
        },
    }))
}

// ----- handlers: images -----

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ImageUpload {
    /// PNG, JPEG or WebP, at most 5 MiB; recognised by content.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    alt: String,
}

#[utoipa::path(
    post, path = "/api/v1/catalog/products/{id}/images", tag = "catalog",
    security(("bearer" = [])),
    params(("id" = ProductId, Path, description = "Product id")),
    request_body(content = ImageUpload, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Stored and served at its URL", body = ImageBody),
        (status = 400, description = "Malformed multipart body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown product", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Over 5 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not PNG, JPEG or WebP, or not multipart", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing file or alt text", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn upload_image(
    service: web::Data<CatalogService>,
    Authenticated(principal): Authenticated,
    path: web::Path<ProductId>,
    mut payload: actix_multipart::Multipart,
) -> Result<HttpResponse, ApiError> {
    principal.require_role(&[Role::Admin])?;
    let too_large = || {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "Payload too large")
            .with_detail(format!("images are limited to {MAX_IMAGE_BYTES} bytes"))
    };
    let malformed = |error: actix_multipart::MultipartError| match error {
        actix_multipart::MultipartError::ContentTypeMissing
        | actix_multipart::MultipartError::ContentTypeParse
        | actix_multipart::MultipartError::ContentTypeIncompatible => {
            ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "Unsupported media type")
                .with_detail("send the image as multipart/form-data with fields `file` and `alt`")
        }
        other => ApiError::bad_request("invalid_multipart", other.to_string()),
    };
    let mut file: Option<Vec<u8>> = None;
    let mut alt: Option<String> = None;
    while let Some(field) = payload.next().await {
        let mut field = field.map_err(malformed)?;
        let name = field.name().unwrap_or_default().to_owned();
        let limit = if name == "file" { MAX_IMAGE_BYTES } else { 4096 };
        let mut bytes = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(malformed)?;
            if bytes.len() + chunk.len() > limit {
                return Err(if name == "file" {
                    too_large()
                } else {
                    ApiError::bad_request("invalid_multipart", "field too large")
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        match name.as_str() {
            "file" => file = Some(bytes),
            "alt" => alt = Some(String::from_utf8_lossy(&bytes).into_owned()),
            _ => {}
        }
    }
    let mut errors = FieldErrors::default();
    if file.as_ref().is_none_or(Vec::is_empty) {
        errors.push("file", "required", "attach the image as the `file` field");
    }
    let alt = errors.check("alt", clean_text(alt.as_deref().unwrap_or_default(), 200, true, false));
    errors.finish()?;
    let (file, alt) = (required(file)?, required(alt)?);
    let id = path.into_inner();
    let service = service.into_inner();
    let image = blocking(move || service.add_uploaded_image(id, &file, alt)).await?;
    Ok(HttpResponse::Created().json(ImageBody::from(image)))
}

#[utoipa::path(
    delete, path = "/api/v1/catalog/products/{id}/images/{image_id}", tag = "catalog",
    security(("bearer" = [])),
    params(("id" = ProductId, Path, description = "Product id"), ("image_id" = String, Path, description = "Image id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such image on this product", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_image(
    service: web::Data<CatalogService>,
    Authenticated(principal): Authenticated,
    path: web::Path<(ProductId, String)>,
) -> Result<HttpResponse, ApiError> {
    principal.require_role(&[Role::Admin])?;
    let (id, image_id) = path.into_inner();
    let service = service.into_inner();
    blocking(move || service.delete_image(id, &image_id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    get, path = "/api/v1/catalog/images/{file}", tag = "catalog",
    params(("file" = String, Path, description = "Stored image file name")),
    responses(
        (status = 200, description = "The image bytes", content_type = "image/*"),
        (status = 404, description = "No such image", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn serve_image(
    service: web::Data<CatalogService>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let file = path.into_inner();
    let service = service.into_inner();
    let (bytes, content_type) = blocking(move || {
        let (path, content_type) = service.stored_image(&file)?;
        let bytes = std::fs::read(path).map_err(|_| CatalogError::NotFound("image"))?;
        Ok::<_, CatalogError>((bytes, content_type))
    })
    .await?;
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((actix_web::http::header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .body(bytes))
}

// ----- handlers: stock -----

#[utoipa::path(
    post, path = "/api/v1/catalog/products/{id}/stock", tag = "catalog",
    security(("bearer" = [])),
    params(("id" = ProductId, Path, description = "Product id")),
    request_body = StockAdjustmentRequest,
    responses(
        (status = 200, description = "Stock after the adjustment", body = StockBody),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown product", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Would leave less on hand than is reserved", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid delta or reason", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn adjust_stock(
    service: web::Data<CatalogService>,
    Authenticated(principal): Authenticated,
    path: web::Path<ProductId>,
    ValidatedJson(body): ValidatedJson<StockAdjustmentRequest>,
) -> Result<HttpResponse, ApiError> {
    principal.require_role(&[Role::Admin])?;
    let mut errors = FieldErrors::default();
    let delta = body.delta.unwrap_or_default();
    if delta == 0 {
        errors.push("delta", "range", "must not be zero");
    }
    let reason = errors.check("reason", clean_text(body.reason.as_deref().unwrap_or_default(), 200, true, false));
    errors.finish()?;
    let reason = required(reason)?;
    let id = path.into_inner();
    let service = service.into_inner();
    let body = blocking(move || {
        let product = service.adjust_stock(id, delta, reason)?;
        stock_body(&service, product)
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

fn stock_body(service: &CatalogService, product: Product) -> Result<StockBody, CatalogError> {
    Ok(StockBody {
        product_id: product.id,
        on_hand: product.on_hand,
        reserved: product.reserved,
        available: product.available(),
        adjustments: service.adjustments(product.id)?.into_iter().map(AdjustmentBody::from).collect(),
    })
}

#[utoipa::path(
    get, path = "/api/v1/catalog/products/{id}/stock", tag = "catalog",
    security(("bearer" = [])),
    params(("id" = ProductId, Path, description = "Product id")),
    responses(
        (status = 200, description = "On hand, reserved, available and the audit trail", body = StockBody),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown product", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_stock(
    service: web::Data<CatalogService>,
    Authenticated(principal): Authenticated,
    path: web::Path<ProductId>,
) -> Result<HttpResponse, ApiError> {
    principal.require_role(&[Role::Admin])?;
    let id = path.into_inner();
    let service = service.into_inner();
    let body = blocking(move || {
        let product = service.product(id)?;
        stock_body(&service, product)
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

// ----- handlers: categories -----

#[utoipa::path(
    post, path = "/api/v1/catalog/categories", tag = "catalog",
    security(("bearer" = [])),
    request_body = CreateCategory,
    responses(
        (status = 201, description = "Created", body = CategoryBody),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Slug already used", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields or unknown parent", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_category(
    service: web::Data<CatalogService>,
    Authenticated(principal): Authenticated,
    ValidatedJson(body): ValidatedJson<CreateCategory>,
) -> Result<HttpResponse, ApiError> {
    principal.require_role(&[Role::Admin])?;
    let mut errors = FieldErrors::default();
    let name = errors.check("name", clean_text(body.name.as_deref().unwrap_or_default(), 100, true, false));
    let slug = errors.check("slug", Slug::parse(body.slug.as_deref().unwrap_or_default()));
    errors.finish()?;
    let (name, slug) = (required(name)?, required(slug)?);
    let parent = body.parent_id.map(|id| id.to_string());
    let service = service.into_inner();
    let node = blocking(move || service.create_category(name, slug, parent)).await?;
    Ok(HttpResponse::Created().json(CategoryBody::from(node)))
}

#[utoipa::path(
    get, path = "/api/v1/catalog/categories", tag = "catalog",
    responses((status = 200, description = "The category tree", body = CategoryTreeBody))
)]
pub async fn category_tree(service: web::Data<CatalogService>) -> Result<HttpResponse, ApiError> {
    let service = service.into_inner();
    let tree = blocking(move || service.category_tree()).await?;
    Ok(HttpResponse::Ok().json(CategoryTreeBody { items: tree.into_iter().map(CategoryBody::from).collect() }))
}

#[utoipa::path(
    patch, path = "/api/v1/catalog/categories/{id}", tag = "catalog",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Category id")),
    request_body = UpdateCategory,
    responses(
        (status = 200, description = "Renamed and/or moved", body = CategoryBody),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown category", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Slug used, or the move would make a cycle", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields or unknown parent", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_category(
    service: web::Data<CatalogService>,
    Authenticated(principal): Authenticated,
    path: web::Path<uuid::Uuid>,
    ValidatedJson(body): ValidatedJson<UpdateCategory>,
) -> Result<HttpResponse, ApiError> {
    principal.require_role(&[Role::Admin])?;
    let mut errors = FieldErrors::default();
    let name = body.name.as_deref().and_then(|name| errors.check("name", clean_text(name, 100, true, false)));
    let slug = body.slug.as_deref().and_then(|slug| errors.check("slug", Slug::parse(slug)));
    errors.finish()?;
    let parent = body.parent_id.map(|parent| parent.map(|id| id.to_string()));
    let id = path.into_inner().to_string();
    let service = service.into_inner();
    let node = blocking(move || service.update_category(&id, name, slug, parent)).await?;
    Ok(HttpResponse::Ok().json(CategoryBody::from(node)))
}

#[utoipa::path(
    delete, path = "/api/v1/catalog/categories/{id}", tag = "catalog",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Category id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown category", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Has subcategories or products", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_category(
    service: web::Data<CatalogService>,
    Authenticated(principal): Authenticated,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    principal.require_role(&[Role::Admin])?;
    let id = path.into_inner().to_string();
    let service = service.into_inner();
    blocking(move || service.delete_category(&id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Mounts the catalog's routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/api/v1/catalog/products")
            .route(web::get().to(search_products))
            .route(web::post().to(create_product)),
    )
    .service(
        web::resource("/api/v1/catalog/products/{id}")
            .route(web::get().to(get_product))
            .route(web::patch().to(update_product))
            .route(web::delete().to(archive_product)),
    )
    .service(web::resource("/api/v1/catalog/products/{id}/images").route(web::post().to(upload_image)))
    .service(web::resource("/api/v1/catalog/products/{id}/images/{image_id}").route(web::delete().to(delete_image)))
    .service(
        web::resource("/api/v1/catalog/products/{id}/stock")
            .route(web::get().to(get_stock))
            .route(web::post().to(adjust_stock)),
    )
    .service(web::resource("/api/v1/catalog/images/{file}").route(web::get().to(serve_image)))
    .service(
        web::resource("/api/v1/catalog/categories")
            .route(web::get().to(category_tree))
            .route(web::post().to(create_category)),
    )
    .service(
        web::resource("/api/v1/catalog/categories/{id}")
            .route(web::patch().to(update_category))
            .route(web::delete().to(delete_category)),
    );
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        create_product, get_product, update_product, archive_product, search_products, upload_image, delete_image,
        serve_image, adjust_stock, get_stock, create_category, category_tree, update_category, delete_category
    ),
    tags((name = "catalog", description = "Products, categories, images, stock and search"))
)]
pub struct CatalogOpenApi;
