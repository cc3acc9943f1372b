//! A service's own key publication: a JWKS at a URL, which the test can
//! change (a key rotation) and whose fetches it can count.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use tokio::net::TcpListener;

#[derive(Debug, Default)]
struct Published {
    jwks: Mutex<String>,
    fetches: AtomicUsize,
}

/// A JWKS served on 127.0.0.1.
#[derive(Debug, Clone)]
pub struct KeyPublisher {
    url: String,
    published: Arc<Published>,
}

impl KeyPublisher {
    /// Serves `jwks` (JSON text) at `{url}`.
    pub async fn start(jwks: &str) -> anyhow::Result<Self> {
        let published = Arc::new(Published {
            jwks: Mutex::new(jwks.to_owned()),
            fetches: AtomicUsize::new(0),
        });
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://127.0.0.1:{}/jwks", listener.local_addr()?.port());
        let router = Router::new()
            .route("/jwks", get(serve))
            .with_state(published.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Ok(Self { url, published })
    }

    /// Where the keys are.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Publishes another set.
    pub fn publish(&self, jwks: &str) {
        *self.published.jwks.lock().expect("not poisoned") = jwks.to_owned();
    }

    /// How many times the set was fetched.
    pub fn fetches(&self) -> usize {
        self.published.fetches.load(Ordering::SeqCst)
    }
}

async fn serve(State(published): State<Arc<Published>>) -> String {
    published.fetches.fetch_add(1, Ordering::SeqCst);
    published.jwks.lock().expect("not poisoned").clone()
}
