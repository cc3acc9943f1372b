//! What the wallet app calls: JSON in, JSON out. Each call that acts on a
//! login is signed with the app installation's key (proof of possession);
//! each card read answers a challenge issued here, once.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use card::Evidence;
use oidc::op::Grant;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{DerSignature, VerifyingKey};
use p256::pkcs8::DecodePublicKey as _;
use serde::{Deserialize, Serialize};
use serde_json::json;
use web::ClientAddress;

use crate::WalletProvider;
use crate::config::{CLAIMS_PER_MINUTE, LOGINS_PER_MINUTE};
use crate::flow::{self, ChallengeRefused, ClaimRefused, Status};
use crate::identity::{self, Identity};
use crate::verify::{self, CardCheck};

/// A code of the app's API: the `error` of its JSON answers, with its
/// HTTP status and what it means (docs/errors.md lists them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApiCode {
    /// The `error` field.
    pub code: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// What it means, for the app's developers.
    pub meaning: &'static str,
}

/// Every code the app's API answers with.
pub mod code {
    use super::ApiCode;

    /// `bad_request`
    pub const BAD_REQUEST: ApiCode = ApiCode {
        code: "bad_request",
        status: 400,
        meaning: "The request is malformed (a challenge, a recipient, a field).",
    };
    /// `email`
    pub const EMAIL: ApiCode = ApiCode {
        code: "email",
        status: 400,
        meaning: "The email address is invalid.",
    };
    /// `installation`
    pub const INSTALLATION: ApiCode = ApiCode {
        code: "installation",
        status: 401,
        meaning: "The app's installation signature does not verify.",
    };
    /// `card_refused`
    pub const CARD_REFUSED: ApiCode = ApiCode {
        code: "card_refused",
        status: 403,
        meaning: "The card's reading does not verify (chip authentication, signature, expiry, revocation); the message says which check failed.",
    };
    /// `challenge_unknown`
    pub const CHALLENGE_UNKNOWN: ApiCode = ApiCode {
        code: "challenge_unknown",
        status: 403,
        meaning: "The card challenge is unknown or expired.",
    };
    /// `challenge_replayed`
    pub const CHALLENGE_REPLAYED: ApiCode = ApiCode {
        code: "challenge_replayed",
        status: 403,
        meaning: "The card reading was already used (each challenge serves once).",
    };
    /// `minor`
    pub const MINOR: ApiCode = ApiCode {
        code: "minor",
        status: 403,
        meaning: "The card holder is a minor: the wallet serves adults only.",
    };
    /// `code_expired`
    pub const CODE_EXPIRED: ApiCode = ApiCode {
        code: "code_expired",
        status: 403,
        meaning: "The town hall's certification code expired, or had too many wrong tries: ask again.",
    };
    /// `code_wrong`
    pub const CODE_WRONG: ApiCode = ApiCode {
        code: "code_wrong",
        status: 403,
        meaning: "The certification code is wrong (the message says how many tries remain).",
    };
    /// `not_activated`
    pub const NOT_ACTIVATED: ApiCode = ApiCode {
        code: "not_activated",
        status: 404,
        meaning: "No digital identity is bound to this card: activate it first.",
    };
    /// `qr_unknown`
    pub const QR_UNKNOWN: ApiCode = ApiCode {
        code: "qr_unknown",
        status: 404,
        meaning: "The QR code expired or is unknown: scan the one on screen.",
    };
    /// `login_gone`
    pub const LOGIN_GONE: ApiCode = ApiCode {
        code: "login_gone",
        status: 404,
        meaning: "The login expired or ended.",
    };
    /// `qr_claimed`
    pub const QR_CLAIMED: ApiCode = ApiCode {
        code: "qr_claimed",
        status: 409,
        meaning: "The QR code was already scanned (by this phone or another).",
    };
    /// `request_in_course`
    pub const REQUEST_IN_COURSE: ApiCode = ApiCode {
        code: "request_in_course",
        status: 409,
        meaning: "A certification request is already in course for this identity.",
    };
    /// `request_not_open`
    pub const REQUEST_NOT_OPEN: ApiCode = ApiCode {
        code: "request_not_open",
        status: 409,
        meaning: "The certification request is no longer open.",
    };
    /// `rate_limited`
    pub const RATE_LIMITED: ApiCode = ApiCode {
        code: "rate_limited",
        status: 429,
        meaning: "Too many requests in a minute: wait a minute.",
    };
    /// `no_licence`
    pub const NO_LICENCE: ApiCode = ApiCode {
        code: "no_licence",
        status: 404,
        meaning: "The licence register holds no driving licence for the card's holder.",
    };
    /// `licence_suspended`
    pub const LICENCE_SUSPENDED: ApiCode = ApiCode {
        code: "licence_suspended",
        status: 403,
        meaning: "The holder's driving licence is suspended: it is not issued into the wallet.",
    };
    /// `licence_cancelled`
    pub const LICENCE_CANCELLED: ApiCode = ApiCode {
        code: "licence_cancelled",
        status: 403,
        meaning: "The holder's driving licence is cancelled: it is not issued into the wallet.",
    };
    /// `licence_not_renewable`
    pub const LICENCE_NOT_RENEWABLE: ApiCode = ApiCode {
        code: "licence_not_renewable",
        status: 403,
        meaning: "The licence presented for renewal does not verify (expired, altered, another device) or is no longer bound to an active identity: add it again.",
    };
    /// `licence_unavailable`
    pub const LICENCE_UNAVAILABLE: ApiCode = ApiCode {
        code: "licence_unavailable",
        status: 503,
        meaning: "The licence register is unreachable, answered badly, or this provider issues no licences.",
    };
    /// `storage`
    pub const STORAGE: ApiCode = ApiCode {
        code: "storage",
        status: 503,
        meaning: "The wallet's storage is unavailable: try again.",
    };
    /// `seal`
    pub const SEAL: ApiCode = ApiCode {
        code: "seal",
        status: 503,
        meaning: "The seal could not be made: try again.",
    };
    /// `no_seal_signer`
    pub const NO_SEAL_SIGNER: ApiCode = ApiCode {
        code: "no_seal_signer",
        status: 503,
        meaning: "No sealing key is configured: proofs and certifications are not offered.",
    };
}

/// The API's codes, in the order docs/errors.md lists them.
pub const API_CATALOGUE: &[ApiCode] = &[
    code::BAD_REQUEST,
    code::EMAIL,
    code::INSTALLATION,
    code::CARD_REFUSED,
    code::CHALLENGE_UNKNOWN,
    code::CHALLENGE_REPLAYED,
    code::MINOR,
    code::CODE_EXPIRED,
    code::CODE_WRONG,
    code::NOT_ACTIVATED,
    code::QR_UNKNOWN,
    code::LOGIN_GONE,
    code::QR_CLAIMED,
    code::REQUEST_IN_COURSE,
    code::REQUEST_NOT_OPEN,
    code::NO_LICENCE,
    code::LICENCE_SUSPENDED,
    code::LICENCE_CANCELLED,
    code::LICENCE_NOT_RENEWABLE,
    code::RATE_LIMITED,
    code::LICENCE_UNAVAILABLE,
    code::STORAGE,
    code::SEAL,
    code::NO_SEAL_SIGNER,
];

/// An error the app shows: a stable code and a French sentence.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    pub(crate) fn new(code: ApiCode, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::from_u16(code.status).unwrap_or(StatusCode::BAD_REQUEST),
            code: code.code,
            message: message.into(),
        }
    }
}

impl ApiError {
    /// The stable code (the JSON's `error`).
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The sentence shown to the citizen (or the agent).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.code, "message": self.message });
        (self.status, web::no_store(), Json(body)).into_response()
    }
}

impl From<store::StoreError> for ApiError {
    fn from(error: store::StoreError) -> Self {
        tracing::warn!(%error, "wallet storage failed");
        ApiError::new(
            code::STORAGE,
            "Service momentanément indisponible. Réessayez.",
        )
    }
}

impl From<CardCheck> for ApiError {
    fn from(check: CardCheck) -> Self {
        tracing::warn!(target: "security", event = "card_read_refused", %check, "card read refused");
        ApiError::new(code::CARD_REFUSED, format!("Carte refusée : {check}."))
    }
}

impl From<ChallengeRefused> for ApiError {
    fn from(refused: ChallengeRefused) -> Self {
        match refused {
            ChallengeRefused::Unknown => ApiError::new(
                code::CHALLENGE_UNKNOWN,
                "Défi inconnu ou expiré : recommencez.",
            ),
            ChallengeRefused::Replayed => ApiError::new(
                code::CHALLENGE_REPLAYED,
                "Cette lecture de carte a déjà servi : recommencez.",
            ),
        }
    }
}

type ApiResult = Result<Response, ApiError>;

fn challenge_of(hex: &str) -> Result<[u8; 8], ApiError> {
    verify::parse_challenge(hex).ok_or_else(|| ApiError::new(code::BAD_REQUEST, "Défi mal formé."))
}

/// Checks an installation's signature of `message`; returns the
/// installation's id (the hash of its key).
fn installation(key_b64: &str, proof_b64: &str, message: &str) -> Result<String, ApiError> {
    let refused = || ApiError::new(code::INSTALLATION, "Signature de l'application invalide.");
    let key_der = card::b64::decode(key_b64).map_err(|_| refused())?;
    let key = VerifyingKey::from_public_key_der(&key_der).map_err(|_| refused())?;
    let proof = card::b64::decode(proof_b64).map_err(|_| refused())?;
    let signature = DerSignature::from_bytes(&proof).map_err(|_| refused())?;
    key.verify(message.as_bytes(), &signature)
        .map_err(|_| refused())?;
    Ok(flow::sha256_hex(key_b64))
}

async fn limited(idp: &WalletProvider, key: &str, per_minute: u32) -> Result<(), ApiError> {
    let now = idp.clock.now();
    if !idp
        .stores
        .rate_limits
        .within(key, per_minute, 60, now)
        .await?
    {
        return Err(ApiError::new(
            code::RATE_LIMITED,
            "Trop de demandes : patientez une minute.",
        ));
    }
    Ok(())
}

/// `POST /app/challenge`: a challenge for an activation or a status read.
pub async fn challenge(
    State(idp): State<Arc<WalletProvider>>,
    ClientAddress(address): ClientAddress,
) -> ApiResult {
    limited(
        &idp,
        &format!("wallet-challenge:{address}"),
        LOGINS_PER_MINUTE,
    )
    .await?;
    let challenge = flow::issue_challenge(&idp.stores, "card", idp.clock.now()).await?;
    Ok(Json(json!({ "challenge": verify::hex(&challenge) })).into_response())
}

/// A card read for a challenge of this provider.
#[derive(Debug, Deserialize)]
pub struct CardRead {
    pub challenge: String,
    pub evidence: Evidence,
}

impl WalletProvider {
    /// Verifies a card read: the challenge (single use), then the card.
    pub(crate) async fn read_card(
        &self,
        read: &CardRead,
        purpose: &str,
    ) -> Result<verify::VerifiedCard, ApiError> {
        let challenge = challenge_of(&read.challenge)?;
        let now = self.clock.now();
        flow::take_challenge(&self.stores, &challenge, purpose, now).await??;
        let now = u64::try_from(now).unwrap_or_default();
        Ok(verify::verify(
            &read.evidence,
            &self.trust,
            &challenge,
            now,
        )?)
    }
}

/// `POST /app/activate` body.
#[derive(Debug, Deserialize)]
pub struct Activation {
    pub challenge: String,
    pub evidence: Evidence,
    pub email: String,
    /// Whether the code was chosen in this card session (a new card) or
    /// verified (a known card on a new phone).
    pub new_code: bool,
}

/// What the app is told of its identity.
#[derive(Debug, Serialize, Deserialize)]
pub struct IdentityStatus {
    pub identity: String,
    pub level: oidc::Acr,
    pub certified_until: Option<i64>,
    pub given_name: String,
    pub family_name: String,
    pub restored: bool,
    /// The last certification result.
    #[serde(default)]
    pub notice: Option<identity::Notice>,
}

fn status_of(
    identity: &Identity,
    card: &verify::VerifiedCard,
    now: i64,
    restored: bool,
) -> IdentityStatus {
    let record = &identity.record;
    IdentityStatus {
        identity: identity.stored.id.clone(),
        level: record.acr(now),
        certified_until: record
            .certification
            .as_ref()
            .filter(|_| record.certified_at(now))
            .map(|c| c.certified_at + identity::CERTIFICATION_SECS),
        given_name: card.holder.given_names.clone(),
        family_name: card.holder.family_name.clone(),
        restored,
        notice: record.notice.clone(),
    }
}

/// `POST /app/activate`: a card read with its code makes (or restores) the
/// identity of that card.
pub async fn activate(
    State(idp): State<Arc<WalletProvider>>,
    Json(body): Json<Activation>,
) -> ApiResult {
    if !oidc::claims::is_email(&body.email) {
        return Err(ApiError::new(code::EMAIL, "Adresse électronique invalide."));
    }
    let read = CardRead {
        challenge: body.challenge,
        evidence: body.evidence,
    };
    let card = idp.read_card(&read, "card").await?;
    let now = idp.clock.now();
    let today = card::Date::from_time(now);
    if card.holder.birth_date.years_until(today) < 18 {
        return Err(ApiError::new(
            code::MINOR,
            "France Identité est réservée aux personnes majeures.",
        ));
    }
    let (identity, restored) = match Identity::of_card(&idp.stores, &card).await? {
        Some(mut identity) => {
            // A code chosen anew is a new (card, code) pair: the
            // certification, which covered the old one, ends.
            if body.new_code {
                identity.record.pin_epoch += 1;
            }
            identity.stored.email = body.email.clone();
            identity.save(&idp.stores).await?;
            (identity, true)
        }
        None => (
            Identity::create(&idp.stores, &card, &body.email, now).await?,
            false,
        ),
    };
    idp.mail_activation(&identity, restored).await?;
    tracing::info!(provider = %idp.config.id, restored, "wallet identity activated");
    Ok(Json(status_of(&identity, &card, now, restored)).into_response())
}

/// `POST /app/status`: the identity of a card read.
pub async fn status(
    State(idp): State<Arc<WalletProvider>>,
    Json(read): Json<CardRead>,
) -> ApiResult {
    let card = idp.read_card(&read, "card").await?;
    let identity = Identity::of_card(&idp.stores, &card)
        .await?
        .ok_or_else(not_activated)?;
    Ok(Json(status_of(&identity, &card, idp.clock.now(), false)).into_response())
}

/// `POST /app/pin-changed`: the code was changed in a card session that
/// began with the old code; the certification ends.
pub async fn pin_changed(
    State(idp): State<Arc<WalletProvider>>,
    Json(read): Json<CardRead>,
) -> ApiResult {
    let card = idp.read_card(&read, "card").await?;
    let mut identity = Identity::of_card(&idp.stores, &card)
        .await?
        .ok_or_else(not_activated)?;
    identity.record.pin_epoch += 1;
    identity.save(&idp.stores).await?;
    tracing::info!(provider = %idp.config.id, "wallet code changed");
    Ok(Json(status_of(&identity, &card, idp.clock.now(), false)).into_response())
}

/// `POST /app/delete`: the holder deletes the identity of their card.
pub async fn delete(
    State(idp): State<Arc<WalletProvider>>,
    Json(read): Json<CardRead>,
) -> ApiResult {
    let card = idp.read_card(&read, "card").await?;
    let identity = Identity::of_card(&idp.stores, &card)
        .await?
        .ok_or_else(not_activated)?;
    identity.delete(&idp.stores).await?;
    tracing::info!(provider = %idp.config.id, "wallet identity deleted");
    Ok(Json(json!({ "deleted": true })).into_response())
}

pub(crate) fn not_activated() -> ApiError {
    ApiError::new(
        code::NOT_ACTIVATED,
        "Aucune identité numérique n'est liée à cette carte : activez-la d'abord.",
    )
}

/// The app's signature of a claim: its installation key and its
/// signature of `claim|<ref>`.
#[derive(Debug, Deserialize)]
pub struct Signed {
    pub installation: String,
    pub proof: String,
}

/// What the app shows before asking "c'est moi ?".
#[derive(Debug, Serialize, Deserialize)]
pub struct LoginContext {
    pub claim: String,
    pub provider: String,
    pub service: String,
    pub level: oidc::Acr,
    pub data: Vec<String>,
    pub browser: String,
    pub address: String,
    pub started_at: i64,
    pub challenge: String,
}

/// `POST /q/{ref}/claim`: an app took the QR code.
pub async fn claim(
    State(idp): State<Arc<WalletProvider>>,
    Path(qr_ref): Path<String>,
    Json(signed): Json<Signed>,
) -> ApiResult {
    let installation = installation(
        &signed.installation,
        &signed.proof,
        &format!("claim|{qr_ref}"),
    )?;
    limited(
        &idp,
        &format!("wallet-claims:{installation}"),
        CLAIMS_PER_MINUTE,
    )
    .await?;
    let now = idp.clock.now();
    let (claim, txn) = match idp.transactions.claim(&qr_ref, &installation, now).await {
        Ok(claimed) => claimed,
        Err(ClaimRefused::Unknown) => {
            return Err(ApiError::new(
                code::QR_UNKNOWN,
                "Ce QR code a expiré : scannez celui qui est affiché maintenant.",
            ));
        }
        Err(ClaimRefused::AlreadyClaimed) => {
            tracing::warn!(provider = %idp.config.id, "a QR code was claimed twice");
            return Err(ApiError::new(
                code::QR_CLAIMED,
                "Ce QR code a déjà été scanné. Si ce n'était pas vous, ne poursuivez pas.",
            ));
        }
        Err(ClaimRefused::Storage(error)) => return Err(error.into()),
    };
    let challenge = flow::issue_challenge(
        &idp.stores,
        &format!("login:{}", flow::sha256_hex(&claim)),
        now,
    )
    .await?;
    let request = &txn.request;
    let service = idp
        .provider
        .client(&request.client_id)
        .map(|c| c.name.clone())
        .unwrap_or_default();
    let mut data: Vec<String> = oidc::claims::claims_for(&request.scopes)
        .into_iter()
        .map(str::to_owned)
        .collect();
    data.extend(request.claims.iter().cloned());
    data.dedup();
    let context = LoginContext {
        claim,
        provider: idp.config.name.clone(),
        service,
        level: request.acr,
        data,
        browser: txn.browser.clone(),
        address: txn.address.clone(),
        started_at: txn.created_at,
        challenge: verify::hex(&challenge),
    };
    Ok(Json(context).into_response())
}

/// `POST /app/approve` body.
#[derive(Debug, Deserialize)]
pub struct Approval {
    pub claim: String,
    pub installation: String,
    /// Signature of `approve|<claim>`.
    pub proof: String,
    pub evidence: Evidence,
    pub challenge: String,
}

/// `POST /app/approve`: "Oui, c'est moi", the code, the card.
pub async fn approve(
    State(idp): State<Arc<WalletProvider>>,
    Json(body): Json<Approval>,
) -> ApiResult {
    let now = idp.clock.now();
    let (key, txn) = claimed_by(
        &idp,
        "approve",
        &body.claim,
        &body.installation,
        &body.proof,
        now,
    )
    .await?;
    let read = CardRead {
        challenge: body.challenge.clone(),
        evidence: body.evidence,
    };
    let card = idp
        .read_card(&read, &format!("login:{}", flow::sha256_hex(&body.claim)))
        .await?;
    let identity = Identity::of_card(&idp.stores, &card)
        .await?
        .ok_or_else(not_activated)?;
    let acr = identity.record.acr(now);
    let request = &txn.request;
    let asserted = identity::claims_identity(&card, &identity.stored.email);
    let grant = Grant {
        client_id: request.client_id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        scopes: request.scopes.clone(),
        nonce: request.nonce.clone(),
        acr,
        auth_time: now,
        sub: identity.stored.id.clone(),
        claims: asserted.claims_for(&request.scopes, &request.claims),
        pkce: request.pkce.clone(),
        // The card (something held) and its PIN (something known).
        amr: vec!["pin".to_owned(), "mfa".to_owned()],
        data: None,
        token_issued_at: None,
    };
    idp.transactions
        .decide(
            &key,
            &body.claim,
            txn,
            Status::Approved {
                grant: Box::new(grant),
            },
        )
        .await?;
    tracing::info!(provider = %idp.config.id, level = acr.as_str(), "wallet login approved");
    Ok(Json(json!({ "result": "approved", "level": acr })).into_response())
}

/// `POST /app/refuse` body.
#[derive(Debug, Deserialize)]
pub struct Refusal {
    pub claim: String,
    pub installation: String,
    /// Signature of `refuse|<claim>`.
    pub proof: String,
}

/// `POST /app/refuse`: "Non, ce n'est pas moi".
pub async fn refuse(
    State(idp): State<Arc<WalletProvider>>,
    Json(body): Json<Refusal>,
) -> ApiResult {
    let now = idp.clock.now();
    let (key, txn) = claimed_by(
        &idp,
        "refuse",
        &body.claim,
        &body.installation,
        &body.proof,
        now,
    )
    .await?;
    tracing::warn!(
        provider = %idp.config.id,
        event = "wallet_login_refused",
        started_from = %txn.address,
        "the holder refused a login they did not start"
    );
    idp.transactions
        .decide(&key, &body.claim, txn, Status::Refused)
        .await?;
    Ok(Json(json!({ "result": "refused" })).into_response())
}

/// The login an app claimed, for an `action` it signed with the same
/// installation key as the claim.
async fn claimed_by(
    idp: &WalletProvider,
    action: &str,
    claim: &str,
    installation_key: &str,
    proof: &str,
    now: i64,
) -> Result<(String, flow::Transaction), ApiError> {
    let installation = installation(installation_key, proof, &format!("{action}|{claim}"))?;
    let gone = || {
        ApiError::new(
            code::LOGIN_GONE,
            "Cette connexion a expiré ou est terminée.",
        )
    };
    let (key, txn) = idp
        .transactions
        .claimed(claim, now)
        .await?
        .ok_or_else(gone)?;
    match &txn.status {
        Status::Claimed { installation: by } if *by == installation => Ok((key, txn)),
        _ => Err(gone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_api_code_is_listed_once_with_an_error_status() {
        let mut seen = std::collections::BTreeSet::new();
        for entry in API_CATALOGUE {
            assert!(seen.insert(entry.code), "{} listed twice", entry.code);
            assert!((400..600).contains(&entry.status), "{}", entry.code);
            assert!(StatusCode::from_u16(entry.status).is_ok());
            assert!(!entry.meaning.is_empty());
        }
        let answer = ApiError::new(code::QR_CLAIMED, "déjà scanné").into_response();
        assert_eq!(answer.status(), StatusCode::CONFLICT);
    }
}
