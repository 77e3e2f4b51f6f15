//! The log of served requests, the outermost layer: a request answered with a server error
//! (5xx, the timeout's 503 included) is logged at ERROR, every request at DEBUG, with method,
//! path (never the query string, which may carry a reporter's details), status and latency.
//!
//! A plain service in place of tower-http's `TraceLayer`, which builds a span and wraps the
//! body for every request; with the rate limit's and the counters' `from_fn` layers it cost
//! ≈ 5 % of the server's CPU per intake report (docs/benchmarks.md).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::http::{Method, Request, Response, Uri};

/// See the module documentation.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestLogLayer;

impl<S> tower::Layer<S> for RequestLogLayer {
    type Service = RequestLog<S>;

    fn layer(&self, inner: S) -> RequestLog<S> {
        RequestLog { inner }
    }
}

/// See [`RequestLogLayer`].
#[derive(Debug, Clone)]
pub struct RequestLog<S> {
    inner: S,
}

impl<S, B, R> tower::Service<Request<B>> for RequestLog<S>
where
    S: tower::Service<Request<B>, Response = Response<R>>,
    S::Error: std::fmt::Display,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = RequestLogFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        RequestLogFuture {
            method: request.method().clone(),
            uri: request.uri().clone(),
            started: Instant::now(),
            future: self.inner.call(request),
        }
    }
}

pin_project_lite::pin_project! {
    /// The answer, logged when it is ready.
    #[derive(Debug)]
    pub struct RequestLogFuture<F> {
        #[pin]
        future: F,
        method: Method,
        uri: Uri,
        started: Instant,
    }
}

impl<F, R, E> Future for RequestLogFuture<F>
where
    F: Future<Output = Result<Response<R>, E>>,
    E: std::fmt::Display,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let answer = std::task::ready!(this.future.poll(cx));
        let latency_ms = this.started.elapsed().as_secs_f64() * 1e3;
        let (method, path) = (this.method.as_str(), this.uri.path());
        match &answer {
            Ok(response) if response.status().is_server_error() => {
                let status = response.status().as_u16();
                tracing::error!(method, path, status, latency_ms, "request failed");
            }
            Ok(response) => {
                let status = response.status().as_u16();
                tracing::debug!(method, path, status, latency_ms, "request served");
            }
            Err(error) => tracing::error!(method, path, %error, latency_ms, "request failed"),
        }
        Poll::Ready(answer)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::http::StatusCode;
    use tower::{Layer, ServiceExt};

    use super::*;

    /// What the log wrote.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .expect("not poisoned")
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    async fn answer(uri: &str) -> StatusCode {
        let service = RequestLogLayer.layer(tower::service_fn(|request: Request<()>| async move {
            let status = if request.uri().path() == "/boom" {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::OK
            };
            Ok::<_, std::convert::Infallible>(
                Response::builder().status(status).body(()).expect("valid"),
            )
        }));
        let request = Request::builder().uri(uri).body(()).expect("valid");
        service.oneshot(request).await.expect("infallible").status()
    }

    #[tokio::test]
    async fn server_errors_are_logged_without_the_query_and_answers_pass_unchanged() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);

        assert_eq!(answer("/ok").await, StatusCode::OK);
        assert!(captured.0.lock().expect("not poisoned").is_empty());

        assert_eq!(
            answer("/boom?phone=13900000000").await,
            StatusCode::INTERNAL_SERVER_ERROR
        );
        let log =
            String::from_utf8(captured.0.lock().expect("not poisoned").clone()).expect("utf-8");
        assert!(log.contains("ERROR"), "{log}");
        assert!(log.contains("request failed"), "{log}");
        assert!(log.contains("path=\"/boom\""), "{log}");
        assert!(log.contains("status=500"), "{log}");
        assert!(log.contains("method=\"GET\""), "{log}");
        assert!(
            !log.contains("13900000000"),
            "the query reached the log: {log}"
        );
    }
}
