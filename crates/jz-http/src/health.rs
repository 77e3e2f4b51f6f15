//! `GET /api/v1/health`: whether the service and its store answer, and how durable writes are.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::AppState;
use crate::error::ApiError;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/health", get(health))
}

#[derive(Debug, Serialize)]
struct Health {
    status: &'static str,
    version: &'static str,
    store: StoreHealth,
}

#[derive(Debug, Serialize)]
struct StoreHealth {
    backend: &'static str,
    schema_version: i64,
    /// The write connection's durability settings, read back from the database.
    durability: serde_json::Map<String, serde_json::Value>,
}

async fn health(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    let durability = state.store.durability().await?;
    Ok(Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        store: StoreHealth {
            backend: state.store.backend().name(),
            schema_version: state.store.schema_version(),
            durability: durability
                .settings
                .into_iter()
                .map(|(name, value)| (name, serde_json::Value::String(value)))
                .collect(),
        },
    }))
}
