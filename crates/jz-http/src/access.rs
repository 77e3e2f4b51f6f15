//! People and systems over HTTP: console login (session cookie + CSRF token), logout, users and
//! their passwords, API keys for systems, and the audit trail for auditors.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, put};
use axum::{Json, Router};
use jz_app::cases::keys::{self, ApiKey, Scope};
use jz_app::cases::sessions::{self, SESSION_HOURS};
use jz_app::cases::users::{self, User};
use jz_app::cases::{CaseError, now_us};
use jz_domain::access::Role;
use jz_domain::division::DivisionCode;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::auth::{Caller, Origin, SESSION_COOKIE};
use crate::error::{ApiError, ErrorCode};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/session", get(current).post(login).delete(logout))
        .route("/users", get(list_users).post(add_user))
        .route("/users/{id}", delete(revoke_user))
        .route("/users/{id}/password", put(set_password))
        .route("/keys", get(list_keys).post(add_key))
        .route("/keys/{id}", delete(revoke_key))
        .route("/audit", get(audit))
}

const ADMINS: &[Role] = &[Role::Admin];

fn body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(b)| b).map_err(ApiError::from)
}

fn by(caller: &Caller) -> jz_app::city::Actor {
    jz_app::city::Actor {
        actor: caller.actor.id.clone(),
        origin: caller.origin.clone(),
        at_us: now_us(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    login: String,
    password: String,
}

#[derive(Debug, Serialize)]
struct SessionView {
    user: User,
    /// Send it back as `X-CSRF-Token` on every request that changes something.
    csrf_token: Option<String>,
    expires_at_us: Option<i64>,
}

fn cookie(value: &str, max_age_s: i64) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Secure; Max-Age={max_age_s}"
    ))
    .expect("a cookie of hex digits is a valid header")
}

async fn login(
    State(state): State<AppState>,
    Origin(origin): Origin,
    request: Result<Json<LoginBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let request = body(request)?;
    let (secret, session) = state
        .sessions
        .login(
            &state.store,
            &request.login,
            &request.password,
            &origin,
            now_us(),
        )
        .await
        .map_err(|e| match e {
            CaseError::Unauthenticated => ApiError::new(
                ErrorCode::Unauthenticated,
                "unknown login or wrong password",
            ),
            other => other.into(),
        })?;
    let mut response = Json(SessionView {
        user: session.user,
        csrf_token: Some(session.csrf_token),
        expires_at_us: Some(session.expires_at_us),
    })
    .into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie(&secret, SESSION_HOURS * 3600));
    Ok(response)
}

async fn current(caller: Caller) -> Json<SessionView> {
    Json(SessionView {
        user: caller.user,
        csrf_token: caller.csrf_token,
        expires_at_us: caller.session_expires_at_us,
    })
}

async fn logout(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let Some(secret) = caller.session_secret.as_deref() else {
        return Err(ApiError::new(
            ErrorCode::InvalidParameter,
            "session: this request carries no session cookie (bearer tokens do not log out)",
        ));
    };
    state
        .sessions
        .logout(&state.store, secret, &caller.origin, now_us())
        .await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie("", 0));
    Ok(response)
}

async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<User>>, ApiError> {
    caller.require(ADMINS, "list users")?;
    Ok(Json(users::list_users(&state.store).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserBody {
    name: String,
    role: String,
    territory: Option<String>,
    department: Option<String>,
    login: Option<String>,
    password: Option<String>,
}

#[derive(Debug, Serialize)]
struct NewUser {
    user: User,
    /// The user's personal API token, shown only in this answer.
    token: String,
}

async fn add_user(
    State(state): State<AppState>,
    caller: Caller,
    request: Result<Json<UserBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    caller.require(ADMINS, "add users")?;
    let request = body(request)?;
    let role: Role = request
        .role
        .parse()
        .map_err(|e: String| ApiError::new(ErrorCode::InvalidBody, e).field("role"))?;
    let territory = request
        .territory
        .as_deref()
        .filter(|t| !t.is_empty())
        .map(DivisionCode::parse)
        .transpose()
        .map_err(|e| ApiError::new(ErrorCode::InvalidBody, e.to_string()).field("territory"))?;
    if request.login.is_some() != request.password.is_some() {
        return Err(ApiError::new(
            ErrorCode::InvalidBody,
            "password: give a login and a password together",
        )
        .field("password"));
    }
    if let Some(problem) = request
        .password
        .as_deref()
        .and_then(sessions::password_problems)
    {
        return Err(crate::error::with_field(ErrorCode::InvalidBody, problem));
    }
    let by = by(&caller);
    let login = match (&request.login, &request.password) {
        (Some(login), Some(password)) => Some((login.as_str(), password.as_str())),
        _ => None,
    };
    let (user, token) = users::create_user_with_login(
        &state.store,
        &by,
        &request.name,
        role,
        territory,
        request.department,
        login,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(NewUser { user, token })).into_response())
}

async fn revoke_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(ADMINS, "revoke users")?;
    users::revoke_user(&state.store, &state.tokens, &by(&caller), &id).await?;
    state.sessions.forget_all();
    state.keys.forget_all();
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordBody {
    login: String,
    password: String,
}

async fn set_password(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    request: Result<Json<PasswordBody>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    if caller.user.id != id {
        caller.require(ADMINS, "set other users' passwords")?;
    }
    let request = body(request)?;
    sessions::set_password(
        &state.store,
        &by(&caller),
        &id,
        &request.login,
        &request.password,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_keys(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<ApiKey>>, ApiError> {
    caller.require(ADMINS, "list API keys")?;
    Ok(Json(keys::list_api_keys(&state.store).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyBody {
    user_id: String,
    name: String,
    scopes: Vec<String>,
    rate_per_minute: Option<u32>,
}

#[derive(Debug, Serialize)]
struct NewKey {
    key: ApiKey,
    /// The key's secret, shown only in this answer.
    secret: String,
}

async fn add_key(
    State(state): State<AppState>,
    caller: Caller,
    request: Result<Json<KeyBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    caller.require(ADMINS, "create API keys")?;
    let request = body(request)?;
    let scopes = request
        .scopes
        .iter()
        .map(|s| Scope::parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    let (key, secret) = keys::create_api_key(
        &state.store,
        &by(&caller),
        &request.user_id,
        &request.name,
        &scopes,
        request.rate_per_minute.unwrap_or(600),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(NewKey { key, secret })).into_response())
}

async fn revoke_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(ADMINS, "revoke API keys")?;
    keys::revoke_api_key(&state.store, &state.keys, &by(&caller), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    subject_kind: String,
    subject_id: String,
}

#[derive(Debug, Serialize)]
struct AuditView {
    seq: i64,
    at_us: i64,
    actor: String,
    actor_role: String,
    action: String,
    subject_kind: String,
    subject_id: String,
    origin: String,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
    hash: String,
}

async fn audit(
    State(state): State<AppState>,
    caller: Caller,
    request: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<Vec<AuditView>>, ApiError> {
    caller.require(
        &[Role::Auditor, Role::Admin, Role::CityOperator],
        "read the audit trail",
    )?;
    let Query(q) = request.map_err(ApiError::from)?;
    for (field, value) in [
        ("subject_kind", &q.subject_kind),
        ("subject_id", &q.subject_id),
    ] {
        if value.trim().is_empty() {
            return Err(ApiError::new(
                ErrorCode::InvalidParameter,
                format!("{field}: must not be empty"),
            )
            .field(field));
        }
    }
    // Territory applies to the audit trail too: a case's trail only for those who may see the
    // case; the trails of the organisation (users, keys, rules…) only for city-wide callers.
    if q.subject_kind == "case" {
        state.cases.get(&caller.actor, &q.subject_id).await?;
    } else if caller.actor.territory.is_some() {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "only callers without a territory restriction read the audit trail of anything but a case",
        ));
    }
    let entries = state
        .store
        .audit_entries_for(&q.subject_kind, &q.subject_id)
        .await?;
    let json = |text: &Option<String>| {
        text.as_deref()
            .map(|t| serde_json::from_str(t).unwrap_or(serde_json::Value::String(t.to_owned())))
    };
    Ok(Json(
        entries
            .iter()
            .map(|e| AuditView {
                seq: e.seq,
                at_us: e.record.at_us,
                actor: e.record.actor.clone(),
                actor_role: e.record.actor_role.clone(),
                action: e.record.action.clone(),
                subject_kind: e.record.subject_kind.clone(),
                subject_id: e.record.subject_id.clone(),
                origin: e.record.origin.clone(),
                before: json(&e.record.before),
                after: json(&e.record.after),
                hash: e.hash.clone(),
            })
            .collect(),
    ))
}
