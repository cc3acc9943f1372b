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

/// An error the app shows: a stable code and a French sentence.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    pub(crate) fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            code,
            message: message.into(),
        }
    }
}

impl ApiError {
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
            503,
            "storage",
            "Service momentanément indisponible. Réessayez.",
        )
    }
}

impl From<CardCheck> for ApiError {
    fn from(check: CardCheck) -> Self {
        tracing::info!(%check, "card read refused");
        ApiError::new(403, "card_refused", format!("Carte refusée : {check}."))
    }
}

impl From<ChallengeRefused> for ApiError {
    fn from(refused: ChallengeRefused) -> Self {
        match refused {
            ChallengeRefused::Unknown => ApiError::new(
                403,
                "challenge_unknown",
                "Défi inconnu ou expiré : recommencez.",
            ),
            ChallengeRefused::Replayed => ApiError::new(
                403,
                "challenge_replayed",
                "Cette lecture de carte a déjà servi : recommencez.",
            ),
        }
    }
}

type ApiResult = Result<Response, ApiError>;

fn challenge_of(hex: &str) -> Result<[u8; 8], ApiError> {
    verify::parse_challenge(hex).ok_or_else(|| ApiError::new(400, "bad_request", "Défi mal formé."))
}

/// Checks an installation's signature of `message`; returns the
/// installation's id (the hash of its key).
fn installation(key_b64: &str, proof_b64: &str, message: &str) -> Result<String, ApiError> {
    let refused = || ApiError::new(401, "installation", "Signature de l'application invalide.");
    let key_der = card::b64::decode(key_b64).map_err(|_| refused())?;
    let key = VerifyingKey::from_public_key_der(&key_der).map_err(|_| refused())?;
    let proof = card::b64::decode(proof_b64).map_err(|_| refused())?;
    let signature = DerSignature::from_bytes(&proof).map_err(|_| refused())?;
    key.verify(message.as_bytes(), &signature)
        .map_err(|_| refused())?;
    Ok(flow::sha256_hex(key_b64))
}

async fn limited(idp: &WalletProvider, key: &str, per_minute: u32) -> Result<(), ApiError> {
    let hits = idp.stores.rate_limits.hit(key, 60, idp.clock.now()).await?;
    if hits > per_minute {
        return Err(ApiError::new(
            429,
            "rate_limited",
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
        return Err(ApiError::new(
            400,
            "email",
            "Adresse électronique invalide.",
        ));
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
            403,
            "minor",
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
        404,
        "not_activated",
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
                404,
                "qr_unknown",
                "Ce QR code a expiré : scannez celui qui est affiché maintenant.",
            ));
        }
        Err(ClaimRefused::AlreadyClaimed) => {
            tracing::warn!(provider = %idp.config.id, "a QR code was claimed twice");
            return Err(ApiError::new(
                409,
                "qr_claimed",
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
            404,
            "login_gone",
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
