//! Serving an app to the world: axum's router on hyper's HTTP/1
//! connections, with the bounds a public server needs against slow
//! clients. `axum::serve` sets none: a client that sends its head one byte
//! a minute, or announces a body and never sends it, would hold its
//! connection and its task for ever.
//!
//! - A connection has [`Bounds::head`] to send each request's head (line
//!   and headers); past it hyper closes the connection. An idle kept-alive
//!   connection is closed the same way.
//! - A request has [`Bounds::answer`] to be answered, its body's reading
//!   included; past it the handler is dropped and the answer is
//!   `408 Request Timeout`. A dropped handler leaves nothing half-done:
//!   every write of ours is one statement or one transaction, and a write
//!   already waiting in SQLite's group commit is committed whole.
//!
//! Answers marked [`crate::Constant`] (the discovery document, the keys)
//! are kept a moment and given again without the router.
//!
//! A load balancer in front (HAProxy's `timeout http-request`, docs/deploy.md)
//! does the same before the process sees anything; these bounds hold when
//! there is none, as in `passerelle demo`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tower_service::Service as _;

use crate::constant::Kept;

/// How long a client may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    /// To send a request's head, from the connection's opening or the end
    /// of the previous answer.
    pub head: Duration,
    /// To be answered once the head is in: the body's reading and the
    /// handler's work.
    pub answer: Duration,
}

impl Bounds {
    /// A public server's bounds: HAProxy's `timeout http-request` (10 s)
    /// for the head; for the answer, room for the slowest a handler may
    /// wait on (a provider, which our client gives up on at 6 s, then a
    /// place in the password hashing queue).
    pub const PUBLIC: Self = Self {
        head: Duration::from_secs(10),
        answer: Duration::from_secs(30),
    };
}

/// Serves `router` on `listener` until the task is dropped. Each request
/// carries its peer's address as `ConnectInfo<SocketAddr>`, as with
/// `into_make_service_with_connect_info`.
pub async fn serve(listener: TcpListener, router: Router, bounds: Bounds) {
    let kept = Arc::new(Kept::default());
    loop {
        let (stream, peer) = accept(&listener).await;
        let router = router.clone();
        let kept = Arc::clone(&kept);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                answer(
                    router.clone(),
                    Arc::clone(&kept),
                    peer,
                    request,
                    bounds.answer,
                )
            });
            if let Err(error) = connection(bounds)
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%error, "connection ended");
            }
        });
    }
}

/// The next connection on `listener`. A connection reset before it was
/// accepted is the client's affair; any other failure (out of descriptors)
/// is ours, and accepting again at once would spin: it waits a moment.
/// `load --floor` accepts its connections the same way.
pub async fn accept(listener: &TcpListener) -> (TcpStream, SocketAddr) {
    loop {
        match listener.accept().await {
            Ok(accepted) => return accepted,
            Err(error) => {
                if !matches!(
                    error.kind(),
                    std::io::ErrorKind::ConnectionAborted | std::io::ErrorKind::ConnectionReset
                ) {
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
}

/// How each connection is served: HTTP/1, a request's head within
/// [`Bounds::head`]. `load --floor` serves its connections the same way.
pub fn connection(bounds: Bounds) -> hyper::server::conn::http1::Builder {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(bounds.head);
    builder
}

/// The answer to `request`: a kept one, or the router's within `within`.
async fn answer(
    mut router: Router,
    kept: Arc<Kept>,
    peer: SocketAddr,
    mut request: Request<Incoming>,
    within: Duration,
) -> Result<Response, Infallible> {
    let keepable = Kept::keepable(&request);
    if let Some(response) = keepable
        .as_ref()
        .and_then(|uri| kept.answer(uri, request.headers()))
    {
        return Ok(response);
    }
    request.extensions_mut().insert(ConnectInfo(peer));
    let call = router.call(request.map(Body::new));
    match tokio::time::timeout(within, call).await {
        Ok(Ok(response)) => Ok(match keepable {
            Some(uri) => kept.keep(&uri, response).await,
            None => response,
        }),
        Ok(Err(never)) => match never {},
        Err(_) => {
            // The peer's address is personal data: not logged.
            tracing::info!("request not answered in time: dropped");
            Ok((
                StatusCode::REQUEST_TIMEOUT,
                [(header::CONNECTION, "close")],
                "La requête a pris trop de temps : recommencez.",
            )
                .into_response())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use axum::routing::{get, post};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpStream;

    use super::*;
    use crate::ClientAddress;

    const SHORT: Bounds = Bounds {
        head: Duration::from_millis(300),
        answer: Duration::from_millis(600),
    };

    async fn started() -> Option<SocketAddr> {
        let listener = TcpListener::bind("127.0.0.1:0").await.ok()?;
        let address = listener.local_addr().ok()?;
        let router = Router::new()
            .route(
                "/",
                get(|ClientAddress(peer): ClientAddress| async move { peer }),
            )
            .route("/echo", post(|body: String| async move { body }));
        tokio::spawn(serve(listener, router, SHORT));
        Some(address)
    }

    /// Writes `sent`, then reads until the server closes the connection
    /// (or 5 s pass): what came back, and after how long.
    async fn exchange(address: SocketAddr, sent: &str) -> (String, Duration) {
        let start = Instant::now();
        let Ok(mut stream) = TcpStream::connect(address).await else {
            return (String::new(), start.elapsed());
        };
        if stream.write_all(sent.as_bytes()).await.is_err() {
            return (String::new(), start.elapsed());
        }
        let mut received = Vec::new();
        let read = stream.read_to_end(&mut received);
        let _ = tokio::time::timeout(Duration::from_secs(5), read).await;
        (
            String::from_utf8_lossy(&received).into_owned(),
            start.elapsed(),
        )
    }

    #[tokio::test]
    async fn a_request_is_answered_with_its_peer_known() {
        let Some(address) = started().await else {
            panic!("no listener");
        };
        let (answer, _) = exchange(
            address,
            "GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("127.0.0.1"), "{answer}");
    }

    #[tokio::test]
    async fn a_head_sent_too_slowly_loses_its_connection() {
        let Some(address) = started().await else {
            panic!("no listener");
        };
        let (answer, took) = exchange(address, "GET / HTTP/1.1\r\nhost:").await;
        assert!(!answer.contains("200 OK"), "{answer}");
        assert!(took < Duration::from_secs(3), "closed after {took:?}");
        // An idle connection is closed too.
        let (answer, took) = exchange(address, "").await;
        assert!(answer.is_empty(), "{answer}");
        assert!(took < Duration::from_secs(3), "closed after {took:?}");
    }

    #[tokio::test]
    async fn a_body_that_never_comes_is_answered_408() {
        let Some(address) = started().await else {
            panic!("no listener");
        };
        let (answer, took) = exchange(
            address,
            "POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\nab",
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("trop de temps"), "{answer}");
        assert!(took < Duration::from_secs(3), "closed after {took:?}");
        // A whole body, in time, is read.
        let (answer, _) = exchange(
            address,
            "POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\nconnection: close\r\n\r\nab",
        )
        .await;
        assert!(
            answer.starts_with("HTTP/1.1 200") && answer.ends_with("ab"),
            "{answer}"
        );
    }
}
