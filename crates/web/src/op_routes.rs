//! The provider endpoints that need no page: discovery, keys, token,
//! userinfo, revocation. The hub and the identity providers mount the same
//! routes under their issuer path.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Redirect;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use oidc::op::{AuthorizeError, EndSession, Params, Provider};

use crate::Constant;
use crate::error_page::oauth_json_error;

/// The routes, relative to the issuer's path.
pub fn op_routes(provider: Arc<Provider>) -> Router {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/token", post(token))
        .route("/userinfo", get(userinfo).post(userinfo))
        .route("/token/revocation", post(revocation))
        .route("/checktoken", post(checktoken))
        .with_state(provider)
}

/// The discovery document, the same for everyone until the keys rotate.
async fn discovery(State(provider): State<Arc<Provider>>) -> Response {
    let text = provider.discovery_json();
    let body = Bytes::copy_from_slice(text.as_bytes());
    Constant::mark_while_current(
        ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        move || Arc::ptr_eq(&provider.discovery_json(), &text),
    )
}

/// The public keys, the same for everyone until they rotate.
async fn jwks(State(provider): State<Arc<Provider>>) -> Response {
    let text = provider.jwks_json();
    let body = Bytes::copy_from_slice(text.as_bytes());
    Constant::mark_while_current(
        (
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, "public, max-age=60"),
            ],
            body,
        )
            .into_response(),
        move || Arc::ptr_eq(&provider.jwks_json(), &text),
    )
}

fn uses_basic_auth(headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.len() >= 6 && value[..6].eq_ignore_ascii_case("basic "))
}

async fn token(State(provider): State<Arc<Provider>>, headers: HeaderMap, body: Bytes) -> Response {
    let result = match Params::parse(&body) {
        Ok(params) => {
            provider
                .exchange_code(&params, uses_basic_auth(&headers))
                .await
        }
        Err(error) => Err(error),
    };
    match result {
        Ok(tokens) => {
            // Sized for the ID token, most of it: written once, not grown
            // (axum's `Json` starts at 128 bytes and reallocates as it goes).
            let mut body = Vec::with_capacity(tokens.id_token.len() + 256);
            match serde_json::to_writer(&mut body, &tokens) {
                Ok(()) => (
                    crate::no_store(),
                    [(header::CONTENT_TYPE, "application/json")],
                    body,
                )
                    .into_response(),
                Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
            }
        }
        Err(error) => oauth_json_error(&error),
    }
}

/// The bearer token, from the header (RFC 6750 §2.1) or, as FranceConnect
/// accepts, the query or form (`access_token`).
fn bearer(headers: &HeaderMap, query: Option<&str>, body: &[u8]) -> Option<String> {
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
        })
        .map(|token| token.trim().to_owned());
    let from_params = |raw: &[u8]| {
        Params::parse(raw)
            .ok()
            .and_then(|params| params.get("access_token").map(str::to_owned))
    };
    from_header
        .or_else(|| query.and_then(|query| from_params(query.as_bytes())))
        .or_else(|| from_params(body))
}

async fn userinfo(
    State(provider): State<Arc<Provider>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let token = bearer(&headers, query.as_deref(), &body);
    match provider.userinfo(token.as_deref()).await {
        Ok(userinfo) => (
            StatusCode::OK,
            crate::no_store(),
            [(header::CONTENT_TYPE, "application/jwt")],
            userinfo.jwt,
        )
            .into_response(),
        Err(error) => oauth_json_error(&error),
    }
}

async fn revocation(
    State(provider): State<Arc<Provider>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = match Params::parse(&body) {
        Ok(params) => provider.revoke(&params, uses_basic_auth(&headers)).await,
        Err(error) => Err(error),
    };
    match result {
        Ok(()) => StatusCode::OK.into_response(),
        Err(error) => oauth_json_error(&error),
    }
}

/// A data provider reads an access token (FranceConnect's checktoken).
async fn checktoken(
    State(provider): State<Arc<Provider>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = match Params::parse(&body) {
        Ok(params) => {
            provider
                .check_token(&params, uses_basic_auth(&headers))
                .await
        }
        Err(error) => Err(error),
    };
    match result {
        Ok(jwt) => (
            StatusCode::OK,
            crate::no_store(),
            [(header::CONTENT_TYPE, oidc::op::INTROSPECTION_JWT)],
            jwt,
        )
            .into_response(),
        Err(error) => oauth_json_error(&error),
    }
}

/// Answers a refused authorize request: the app's own page (chosen by the
/// failed check) while the client or its redirect URI is unverified, else a
/// redirect to the client with the error (RFC 6749 §4.1.2.1).
pub fn answer_refused_authorize(
    provider: &Provider,
    refused: AuthorizeError,
    page: impl FnOnce(&'static str) -> Response,
) -> Response {
    match refused {
        AuthorizeError::Page { check, error } => {
            tracing::info!(check, %error, "authorize refused with a page");
            page(check)
        }
        AuthorizeError::Redirect {
            check,
            error,
            redirect_uri,
            state,
        } => {
            tracing::info!(check, %error, "authorize refused back to the client");
            Redirect::to(&provider.error_redirect(&redirect_uri, state.as_deref(), &error))
                .into_response()
        }
    }
}

/// Checks an identity provider's RP-initiated logout request (`GET
/// /session/end` from the hub); `None`, logged, when it fails its checks.
pub fn check_end_session(provider: &Provider, query: Option<String>) -> Option<EndSession> {
    let params = Params::parse(query.unwrap_or_default().as_bytes()).ok()?;
    match provider.check_end_session(&params) {
        Ok(end) => Some(end),
        Err(error) => {
            tracing::info!(%error, "logout refused");
            None
        }
    }
}

/// Ends a checked logout: back to the client when it asked, else a
/// "logged out" page of `site`; `cookie` (the cleared session) when given.
pub fn logged_out(
    end: EndSession,
    site: &str,
    headers: &HeaderMap,
    cookie: Option<HeaderValue>,
) -> Response {
    match end.redirect_to {
        Some(location) => crate::see_other(&location, cookie),
        None => {
            let lang = crate::Lang::of(headers, None);
            let mut response = crate::Page {
                title: lang.pick("Déconnexion", "Logged out"),
                site,
                body: format!(
                    "<h1>{}</h1>",
                    lang.pick("Vous êtes déconnecté", "You are logged out")
                ),
                lang,
                here: None,
            }
            .into_response();
            if let Some(cookie) = cookie {
                response.headers_mut().append(header::SET_COOKIE, cookie);
            }
            response
        }
    }
}
