//! `[idp_wallet]`: the wallet identity provider's settings.

use std::path::PathBuf;

use serde::Deserialize;

/// `[idp_wallet]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Short id (`wallet`), also the cookies' suffix.
    pub id: String,
    /// Name shown on pages and in the app.
    pub name: String,
    /// Where the provider is reached; also its issuer, and the only origin
    /// whose QR codes the app accepts.
    pub public_url: String,
    /// The folder of the test PKI: `csca.der` is trusted, `crl.der` (if
    /// present) applied. The demo creates it, with the personalisation
    /// side's keys, at first start.
    pub pki: PathBuf,
    /// The relying parties (the hub).
    pub clients: Vec<ClientConfig>,
}

/// One relying party of the provider.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// Its id.
    pub client_id: String,
    /// Its name, shown in the app when it asks for a login.
    pub name: String,
    /// Its secret (`client_secret_post`).
    pub client_secret: String,
    /// Where codes may be sent.
    pub redirect_uris: Vec<String>,
    /// Where logouts may end.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
}

/// How long a QR code's reference lives; the page asks for a new one.
pub const QR_TTL_SECS: i64 = 60;
/// How long a whole login lasts, QR codes included.
pub const LOGIN_TTL_SECS: i64 = 300;
/// How long a card challenge is valid.
pub const CHALLENGE_TTL_SECS: i64 = 300;
/// Logins a client address may start per minute.
pub const LOGINS_PER_MINUTE: u32 = 30;
/// Claims an app installation may make per minute.
pub const CLAIMS_PER_MINUTE: u32 = 10;
