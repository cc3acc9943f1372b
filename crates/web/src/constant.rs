//! Answers that are the same for everyone: the discovery document, the
//! keys, the stylesheet. A handler marks such an answer [`Constant`];
//! [`crate::serve`] keeps it a moment and gives it to the next `GET`s of the
//! same path itself, without the router, its layers or the handler. These
//! are the documents every service and every page fetches again and again:
//! a request for them costs the HTTP exchange and little more.
//!
//! A kept answer is the one the whole stack gave, security headers and all,
//! so the two ways cannot differ but by the request's own `X-Request-Id`,
//! and each answer is counted in the metrics like any other
//! ([`crate::Frame`]). It is kept while its handler says it is current
//! (the keys and the discovery document change with a rotation), and
//! [`KEPT_FOR`] at most. Only fixed routes mark their answers, and at most
//! [`KEPT_MAX`] paths are kept, so no request can grow the table.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes, HttpBody as _};
use axum::http::{HeaderMap, Method, Request, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use oidc::request_id::HEADER;

use crate::Frame;

/// How long an answer is kept at most.
const KEPT_FOR: Duration = Duration::from_secs(1);

/// The most paths kept for one server.
const KEPT_MAX: usize = 16;

/// The largest answer kept.
const KEPT_BYTES: u64 = 1 << 20;

/// Whether a kept answer is still the one its handler would give.
type Current = Arc<dyn Fn() -> bool + Send + Sync>;

/// The mark, in a response's extensions, of an answer that is the same for
/// every `GET` of its path without a query, whoever asks and whatever the
/// request's headers say.
#[derive(Clone, Default)]
pub struct Constant {
    /// The frame that counted the answer, which counts the kept ones.
    pub(crate) frame: Option<Frame>,
    current: Option<Current>,
}

impl std::fmt::Debug for Constant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Constant")
            .field("frame", &self.frame)
            .field("checked", &self.current.is_some())
            .finish()
    }
}

impl Constant {
    /// `response` marked constant: it never changes while the process runs.
    pub fn mark(response: Response) -> Response {
        Self::mark_while(response, None)
    }

    /// `response` marked constant while `current` says so (called at each
    /// answer given again: it must be cheap).
    pub fn mark_while_current(
        response: Response,
        current: impl Fn() -> bool + Send + Sync + 'static,
    ) -> Response {
        Self::mark_while(response, Some(Arc::new(current)))
    }

    fn mark_while(mut response: Response, current: Option<Current>) -> Response {
        response.extensions_mut().insert(Self {
            frame: None,
            current,
        });
        response
    }
}

/// One server's kept answers, by path.
#[derive(Debug, Default)]
pub(crate) struct Kept(RwLock<HashMap<String, Answer>>);

#[derive(Debug)]
struct Answer {
    headers: HeaderMap,
    body: Bytes,
    at: Instant,
    constant: Constant,
}

impl Kept {
    /// The path of `request` when its answer may be kept: a `GET` without
    /// a query.
    pub(crate) fn keepable<B>(request: &Request<B>) -> Option<Uri> {
        (request.method() == Method::GET && request.uri().query().is_none())
            .then(|| request.uri().clone())
    }

    /// The kept answer to a `GET` of `uri` (one [`Kept::keepable`] gave)
    /// that came with `headers`, when there is one and it is fresh.
    pub(crate) fn answer(&self, uri: &Uri, headers: &HeaderMap) -> Option<Response> {
        let started = Instant::now();
        let (mut response, frame) = {
            let kept = self.0.read().unwrap_or_else(PoisonError::into_inner);
            let answer = kept.get(uri.path()).filter(|answer| {
                started.duration_since(answer.at) < KEPT_FOR
                    && answer
                        .constant
                        .current
                        .as_ref()
                        .is_none_or(|current| current())
            })?;
            let mut response = Response::new(Body::from(answer.body.clone()));
            *response.headers_mut() = answer.headers.clone();
            (response, answer.constant.frame.clone())
        };
        if let Some(frame) = frame {
            frame.answered(headers, &mut response, started);
        }
        Some(response)
    }

    /// `response` to a `GET` of `uri`, kept when marked [`Constant`].
    pub(crate) async fn keep(&self, uri: &Uri, response: Response) -> Response {
        let Some(constant) = response.extensions().get::<Constant>() else {
            return response;
        };
        if response.status() != StatusCode::OK
            || response.headers().contains_key(header::SET_COOKIE)
            || response
                .body()
                .size_hint()
                .exact()
                .is_none_or(|length| length > KEPT_BYTES)
        {
            return response;
        }
        let constant = constant.clone();
        let (parts, body) = response.into_parts();
        // A body whose length is known is whole: reading it cannot wait or
        // fail but for a fault of ours.
        let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
            tracing::error!("a constant answer's body could not be read");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        };
        let mut headers = parts.headers.clone();
        headers.remove(HEADER);
        {
            let mut kept = self.0.write().unwrap_or_else(PoisonError::into_inner);
            if kept.len() < KEPT_MAX || kept.contains_key(uri.path()) {
                let answer = Answer {
                    headers,
                    body: body.clone(),
                    at: Instant::now(),
                    constant,
                };
                kept.insert(uri.path().to_owned(), answer);
            }
        }
        Response::from_parts(parts, Body::from(body))
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::Router;
    use axum::extract::Path;
    use axum::http::HeaderValue;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::{TcpListener, TcpStream};

    use super::*;
    use crate::{Bounds, Metrics, guarded, serve};

    /// How many times each handler ran.
    #[derive(Default)]
    struct Calls {
        doc: AtomicUsize,
        plain: AtomicUsize,
        cookie: AtomicUsize,
        missing: AtomicUsize,
        many: AtomicUsize,
        edition: AtomicUsize,
    }

    fn counted(calls: &AtomicUsize) {
        calls.fetch_add(1, Ordering::SeqCst);
    }

    /// A framed, guarded server: `/doc` constant, `/plain` not, `/cookie`
    /// constant but setting a cookie, `/missing` constant but not found,
    /// `/many/{n}` constant by path,
    /// `/edition` constant while its edition stays the same.
    async fn started(calls: Arc<Calls>, metrics: Metrics) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let c = Arc::clone(&calls);
        let router = Router::new()
            .route(
                "/doc",
                get(move || {
                    counted(&c.doc);
                    async { Constant::mark("the document".into_response()) }
                }),
            )
            .route(
                "/plain",
                get({
                    let c = Arc::clone(&calls);
                    move || {
                        counted(&c.plain);
                        async { "plain" }
                    }
                }),
            )
            .route(
                "/cookie",
                get({
                    let c = Arc::clone(&calls);
                    move || {
                        counted(&c.cookie);
                        async {
                            let mut response = "cookie".into_response();
                            response
                                .headers_mut()
                                .insert(header::SET_COOKIE, HeaderValue::from_static("a=b"));
                            Constant::mark(response)
                        }
                    }
                }),
            )
            .route(
                "/missing",
                get({
                    let c = Arc::clone(&calls);
                    move || {
                        counted(&c.missing);
                        async { Constant::mark((StatusCode::NOT_FOUND, "gone").into_response()) }
                    }
                }),
            )
            .route(
                "/many/{n}",
                get({
                    let c = Arc::clone(&calls);
                    move |Path(n): Path<u32>| {
                        counted(&c.many);
                        async move { Constant::mark(n.to_string().into_response()) }
                    }
                }),
            )
            .route(
                "/edition",
                get({
                    let c = Arc::clone(&calls);
                    move || {
                        let c = Arc::clone(&c);
                        async move {
                            let seen = c.edition.load(Ordering::SeqCst);
                            Constant::mark_while_current(
                                format!("edition {seen}").into_response(),
                                move || c.edition.load(Ordering::SeqCst) == seen,
                            )
                        }
                    }
                }),
            );
        let router = Frame::new("part", metrics).around(guarded(router, 1024));
        tokio::spawn(serve(listener, router, Bounds::PUBLIC));
        address
    }

    /// The raw answer to `request` (its connection closed after it).
    async fn exchange(address: SocketAddr, request: &str) -> String {
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut received = Vec::new();
        stream.read_to_end(&mut received).await.unwrap();
        String::from_utf8_lossy(&received).into_owned()
    }

    async fn get_path(address: SocketAddr, path: &str) -> String {
        exchange(
            address,
            &format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"),
        )
        .await
    }

    fn header_of<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
        answer.lines().find_map(|line| {
            let (key, value) = line.split_once(": ")?;
            key.eq_ignore_ascii_case(name).then_some(value)
        })
    }

    #[tokio::test]
    async fn a_constant_answer_is_given_again_without_the_router_each_with_its_own_request_id() {
        let calls = Arc::new(Calls::default());
        let metrics = Metrics::default();
        let address = started(Arc::clone(&calls), metrics.clone()).await;
        let mut ids = Vec::new();
        for _ in 0..3 {
            let answer = get_path(address, "/doc").await;
            assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
            assert!(answer.ends_with("\r\n\r\nthe document"), "{answer}");
            // The whole stack's headers, on the kept answers too.
            assert_eq!(header_of(&answer, "x-frame-options"), Some("DENY"));
            assert_eq!(header_of(&answer, "cache-control"), Some("no-store"));
            ids.push(header_of(&answer, "x-request-id").unwrap().to_owned());
        }
        // A proxy's id is echoed on a kept answer, as on any other.
        let answer = exchange(
            address,
            "GET /doc HTTP/1.1\r\nhost: x\r\nx-request-id: from-proxy.1\r\nconnection: close\r\n\r\n",
        )
        .await;
        assert_eq!(header_of(&answer, "x-request-id"), Some("from-proxy.1"));
        assert_eq!(calls.doc.load(Ordering::SeqCst), 1, "the handler ran once");
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 3, "each answer has its own id: {ids:?}");
        // Each answer counted, the kept ones included.
        let rendered = metrics.render();
        assert!(
            rendered.contains(
                "passerelle_http_request_duration_seconds_count{part=\"part\",status=\"2xx\"} 4"
            ),
            "{rendered}"
        );
    }

    #[tokio::test]
    async fn what_may_differ_from_one_request_to_the_next_goes_to_the_router() {
        let calls = Arc::new(Calls::default());
        let address = started(Arc::clone(&calls), Metrics::default()).await;
        for _ in 0..2 {
            assert!(get_path(address, "/plain").await.ends_with("plain"));
            assert!(
                get_path(address, "/cookie")
                    .await
                    .contains("set-cookie: a=b")
            );
        }
        assert_eq!(calls.plain.load(Ordering::SeqCst), 2, "not marked");
        assert_eq!(calls.cookie.load(Ordering::SeqCst), 2, "sets a cookie");
        get_path(address, "/doc").await;
        // A query, a HEAD: the handler's own answer each time.
        let answer = get_path(address, "/doc?x=1").await;
        assert!(answer.ends_with("the document"), "{answer}");
        let answer = exchange(
            address,
            "HEAD /doc HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(!answer.contains("the document"), "{answer}");
        assert_eq!(calls.doc.load(Ordering::SeqCst), 3);
        // Only a success is kept.
        for _ in 0..2 {
            let answer = get_path(address, "/missing").await;
            assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
        }
        assert_eq!(calls.missing.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_kept_answer_goes_when_its_handler_says_it_changed_or_after_a_second() {
        let calls = Arc::new(Calls::default());
        let address = started(Arc::clone(&calls), Metrics::default()).await;
        assert!(get_path(address, "/edition").await.ends_with("edition 0"));
        assert!(get_path(address, "/edition").await.ends_with("edition 0"));
        calls.edition.store(1, Ordering::SeqCst);
        assert!(get_path(address, "/edition").await.ends_with("edition 1"));
        get_path(address, "/doc").await;
        get_path(address, "/doc").await;
        assert_eq!(calls.doc.load(Ordering::SeqCst), 1);
        tokio::time::sleep(KEPT_FOR + Duration::from_millis(100)).await;
        get_path(address, "/doc").await;
        assert_eq!(calls.doc.load(Ordering::SeqCst), 2, "kept a second at most");
    }

    #[tokio::test]
    async fn no_request_can_grow_the_kept_answers_past_their_bound() {
        let calls = Arc::new(Calls::default());
        let address = started(Arc::clone(&calls), Metrics::default()).await;
        let paths = u32::try_from(KEPT_MAX).unwrap() + 4;
        for _ in 0..2 {
            for n in 0..paths {
                let answer = get_path(address, &format!("/many/{n}")).await;
                assert!(answer.ends_with(&format!("\r\n\r\n{n}")), "{answer}");
            }
        }
        // The first KEPT_MAX paths answered once each, the others twice.
        assert_eq!(calls.many.load(Ordering::SeqCst), KEPT_MAX + 2 * 4);
    }
}
