//! The register's routes, through its real router: what a hub (or anyone
//! who reaches it) posts as JSON. The input's first byte picks the route,
//! the rest is the body. Every body is answered 200, 400 or 413: never a
//! 500, never a crash.
#![no_main]

use std::sync::LazyLock;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt as _;

const ROUTES: [&str; 3] = [
    "/api/v1/identities/match",
    "/api/v1/driving-licences/match",
    "/api/v1/driving-licences/lookup",
];

struct Served {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
}

static SERVED: LazyLock<Served> = LazyLock::new(|| Served {
    runtime: tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime"),
    router: register::router(population::generate(population::DEFAULT_SEED, 50)),
});

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let route = ROUTES[usize::from(pick) % ROUTES.len()];
    let Ok(request) = Request::post(route)
        .header("content-type", "application/json")
        .body(Body::from(body.to_vec()))
    else {
        return;
    };
    let served = &*SERVED;
    let response = served
        .runtime
        .block_on(served.router.clone().oneshot(request))
        .unwrap_or_else(|never| match never {});
    let status = response.status();
    assert!(
        [
            StatusCode::OK,
            StatusCode::BAD_REQUEST,
            StatusCode::PAYLOAD_TOO_LARGE
        ]
        .contains(&status),
        "{route}: {status}"
    );
});
