//! Who is asking: the client's address, for throttling.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

/// The client's IP address: the TCP peer's, or, when the peer is a reverse
/// proxy on this machine (a loopback address), the last address its
/// `X-Forwarded-For` adds. A client connecting from elsewhere cannot choose
/// its address with the header. `unknown` when the server was started
/// without connection info.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientAddress(pub String);

fn forwarded(parts: &Parts) -> Option<IpAddr> {
    parts
        .headers
        .get("x-forwarded-for")?
        .to_str()
        .ok()?
        .rsplit(',')
        .next()?
        .trim()
        .parse()
        .ok()
}

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip());
        let address = match peer {
            Some(ip) if ip.is_loopback() => forwarded(parts).unwrap_or(ip).to_string(),
            Some(ip) => ip.to_string(),
            None => "unknown".to_owned(),
        };
        Ok(Self(address))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    async fn address(peer: Option<&str>, header: Option<&str>) -> String {
        let mut builder = Request::builder();
        if let Some(value) = header {
            builder = builder.header("x-forwarded-for", value);
        }
        let Ok(request) = builder.body(()) else {
            return String::new();
        };
        let (mut parts, ()) = request.into_parts();
        if let Some(peer) = peer.and_then(|peer| peer.parse::<SocketAddr>().ok()) {
            parts.extensions.insert(ConnectInfo(peer));
        }
        let Ok(ClientAddress(address)) = ClientAddress::from_request_parts(&mut parts, &()).await;
        address
    }

    #[tokio::test]
    async fn only_a_local_proxy_may_name_the_client() {
        assert_eq!(address(Some("203.0.113.7:4000"), None).await, "203.0.113.7");
        assert_eq!(
            address(Some("203.0.113.7:4000"), Some("198.51.100.1")).await,
            "203.0.113.7"
        );
        assert_eq!(
            address(Some("127.0.0.1:4000"), Some("10.0.0.1, 198.51.100.1")).await,
            "198.51.100.1"
        );
        assert_eq!(
            address(Some("127.0.0.1:4000"), Some("garbage")).await,
            "127.0.0.1"
        );
        assert_eq!(address(None, Some("198.51.100.1")).await, "unknown");
    }
}
