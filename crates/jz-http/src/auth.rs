//! Who is calling: the bearer token of a user, resolved to an actor with role and territory.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use jz_app::cases::users::User;
use jz_domain::access::{Actor, Role};

use crate::AppState;
use crate::error::{ApiError, ErrorCode};

/// The name of the console's session cookie.
pub const SESSION_COOKIE: &str = "jz_session";
/// The header carrying the session's CSRF token on requests that change something.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// An authenticated caller: by bearer token (personal token or system API key) or by console
/// session cookie (then every request that changes something must carry the CSRF token).
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub actor: Actor,
    /// The client's address, for the audit trail.
    pub origin: String,
    /// For session callers: the session cookie's secret, its CSRF token and expiry.
    pub session_secret: Option<String>,
    pub csrf_token: Option<String>,
    pub session_expires_at_us: Option<i64>,
}

/// The client's address, as an extractor.
#[derive(Debug, Clone)]
pub struct Origin(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Origin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Origin, Self::Rejection> {
        Ok(Origin(origin(parts)))
    }
}

fn session_cookie(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// Compares two secrets in time independent of where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Caller {
    /// Refuses callers whose role is not in `roles`.
    pub fn require(&self, roles: &[Role], what: &str) -> Result<(), ApiError> {
        if roles.contains(&self.actor.role) {
            return Ok(());
        }
        let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        Err(ApiError::new(
            ErrorCode::Forbidden,
            format!(
                "{} may not {what}; allowed: {}",
                self.actor.role.with_article(),
                names.join(", ")
            ),
        ))
    }
}

/// The caller's address as the audit trail records it.
pub fn origin(parts: &Parts) -> String {
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| format!("http:{}", c.0.ip()))
        .unwrap_or_else(|| "http".into())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .unwrap_or("");
        if token.is_empty() {
            let Some(secret) = session_cookie(parts) else {
                return Err(ApiError::new(
                    ErrorCode::Unauthenticated,
                    "this endpoint needs a login (POST /api/v1/session) or an API token: send `Authorization: Bearer <token>` (create one with `jingzhi users add`)",
                ));
            };
            let session = state
                .sessions
                .session(&state.store, &secret, jz_app::cases::now_us())
                .await
                .map_err(|_| {
                    ApiError::new(
                        ErrorCode::Unauthenticated,
                        "the session has expired or was closed; log in again",
                    )
                })?;
            let safe = matches!(
                parts.method,
                axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
            );
            if !safe {
                let sent = parts
                    .headers
                    .get(CSRF_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if !same_secret(sent, &session.csrf_token) {
                    return Err(ApiError::new(
                        ErrorCode::Forbidden,
                        "missing or wrong X-CSRF-Token: send the csrf_token of your session with every change",
                    ));
                }
            }
            let actor = session.user.actor();
            return Ok(Caller {
                actor,
                origin: origin(parts),
                csrf_token: Some(session.csrf_token),
                session_expires_at_us: Some(session.expires_at_us),
                session_secret: Some(secret),
                user: session.user,
            });
        }
        // Personal tokens (`jz_…`) and system API keys (`jzk_…`, with the `api` scope).
        let user = if token.starts_with(jz_app::cases::keys::KEY_PREFIX) {
            state
                .keys
                .authenticate(&state.store, token, jz_app::cases::keys::Scope::Api)
                .await
                .map(|(user, _)| user)
        } else {
            state.tokens.authenticate(&state.store, token).await
        }
        .map_err(ApiError::from)?;
        let actor = user.actor();
        Ok(Caller {
            user,
            actor,
            origin: origin(parts),
            session_secret: None,
            csrf_token: None,
            session_expires_at_us: None,
        })
    }
}
