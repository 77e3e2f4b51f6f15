//! Who is calling: the bearer token of a user, resolved to an actor with role and territory.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use jz_app::cases::users::User;
use jz_domain::access::{Actor, Role};

use crate::AppState;
use crate::error::{ApiError, ErrorCode};

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub actor: Actor,
    /// The client's address, for the audit trail.
    pub origin: String,
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
                "a {} may not {what}; allowed: {}",
                self.actor.role,
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
            return Err(ApiError::new(
                ErrorCode::Unauthenticated,
                "this endpoint needs an API token: send `Authorization: Bearer <token>` (create one with `jingzhi users add`)",
            ));
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
        })
    }
}
