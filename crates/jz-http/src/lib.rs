//! Jingzhi's HTTP adapter: the axum router, wire types and the error-code table.
//!
//! Handlers parse requests into domain types, call the store or the use cases, and answer with
//! wire types. Every error leaves through [`error::ApiError`], one table of stable codes.

mod access;
pub mod auth;
mod cases;
mod city;
mod console;
pub mod error;
mod evaluation;
mod health;
pub mod limit;
mod live;
pub mod metrics;
mod open311;
mod openapi;
mod request_log;

use std::time::Duration;

use axum::Router;
use jz_store::Store;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

/// Largest request body accepted anywhere (photos have their own, smaller, per-route limits).
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Shared state of every handler.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub city: std::sync::Arc<jz_app::city::SharedCity>,
    /// The case loop (shares `store` and `city`).
    pub cases: std::sync::Arc<jz_app::cases::Cases>,
    /// Authenticated API tokens.
    pub tokens: std::sync::Arc<jz_app::cases::users::TokenCache>,
    /// Authenticated API keys and their rate limits.
    pub keys: std::sync::Arc<jz_app::cases::keys::KeyCache>,
    /// Console sessions.
    pub sessions: std::sync::Arc<jz_app::cases::sessions::Sessions>,
    /// Scorecards, rankings and trends.
    pub evaluations: std::sync::Arc<jz_app::evaluation::Evaluations>,
    /// Request counters and latencies for `/metrics`.
    pub metrics: std::sync::Arc<metrics::Metrics>,
    /// Requests per minute per client address.
    pub limiter: std::sync::Arc<limit::IpLimiter>,
}

impl AppState {
    /// Opens the case loop over `store` and `city` (seeding its catalogue on first start).
    pub async fn open(
        store: Store,
        city: std::sync::Arc<jz_app::city::SharedCity>,
    ) -> Result<AppState, jz_app::cases::CaseError> {
        let cases = jz_app::cases::Cases::open(store.clone(), city.clone()).await?;
        Ok(AppState {
            store,
            city,
            cases: std::sync::Arc::new(cases),
            tokens: std::sync::Arc::default(),
            keys: std::sync::Arc::default(),
            sessions: std::sync::Arc::default(),
            evaluations: std::sync::Arc::default(),
            metrics: std::sync::Arc::default(),
            limiter: std::sync::Arc::new(limit::IpLimiter::from_env()),
        })
    }
}

/// The whole HTTP interface.
///
/// The layers every request passes (the request log, compression, timeout, body limit, rate
/// limit) wrap the routes once, as one service: `Router::layer` would wrap each route in its
/// own copy of the stack, and a route's service (with its layers) is cloned for every request it
/// serves. Only the request counters are per route: they need the matched route's template.
/// Requests the rate limit refuses never reach a route; `/metrics` counts them on their own.
/// The log, the rate limit and the counters are plain services: axum's `from_fn` and
/// tower-http's `TraceLayer` in their place cost ≈ 5 % of the server's CPU per intake report.
pub fn router(state: AppState) -> Router {
    let guard = limit::Guard {
        limiter: state.limiter.clone(),
        metrics: state.metrics.clone(),
    };
    let track = metrics::TrackLayer {
        metrics: state.metrics.clone(),
    };
    let routes = Router::new()
        .nest(
            "/api/v1",
            health::routes()
                .route("/openapi.json", axum::routing::get(openapi::document))
                .merge(city::routes())
                .merge(cases::routes())
                .merge(access::routes())
                .merge(evaluation::routes())
                .merge(live::routes()),
        )
        .merge(open311::routes())
        .merge(console::routes())
        .merge(metrics::routes())
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(state)
        .route_layer(track);
    let every_request = tower::ServiceBuilder::new()
        .layer(request_log::RequestLogLayer)
        // GeoJSON layers shrink about tenfold with gzip.
        .layer(CompressionLayer::new())
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(30),
        ))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        // Below the body limit: the rate limit answers with the router's own body type.
        .layer(limit::RateLimitLayer { guard })
        .service(routes);
    Router::new().fallback_service(every_request)
}
