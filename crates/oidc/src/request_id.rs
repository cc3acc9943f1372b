//! The request id: one per incoming request, taken from `X-Request-Id` when
//! a proxy in front set a well-formed one, made here otherwise. It names the
//! request's span in the logs, comes back in the response, and goes on with
//! the calls the request makes (discovery, token, userinfo, keys, the
//! register), so that one login reads as one thread across the federation's
//! logs. Background work (mail, back-channel logout jobs) serves no request
//! and carries none.
//!
//! It is not a secret and carries nothing personal: a random token, or a
//! proxy's. Only `A-Z a-z 0-9 . _ -` are taken from outside, so an id
//! cannot forge a log line.

use std::future::Future;

/// The header that carries it, both ways.
pub const HEADER: &str = "x-request-id";

/// The longest id taken from outside.
const MAX_LEN: usize = 64;

tokio::task_local! {
    static CURRENT: String;
}

/// The id of a request that came with `incoming`: that value when it is 1
/// to 64 characters of `A-Z a-z 0-9 . _ -`, a new random one otherwise.
pub fn accept(incoming: Option<&str>) -> String {
    match incoming {
        Some(id)
            if (1..=MAX_LEN).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) =>
        {
            id.to_owned()
        }
        _ => crate::types::random_token(12),
    }
}

/// The id of the request this task serves, if it serves one.
pub fn current() -> Option<String> {
    CURRENT.try_with(Clone::clone).ok()
}

/// Runs `future` as the request `id`.
pub async fn scope<F: Future>(id: String, future: F) -> F::Output {
    CURRENT.scope(id, future).await
}

/// Sends the current request's id on with an outgoing call.
pub trait Propagate {
    /// The call, with `X-Request-Id` when this task serves a request.
    #[must_use]
    fn with_request_id(self) -> Self;
}

impl Propagate for reqwest::RequestBuilder {
    fn with_request_id(self) -> Self {
        match current() {
            Some(id) => self.header(HEADER, id),
            None => self,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_well_formed_id_is_kept_and_anything_else_replaced() {
        assert_eq!(accept(Some("haproxy-7f3a.01_x")), "haproxy-7f3a.01_x");
        for bad in [
            "",
            "two words",
            "line\nbreak",
            "quote\"",
            "brace{}",
            "é",
            &"a".repeat(65),
        ] {
            let id = accept(Some(bad));
            assert_ne!(id, bad);
            assert_eq!(id.len(), 16, "{id}");
        }
        assert_ne!(accept(None), accept(None));
    }

    #[tokio::test]
    async fn the_id_is_known_inside_its_scope_only() {
        assert_eq!(current(), None);
        let inside = scope("r1".into(), async { current() }).await;
        assert_eq!(inside.as_deref(), Some("r1"));
        assert_eq!(current(), None);
    }
}
