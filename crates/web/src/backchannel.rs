//! The relying party's side of OpenID back-channel logout: take the hub's
//! logout token, remember that the person logged out, and end the sessions
//! opened before.
//!
//! Sessions are sealed under their cookies and cannot be looked up by
//! person, so nothing is deleted: the logout is remembered (under the hub
//! and the `sub`) for as long as a session lives, and a session opened
//! before it is treated as ended when next loaded.

use std::sync::Arc;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use oidc::UnixSeconds;
use oidc::op::Params;
use oidc::rp::RelyingParty;
use store::Tokens;

/// The logouts received, kept as long as the app's sessions live.
#[derive(Clone)]
pub struct LoggedOut {
    tokens: Arc<dyn Tokens>,
    remember_secs: i64,
}

impl std::fmt::Debug for LoggedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoggedOut").finish_non_exhaustive()
    }
}

impl LoggedOut {
    /// Logouts in `tokens`, remembered `remember_secs` (the session lifetime).
    pub fn new(tokens: Arc<dyn Tokens>, remember_secs: i64) -> Self {
        Self {
            tokens,
            remember_secs,
        }
    }

    fn key(hub: &str, sub: &str) -> String {
        format!("backchannel-logout:{hub}:{sub}")
    }

    /// Whether the person logged out of `hub` at or after `login_at`.
    pub async fn since(
        &self,
        hub: &str,
        sub: &str,
        login_at: UnixSeconds,
        now: UnixSeconds,
    ) -> bool {
        match self.tokens.load(&Self::key(hub, sub), now).await {
            Ok(Some(at)) => std::str::from_utf8(&at)
                .ok()
                .and_then(|at| at.parse::<i64>().ok())
                .is_some_and(|at| at >= login_at),
            _ => false,
        }
    }

    /// `POST` of a logout token (§2.5): 200 once remembered, 400 for a
    /// token that does not verify, 500 when it cannot be remembered.
    pub async fn receive(
        &self,
        rp: &RelyingParty,
        hub: &str,
        body: &[u8],
        now: UnixSeconds,
    ) -> Response {
        let no_store = || [(header::CACHE_CONTROL, "no-store")];
        let refuse = |why: &str| {
            tracing::info!(why, "back-channel logout refused");
            (StatusCode::BAD_REQUEST, no_store()).into_response()
        };
        let form = Params::parse(body).unwrap_or_default();
        let Some(token) = form.get("logout_token") else {
            return refuse("no logout_token");
        };
        let sub = match rp.verify_logout_token(token).await {
            Ok(sub) => sub,
            Err(error) => return refuse(&error.to_string()),
        };
        let key = Self::key(hub, sub.as_str());
        let remembered = async {
            self.tokens.revoke(&key).await?;
            self.tokens
                .put(&key, now.to_string().as_bytes(), now + self.remember_secs)
                .await
        };
        match remembered.await {
            Ok(()) => (no_store(), "").into_response(),
            Err(error) => {
                tracing::error!(%error, "back-channel logout not remembered");
                (StatusCode::INTERNAL_SERVER_ERROR, no_store()).into_response()
            }
        }
    }
}
