//! The one error-code table: every error a client can see has a stable snake_case code, an HTTP
//! status and a message, and names the offending field when there is one.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jz_store::StoreError;
use serde::Serialize;

/// Every error code the API answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidParameter,
    InvalidBody,
    Unauthenticated,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    AlreadyExists,
    IllegalTransition,
    PayloadTooLarge,
    UnsupportedMediaType,
    RateLimited,
    OutsideCity,
    NoBoundaries,
    StaleVersion,
    ConstraintViolated,
    StoreUnavailable,
    Internal,
}

impl ErrorCode {
    /// The HTTP status each code is answered with.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::InvalidParameter | ErrorCode::InvalidBody => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::AlreadyExists | ErrorCode::IllegalTransition => StatusCode::CONFLICT,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::OutsideCity => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::NoBoundaries => StatusCode::CONFLICT,
            ErrorCode::StaleVersion => StatusCode::CONFLICT,
            ErrorCode::ConstraintViolated => StatusCode::CONFLICT,
            ErrorCode::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// An error as clients see it.
#[derive(Debug, Clone, Serialize)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            field: None,
        }
    }

    /// Names the offending field.
    pub fn field(mut self, field: &str) -> ApiError {
        self.field = Some(field.to_owned());
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.code.status(),
            Json(serde_json::json!({ "error": self })),
        )
            .into_response()
    }
}

impl From<StoreError> for ApiError {
    /// Internal causes are logged, never sent to clients.
    fn from(error: StoreError) -> ApiError {
        match error {
            StoreError::Conflict { .. } => ApiError::new(
                ErrorCode::StaleVersion,
                "the record changed since it was read; reload it and try again",
            ),
            StoreError::Constraint { kind, .. } => ApiError::new(
                ErrorCode::ConstraintViolated,
                format!("the request conflicts with existing data ({kind} constraint)"),
            ),
            StoreError::Closed | StoreError::Unreachable { .. } => {
                tracing::error!(%error, "store unavailable");
                ApiError::new(
                    ErrorCode::StoreUnavailable,
                    "the store is unavailable; try again later",
                )
            }
            other => {
                tracing::error!(error = %other, "internal store error");
                ApiError::new(ErrorCode::Internal, "internal error")
            }
        }
    }
}

/// The answer for a path that does not exist.
pub async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        format!("no resource at {}", uri.path()),
    )
}

impl From<jz_app::cases::CaseError> for ApiError {
    fn from(error: jz_app::cases::CaseError) -> ApiError {
        use jz_app::cases::CaseError;
        match error {
            CaseError::Invalid(message) => with_field(ErrorCode::InvalidBody, message),
            CaseError::NotFound(what) => {
                ApiError::new(ErrorCode::NotFound, format!("{what} does not exist"))
            }
            CaseError::Exists(what) => {
                ApiError::new(ErrorCode::AlreadyExists, format!("{what} already exists"))
            }
            CaseError::Forbidden(message) => ApiError::new(ErrorCode::Forbidden, message),
            CaseError::IllegalTransition(message) => {
                ApiError::new(ErrorCode::IllegalTransition, message)
            }
            stale @ CaseError::Stale { .. } => {
                ApiError::new(ErrorCode::StaleVersion, stale.to_string()).field("version")
            }
            CaseError::Location(error) => crate::city::locate_error(error).field("location"),
            unauthenticated @ CaseError::Unauthenticated => {
                ApiError::new(ErrorCode::Unauthenticated, unauthenticated.to_string())
            }
            limited @ CaseError::RateLimited { .. } => {
                ApiError::new(ErrorCode::RateLimited, limited.to_string())
            }
            CaseError::Store(error) => error.into(),
        }
    }
}

/// Messages of the form `field: problem` name their field.
pub fn with_field(code: ErrorCode, message: String) -> ApiError {
    let field = message.split_once(": ").map(|(f, _)| f).filter(|f| {
        !f.is_empty()
            && f.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']'))
    });
    match field.map(str::to_owned) {
        Some(field) => ApiError::new(code, message).field(&field),
        None => ApiError::new(code, message),
    }
}

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    /// A body that is not the JSON the endpoint takes: 415 without a JSON content type, 413
    /// over the size limit, 400 otherwise — always in the error envelope.
    fn from(rejection: axum::extract::rejection::JsonRejection) -> ApiError {
        use axum::extract::rejection::JsonRejection;
        match &rejection {
            JsonRejection::MissingJsonContentType(_) => ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "send the body as JSON with `Content-Type: application/json`",
            ),
            _ if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!(
                    "the body is larger than the {JSON_BODY_LIMIT}-byte limit of JSON requests"
                ),
            ),
            _ => ApiError::new(ErrorCode::InvalidBody, rejection.body_text()),
        }
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::QueryRejection) -> ApiError {
        ApiError::new(ErrorCode::InvalidParameter, rejection.body_text())
    }
}

/// The largest JSON request body (axum's default limit for `Json`).
pub const JSON_BODY_LIMIT: usize = 2 * 1024 * 1024;

/// JSON bodies whose rejections are answered in the error envelope.
#[derive(Debug, axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct JsonBody<T>(pub T);

/// Query strings whose rejections are answered in the error envelope.
#[derive(Debug, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct QueryParams<T>(pub T);

/// The answer for a method a resource does not take.
pub async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!("{method} is not allowed on {}", uri.path()),
    )
}
