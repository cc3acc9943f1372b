//! The floor of a request on this machine: an HTTP/1.1 server on the hub's
//! own stack (tokio and hyper, each connection with the hub's bounds on a
//! slow client) that answers every request with the same bytes, read from
//! nothing and written by no router, middleware or handler. What a server
//! answering the discovery document or the JWKS can at best do on a core;
//! the rest of a request's cost is the kernel's (issue 18: the discovery
//! and JWKS rows). `load --floor ADDR --bytes N` serves it; `scripts/bench`
//! measures it with `wrk` beside the anchor and the hub.

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::http::{Response, header};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use web::Bounds;

/// Answers every request on `listener` with `bytes` bytes of JSON, until
/// the task is dropped.
pub async fn serve_floor(listener: TcpListener, bytes: usize) {
    let body = Bytes::from(floor_body(bytes));
    loop {
        let (stream, _) = web::accept(&listener).await;
        let body = body.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |_: hyper::Request<Incoming>| {
                let answer = Response::builder()
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(body.clone()));
                async move { Ok::<_, Infallible>(answer.unwrap_or_default()) }
            });
            let _closed = web::connection(Bounds::PUBLIC)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// A JSON string of `bytes` bytes (two at least: the quotes).
fn floor_body(bytes: usize) -> Vec<u8> {
    let mut body = vec![b'x'; bytes.max(2)];
    body[0] = b'"';
    if let Some(last) = body.last_mut() {
        *last = b'"';
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_floor_answers_every_request_with_its_bytes_on_one_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let address = listener.local_addr().expect("its address");
        let server = tokio::spawn(serve_floor(listener, 667));
        let http = reqwest::Client::new();
        for path in ["/", "/.well-known/openid-configuration", "/jwks"] {
            let answer = http
                .get(format!("http://{address}{path}"))
                .send()
                .await
                .expect("an answer");
            assert_eq!(answer.status(), 200);
            let body = answer.bytes().await.expect("its body");
            assert_eq!(body.len(), 667);
            let json: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
            assert!(json.is_string());
        }
        server.abort();
    }
}
