//! Token endpoint (RFC 6749 §4.1.3), userinfo (OpenID Connect Core §5.3)
//! and revocation (RFC 7009).

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use jose::{Alg, KeyAlg, PublicKey};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use sha2::Sha256;
use store::Taken;
use store::sealed::Capability;

use super::{Grant, Params, Provider, internal, storage};
use crate::client::{Client, ClientAuth};
use crate::clock::UnixSeconds;
use crate::error::{ErrorCode, OAuthError};
use crate::types::{Acr, PkceChallenge};

/// The token response: FranceConnect's five fields, no refresh token.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct TokenResponse {
    /// The bearer token for userinfo.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds the access token lives.
    pub expires_in: i64,
    /// The signed ID token.
    pub id_token: String,
    /// The granted scopes.
    pub scope: String,
}

/// A userinfo answer: always a signed JWT (`application/jwt`), as
/// FranceConnect v2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Userinfo {
    /// The compact JWS.
    pub jwt: String,
}

/// A code's [`Grant`] as the token endpoint reads it and writes it back as
/// the access token's: the same JSON, with `token_issued_at` set. What it
/// checks and signs is borrowed from the opened code; the released claims
/// (and a data provider's part) stay the JSON text they were, neither parsed
/// nor written again, for userinfo to read.
///
/// A field added to [`Grant`] must be added here, or the access token loses
/// it: `a_redeemed_grant_is_written_back_whole` builds a grant with every
/// field, so that adding one fails to compile there until the test sets it,
/// and then fails until this reads it. Unknown fields are skipped, as
/// [`Grant`] skips them: in a rolling upgrade, an older process redeems a
/// code of a newer one.
#[derive(Serialize, Deserialize)]
struct Redeemed<'a> {
    #[serde(borrow)]
    client_id: Text<'a>,
    #[serde(borrow)]
    redirect_uri: Text<'a>,
    /// [`crate::Scopes`], sorted and unique as it wrote them.
    #[serde(borrow)]
    scopes: Vec<Text<'a>>,
    #[serde(borrow)]
    nonce: Text<'a>,
    acr: Acr,
    auth_time: UnixSeconds,
    #[serde(borrow)]
    sub: Text<'a>,
    #[serde(borrow)]
    claims: &'a RawValue,
    pkce: Option<PkceChallenge>,
    #[serde(default, borrow, skip_serializing_if = "Vec::is_empty")]
    amr: Vec<Text<'a>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    data: Option<&'a RawValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token_issued_at: Option<UnixSeconds>,
}

/// An ID token's claims, in FranceConnect's order.
#[derive(Serialize)]
struct IdToken<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: UnixSeconds,
    iat: UnixSeconds,
    nonce: &'a str,
    acr: &'a str,
    auth_time: UnixSeconds,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    amr: &'a [Text<'a>],
}

/// A string of a [`Redeemed`] grant, borrowed from the opened code unless
/// JSON escaped it.
#[derive(Serialize, Deserialize)]
#[serde(transparent)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

impl std::ops::Deref for Text<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for Text<'_> {
    fn borrow(&self) -> &str {
        &self.0
    }
}

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn invalid_client(description: &str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClient, description)
}

fn invalid_grant(description: &str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidGrant, description)
}

impl Provider {
    /// Answers a token request. `basic_auth` is whether the request carried
    /// an `Authorization: Basic` header, refused as FranceConnect does.
    ///
    /// Checks, in order: no repeated parameter; the client authenticates;
    /// `grant_type` is `authorization_code`; the code is fresh (a replayed
    /// code revokes the access token it gave, RFC 6749 §4.1.2); it was issued
    /// to this client; `redirect_uri` matches; the PKCE verifier answers.
    pub async fn exchange_code(
        &self,
        params: &Params,
        basic_auth: bool,
    ) -> Result<TokenResponse, OAuthError> {
        params.check_no_repeats()?;
        if basic_auth {
            return Err(invalid_client(
                "client_secret_basic is not supported; use client_secret_post or private_key_jwt",
            ));
        }
        let client = self.authenticate_client(params).await?;
        if params.require("grant_type")? != "authorization_code" {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                "only authorization_code is supported",
            ));
        }
        let code = Capability::parse(params.require("code")?)
            .ok_or_else(|| invalid_grant("code is invalid"))?;
        let now = self.clock.now();
        let sealed = match self
            .codes
            .take(&code.lookup_key(), now)
            .await
            .map_err(storage)?
        {
            Taken::Fresh(sealed) => sealed,
            Taken::Replayed => {
                tracing::warn!(
                    target: "security",
                    event = "code_replayed",
                    client_id = %client.client_id,
                    "authorization code replayed: its access token revoked"
                );
                // RFC 6749 §4.1.2: revoke what the code gave.
                let access_token = access_token_for(&code)?;
                self.tokens
                    .revoke(&access_token.lookup_key())
                    .await
                    .map_err(storage)?;
                return Err(invalid_grant("code has already been used")
                    .with_detail("code replay: access token revoked"));
            }
            Taken::Missing => return Err(invalid_grant("code is invalid or expired")),
        };
        let opened = code.open(&sealed).map_err(internal)?;
        let mut grant: Redeemed<'_> = serde_json::from_slice(&opened).map_err(internal)?;
        check_code_client(&grant, client)?;
        check_code_redirect_uri(&grant, params)?;
        check_code_verifier(&grant, params)?;

        let access_token = access_token_for(&code)?;
        let expires_at = now + self.settings.access_token_ttl_secs;
        grant.token_issued_at = Some(now);
        // As long as the code's grant and its `token_issued_at`: written
        // once, not grown.
        let mut plain = Vec::with_capacity(opened.len() + 32);
        serde_json::to_writer(&mut plain, &grant).map_err(internal)?;
        let sealed = access_token.seal(&plain);
        self.tokens
            .put(&access_token.lookup_key(), &sealed, expires_at)
            .await
            .map_err(storage)?;
        Ok(TokenResponse {
            access_token: access_token.as_str().to_owned(),
            token_type: "Bearer",
            expires_in: self.settings.access_token_ttl_secs,
            id_token: self.id_token(&grant, client).await?,
            scope: grant.scopes.join(" "),
        })
    }

    /// `client_secret_post` or `private_key_jwt`, as registered.
    async fn authenticate_client(&self, params: &Params) -> Result<&Client, OAuthError> {
        self.authenticate_in(&self.clients, params).await
    }

    /// Authenticates a caller registered in `registry` (the clients, or the
    /// data providers).
    pub(crate) async fn authenticate_in<'a>(
        &self,
        registry: &'a std::collections::HashMap<String, Client>,
        params: &Params,
    ) -> Result<&'a Client, OAuthError> {
        let assertion = params.get("client_assertion");
        let claimed_id = match (params.get("client_id"), assertion) {
            (Some(id), _) => id.to_owned(),
            (None, Some(assertion)) => unverified_issuer(assertion)
                .ok_or_else(|| invalid_client("client_assertion is malformed"))?,
            (None, None) => return Err(invalid_client("client authentication is required")),
        };
        let client = registry
            .get(&claimed_id)
            .ok_or_else(|| invalid_client("client authentication failed"))?;
        match (&client.auth, params.get("client_secret"), assertion) {
            (ClientAuth::SecretPost(secret), Some(candidate), None) => {
                match secret.check(candidate, self.hash_pool.as_ref()).await {
                    Ok(true) => Ok(client),
                    Ok(false) => Err(invalid_client("client authentication failed")),
                    Err(_busy) => Err(OAuthError::new(
                        ErrorCode::TemporarilyUnavailable,
                        "the server is busy, retry in a moment",
                    )),
                }
            }
            (ClientAuth::PrivateKeyJwt, None, Some(assertion)) => {
                if params.get("client_assertion_type") != Some(ASSERTION_TYPE) {
                    return Err(invalid_client("client_assertion_type must be jwt-bearer"));
                }
                self.check_client_assertion(client, assertion).await?;
                Ok(client)
            }
            _ => Err(invalid_client("client authentication failed")),
        }
    }

    /// OpenID Connect Core §9: signed by the client's key, `iss` = `sub` =
    /// client, `aud` our token endpoint or issuer, unexpired, `jti` used once.
    async fn check_client_assertion(
        &self,
        client: &Client,
        assertion: &str,
    ) -> Result<(), OAuthError> {
        let fail = |detail: &str| {
            invalid_client("client assertion is not valid").with_detail(detail.to_owned())
        };
        const ALGS: [jose::Alg; 2] = [jose::Alg::ES256, jose::Alg::RS256];
        let keys = self
            .client_keys(client, false)
            .await
            .map_err(|error| fail(&error))?;
        let claims = match jose::verify(assertion, &keys, &ALGS) {
            Err(jose::JoseError::UnknownKey(_)) => {
                let keys = self
                    .client_keys(client, true)
                    .await
                    .map_err(|error| fail(&error))?;
                jose::verify(assertion, &keys, &ALGS)
            }
            verified => verified,
        }
        .map_err(|error| fail(&error.to_string()))?;
        let text = |name: &str| claims.get(name).and_then(Value::as_str);
        if text("iss") != Some(&client.client_id) || text("sub") != Some(&client.client_id) {
            return Err(fail("iss and sub must be the client_id"));
        }
        let token_endpoint = self.endpoint("/token");
        let audience_ok = match claims.get("aud") {
            Some(Value::String(aud)) => *aud == token_endpoint || aud == self.issuer(),
            Some(Value::Array(auds)) => auds.iter().any(|aud| {
                aud.as_str() == Some(&token_endpoint) || aud.as_str() == Some(self.issuer())
            }),
            _ => false,
        };
        if !audience_ok {
            return Err(fail("aud must be the token endpoint"));
        }
        let now = self.clock.now();
        let exp = claims
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or_else(|| fail("exp missing"))?;
        if exp <= now || exp > now + 600 {
            return Err(fail("exp is past or too far"));
        }
        let jti = text("jti")
            .filter(|jti| !jti.is_empty() && jti.len() <= 256)
            .ok_or_else(|| fail("jti missing"))?;
        let key = format!("jti:{}:{jti}", client.client_id);
        match self.codes.put(&key, b"", exp).await {
            Ok(()) => Ok(()),
            Err(store::StoreError::Conflict) => Err(fail("jti replayed")),
            Err(error) => Err(storage(error)),
        }
    }

    /// The ID token: `iss sub aud exp iat nonce acr auth_time` (FranceConnect
    /// v2), and `amr` when the grant carries it, signed as the client
    /// registered.
    async fn id_token(&self, grant: &Redeemed<'_>, client: &Client) -> Result<String, OAuthError> {
        let now = self.clock.now();
        let claims = IdToken {
            iss: self.issuer(),
            sub: &grant.sub,
            aud: &client.client_id,
            exp: now + self.settings.id_token_ttl_secs,
            iat: now,
            nonce: &grant.nonce,
            acr: grant.acr.as_str(),
            auth_time: grant.auth_time,
            amr: &grant.amr,
        };
        self.sign_for(client, &claims).await
    }

    /// Signs claims (an object) as the client registered, then encrypts them
    /// to its key when it asked for encrypted tokens (the JWE header copies
    /// `iss` and `aud`, as FranceConnect+ does).
    pub(crate) async fn sign_for<C: Serialize + ?Sized>(
        &self,
        client: &Client,
        claims: &C,
    ) -> Result<String, OAuthError> {
        let signed = self.sign(client, claims, "JWT")?;
        let Some(alg) = client.encryption else {
            return Ok(signed);
        };
        let recipient = self.encryption_key(client, alg).await?;
        let mut copied = serde_json::Map::new();
        copied.insert("iss".into(), self.issuer().into());
        copied.insert("aud".into(), client.client_id.clone().into());
        jose::encrypt(signed.as_bytes(), &recipient, alg, "JWT", &copied).map_err(internal)
    }

    /// Signs a statement of the provider's own (not a token for a client),
    /// ES256 with its current key: anyone verifies it at its JWKS.
    pub fn sign_statement(
        &self,
        claims: &Map<String, Value>,
        typ: &str,
    ) -> Result<String, OAuthError> {
        let keys = self.signing_keys();
        let key = keys
            .set
            .current(Alg::ES256)
            .ok_or_else(|| internal("no ES256 signing key"))?;
        jose::sign(claims, key, typ).map_err(internal)
    }

    /// Signs claims (an object) with the algorithm the client registered.
    pub(crate) fn sign<C: Serialize + ?Sized>(
        &self,
        client: &Client,
        claims: &C,
        typ: &str,
    ) -> Result<String, OAuthError> {
        match client.hmac_key() {
            Some(secret) => jose::sign_hmac(claims, secret, typ).map_err(internal),
            None => {
                let keys = self.signing_keys();
                let key = keys
                    .set
                    .current(client.signing_alg)
                    .ok_or_else(|| internal("no signing key"))?;
                jose::sign(claims, key, typ).map_err(internal)
            }
        }
    }

    /// The client's key to encrypt to: the first fitting `alg` in its
    /// registered or published set (a published set is refetched once when
    /// none fits, in case the client just rotated).
    async fn encryption_key(&self, client: &Client, alg: KeyAlg) -> Result<PublicKey, OAuthError> {
        for refresh in [false, true] {
            let keys = self.client_keys(client, refresh).await.map_err(|error| {
                OAuthError::new(
                    ErrorCode::ServerError,
                    "the client's encryption key is unavailable",
                )
                .with_detail(error)
            })?;
            if let Some(key) = keys.keys().iter().find(|key| key.fits_encryption(alg)) {
                return Ok(key.clone());
            }
        }
        Err(OAuthError::new(
            ErrorCode::ServerError,
            "the client's encryption key is unavailable",
        )
        .with_detail(format!("no key of {} fits {alg}", client.client_id)))
    }

    /// Answers userinfo for a bearer token: a JWT with `iss aud iat exp sub`
    /// and the claims the scopes release.
    pub async fn userinfo(&self, access_token: Option<&str>) -> Result<Userinfo, OAuthError> {
        let invalid_token =
            |description: &str| OAuthError::new(ErrorCode::InvalidToken, description);
        let token = access_token.and_then(Capability::parse).ok_or_else(|| {
            invalid_token("invalid token provided (access token missing or malformed)")
        })?;
        let now = self.clock.now();
        let grant = self
            .live_grant(&token)
            .await?
            .ok_or_else(|| invalid_token("invalid token provided (access token not found)"))?;
        let client = self
            .client(&grant.client_id)
            .ok_or_else(|| invalid_token("client no longer registered"))?;
        let mut claims = Map::new();
        claims.insert("iss".into(), self.issuer().into());
        claims.insert("aud".into(), client.client_id.clone().into());
        claims.insert("iat".into(), now.into());
        claims.insert("exp".into(), (now + self.settings.id_token_ttl_secs).into());
        claims.insert("sub".into(), grant.sub.into());
        claims.extend(grant.claims);
        Ok(Userinfo {
            jwt: self.sign_for(client, &claims).await?,
        })
    }

    /// The grant behind an access token, while it lives (neither expired
    /// nor revoked): for userinfo and checktoken.
    pub(crate) async fn live_grant(&self, token: &Capability) -> Result<Option<Grant>, OAuthError> {
        let now = self.clock.now();
        let Some(sealed) = self
            .tokens
            .load(&token.lookup_key(), now)
            .await
            .map_err(storage)?
        else {
            return Ok(None);
        };
        let plain = token.open(&sealed).map_err(internal)?;
        serde_json::from_slice(&plain).map(Some).map_err(internal)
    }

    /// Revokes an access token (RFC 7009). The client must authenticate; an
    /// unknown or foreign token is answered as success (§2.2).
    pub async fn revoke(&self, params: &Params, basic_auth: bool) -> Result<(), OAuthError> {
        params.check_no_repeats()?;
        if basic_auth {
            return Err(invalid_client("client_secret_basic is not supported"));
        }
        let client = self.authenticate_client(params).await?;
        let Some(token) = params.get("token").and_then(Capability::parse) else {
            return Ok(());
        };
        let owner = match self.live_grant(&token).await {
            Ok(grant) => grant.map(|grant| grant.client_id),
            // The store unavailable: said, so that the client retries.
            Err(error) if error.code == ErrorCode::TemporarilyUnavailable => return Err(error),
            // A token we cannot read is no token of this client's, and is
            // answered as success all the same (§2.2).
            Err(_) => None,
        };
        if owner.as_deref() == Some(client.client_id.as_str()) {
            self.tokens
                .revoke(&token.lookup_key())
                .await
                .map_err(storage)?;
        }
        Ok(())
    }
}

/// The access token a code gives: derived from the code, so that a replayed
/// code can revoke it without any record linking the two.
fn access_token_for(code: &Capability) -> Result<Capability, OAuthError> {
    let mut mac = Hmac::<Sha256>::new_from_slice(code.as_str().as_bytes()).map_err(internal)?;
    mac.update(b"passerelle/access-token/v1");
    Capability::parse(&URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
        .ok_or_else(|| internal("derived token"))
}

/// The `iss` of an assertion, read before verification only to find the
/// client whose keys then verify it.
fn unverified_issuer(assertion: &str) -> Option<String> {
    let payload = assertion.split('.').nth(1)?;
    let claims: Map<String, Value> =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}

/// The code was issued to the authenticated client (RFC 6749 §4.1.3).
fn check_code_client(grant: &Redeemed<'_>, client: &Client) -> Result<(), OAuthError> {
    if *grant.client_id == *client.client_id {
        Ok(())
    } else {
        Err(invalid_grant("code was issued to another client"))
    }
}

/// `redirect_uri` is the authorize request's (RFC 6749 §4.1.3).
fn check_code_redirect_uri(grant: &Redeemed<'_>, params: &Params) -> Result<(), OAuthError> {
    if params.get("redirect_uri") == Some(&*grant.redirect_uri) {
        Ok(())
    } else {
        Err(invalid_grant(
            "redirect_uri does not match the authorization request",
        ))
    }
}

/// The PKCE verifier answers the challenge (RFC 7636 §4.6); a verifier
/// without a challenge is refused too (RFC 9700 §4.8.2, downgrade).
fn check_code_verifier(grant: &Redeemed<'_>, params: &Params) -> Result<(), OAuthError> {
    match (&grant.pkce, params.get("code_verifier")) {
        (Some(challenge), Some(verifier)) if challenge.is_answered_by(verifier) => Ok(()),
        (Some(_), Some(_)) => Err(invalid_grant(
            "code_verifier does not match the code_challenge",
        )),
        (Some(_), None) => Err(invalid_grant("code_verifier is required")),
        (None, Some(_)) => Err(invalid_grant(
            "code_verifier sent but no code_challenge was",
        )),
        (None, None) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::op::DataGrant;
    use crate::types::{RedirectUri, Scopes};

    /// A grant with every field set, each by name (no `..`): a field added
    /// to [`Grant`] fails to compile here until it is set.
    fn grant() -> Grant {
        let mut claims = Map::new();
        claims.insert("given_name".into(), "Angela Claire \"Louise\"".into());
        claims.insert("birthdate".into(), "1962-08-24".into());
        claims.insert("address".into(), json!({"locality": "Paris\n75015"}));
        let mut identity = Map::new();
        identity.insert("family_name".into(), "Dubois".into());
        Grant {
            client_id: "service-é".into(),
            redirect_uri: RedirectUri::parse("https://service.example/callback?from=a\\b")
                .expect("redirect URI"),
            scopes: Scopes::parse("openid given_name birthdate").expect("scopes"),
            nonce: "nonce-\u{1F600}".into(),
            acr: Acr::Eidas2,
            auth_time: 1_700_000_000,
            sub: "a1b2c3".into(),
            claims,
            pkce: Some(PkceChallenge::of(&"v".repeat(43))),
            amr: vec!["pwd".into(), "mfa".into()],
            data: Some(DataGrant {
                subs: BTreeMap::from([("dp".to_owned(), "dp-sub".to_owned())]),
                identity,
            }),
            token_issued_at: None,
        }
    }

    /// The grant a code's JSON gives at userinfo, once the token endpoint
    /// has redeemed it at 1,700,000,060.
    fn redeemed(code_json: &[u8]) -> Grant {
        let mut redeemed: Redeemed<'_> =
            serde_json::from_slice(code_json).expect("read at the token endpoint");
        redeemed.token_issued_at = Some(1_700_000_060);
        let token_json = serde_json::to_vec(&redeemed).expect("access token's grant");
        serde_json::from_slice(&token_json).expect("read at userinfo")
    }

    #[test]
    fn a_redeemed_grant_is_written_back_whole() {
        for mut grant in [
            grant(),
            Grant {
                pkce: None,
                amr: Vec::new(),
                data: None,
                claims: Map::new(),
                ..grant()
            },
        ] {
            let code_json = serde_json::to_vec(&grant).expect("code's grant");
            grant.token_issued_at = Some(1_700_000_060);
            assert_eq!(redeemed(&code_json), grant);
        }
    }

    #[test]
    fn a_code_of_a_later_version_is_redeemed_as_grant_reads_it() {
        let mut value = serde_json::to_value(grant()).expect("grant");
        value["added_later"] = json!({"by": "a newer process"});
        let text = value.to_string();
        let mut read_as_grant: Grant = serde_json::from_str(&text).expect("read as Grant");
        read_as_grant.token_issued_at = Some(1_700_000_060);
        assert_eq!(redeemed(text.as_bytes()), read_as_grant);
    }
}
