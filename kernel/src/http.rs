//! HTTP conventions shared by every context (DESIGN.md §6): problem+json
//! errors (RFC 9457), validated JSON bodies, and the extractor configuration
//! that turns a client's mistake into a 4xx problem instead of a 500.

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceResponse};
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use validator::{Validate, ValidationErrors, ValidationErrorsKind};

pub const PROBLEM_JSON: &str = "application/problem+json";

/// The largest JSON body any endpoint accepts.
pub const MAX_JSON_BODY: usize = 1024 * 1024;

/// One field's validation failure inside a 422 problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// Path of the field in the request body, e.g. `email` or `addresses[0].city`.
    pub field: String,
    /// Stable snake_case code, e.g. `required`, `invalid_email`, `too_short`.
    pub code: String,
    pub message: String,
}

/// The body of every error response: `application/problem+json`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the problem type: `urn:tienda:problem:<code>`.
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Stable snake_case code clients can branch on.
    pub code: String,
    /// Per-field errors, present on 422 validation problems.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// An error on its way to becoming a problem document. Contexts map their own
/// error enums into this, once, at their HTTP edge.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: Cow<'static, str>,
    pub title: Cow<'static, str>,
    pub detail: Option<String>,
    pub errors: Vec<FieldError>,
    pub retry_after_seconds: Option<u64>,
    pub www_authenticate: bool,
    /// The internal cause of a 5xx. Logged once, never sent to the client.
    pub cause: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: impl Into<Cow<'static, str>>, title: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            code: code.into(),
            title: title.into(),
            detail: None,
            errors: Vec::new(),
            retry_after_seconds: None,
            www_authenticate: false,
            cause: None,
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, "Bad request").with_detail(detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        let mut error =
            Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "Authentication required").with_detail(detail);
        error.www_authenticate = true;
        error
    }

    pub fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden").with_detail("your role does not allow this")
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "Not found").with_detail(format!("{what} not found"))
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, "Conflict").with_detail(detail)
    }

    pub fn too_many_requests(code: &'static str, retry_after_seconds: u64, detail: impl Into<String>) -> Self {
        let mut error = Self::new(StatusCode::TOO_MANY_REQUESTS, code, "Too many requests").with_detail(detail);
        error.retry_after_seconds = Some(retry_after_seconds.max(1));
        error
    }

    /// A 422 with the given field errors.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let mut error = Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", "Validation failed")
            .with_detail("one or more fields are invalid");
        error.errors = errors;
        error
    }

    /// A 422 about one field.
    pub fn invalid_field(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError { field: field.to_owned(), code: code.to_owned(), message: message.into() }])
    }

    /// A 500 whose cause is logged and never shown.
    pub fn internal(cause: impl fmt::Display) -> Self {
        let mut error = Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "Internal server error")
            .with_detail("something went wrong on our side; it has been logged");
        error.cause = Some(cause.to_string());
        error
    }

    /// A 503 for a dependency (a database) that is down.
    pub fn unavailable(cause: impl fmt::Display) -> Self {
        let mut error = Self::new(StatusCode::SERVICE_UNAVAILABLE, "service_unavailable", "Service unavailable")
            .with_detail("a backing service is unavailable; try again shortly");
        error.cause = Some(cause.to_string());
        error.retry_after_seconds = Some(5);
        error
    }

    pub fn problem(&self) -> Problem {
        Problem {
            problem_type: format!("urn:tienda:problem:{}", self.code),
            title: self.title.to_string(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code.to_string(),
            errors: self.errors.clone(),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.code)?;
        if let Some(cause) = &self.cause {
            write!(f, ": {cause}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        if let Some(cause) = &self.cause {
            tracing::error!(http.status = self.status.as_u16(), error.code = %self.code, error.cause = %cause, "request failed");
        }
        let mut response = HttpResponse::build(self.status);
        response.insert_header((header::CONTENT_TYPE, PROBLEM_JSON));
        if let Some(seconds) = self.retry_after_seconds {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        if self.www_authenticate {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        response.body(body)
    }
}

impl From<validator::ValidationErrors> for ApiError {
    fn from(errors: ValidationErrors) -> Self {
        let mut fields = Vec::new();
        flatten_validation_errors(&errors, "", &mut fields);
        fields.sort_by(|a, b| a.field.cmp(&b.field).then(a.code.cmp(&b.code)));
        ApiError::validation(fields)
    }
}

fn flatten_validation_errors(errors: &ValidationErrors, prefix: &str, out: &mut Vec<FieldError>) {
    for (field, kind) in errors.errors() {
        let path = if prefix.is_empty() { field.to_string() } else { format!("{prefix}.{field}") };
        match kind {
            ValidationErrorsKind::Field(list) => {
                for error in list {
                    out.push(FieldError {
                        field: path.clone(),
                        code: error.code.to_string(),
                        message: error
                            .message
                            .as_ref()
                            .map(|message| message.to_string())
                            .unwrap_or_else(|| default_message(&error.code)),
                    });
                }
            }
            ValidationErrorsKind::Struct(inner) => flatten_validation_errors(inner, &path, out),
            ValidationErrorsKind::List(items) => {
                for (index, inner) in items {
                    flatten_validation_errors(inner, &format!("{path}[{index}]"), out);
                }
            }
        }
    }
}

fn default_message(code: &str) -> String {
    match code {
        "required" => "this field is required".to_owned(),
        "email" => "not a valid email address".to_owned(),
        "length" => "has the wrong length".to_owned(),
        "range" => "is out of range".to_owned(),
        other => format!("is invalid ({other})"),
    }
}

/// A JSON body that has been deserialised (400 if it cannot be) and validated
/// (422 with per-field errors if it is not acceptable).
#[derive(Debug)]
pub struct ValidatedJson<T>(pub T);

impl<T> FromRequest for ValidatedJson<T>
where
    T: DeserializeOwned + Validate + 'static,
{
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = web::Json::<T>::from_request(req, payload);
        Box::pin(async move {
            let web::Json(value) = json.await?;
            value.validate().map_err(ApiError::from)?;
            Ok(ValidatedJson(value))
        })
    }
}

/// JSON extractor settings: size cap and problem documents for every failure.
pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default().limit(MAX_JSON_BODY).error_handler(|error, _req| json_error(error).into())
}

fn json_error(error: JsonPayloadError) -> ApiError {
    match error {
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "Payload too large")
                .with_detail(format!("request bodies are limited to {MAX_JSON_BODY} bytes"))
        }
        JsonPayloadError::ContentType => {
            ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "Unsupported media type")
                .with_detail("send the body as application/json")
        }
        JsonPayloadError::Deserialize(error) => match error.classify() {
            serde_json::error::Category::Data => {
                ApiError::bad_request("invalid_body", format!("the body does not have the expected shape: {error}"))
            }
            _ => ApiError::bad_request("malformed_json", format!("the body is not valid JSON: {error}")),
        },
        other => ApiError::bad_request("invalid_body", other.to_string()),
    }
}

/// Path segments that do not parse (an id that is not a UUID) name nothing
/// that can exist: 404, like an unknown id.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_error: PathError, _req| ApiError::not_found("resource").into())
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|error: QueryPayloadError, _req| {
        ApiError::bad_request("invalid_query", error.to_string()).into()
    })
}

/// The answer for a route nobody mounted.
pub async fn route_not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found(&format!("route {} {}", req.method(), req.path())))
}

/// Turns any error response that is not already a problem document (405 from
/// the router, errors raised by the framework) into one, so clients only ever
/// see one error shape.
pub fn problem_for_bare_errors<B: MessageBody + 'static>(
    response: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_problem = response
        .response()
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with(PROBLEM_JSON));
    if is_problem {
        return Ok(ErrorHandlerResponse::Response(response.map_into_left_body()));
    }
    let status = response.status();
    let code = match status {
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        status if status.is_server_error() => "internal_error",
        _ => "bad_request",
    };
    let title = status.canonical_reason().unwrap_or("Error");
    let mut error = ApiError::new(status, code, title);
    if status.is_server_error() {
        error.cause = Some("framework error response".to_owned());
    }
    let (request, _) = response.into_parts();
    let problem_response = error.error_response();
    Ok(ErrorHandlerResponse::Response(ServiceResponse::new(request, problem_response).map_into_right_body()))
}

/// Response body type for [`problem_for_bare_errors`].
pub type ProblemBody<B> = EitherBody<B, BoxBody>;

/// Runs blocking work (diesel, password hashing) on the blocking thread pool,
/// so the async executor is never blocked, keeping the caller's tracing span.
pub async fn blocking<T, E, F>(work: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: Into<ApiError> + Send + 'static,
{
    let span = tracing::Span::current();
    match web::block(move || span.in_scope(work)).await {
        Ok(result) => result.map_err(Into::into),
        Err(error) => Err(ApiError::internal(format!("blocking task failed: {error}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Validate)]
    struct Signup {
        #[validate(required, email)]
        email: Option<String>,
        #[validate(nested)]
        address: Address,
    }

    #[derive(Debug, Validate)]
    struct Address {
        #[validate(length(min = 1, code = "required", message = "city is required"))]
        city: String,
    }

    #[test]
    fn nested_validation_errors_get_dotted_paths() {
        let signup = Signup { email: Some("nope".into()), address: Address { city: String::new() } };
        let error = ApiError::from(signup.validate().expect_err("invalid"));
        assert_eq!(error.status, StatusCode::UNPROCESSABLE_ENTITY);
        let fields: Vec<_> = error.errors.iter().map(|e| (e.field.as_str(), e.code.as_str())).collect();
        assert_eq!(fields, vec![("address.city", "required"), ("email", "email")]);
        assert_eq!(error.errors[0].message, "city is required");
    }

    #[test]
    fn internal_causes_never_reach_the_body() {
        let error = ApiError::internal("connection refused to 10.0.0.5");
        let body = serde_json::to_string(&error.problem()).expect("serialises");
        assert!(!body.contains("10.0.0.5"));
        assert!(body.contains("\"code\":\"internal_error\""));
    }

    #[test]
    fn problem_type_is_derived_from_the_code() {
        let problem = ApiError::conflict("email_taken", "taken").problem();
        assert_eq!(problem.problem_type, "urn:tienda:problem:email_taken");
        assert_eq!(problem.status, 409);
    }
}

/// Opaque list cursors: the base64url of the last item's sort key, so
/// clients cannot depend on what is inside.
pub mod cursor {
    use super::ApiError;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    pub fn encode(key: &str) -> String {
        URL_SAFE_NO_PAD.encode(key.as_bytes())
    }

    pub fn decode(cursor: &str) -> Result<String, ApiError> {
        URL_SAFE_NO_PAD
            .decode(cursor.as_bytes())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| ApiError::bad_request("invalid_cursor", "the cursor is not one this API issued"))
    }

    /// Page size from `?limit=`: default 20, between 1 and 100.
    pub fn limit(requested: Option<u32>) -> Result<usize, ApiError> {
        match requested {
            None => Ok(20),
            Some(limit @ 1..=100) => Ok(limit as usize),
            Some(_) => Err(ApiError::invalid_field("limit", "range", "limit must be between 1 and 100")),
        }
    }
}

/// A domain error that names its own stable field-error code.
pub trait FieldCode: fmt::Display {
    fn code(&self) -> &'static str;
}

/// Collects field errors while a request body is turned into domain types,
/// so one 422 names every bad field at once.
#[derive(Debug, Default)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    pub fn push(&mut self, field: impl Into<String>, code: &str, message: impl Into<String>) {
        self.0.push(FieldError { field: field.into(), code: code.to_owned(), message: message.into() });
    }

    /// The value, or `None` with the error recorded under `field`.
    pub fn check<T, E: FieldCode>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        result.map_err(|error| self.push(field, error.code(), error.to_string())).ok()
    }

    /// 422 if anything was recorded.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() { Ok(()) } else { Err(ApiError::validation(self.0)) }
    }
}

/// For PATCH bodies: tells an absent field (leave unchanged, `None`) from an
/// explicit `null` (clear it, `Some(None)`). Use with `#[serde(default)]`.
pub fn double_option<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(deserializer).map(Some)
}
