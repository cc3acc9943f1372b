//! Certification: the request made in the app (a card read with the code,
//! then the code emailed to the identity's address), the sealed QR code
//! the town hall checks, the agent's decision, and the result, which a
//! job makes take effect and mails within 48 hours.
//!
//! States: `Open` (QR issued, valid one calendar month) → `Decided` (at the
//! counter) → the job certifies or refuses and the request goes. A
//! certification holds five years, for the code epoch and the card of the
//! visit ([`crate::identity::Record::certified_at`]).

use std::sync::Arc;

use askama::Template;
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use serde_json::json;
use web::Lang;

use crate::WalletProvider;
use crate::api::{ApiError, CardRead, not_activated};
use crate::config::{EMAIL_CODE_TRIES, EMAIL_CODE_TTL_SECS, RESULT_WITHIN_SECS};
use crate::flow::sha256_hex;
use crate::identity::{self, Certification, Identity, Notice};
use crate::seal::{self, SealError};

/// The seal type of a certification request.
pub const SEAL_TYPE: &str = "demande-certification+jws";

/// What the request's QR code carries (and the console reads offline).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealClaims {
    /// The request.
    pub rid: String,
    /// The identity (pseudonymous).
    pub sub: String,
    /// SHA-256 of the card's document number: the card to present.
    pub doc: String,
    /// Issued, and valid until (one calendar month), Unix seconds.
    pub iat: i64,
    pub exp: i64,
}

/// The agent's fingerprint comparison. The comparison itself is done by
/// the town hall's equipment, simulated here: the agent records its
/// outcome (docs/wallet.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fingerprints {
    Concordantes,
    NonConcordantes,
    NonCapturables,
}

impl Fingerprints {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "concordantes" => Some(Self::Concordantes),
            "non_concordantes" => Some(Self::NonConcordantes),
            "non_capturables" => Some(Self::NonCapturables),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Concordantes => "empreintes concordantes",
            Self::NonConcordantes => "empreintes non concordantes",
            Self::NonCapturables => "empreintes non capturables",
        }
    }

    /// Why a certification is refused, as the citizen is told.
    fn refusal(self) -> Option<&'static str> {
        match self {
            Self::Concordantes => None,
            Self::NonConcordantes => {
                Some("les empreintes relevées en mairie ne correspondent pas à celles de la carte")
            }
            Self::NonCapturables => Some(
                "vos empreintes n'ont pas pu être relevées ; votre identité numérique reste utilisable sans certification",
            ),
        }
    }
}

/// An agent's decision at the counter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub agent: String,
    pub commune: String,
    pub fingerprints: Fingerprints,
    pub decided_at: i64,
    /// When the job makes it take effect: at most 48 h later.
    pub effective_at: i64,
    /// The code epoch at the counter (the card was read with the code).
    pub pin_epoch: u32,
}

/// Where a request stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RequestState {
    Open,
    Decided(Decision),
}

/// A certification request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub id: String,
    pub identity: String,
    /// The card's binding ([`identity::binding`]).
    pub binding: String,
    pub issued_at: i64,
    pub expires_at: i64,
    pub state: RequestState,
}

/// The same time of day one calendar month later; the 31st of January
/// gives the last day of February.
pub fn one_month_after(time: i64) -> i64 {
    let seconds = u64::try_from(time).unwrap_or_default();
    let date = card::Date::from_unix(seconds);
    let (year, month) = if date.month == 12 {
        (date.year + 1, 1)
    } else {
        (date.year, date.month + 1)
    };
    let next = (0..4)
        .find_map(|back| card::Date::new(year, month, date.day.saturating_sub(back)))
        .unwrap_or(date);
    let time_of_day = seconds % 86_400;
    i64::try_from(next.to_unix() + time_of_day).unwrap_or(i64::MAX)
}

/// Where a confirmation waiting for its emailed code is filed: the hash
/// of the token the app holds.
fn pending_key(token: &str) -> String {
    sha256_hex(token)
}

impl Request {
    /// The request as the store keeps it.
    fn stored(&self) -> Result<store::CertificationRequest, store::StoreError> {
        let decision = match &self.state {
            RequestState::Open => None,
            RequestState::Decided(decision) => Some(crate::stored_json(decision)?),
        };
        Ok(store::CertificationRequest {
            id: self.id.clone(),
            identity: self.identity.clone(),
            binding: self.binding.clone(),
            issued_at: self.issued_at,
            expires_at: self.expires_at,
            decision,
        })
    }

    /// The request the store keeps; a decision that does not read back is
    /// an error, never an open request.
    fn read(stored: store::CertificationRequest) -> Result<Self, store::StoreError> {
        let state = match &stored.decision {
            None => RequestState::Open,
            Some(bytes) => RequestState::Decided(
                serde_json::from_slice(bytes).map_err(|_| store::StoreError::Corrupt)?,
            ),
        };
        Ok(Self {
            id: stored.id,
            identity: stored.identity,
            binding: stored.binding,
            issued_at: stored.issued_at,
            expires_at: stored.expires_at,
            state,
        })
    }
}

impl WalletProvider {
    /// A request still in course: open and not past its last second, or
    /// decided and awaiting its result.
    pub async fn certification_request(&self, id: &str) -> Result<Option<Request>, ApiError> {
        let now = self.clock.now();
        let stored = self.stores.certification_requests.get(id, now).await?;
        Ok(stored.map(Request::read).transpose()?)
    }

    /// The identity's request still in course.
    async fn request_in_course(&self, identity: &str) -> Result<Option<Request>, ApiError> {
        let now = self.clock.now();
        let stored = self
            .stores
            .certification_requests
            .in_course(identity, now)
            .await?;
        Ok(stored.map(Request::read).transpose()?)
    }
}

/// A confirmation waiting for its emailed code (the code's hash and the
/// count of wrong guesses are the store's).
#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    identity: String,
    binding: String,
    doc: String,
}

#[derive(Template)]
#[template(path = "certification.html")]
struct GuidePage {
    /// Within how many hours the result comes.
    hours: i64,
}

/// `GET /certification`: how a citizen has their identity certified (the
/// page services link to when they need eidas3).
pub async fn guide(State(idp): State<Arc<WalletProvider>>) -> Response {
    let guide = GuidePage {
        hours: RESULT_WITHIN_SECS / 3600,
    };
    crate::render_page(
        &idp.config.name,
        "Faire certifier son identité numérique",
        Lang::Fr,
        &guide,
    )
}

/// `POST /app/certification/start`: a card read with the code; the
/// provider mails a 6-digit code to the identity's address.
pub async fn start(
    State(idp): State<Arc<WalletProvider>>,
    Json(read): Json<CardRead>,
) -> Result<Response, ApiError> {
    let card = idp.read_card(&read, "card").await?;
    let identity = Identity::of_card(&idp.stores, &card)
        .await?
        .ok_or_else(not_activated)?;
    if let Some(request) = idp.request_in_course(&identity.stored.id).await? {
        return Err(in_course(&request));
    }
    let now = idp.clock.now();
    let code = format!("{:06}", rand::rng().random_range(0..1_000_000));
    let token = oidc::types::random_token(24);
    let pending = Pending {
        identity: identity.stored.id.clone(),
        binding: identity::binding(&card),
        doc: sha256_hex(&card.document_number),
    };
    let expires_at = now + EMAIL_CODE_TTL_SECS;
    idp.stores
        .confirmation_codes
        .put(
            &pending_key(&token),
            &sha256_hex(&format!("{token}|{code}")),
            &crate::stored_json(&pending)?,
            expires_at,
        )
        .await?;
    idp.send_mail(
        &identity.stored.email,
        format!("{} - Code de confirmation", idp.config.name),
        format!(
            "Bonjour,\n\nVous demandez la certification de votre identité numérique. Votre code de confirmation : {code}\n\nIl est valable 30 minutes. Si vous n'êtes pas à l'origine de cette demande, ignorez ce message et changez votre code personnel dans l'application.\n"
        ),
    )
    .await;
    tracing::info!(provider = %idp.config.id, "certification: email code sent");
    Ok(Json(json!({
        "pending": token,
        "email": mask(&identity.stored.email),
        "expires_at": expires_at,
    }))
    .into_response())
}

/// `a***@example.fr`.
fn mask(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

fn in_course(request: &Request) -> ApiError {
    let until = card::Date::from_time(request.expires_at);
    let message = match request.state {
        RequestState::Open => format!(
            "Une demande de certification est déjà en cours : son QR code est valable jusqu'au {}.",
            until.iso()
        ),
        RequestState::Decided(_) => {
            "Votre passage en mairie est enregistré : le résultat arrive sous 48 heures.".to_owned()
        }
    };
    ApiError::new(crate::api::code::REQUEST_IN_COURSE, message)
}

/// `POST /app/certification/confirm` body.
#[derive(Debug, Deserialize)]
pub struct Confirmation {
    pub pending: String,
    pub code: String,
}

/// `POST /app/certification/confirm`: the emailed code; answers the
/// request's seal, the QR code to show at the town hall.
pub async fn confirm(
    State(idp): State<Arc<WalletProvider>>,
    Json(body): Json<Confirmation>,
) -> Result<Response, ApiError> {
    let now = idp.clock.now();
    let expired = || {
        ApiError::new(
            crate::api::code::CODE_EXPIRED,
            "Code expiré ou trop d'essais : recommencez la demande.",
        )
    };
    let given = sha256_hex(&format!("{}|{}", body.pending, body.code.trim()));
    let confirmed = idp
        .stores
        .confirmation_codes
        .confirm(&pending_key(&body.pending), &given, EMAIL_CODE_TRIES, now)
        .await?;
    let pending: Pending = match confirmed {
        store::Confirmation::Confirmed(bytes) => {
            serde_json::from_slice(&bytes).map_err(|_| store::StoreError::Corrupt)?
        }
        store::Confirmation::Wrong { tries_left: 0 } | store::Confirmation::Missing => {
            return Err(expired());
        }
        store::Confirmation::Wrong { tries_left } => {
            return Err(ApiError::new(
                crate::api::code::CODE_WRONG,
                format!("Code incorrect : encore {tries_left} essai(s)."),
            ));
        }
    };
    if let Some(request) = idp.request_in_course(&pending.identity).await? {
        return Err(in_course(&request));
    }
    let Some(signer) = &idp.seal_signer else {
        return Err(ApiError::new(
            crate::api::code::NO_SEAL_SIGNER,
            "La certification n'est pas proposée par ce fournisseur.",
        ));
    };
    let request = Request {
        id: oidc::types::random_token(12),
        identity: pending.identity,
        binding: pending.binding,
        issued_at: now,
        expires_at: one_month_after(now),
        state: RequestState::Open,
    };
    let claims = SealClaims {
        rid: request.id.clone(),
        sub: request.identity.clone(),
        doc: pending.doc,
        iat: request.issued_at,
        exp: request.expires_at,
    };
    let sealed = seal::sign(signer, SEAL_TYPE, &claims).map_err(|error| {
        tracing::error!(%error, "certification seal not signed");
        ApiError::new(
            crate::api::code::SEAL,
            "Service momentanément indisponible.",
        )
    })?;
    match idp
        .stores
        .certification_requests
        .create(&request.stored()?, now)
        .await
    {
        Ok(()) => {}
        // Another confirmation of the same identity came first.
        Err(store::StoreError::Conflict) => {
            return Err(match idp.request_in_course(&request.identity).await? {
                Some(other) => in_course(&other),
                None => store::StoreError::Conflict.into(),
            });
        }
        Err(error) => return Err(error.into()),
    }
    tracing::info!(provider = %idp.config.id, "certification requested");
    Ok(Json(json!({ "seal": sealed, "expires_at": request.expires_at })).into_response())
}

/// Why the console refuses a request's QR code.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CheckRefused {
    #[error("{0}")]
    Seal(#[from] SealError),
    #[error("ce QR code a expiré : la demande devait être présentée avant le {0}")]
    Expired(String),
    #[error("cette demande est inconnue, annulée ou déjà traitée")]
    NotOpen,
}

impl WalletProvider {
    /// Checks a request's seal at the counter: signature and signer, the
    /// month of validity, and that the request is still open.
    pub async fn check_request(&self, sealed: &str) -> Result<Request, CheckRefused> {
        let now = self.clock.now();
        let claims: SealClaims = seal::verify(
            sealed,
            SEAL_TYPE,
            &self.trust,
            u64::try_from(now).unwrap_or_default(),
        )?;
        if now > claims.exp {
            let until = card::Date::from_time(claims.exp);
            return Err(CheckRefused::Expired(until.iso()));
        }
        let request = self
            .certification_request(&claims.rid)
            .await
            .ok()
            .flatten()
            .filter(|request| {
                request.state == RequestState::Open
                    && request.identity == claims.sub
                    && request.expires_at == claims.exp
            })
            .ok_or(CheckRefused::NotOpen)?;
        Ok(request)
    }

    /// Records the agent's decision; the result takes effect after the
    /// configured delay (at most 48 h), through the job queue.
    pub async fn decide(
        &self,
        request: &Request,
        agent: &crate::config::AgentConfig,
        fingerprints: Fingerprints,
    ) -> Result<(), ApiError> {
        let now = self.clock.now();
        let identity = Identity::by_id(&self.stores, &request.identity)
            .await?
            .ok_or_else(not_activated)?;
        let delay = self
            .config
            .certification_delay_secs
            .clamp(0, RESULT_WITHIN_SECS);
        let decision = Decision {
            agent: agent.login.clone(),
            commune: agent.commune.clone(),
            fingerprints,
            decided_at: now,
            effective_at: now + delay,
            pin_epoch: identity.record.pin_epoch,
        };
        // Of two agents deciding at once, one decision is recorded.
        let recorded = self
            .stores
            .certification_requests
            .decide(&request.id, &crate::stored_json(&decision)?, now)
            .await;
        match recorded {
            Ok(()) => {}
            Err(store::StoreError::Conflict | store::StoreError::NotFound) => {
                return Err(ApiError::new(
                    crate::api::code::REQUEST_NOT_OPEN,
                    "Cette demande est inconnue, annulée ou déjà traitée.",
                ));
            }
            Err(error) => return Err(error.into()),
        }
        self.stores
            .outbox
            .push(
                &crate::stored_json(&json!({ "certification": request.id }))?,
                decision.effective_at,
            )
            .await?;
        tracing::info!(
            provider = %self.config.id,
            agent = %agent.login,
            commune = %agent.commune,
            outcome = fingerprints.label(),
            "certification decided"
        );
        if delay == 0 {
            self.run_due_jobs().await?;
        }
        Ok(())
    }

    /// Runs the certification results that are due: each takes effect on
    /// its identity and is mailed. Returns how many ran.
    pub async fn run_due_jobs(&self) -> Result<usize, ApiError> {
        let now = self.clock.now();
        let jobs = self.stores.outbox.claim(now, now + 300, 50).await?;
        let mut done = 0;
        for job in jobs {
            let id = serde_json::from_slice::<serde_json::Value>(&job.payload)
                .ok()
                .and_then(|value| value.get("certification")?.as_str().map(str::to_owned));
            if let Some(id) = id {
                self.finalise(&id, now).await?;
                done += 1;
            }
            self.stores.outbox.remove(&[job.id]).await?;
        }
        Ok(done)
    }

    async fn finalise(&self, id: &str, now: i64) -> Result<(), ApiError> {
        let Some(request) = self.certification_request(id).await? else {
            return Ok(());
        };
        let RequestState::Decided(decision) = &request.state else {
            return Ok(());
        };
        let identity = Identity::by_id(&self.stores, &request.identity).await?;
        let Some(mut identity) =
            identity.filter(|identity| identity.stored.binding == request.binding)
        else {
            // Deleted since the visit: nothing to certify, no one to tell.
            self.stores
                .certification_requests
                .remove(&request.id)
                .await?;
            return Ok(());
        };
        let reason = if identity.record.pin_epoch != decision.pin_epoch {
            Some("votre code personnel a changé depuis votre passage en mairie")
        } else {
            decision.fingerprints.refusal()
        };
        let certified = reason.is_none();
        if certified {
            identity.record.certification = Some(Certification {
                certified_at: now,
                pin_epoch: decision.pin_epoch,
            });
        }
        identity.record.notice = Some(Notice {
            certified,
            reason: reason.map(str::to_owned),
            at: now,
        });
        identity.save(&self.stores).await?;
        self.stores
            .certification_requests
            .remove(&request.id)
            .await?;
        let (subject, text) = match reason {
            None => {
                let until = card::Date::from_time(now + identity::CERTIFICATION_SECS);
                (
                    format!(
                        "{} - Votre identité numérique est certifiée",
                        self.config.name
                    ),
                    format!(
                        "Bonjour,\n\nVotre passage en mairie de {} a permis de certifier votre identité numérique. Elle est certifiée jusqu'au {}, tant que vous gardez la même carte et le même code personnel.\n\nVous pouvez désormais vous connecter aux services qui demandent le niveau le plus élevé (eidas3).\n",
                        decision.commune,
                        until.iso()
                    ),
                )
            }
            Some(reason) => (
                format!("{} - Certification refusée", self.config.name),
                format!(
                    "Bonjour,\n\nVotre identité numérique n'a pas pu être certifiée : {reason}.\n\nElle reste utilisable au niveau substantiel (eidas2).\n"
                ),
            ),
        };
        self.send_mail(&identity.stored.email, subject, text).await;
        tracing::info!(provider = %self.config.id, certified, "certification result");
        Ok(())
    }

    /// Mails a notice as the provider; a failure is logged (the outbox is
    /// durable when there is a mailer).
    pub async fn send_mail(&self, to: &str, subject: String, text: String) {
        let Some(mailer) = &self.mailer else {
            tracing::warn!(provider = %self.config.id, "no [mail]: message not sent");
            return;
        };
        let message = mail::Message {
            to: to.to_owned(),
            subject,
            text: format!(
                "{text}\nCeci est un message automatique : merci de ne pas y répondre.\n(Service de démonstration de Passerelle : les cartes sont fictives.)\n"
            ),
            sender: Some(self.config.name.clone()),
        };
        if let Err(error) = mailer.queue(&message).await {
            tracing::error!(provider = %self.config.id, %error, "message not queued");
        }
    }

    /// Runs the due jobs every 30 seconds.
    pub async fn run_jobs(self: Arc<Self>) {
        loop {
            if let Err(error) = self.run_due_jobs().await {
                tracing::warn!(provider = %self.config.id, ?error, "certification jobs");
            }
            tokio::time::sleep(std::time::Duration::from_secs(30)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(year: u16, month: u8, day: u8, seconds: u64) -> i64 {
        i64::try_from(card::Date::new(year, month, day).unwrap().to_unix() + seconds).unwrap()
    }

    #[test]
    fn one_month_is_a_calendar_month_at_the_same_time_of_day() {
        assert_eq!(
            one_month_after(at(2027, 1, 15, 3600)),
            at(2027, 2, 15, 3600)
        );
        assert_eq!(one_month_after(at(2027, 1, 31, 10)), at(2027, 2, 28, 10));
        assert_eq!(one_month_after(at(2028, 1, 31, 10)), at(2028, 2, 29, 10));
        assert_eq!(one_month_after(at(2027, 12, 20, 0)), at(2028, 1, 20, 0));
        assert_eq!(one_month_after(at(2027, 3, 31, 0)), at(2027, 4, 30, 0));
    }

    #[test]
    fn fingerprint_outcomes_parse_and_only_concordant_ones_certify() {
        for (text, outcome) in [
            ("concordantes", Fingerprints::Concordantes),
            ("non_concordantes", Fingerprints::NonConcordantes),
            ("non_capturables", Fingerprints::NonCapturables),
        ] {
            assert_eq!(Fingerprints::parse(text), Some(outcome));
        }
        assert_eq!(Fingerprints::parse("oui"), None);
        assert!(Fingerprints::Concordantes.refusal().is_none());
        assert!(Fingerprints::NonCapturables.refusal().is_some());
        assert!(Fingerprints::NonConcordantes.refusal().is_some());
    }
}
