//! Open311's error answers: an array of errors, one per bad field, in the format of the
//! resource's suffix — XML `<errors><error><code/><description/></error></errors>`, JSON
//! `[{"code":400,"description":"…"}]` — with HTTP 404 for what does not exist, 403 for a missing,
//! unknown or out-of-scope `api_key`, 429 when a key spent its rate, and 400 for everything else
//! a client sent wrong. Internal causes are logged, never sent.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use jz_app::cases::CaseError;
use jz_app::city::model::LocateError;
use jz_store::StoreError;

use super::wire::{Format, Node, respond};

/// One or more errors with the status they are answered with.
#[derive(Debug, Clone)]
pub(crate) struct Open311Error {
    pub status: StatusCode,
    pub descriptions: Vec<String>,
    pub retry_after_s: Option<u64>,
    pub allow: Option<&'static str>,
}

impl Open311Error {
    pub(crate) fn new(status: StatusCode, description: impl Into<String>) -> Open311Error {
        Open311Error {
            status,
            descriptions: vec![description.into()],
            retry_after_s: None,
            allow: None,
        }
    }

    /// 400: the request is wrong.
    pub(crate) fn bad(description: impl Into<String>) -> Open311Error {
        Open311Error::new(StatusCode::BAD_REQUEST, description)
    }

    /// 400 with one error per bad field.
    pub(crate) fn fields(descriptions: Vec<String>) -> Open311Error {
        Open311Error {
            status: StatusCode::BAD_REQUEST,
            descriptions,
            retry_after_s: None,
            allow: None,
        }
    }

    /// 404: the resource does not exist.
    pub(crate) fn not_found(description: impl Into<String>) -> Open311Error {
        Open311Error::new(StatusCode::NOT_FOUND, description)
    }

    /// 403: no usable API key.
    pub(crate) fn forbidden(description: impl Into<String>) -> Open311Error {
        Open311Error::new(StatusCode::FORBIDDEN, description)
    }

    /// The answer in `format`.
    pub(crate) fn into_response(self, format: Format) -> Response {
        let code = i64::from(self.status.as_u16());
        let node = Node::List(
            "error",
            self.descriptions
                .into_iter()
                .map(|description| {
                    Node::Object(vec![
                        ("code", Node::Int(code)),
                        ("description", Node::Text(description)),
                    ])
                })
                .collect(),
        );
        let mut response = respond(format, self.status, "errors", &node);
        if let Some(wait) = self.retry_after_s
            && let Ok(value) = HeaderValue::from_str(&wait.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        if let Some(allow) = self.allow {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        response
    }
}

impl From<StoreError> for Open311Error {
    fn from(error: StoreError) -> Open311Error {
        match error {
            StoreError::Closed | StoreError::Unreachable { .. } => {
                tracing::error!(%error, "store unavailable");
                Open311Error::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the store is unavailable; try again later",
                )
            }
            other => {
                tracing::error!(error = %other, "internal store error (open311)");
                Open311Error::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
            }
        }
    }
}

impl From<CaseError> for Open311Error {
    fn from(error: CaseError) -> Open311Error {
        match error {
            CaseError::Invalid(message) | CaseError::IllegalTransition(message) => {
                Open311Error::bad(message)
            }
            CaseError::NotFound(what) => Open311Error::not_found(format!("{what} does not exist")),
            CaseError::Exists(what) => Open311Error::bad(format!("{what} already exists")),
            CaseError::Forbidden(message) => Open311Error::forbidden(message),
            CaseError::Stale { .. } => {
                Open311Error::bad("the request changed while it was being processed; send it again")
            }
            CaseError::Location(LocateError::NoBoundaries) => Open311Error::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the city's boundaries are not loaded yet; try again later",
            ),
            CaseError::Location(error) => Open311Error::bad(format!("lat/long: {error}")),
            CaseError::Unauthenticated => {
                Open311Error::forbidden("api_key: unknown or revoked API key")
            }
            CaseError::RateLimited { retry_after_s } => Open311Error {
                retry_after_s: Some(retry_after_s),
                ..Open311Error::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    format!("api_key: too many requests; try again in {retry_after_s} s"),
                )
            },
            CaseError::Store(error) => error.into(),
        }
    }
}
