//! Per-client rate limiting: a token bucket per client address, in front of every route. Public
//! endpoints (the city model, Open311 reads) are open to anyone, so each address gets a budget
//! of requests per minute; API keys have their own, per key, on top.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, ErrorCode};

/// Requests per minute per client address unless `JINGZHI_RATE_LIMIT` says otherwise.
pub const DEFAULT_PER_MINUTE: u32 = 1200;

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Buckets by client address; `per_minute == 0` turns limiting off.
#[derive(Debug)]
pub struct IpLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<Option<IpAddr>, Bucket>>,
}

impl IpLimiter {
    pub fn new(per_minute: u32) -> IpLimiter {
        IpLimiter {
            per_minute,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// What is wrong with `JINGZHI_RATE_LIMIT`, if it is set but not a whole number (it would
    /// otherwise be ignored for the default).
    pub fn environment_error() -> Option<String> {
        let value = std::env::var("JINGZHI_RATE_LIMIT").ok()?;
        value.trim().parse::<u32>().is_err().then(|| {
            format!("JINGZHI_RATE_LIMIT is set to {value:?}: it must be a whole number of requests per minute per address, 0 for no limit (unset, it is {DEFAULT_PER_MINUTE})")
        })
    }

    /// From `JINGZHI_RATE_LIMIT` (requests per minute per address; 0 = off).
    pub fn from_env() -> IpLimiter {
        let per_minute = std::env::var("JINGZHI_RATE_LIMIT")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(DEFAULT_PER_MINUTE);
        IpLimiter::new(per_minute)
    }

    /// Takes one request from the address's bucket; the seconds to wait when it is empty.
    fn take(&self, address: Option<IpAddr>) -> Result<(), u64> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let rate = f64::from(self.per_minute);
        let now = Instant::now();
        let mut buckets = self.buckets.lock().expect("rate buckets");
        if buckets.len() > 100_000 {
            // Forget addresses whose buckets are full again: they have been idle a minute.
            buckets.retain(|_, b| now.duration_since(b.at).as_secs_f64() < 60.0);
        }
        let bucket = buckets.entry(address).or_insert(Bucket {
            tokens: rate,
            at: now,
        });
        bucket.tokens =
            (bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * rate / 60.0).min(rate);
        bucket.at = now;
        if bucket.tokens < 1.0 {
            return Err(((1.0 - bucket.tokens) * 60.0 / rate).ceil().max(1.0) as u64);
        }
        bucket.tokens -= 1.0;
        Ok(())
    }
}

/// What the rate-limit middleware needs: the buckets, and the counters it reports refusals to
/// (it runs before routing, outside the per-route request counters).
#[derive(Debug, Clone)]
pub struct Guard {
    pub limiter: std::sync::Arc<IpLimiter>,
    pub metrics: std::sync::Arc<crate::metrics::Metrics>,
}

/// The rate limit as a layer, between the request-body limit and the router: an address past
/// its budget gets 429 `rate_limited` with `Retry-After` (Open311 paths in Open311's format) and
/// never reaches a route. A plain service, not axum's `from_fn`, which boxes the rest of the
/// stack and its future for every request (see `router`).
#[derive(Debug, Clone)]
pub struct RateLimitLayer {
    pub guard: Guard,
}

impl<S> tower::Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> RateLimit<S> {
        RateLimit {
            inner,
            guard: self.guard.clone(),
        }
    }
}

/// See [`RateLimitLayer`].
#[derive(Debug, Clone)]
pub struct RateLimit<S> {
    inner: S,
    guard: Guard,
}

impl<S, B> tower::Service<Request<B>> for RateLimit<S>
where
    S: tower::Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = RateLimitFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let address = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        match self.guard.limiter.take(address) {
            Ok(()) => RateLimitFuture::Admitted {
                future: self.inner.call(request),
            },
            Err(wait) => {
                self.guard.metrics.count_rate_limited();
                RateLimitFuture::Refused {
                    response: Some(refusal(request.uri().path(), wait)),
                }
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// The route's answer, or the refusal.
    #[project = RateLimitProjection]
    #[derive(Debug)]
    pub enum RateLimitFuture<F> {
        Admitted { #[pin] future: F },
        Refused { response: Option<Response> },
    }
}

impl<F, E> Future for RateLimitFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            RateLimitProjection::Admitted { future } => future.poll(cx),
            RateLimitProjection::Refused { response } => {
                Poll::Ready(Ok(response.take().expect("polled after it answered")))
            }
        }
    }
}

/// 429 for a request to `path`, `wait` seconds before the address may ask again.
fn refusal(path: &str, wait: u64) -> Response {
    if path.starts_with("/open311") {
        return crate::open311::rate_limited(path, wait);
    }
    let mut response = ApiError::new(
        ErrorCode::RateLimited,
        format!("too many requests from this address; try again in {wait} s"),
    )
    .into_response();
    if let Ok(value) = wait.to_string().parse() {
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_its_budget_then_waits() {
        let limiter = IpLimiter::new(3);
        let a = Some(IpAddr::from([10, 0, 0, 1]));
        let b = Some(IpAddr::from([10, 0, 0, 2]));
        for _ in 0..3 {
            assert_eq!(limiter.take(a), Ok(()));
        }
        let wait = limiter.take(a).unwrap_err();
        assert!((1..=20).contains(&wait), "{wait}");
        assert_eq!(
            limiter.take(b),
            Ok(()),
            "another address has its own budget"
        );
        let off = IpLimiter::new(0);
        for _ in 0..10_000 {
            assert_eq!(off.take(a), Ok(()));
        }
    }
}
