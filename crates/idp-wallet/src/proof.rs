//! The single-use identity proof: the holder picks a recipient, a purpose,
//! a validity (1 to 30 days) and the attributes to show; with a card read
//! and the code, the provider issues a PDF carrying a seal over the same
//! fields. Anyone may check it (`/justificatif`, and the API
//! `POST /api/justificatif/verifier`); the first successful check by the
//! named recipient consumes it.
//!
//! The provider keeps no copy of the identity: per proof, its id, its
//! recipient, its validity and the hashes of the PDF and of the seal.
//! The seal is the authority (docs/wallet.md): the PDF carries no PAdES
//! signature, and a PDF changed in any byte no longer matches its hash.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest as _, Sha256};
use web::Lang;

use crate::WalletProvider;
use crate::api::{ApiError, CardRead, not_activated};
use crate::flow::sha256_hex;
use crate::identity::Identity;
use crate::pdf::{self, Line};
use crate::seal;
use crate::verify::{VerifiedCard, hex};

/// The seal type of a proof.
pub const SEAL_TYPE: &str = "justificatif+jws";
/// The longest validity a holder may choose, in days.
pub const MAX_DAYS: u32 = 30;
/// How long a proof's record is kept after its validity.
const KEPT_AFTER_SECS: i64 = 30 * 86_400;

/// Attributes beyond the names, which are always shown.
pub const OPTIONAL_ATTRIBUTES: [&str; 5] = [
    "birthdate",
    "birthplace",
    "gender",
    "nationality",
    "usageName",
];

/// `POST /app/proof` body.
#[derive(Debug, Deserialize)]
pub struct ProofRequest {
    pub challenge: String,
    pub evidence: card::Evidence,
    pub recipient: String,
    pub purpose: String,
    pub days: u32,
    #[serde(default)]
    pub attributes: Vec<String>,
}

/// What the seal carries: the validator's field names.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProofClaims {
    pub id: String,
    pub recipient: String,
    pub reason: String,
    pub today_date: String,
    pub validity_date: String,
    /// Unix seconds: the end of validity, to the second.
    pub exp: i64,
    pub family_name: String,
    pub given_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nationality: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birthdate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birthplace: Option<String>,
}

/// What the provider keeps of a proof, in [`store::IdentityProofs`]
/// (which also knows whether its recipient used it).
#[derive(Debug, Serialize, Deserialize)]
struct Kept {
    recipient: String,
    exp: i64,
    pdf_hash: String,
    seal_hash: String,
}

/// A recipient's name as compared: trimmed, spaces collapsed, lower case.
fn normalised(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn claims_of(card: &VerifiedCard, request: &ProofRequest, id: &str, now: i64) -> ProofClaims {
    let holder = &card.holder;
    let wants = |name: &str| request.attributes.iter().any(|a| a == name);
    let exp = now + i64::from(request.days) * 86_400;
    ProofClaims {
        id: id.to_owned(),
        recipient: request.recipient.trim().to_owned(),
        reason: request.purpose.trim().to_owned(),
        today_date: card::Date::from_time(now).iso(),
        validity_date: card::Date::from_time(exp).iso(),
        exp,
        family_name: holder.family_name.clone(),
        given_name: holder.given_names.clone(),
        usage_name: holder.usage_name.clone().filter(|_| wants("usageName")),
        gender: wants("gender").then(|| holder.sex.to_string()),
        nationality: wants("nationality").then(|| card.issuing_state.clone()),
        birthdate: wants("birthdate").then(|| holder.birth_date.iso()),
        birthplace: wants("birthplace").then(|| {
            if holder.birthplace_name.is_empty() {
                holder.birthplace.clone().unwrap_or_default()
            } else {
                holder.birthplace_name.clone()
            }
        }),
    }
}

/// The fields in the order and words the document shows them.
fn shown(claims: &ProofClaims) -> Vec<(&'static str, String)> {
    let mut fields = vec![
        ("Nom", claims.family_name.clone()),
        ("Prénoms", claims.given_name.clone()),
    ];
    let optional = [
        ("Nom d'usage", &claims.usage_name),
        ("Sexe", &claims.gender),
        ("Nationalité", &claims.nationality),
        ("Date de naissance", &claims.birthdate),
        ("Lieu de naissance", &claims.birthplace),
    ];
    fields.extend(
        optional
            .into_iter()
            .filter_map(|(label, value)| value.clone().map(|value| (label, value))),
    );
    fields
}

fn document(idp: &WalletProvider, claims: &ProofClaims, sealed: &str) -> Vec<u8> {
    let line = |size, text: String| Line { size, text };
    let mut lines = vec![
        line(16, "Justificatif d'identité à usage unique".to_owned()),
        line(10, format!("Émis par {}", idp.config.name)),
        line(11, String::new()),
        line(11, format!("Destinataire : {}", claims.recipient)),
        line(11, format!("Motif : {}", claims.reason)),
        line(11, format!("Émis le : {}", claims.today_date)),
        line(11, format!("Valable jusqu'au : {}", claims.validity_date)),
        line(11, format!("Numéro : {}", claims.id)),
        line(11, String::new()),
    ];
    lines.extend(
        shown(claims)
            .into_iter()
            .map(|(label, value)| line(12, format!("{label} : {value}"))),
    );
    lines.extend([
        line(11, String::new()),
        line(
            10,
            "Ce justificatif ne vaut que pour son destinataire, pour le motif indiqué, et une seule fois."
                .to_owned(),
        ),
        line(
            10,
            format!(
                "Vérifiez-le sur {}/justificatif (dépôt du fichier ou lecture du QR code).",
                idp.config.public_url
            ),
        ),
    ]);
    pdf::write("Justificatif d'identité à usage unique", &lines, sealed)
}

/// `POST /app/proof`: a card read with the code; answers the PDF
/// (base64) and its id.
pub async fn issue(
    State(idp): State<Arc<WalletProvider>>,
    Json(request): Json<ProofRequest>,
) -> Result<Response, ApiError> {
    let bad = |message: &str| ApiError::new(crate::api::code::BAD_REQUEST, message);
    let recipient = request.recipient.trim();
    if recipient.is_empty() || recipient.chars().count() > 120 {
        return Err(bad("Indiquez le destinataire (120 caractères au plus)."));
    }
    let purpose = request.purpose.trim();
    if purpose.is_empty() || purpose.chars().count() > 200 {
        return Err(bad("Indiquez le motif (200 caractères au plus)."));
    }
    if !(1..=MAX_DAYS).contains(&request.days) {
        return Err(bad("La durée de validité va de 1 à 30 jours."));
    }
    if let Some(unknown) = request
        .attributes
        .iter()
        .find(|a| !OPTIONAL_ATTRIBUTES.contains(&a.as_str()))
    {
        return Err(bad(&format!("Donnée inconnue : {unknown}.")));
    }
    let Some(signer) = &idp.seal_signer else {
        return Err(ApiError::new(
            crate::api::code::NO_SEAL_SIGNER,
            "Les justificatifs ne sont pas proposés par ce fournisseur.",
        ));
    };
    let read = CardRead {
        challenge: request.challenge.clone(),
        evidence: request.evidence.clone(),
    };
    let card = idp.read_card(&read, "card").await?;
    Identity::of_card(&idp.stores, &card)
        .await?
        .ok_or_else(not_activated)?;
    let now = idp.clock.now();
    let id = oidc::types::random_token(12);
    let claims = claims_of(&card, &request, &id, now);
    let sealed = seal::sign(signer, SEAL_TYPE, &claims).map_err(|error| {
        tracing::error!(%error, "proof seal not signed");
        ApiError::new(
            crate::api::code::SEAL,
            "Service momentanément indisponible.",
        )
    })?;
    let pdf = document(&idp, &claims, &sealed);
    let kept = Kept {
        recipient: normalised(&claims.recipient),
        exp: claims.exp,
        pdf_hash: hex(&Sha256::digest(&pdf)),
        seal_hash: sha256_hex(&sealed),
    };
    idp.stores
        .identity_proofs
        .keep(
            &id,
            &crate::stored_json(&kept)?,
            claims.exp + KEPT_AFTER_SECS,
        )
        .await?;
    tracing::info!(provider = %idp.config.id, "identity proof issued");
    Ok(Json(json!({
        "id": id,
        "pdf": card::b64::encode(&pdf),
        "validity_date": claims.validity_date,
    }))
    .into_response())
}

/// The validator's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProofStatus {
    Valid,
    Expired,
    NotValid,
    ErrorFile,
    ErrorContent,
}

/// A verification's outcome.
#[derive(Debug, Serialize)]
pub struct Verdict {
    pub status: ProofStatus,
    pub message: String,
    /// The sealed fields, when the seal verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<ProofClaims>,
    /// Whether this check consumed the proof.
    pub consumed: bool,
}

fn verdict(status: ProofStatus, message: &str) -> Verdict {
    Verdict {
        status,
        message: message.to_owned(),
        attributes: None,
        consumed: false,
    }
}

/// What was presented: the file, or what its QR code reads.
#[derive(Debug)]
pub enum Presented<'a> {
    Pdf(&'a [u8]),
    Seal(&'a str),
}

impl WalletProvider {
    /// Checks a proof; the first valid check by its named recipient
    /// consumes it.
    pub async fn verify_proof(
        &self,
        presented: Presented<'_>,
        recipient: Option<&str>,
    ) -> Result<Verdict, ApiError> {
        let now = self.clock.now();
        let (sealed, file_hash) = match presented {
            Presented::Pdf(bytes) => match pdf::seal_of(bytes) {
                Ok(sealed) => (sealed, Some(hex(&Sha256::digest(bytes)))),
                Err(pdf::ReadError::NotPdf) => {
                    return Ok(verdict(
                        ProofStatus::ErrorFile,
                        "Ce fichier n'est pas un PDF.",
                    ));
                }
                Err(pdf::ReadError::NoSeal) => {
                    return Ok(verdict(
                        ProofStatus::ErrorContent,
                        "Ce PDF ne contient pas de cachet de justificatif.",
                    ));
                }
            },
            Presented::Seal(text) => (text.trim().to_owned(), None),
        };
        let claims: ProofClaims = match seal::verify(
            &sealed,
            SEAL_TYPE,
            &self.trust,
            u64::try_from(now).unwrap_or_default(),
        ) {
            Ok(claims) => claims,
            Err(seal::SealError::Malformed | seal::SealError::WrongType) => {
                return Ok(verdict(
                    ProofStatus::ErrorContent,
                    "Le cachet est illisible ou n'est pas celui d'un justificatif.",
                ));
            }
            Err(error) => {
                return Ok(verdict(
                    ProofStatus::NotValid,
                    &format!("Cachet refusé : {error}."),
                ));
            }
        };
        let mut answer = Verdict {
            status: ProofStatus::Valid,
            message: String::new(),
            attributes: Some(claims.clone()),
            consumed: false,
        };
        if now > claims.exp {
            answer.status = ProofStatus::Expired;
            answer.message = format!("Ce justificatif a expiré le {}.", claims.validity_date);
            return Ok(answer);
        }
        let not_valid = |mut answer: Verdict, message: &str| {
            answer.status = ProofStatus::NotValid;
            answer.message = message.to_owned();
            Ok(answer)
        };
        let Some(stored) = self.stores.identity_proofs.load(&claims.id, now).await? else {
            return not_valid(answer, "Ce justificatif est inconnu du fournisseur.");
        };
        // A record that does not read back is an error, never an unknown
        // proof.
        let kept: Kept =
            serde_json::from_slice(&stored.value).map_err(|_| store::StoreError::Corrupt)?;
        if kept.seal_hash != sha256_hex(&sealed)
            || file_hash.is_some_and(|hash| hash != kept.pdf_hash)
        {
            return not_valid(answer, "Ce document a été modifié depuis son émission.");
        }
        match recipient.map(normalised).filter(|r| !r.is_empty()) {
            Some(named) if named != kept.recipient => not_valid(
                answer,
                "Ce justificatif est destiné à un autre destinataire.",
            ),
            Some(_) => match self.stores.identity_proofs.consume(&claims.id, now).await? {
                true => {
                    tracing::info!(provider = %self.config.id, "identity proof consumed");
                    answer.consumed = true;
                    answer.message =
                        "Justificatif valide. Il est désormais utilisé : il ne pourra plus servir."
                            .to_owned();
                    Ok(answer)
                }
                false => not_valid(
                    answer,
                    "Ce justificatif a déjà été utilisé par son destinataire.",
                ),
            },
            None => {
                if stored.used {
                    return not_valid(
                        answer,
                        "Ce justificatif a déjà été utilisé par son destinataire.",
                    );
                }
                answer.message =
                    "Justificatif valide. Seul son destinataire, en se nommant, peut l'utiliser."
                        .to_owned();
                Ok(answer)
            }
        }
    }
}

/// `POST /api/justificatif/verifier?destinataire=…`: the PDF as the body.
pub async fn api_verify(
    State(idp): State<Arc<WalletProvider>>,
    Query(query): Query<BTreeMap<String, String>>,
    body: Bytes,
) -> Response {
    let recipient = query.get("destinataire").map(String::as_str);
    match idp.verify_proof(Presented::Pdf(&body), recipient).await {
        Ok(verdict) => (web::no_store(), Json(verdict)).into_response(),
        Err(error) => error.into_response(),
    }
}

/// The validator's page, with the verdict of a check.
#[derive(Template)]
#[template(path = "proof.html")]
struct ProofPage<'a> {
    verdict: Option<Shown<'a>>,
}

/// A verdict as the page shows it.
struct Shown<'a> {
    class: &'static str,
    title: &'static str,
    message: &'a str,
    /// The sealed fields, when the seal verified.
    fields: Vec<(&'static str, String)>,
}

impl<'a> Shown<'a> {
    fn of(verdict: &'a Verdict) -> Self {
        let (class, title) = match verdict.status {
            ProofStatus::Valid => ("success", "VALIDE"),
            ProofStatus::Expired => ("error", "EXPIRÉ"),
            ProofStatus::NotValid => ("error", "NON VALIDE"),
            ProofStatus::ErrorFile | ProofStatus::ErrorContent => ("error", "ILLISIBLE"),
        };
        let fields = verdict.attributes.as_ref().map_or_else(Vec::new, |claims| {
            let mut fields = vec![
                ("Destinataire", claims.recipient.clone()),
                ("Motif", claims.reason.clone()),
                ("Émis le", claims.today_date.clone()),
                ("Valable jusqu'au", claims.validity_date.clone()),
                ("Numéro", claims.id.clone()),
            ];
            fields.extend(shown(claims));
            fields
        });
        Self {
            class,
            title,
            message: &verdict.message,
            fields,
        }
    }
}

fn proof_page(idp: &WalletProvider, page: &ProofPage<'_>) -> Response {
    crate::render_page(
        &idp.config.name,
        "Vérifier un justificatif d'identité",
        Lang::Fr,
        page,
    )
}

/// `GET /justificatif`.
pub async fn page(State(idp): State<Arc<WalletProvider>>) -> Response {
    proof_page(&idp, &ProofPage { verdict: None })
}

/// `POST /justificatif`: the QR code's content, from the form.
pub async fn check(
    State(idp): State<Arc<WalletProvider>>,
    Form(fields): Form<HashMap<String, String>>,
) -> Response {
    let seal = fields.get("seal").map_or("", String::as_str);
    let recipient = fields.get("destinataire").map(String::as_str);
    match idp.verify_proof(Presented::Seal(seal), recipient).await {
        Ok(verdict) => proof_page(
            &idp,
            &ProofPage {
                verdict: Some(Shown::of(&verdict)),
            },
        ),
        Err(error) => error.into_response(),
    }
}

/// `GET /justificatif.js`: sends a dropped PDF to the API and shows the
/// answer.
pub async fn script() -> Response {
    const SCRIPT: &str = r#"(function () {
  var input = document.getElementById('file');
  var recipient = document.getElementById('recipient');
  input.addEventListener('change', function () {
    var file = input.files[0];
    if (!file) { return; }
    var url = '/api/justificatif/verifier?destinataire=' + encodeURIComponent(recipient.value);
    fetch(url, { method: 'POST', body: file, headers: { 'Content-Type': 'application/pdf' } })
      .then(function (r) { return r.json(); })
      .then(function (v) {
        var box = document.createElement('div');
        box.className = 'notice ' + (v.status === 'VALID' ? 'success' : 'error');
        box.setAttribute('role', 'status');
        var p = document.createElement('p');
        p.textContent = v.status + ' — ' + v.message;
        box.appendChild(p);
        if (v.attributes) {
          var dl = document.createElement('dl');
          Object.keys(v.attributes).forEach(function (k) {
            var dt = document.createElement('dt'); dt.textContent = k;
            var dd = document.createElement('dd'); dd.textContent = v.attributes[k];
            dl.appendChild(dt); dl.appendChild(dd);
          });
          box.appendChild(dl);
        }
        document.getElementById('by-file').after(box);
      });
  });
})();
"#;
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/javascript; charset=utf-8",
        )],
        SCRIPT,
    )
        .into_response()
}
