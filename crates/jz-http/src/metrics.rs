//! `/metrics` in the Prometheus text format: requests and latencies per route, and the case
//! loop's depths (open, overdue, suspended and per-queue counts).
//!
//! Readable from loopback (a local Prometheus or node agent) or by city-level staff with a
//! token; anyone else gets 403 — the figures are aggregates but still the city's business.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jz_domain::access::Role;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorCode};

/// Latency bucket bounds, in seconds.
const BUCKETS: [f64; 11] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Debug, Default)]
struct Route {
    /// Requests by status code.
    statuses: BTreeMap<u16, u64>,
    /// Cumulative counts per bucket bound, then the sum of seconds and the count.
    buckets: [u64; BUCKETS.len()],
    seconds: f64,
    count: u64,
}

/// Request counters, kept per method and matched route (never per raw path, so the label set
/// stays bounded).
#[derive(Debug, Default)]
pub struct Metrics {
    /// By method, then route.
    routes: Mutex<BTreeMap<String, BTreeMap<String, Route>>>,
    /// Requests the per-address rate limit refused before they reached a route.
    rate_limited: std::sync::atomic::AtomicU64,
}

impl Metrics {
    /// Counts a request the per-address rate limit refused (answered 429 before routing).
    pub(crate) fn count_rate_limited(&self) {
        self.rate_limited
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    fn record(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut routes = self.routes.lock().expect("not poisoned");
        // Keys are allocated once per route, not per request.
        if !routes.contains_key(method) {
            routes.insert(method.to_owned(), BTreeMap::new());
        }
        let by_route = routes.get_mut(method).expect("just inserted");
        if !by_route.contains_key(route) {
            by_route.insert(route.to_owned(), Route::default());
        }
        let entry = by_route.get_mut(route).expect("just inserted");
        *entry.statuses.entry(status).or_default() += 1;
        for (bound, slot) in BUCKETS.iter().zip(entry.buckets.iter_mut()) {
            if seconds <= *bound {
                *slot += 1;
            }
        }
        entry.seconds += seconds;
        entry.count += 1;
    }
}

/// Counts every request by route and status, and times it: a layer on the routes (it needs the
/// matched route's template). A plain service, not axum's `from_fn`, which boxes the rest of
/// the stack and its future for every request (see `router`).
#[derive(Debug, Clone)]
pub struct TrackLayer {
    pub metrics: Arc<Metrics>,
}

impl<S> tower::Layer<S> for TrackLayer {
    type Service = Track<S>;

    fn layer(&self, inner: S) -> Track<S> {
        Track {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// See [`TrackLayer`].
#[derive(Debug, Clone)]
pub struct Track<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S, B, R> tower::Service<Request<B>> for Track<S>
where
    S: tower::Service<Request<B>, Response = axum::http::Response<R>>,
{
    type Response = axum::http::Response<R>;
    type Error = S::Error;
    type Future = TrackFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        TrackFuture {
            method: request.method().clone(),
            route: request.extensions().get::<MatchedPath>().cloned(),
            metrics: self.metrics.clone(),
            started: Instant::now(),
            future: self.inner.call(request),
        }
    }
}

pin_project_lite::pin_project! {
    /// The route's answer, counted when it is ready.
    #[derive(Debug)]
    pub struct TrackFuture<F> {
        #[pin]
        future: F,
        method: Method,
        route: Option<MatchedPath>,
        metrics: Arc<Metrics>,
        started: Instant,
    }
}

impl<F, R, E> Future for TrackFuture<F>
where
    F: Future<Output = Result<axum::http::Response<R>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let answer = std::task::ready!(this.future.poll(cx));
        if let Ok(response) = &answer {
            this.metrics.record(
                this.method.as_str(),
                this.route.as_ref().map_or("unmatched", MatchedPath::as_str),
                response.status().as_u16(),
                this.started.elapsed().as_secs_f64(),
            );
        }
        Poll::Ready(answer)
    }
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"")
}

async fn metrics(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    let (mut parts, _) = request.into_parts();
    let loopback = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .is_some_and(|c| c.0.ip().is_loopback());
    if !loopback {
        let caller = <Caller as axum::extract::FromRequestParts<AppState>>::from_request_parts(
            &mut parts, &state,
        )
        .await?;
        if !matches!(
            caller.actor.role,
            Role::Admin | Role::Auditor | Role::CityOperator
        ) {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "metrics are for loopback scrapers and city-level staff",
            ));
        }
    }
    let mut out = String::new();
    out.push_str("# HELP jingzhi_http_requests_total HTTP requests by method, route and status.\n");
    out.push_str("# TYPE jingzhi_http_requests_total counter\n");
    let mut latency = String::new();
    latency.push_str(
        "# HELP jingzhi_http_request_duration_seconds Time to answer, by method and route.\n",
    );
    latency.push_str("# TYPE jingzhi_http_request_duration_seconds histogram\n");
    {
        let routes = state.metrics.routes.lock().expect("not poisoned");
        let each = routes.iter().flat_map(|(method, by_route)| {
            by_route
                .iter()
                .map(move |(route, entry)| (method, route, entry))
        });
        for (method, route, entry) in each {
            let labels = format!("method=\"{}\",route=\"{}\"", escape(method), escape(route));
            for (status, count) in &entry.statuses {
                let _ = writeln!(
                    out,
                    "jingzhi_http_requests_total{{{labels},status=\"{status}\"}} {count}"
                );
            }
            for (bound, count) in BUCKETS.iter().zip(entry.buckets.iter()) {
                let _ = writeln!(
                    latency,
                    "jingzhi_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                latency,
                "jingzhi_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}\n\
                 jingzhi_http_request_duration_seconds_sum{{{labels}}} {}\n\
                 jingzhi_http_request_duration_seconds_count{{{labels}}} {}",
                entry.count, entry.seconds, entry.count
            );
        }
    }
    out.push_str(&latency);
    let _ = writeln!(
        out,
        "# HELP jingzhi_http_rate_limited_total Requests refused (429) by the per-address rate limit, before routing.\n\
         # TYPE jingzhi_http_rate_limited_total counter\n\
         jingzhi_http_rate_limited_total {}",
        state
            .metrics
            .rate_limited
            .load(std::sync::atomic::Ordering::Relaxed)
    );
    // Case loop depths.
    let depths = jz_app::evaluation::loop_depths(&state.store).await?;
    let gauges = [
        ("jingzhi_cases_open", "Cases open now.", depths.open),
        (
            "jingzhi_cases_overdue",
            "Open cases whose running stage is overdue.",
            depths.overdue,
        ),
        (
            "jingzhi_cases_suspended",
            "Cases suspended (挂账).",
            depths.suspended,
        ),
    ];
    for (name, help, value) in gauges {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    }
    out.push_str("# HELP jingzhi_case_queue_depth Open cases by state (to register, to dispatch, to handle, to verify, to close).\n");
    out.push_str("# TYPE jingzhi_case_queue_depth gauge\n");
    for (state_name, count) in depths.by_state {
        let _ = writeln!(
            out,
            "jingzhi_case_queue_depth{{state=\"{state_name}\"}} {count}"
        );
    }
    let mut response = out.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(response)
}
