//! Open311 GeoReport v2 for third-party clients (citizen apps, FixMyStreet-style front ends):
//! discovery, the service list and definitions, posting and reading service requests, tokens,
//! public media, and FixMyStreet's request-update extension.
//!
//! Every resource lives under `/open311/v2/` with a format suffix, `.xml` or `.json` (discovery
//! also at `/open311/discovery.{fmt}`); a resource without a suffix (or with another) answers
//! 404 in XML. One catch-all route takes every path under `/open311/`: the path and method are
//! parsed into a [`Resource`] before any handler runs, so every answer, errors included, comes
//! in Open311's format. GETs are public and carry `Access-Control-Allow-Origin: *`; POSTs need
//! an API key with the `open311` scope. No answer carries a reporter's personal data or an
//! actor's identity.

mod error;
mod params;
mod requests;
mod services;
mod updates;
mod wire;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;

use crate::AppState;
pub(crate) use error::Open311Error;
use params::Params;
pub(crate) use wire::Format;

/// The jurisdiction this server answers for unless `JINGZHI_OPEN311_JURISDICTION` says otherwise.
pub const DEFAULT_JURISDICTION: &str = "jingzhi.local";
/// The base path of the GeoReport v2 resources.
pub const BASE_PATH: &str = "/open311/v2";
/// The GeoReport v2 specification, as discovery names it.
pub const SPECIFICATION: &str = "http://wiki.open311.org/GeoReport_v2";

/// How this server presents itself, from the environment.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// `jurisdiction_id` this server accepts (besides none).
    pub jurisdiction: String,
    /// The public origin (`https://city.example`) for absolute URLs; from the Host header when
    /// unset.
    pub public_url: Option<String>,
    pub contact: String,
    pub key_service: String,
    /// `production` or `test`.
    pub endpoint_type: String,
}

impl Settings {
    fn from_env() -> Settings {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        Settings {
            jurisdiction: var("JINGZHI_OPEN311_JURISDICTION")
                .unwrap_or_else(|| DEFAULT_JURISDICTION.into()),
            public_url: var("JINGZHI_PUBLIC_URL").map(|u| u.trim_end_matches('/').to_owned()),
            contact: var("JINGZHI_OPEN311_CONTACT").unwrap_or_else(|| {
                "12345 政务服务便民热线 / the city's 12345 hotline".into()
            }),
            key_service: var("JINGZHI_OPEN311_KEY_SERVICE").unwrap_or_else(|| {
                "API keys are issued by the city's Jingzhi administrators: jingzhi keys add --user ID --name NAME --scopes open311".into()
            }),
            endpoint_type: match var("JINGZHI_OPEN311_ENDPOINT_TYPE").as_deref() {
                Some("test") => "test".into(),
                _ => "production".into(),
            },
        }
    }

    /// The origin absolute URLs start with: the configured public URL, else the scheme
    /// (`X-Forwarded-Proto`) and `Host` of the request, else nothing (relative URLs).
    pub(crate) fn origin(&self, headers: &HeaderMap) -> String {
        if let Some(url) = &self.public_url {
            return url.clone();
        }
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .filter(|h| {
                !h.is_empty()
                    && h.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
            });
        let Some(host) = host else {
            return String::new();
        };
        let scheme = match headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
        {
            Some(p) if p.eq_ignore_ascii_case("https") => "https",
            _ => "http",
        };
        format!("{scheme}://{host}")
    }

    /// 404 for a jurisdiction this server does not serve; none (or an empty one) is fine.
    pub(crate) fn check_jurisdiction(&self, params: &Params) -> Result<(), Open311Error> {
        match params.get("jurisdiction_id").map(str::trim) {
            None => Ok(()),
            Some(id) if id.eq_ignore_ascii_case(&self.jurisdiction) => Ok(()),
            Some(id) => Err(Open311Error::not_found(format!(
                "jurisdiction_id: unknown jurisdiction `{id}`; this server serves `{}`",
                self.jurisdiction
            ))),
        }
    }
}

/// A GET's parameters and headers (the body is not needed, and is not `Sync`).
#[derive(Debug, Clone)]
pub(crate) struct Get {
    pub params: Params,
    pub headers: HeaderMap,
}

/// What a path names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Resource {
    Discovery,
    Services,
    Service(String),
    Requests,
    Request(String),
    Token(String),
    Updates,
    Media(String),
}

impl Resource {
    /// The methods the resource takes (besides OPTIONS).
    fn allow(&self) -> &'static str {
        match self {
            Resource::Requests | Resource::Updates => "GET, HEAD, POST, OPTIONS",
            _ => "GET, HEAD, OPTIONS",
        }
    }
}

/// Splits `name.fmt` into the name and its format.
fn with_format(segment: &str, path: &str) -> Result<(String, Format), Open311Error> {
    let no_format = || {
        Open311Error::not_found(format!(
            "no resource at {path}: Open311 resources end in their format, .xml or .json"
        ))
    };
    let (name, suffix) = segment.rsplit_once('.').ok_or_else(no_format)?;
    let format = Format::from_suffix(suffix).ok_or_else(no_format)?;
    if name.is_empty() {
        return Err(no_format());
    }
    Ok((name.to_owned(), format))
}

/// Parses a path under `/open311/` into the resource and the format it is asked in.
fn parse_path(path: &str) -> Result<(Resource, Format), Open311Error> {
    let rest = path.strip_prefix("/open311/").unwrap_or("");
    let segments: Vec<&str> = rest.split('/').collect();
    let unknown = || Open311Error::not_found(format!("no resource at {path}"));
    match segments.as_slice() {
        [last] | ["v2", last] => {
            let (name, format) = with_format(last, path)?;
            let resource = match (segments.len(), name.as_str()) {
                (_, "discovery") => Resource::Discovery,
                (2, "services") => Resource::Services,
                (2, "requests") => Resource::Requests,
                (2, "servicerequestupdates") => Resource::Updates,
                _ => return Err(unknown()),
            };
            Ok((resource, format))
        }
        ["v2", "media", id] if !id.is_empty() => {
            // Media URLs carry no format; a client may add a file extension.
            let id = id.split_once('.').map_or(*id, |(id, _)| id);
            Ok((Resource::Media(id.to_owned()), Format::Xml))
        }
        ["v2", collection, last] => {
            let (name, format) = with_format(last, path)?;
            let resource = match *collection {
                "services" => Resource::Service(name),
                "requests" => Resource::Request(name),
                "tokens" => Resource::Token(name),
                _ => return Err(unknown()),
            };
            Ok((resource, format))
        }
        _ => Err(unknown()),
    }
}

/// The Open311 routes, merged at the root of the router.
pub(crate) fn routes() -> Router<AppState> {
    let settings = Arc::new(Settings::from_env());
    Router::new().route(
        "/open311/{*path}",
        any(move |state: State<AppState>, request: Request| {
            let settings = settings.clone();
            async move { handle(state, settings, request).await }
        })
        .layer(DefaultBodyLimit::max(crate::MAX_BODY_BYTES)),
    )
}

async fn handle(
    State(state): State<AppState>,
    settings: Arc<Settings>,
    request: Request,
) -> Response {
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    let mut response = match parse_path(&path) {
        Err(error) => {
            let format = path
                .rsplit_once('.')
                .and_then(|(_, s)| Format::from_suffix(s))
                .unwrap_or(Format::Xml);
            error.into_response(format)
        }
        Ok((resource, format)) => {
            match dispatch(&state, &settings, resource, format, method, request).await {
                Ok(response) => response,
                Err(error) => error.into_response(format),
            }
        }
    };
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

async fn dispatch(
    state: &AppState,
    settings: &Settings,
    resource: Resource,
    format: Format,
    method: Method,
    request: Request,
) -> Result<Response, Open311Error> {
    let read = method == Method::GET || method == Method::HEAD;
    if method == Method::OPTIONS {
        // CORS preflight.
        return Ok((
            StatusCode::NO_CONTENT,
            [
                (header::ALLOW, resource.allow()),
                (header::ACCESS_CONTROL_ALLOW_METHODS, resource.allow()),
                (header::ACCESS_CONTROL_ALLOW_HEADERS, "Content-Type"),
                (header::ACCESS_CONTROL_MAX_AGE, "86400"),
            ],
        )
            .into_response());
    }
    let wrong_method = || Open311Error {
        allow: Some(resource.allow()),
        ..Open311Error::bad(format!(
            "{method} is not allowed on {}; use {}",
            request.uri().path(),
            resource.allow()
        ))
    };
    let get = Get {
        params: Params::from_query(request.uri().query()),
        headers: request.headers().clone(),
    };
    match (&resource, read, method == Method::POST) {
        (Resource::Discovery, true, _) => services::discovery(state, settings, &get, format).await,
        (Resource::Services, true, _) => services::list(state, settings, &get, format).await,
        (Resource::Service(code), true, _) => {
            services::definition(state, settings, &get, code, format).await
        }
        (Resource::Requests, true, _) => requests::list(state, settings, &get, format).await,
        (Resource::Requests, _, true) => requests::post(state, settings, request, format).await,
        (Resource::Request(id), true, _) => requests::one(state, settings, &get, id, format).await,
        (Resource::Token(token), true, _) => requests::token(settings, &get, token),
        (Resource::Updates, true, _) => updates::list(state, settings, &get, format).await,
        (Resource::Updates, _, true) => updates::post(state, settings, request, format).await,
        (Resource::Media(id), true, _) => requests::media(state, id).await,
        _ => Err(wrong_method()),
    }
}

/// The rate limiter's refusal for an Open311 path, in the format of its suffix (JSON when the
/// path has none).
pub(crate) fn rate_limited(path: &str, retry_after_s: u64) -> axum::response::Response {
    let format = path
        .rsplit_once('.')
        .and_then(|(_, suffix)| wire::Format::from_suffix(suffix))
        .unwrap_or(wire::Format::Json);
    let mut error = error::Open311Error::new(
        axum::http::StatusCode::TOO_MANY_REQUESTS,
        format!("too many requests from this address; try again in {retry_after_s} s"),
    );
    error.retry_after_s = Some(retry_after_s);
    error.into_response(format)
}
