//! The digital driving licence: an ISO 18013-5 mDL issued into the wallet.
//!
//! `POST /app/licence`: the app reads the card with its code for a
//! challenge of this provider and sends, with the reading, the public half
//! of a device key it made for the licence and that key's signature of
//! `licence|<challenge>` (proof that it holds the key the licence will be
//! bound to). The identity of the card must be active. The provider asks
//! the licence register for the licence of the person the card names
//! (`POST {licence_register}/api/v1/driving-licences/match`): none is said
//! so; a suspended or cancelled licence is refused and said so; a valid
//! one is issued as an mdoc signed by the document signer `DS-mDL-TEST`,
//! bound to the device key, valid [`LICENCE_VALIDITY_SECS`].
//!
//! The provider keeps nothing of the licence: the register is its source,
//! the app holds the document.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse as _, Response};
use card::Date;
use mdoc::mdl::{Code, DrivingPrivilege};
use mdoc::{LicencePki, MDL_DOCTYPE, TDate, ValidityInfo};
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{DerSignature, VerifyingKey};
use p256::pkcs8::DecodePublicKey as _;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::WalletProvider;
use crate::api::{ApiError, CardRead, code, not_activated};
use crate::identity::{self, Identity};

/// How long an issued licence is valid before the app must renew it.
pub const LICENCE_VALIDITY_SECS: i64 = 30 * 24 * 3600;

/// The issuing state, as the mDL writes it.
const ISSUING_COUNTRY: &str = "FR";
/// The UN distinguishing sign of France (Vienna convention, 1968).
const UN_SIGN: &str = "F";

/// The issuer: where the register is, and the document signer.
#[derive(Debug)]
pub struct LicenceIssuer {
    url: String,
    http: reqwest::Client,
    pki: LicencePki,
}

impl LicenceIssuer {
    /// An issuer asking the register at `register_url`, signing with `pki`.
    pub fn new(register_url: &str, pki: LicencePki) -> Self {
        Self {
            url: format!(
                "{}/api/v1/driving-licences/match",
                register_url.trim_end_matches('/')
            ),
            http: reqwest::Client::new(),
            pki,
        }
    }

    /// The IACA root certificate (DER) that verifiers trust.
    pub fn iaca_der(&self) -> Option<Vec<u8>> {
        self.pki.iaca.certificate_der().ok()
    }

    /// The register's entry for the person `pivot` names.
    async fn look_up(&self, pivot: &oidc::Identity) -> Result<Answer, ApiError> {
        let unavailable = || {
            ApiError::new(
                code::LICENCE_UNAVAILABLE,
                "Le registre des permis de conduire est indisponible. Réessayez.",
            )
        };
        let body = json!({
            "given_name": pivot.given_name, "family_name": pivot.family_name,
            "birthdate": pivot.birthdate, "gender": pivot.gender,
            "birthplace": pivot.birthplace, "birthcountry": pivot.birthcountry,
        });
        let response = self
            .http
            .post(&self.url)
            .json(&body)
            .send()
            .await
            .map_err(|error| {
                tracing::warn!(error = %error.without_url(), "licence register unreachable");
                unavailable()
            })?;
        if !response.status().is_success() {
            tracing::warn!(
                status = response.status().as_u16(),
                "licence register refused"
            );
            return Err(unavailable());
        }
        response.json().await.map_err(|_| unavailable())
    }
}

/// `GET /mdl/iaca.der`: the root certificate of the licences, for
/// verifiers (a stand-in for a published trust list: a verifier in
/// production pins it, it does not fetch it over plain HTTP).
pub async fn iaca(State(idp): State<Arc<WalletProvider>>) -> Response {
    match idp.licence.as_ref().and_then(LicenceIssuer::iaca_der) {
        Some(der) => ([(CONTENT_TYPE, "application/pkix-cert")], der).into_response(),
        None => axum::http::StatusCode::NOT_FOUND.into_response(),
    }
}

/// The register's answer (its contract: the `register` crate's documentation).
#[derive(Debug, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
enum Answer {
    Licence { licence: Entry },
    NoLicence,
    Deceased,
    NotFound,
}

#[derive(Debug, Deserialize)]
struct Entry {
    number: String,
    status: String,
    issue_date: String,
    expiry_date: String,
    issuing_authority: String,
    categories: Vec<Category>,
}

#[derive(Debug, Deserialize)]
struct Category {
    code: String,
    issue_date: String,
    expiry_date: Option<String>,
    restrictions: Vec<String>,
}

/// `POST /app/licence` body.
#[derive(Debug, Deserialize)]
pub struct LicenceRequest {
    pub challenge: String,
    pub evidence: card::Evidence,
    /// The licence's device key: SubjectPublicKeyInfo DER, base64.
    pub device_key: String,
    /// The device key's signature (DER, base64) of `licence|<challenge>`.
    pub proof: String,
}

/// What the app receives.
#[derive(Debug, Serialize, Deserialize)]
pub struct IssuedLicence {
    /// The IssuerSigned structure (CBOR), base64.
    pub issuer_signed: String,
    pub document_number: String,
    /// The categories, e.g. `["A", "B"]`.
    pub categories: Vec<String>,
    /// When the document expires (`YYYY-MM-DD`).
    pub expiry_date: String,
    /// When this issue stops being valid (Unix seconds): renew before.
    pub valid_until: i64,
}

/// `POST /app/licence`: the licence of the card's holder, into the wallet.
pub async fn issue(
    State(idp): State<Arc<WalletProvider>>,
    Json(body): Json<LicenceRequest>,
) -> Result<Response, ApiError> {
    let Some(issuer) = &idp.licence else {
        return Err(ApiError::new(
            code::LICENCE_UNAVAILABLE,
            "Ce fournisseur ne délivre pas de permis de conduire.",
        ));
    };
    let device_key = device_key(&body.device_key, &body.proof, &body.challenge)?;
    let read = CardRead {
        challenge: body.challenge,
        evidence: body.evidence,
    };
    let card = idp.read_card(&read, "card").await?;
    let identity = Identity::of_card(&idp.stores, &card)
        .await?
        .ok_or_else(not_activated)?;
    let pivot = identity::claims_identity(&card, &identity.stored.email);
    let entry = match issuer.look_up(&pivot).await? {
        Answer::Licence { licence } => licence,
        Answer::NoLicence | Answer::Deceased | Answer::NotFound => {
            return Err(ApiError::new(
                code::NO_LICENCE,
                "Aucun permis de conduire n'est enregistré à votre nom.",
            ));
        }
    };
    match entry.status.as_str() {
        "valid" => {}
        "suspended" => {
            return Err(ApiError::new(
                code::LICENCE_SUSPENDED,
                "Votre permis de conduire est suspendu : il ne peut pas être ajouté.",
            ));
        }
        _ => {
            return Err(ApiError::new(
                code::LICENCE_CANCELLED,
                "Votre permis de conduire est annulé : il ne peut pas être ajouté.",
            ));
        }
    }
    let now = idp.clock.now();
    let licence = mdl_of(&entry, &card.holder).ok_or_else(|| {
        tracing::warn!("the licence register answered an unreadable date");
        ApiError::new(
            code::LICENCE_UNAVAILABLE,
            "Le registre des permis de conduire a répondu de façon illisible.",
        )
    })?;
    let at = |seconds: i64| TDate(u64::try_from(seconds).unwrap_or_default());
    let validity = ValidityInfo {
        signed: at(now),
        valid_from: at(now),
        valid_until: at(now + LICENCE_VALIDITY_SECS),
        expected_update: None,
    };
    let elements = licence.elements(Date::from_time(now));
    let signed = mdoc::issue(
        MDL_DOCTYPE,
        &elements,
        &device_key,
        &issuer.pki.document_signer,
        validity,
    )
    .and_then(|signed| signed.to_bytes())
    .map_err(|error| {
        tracing::warn!(%error, "the licence could not be signed");
        ApiError::new(code::SEAL, "Le permis n'a pas pu être signé. Réessayez.")
    })?;
    tracing::info!(provider = %idp.config.id, "driving licence issued");
    let issued = IssuedLicence {
        issuer_signed: card::b64::encode(&signed),
        document_number: entry.number,
        categories: entry.categories.into_iter().map(|c| c.code).collect(),
        expiry_date: entry.expiry_date,
        valid_until: now + LICENCE_VALIDITY_SECS,
    };
    Ok(Json(issued).into_response())
}

/// The device key (SPKI DER, base64), once its `proof` (DER signature,
/// base64) of `licence|<challenge>` verifies.
fn device_key(key: &str, proof: &str, challenge: &str) -> Result<VerifyingKey, ApiError> {
    let refused = || {
        ApiError::new(
            code::INSTALLATION,
            "La clé du permis n'est pas prouvée par l'application.",
        )
    };
    let der = card::b64::decode(key).map_err(|_| refused())?;
    let key = VerifyingKey::from_public_key_der(&der).map_err(|_| refused())?;
    let proof = card::b64::decode(proof).map_err(|_| refused())?;
    let signature = DerSignature::from_bytes(&proof).map_err(|_| refused())?;
    key.verify(format!("licence|{challenge}").as_bytes(), &signature)
        .map_err(|_| refused())?;
    Ok(key)
}

/// The mDL's data: the holder as the card names them, the licence as the
/// register holds it. `None` when a register date is unreadable.
fn mdl_of(entry: &Entry, holder: &card::Holder) -> Option<mdoc::Licence> {
    let date = |text: &str| mdoc::FullDate::parse(text).map(|full| full.0);
    let driving_privileges = entry
        .categories
        .iter()
        .map(|category| {
            Some(DrivingPrivilege {
                vehicle_category_code: category.code.clone(),
                issue_date: Some(date(&category.issue_date)?),
                expiry_date: match &category.expiry_date {
                    Some(text) => Some(date(text)?),
                    None => None,
                },
                codes: category
                    .restrictions
                    .iter()
                    .map(|code| Code {
                        code: code.clone(),
                        sign: None,
                        value: None,
                    })
                    .collect(),
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(mdoc::Licence {
        family_name: holder.family_name.clone(),
        given_name: holder.given_names.clone(),
        birth_date: holder.birth_date,
        issue_date: date(&entry.issue_date)?,
        expiry_date: date(&entry.expiry_date)?,
        issuing_country: ISSUING_COUNTRY.to_owned(),
        issuing_authority: entry.issuing_authority.clone(),
        document_number: entry.number.clone(),
        portrait: None,
        driving_privileges,
        un_distinguishing_sign: UN_SIGN.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use p256::ecdsa::signature::Signer as _;
    use p256::pkcs8::EncodePublicKey as _;

    use super::*;

    fn signed(message: &str) -> (String, String) {
        let key = card::pki::random_key();
        let public = key.verifying_key().to_public_key_der().unwrap();
        let proof: DerSignature = key.sign(message.as_bytes());
        (
            card::b64::encode(public.as_bytes()),
            card::b64::encode(proof.as_bytes()),
        )
    }

    #[test]
    fn the_device_key_is_taken_only_with_its_signature_of_this_challenge() {
        let (key, proof) = signed("licence|00112233aabbccdd");
        assert!(device_key(&key, &proof, "00112233aabbccdd").is_ok());
        let refused = |result: Result<VerifyingKey, ApiError>| result.err().map(|e| e.code());
        let other = Some(code::INSTALLATION.code);
        assert_eq!(refused(device_key(&key, &proof, "ffffffffffffffff")), other);
        let (_, stranger) = signed("licence|00112233aabbccdd");
        assert_eq!(
            refused(device_key(&key, &stranger, "00112233aabbccdd")),
            other
        );
        assert_eq!(
            refused(device_key("AAAA", &proof, "00112233aabbccdd")),
            other
        );
        assert_eq!(
            refused(device_key(&key, "not base64!", "00112233aabbccdd")),
            other
        );
    }

    #[test]
    fn the_register_s_licence_becomes_the_mdl_s_data() {
        let entry: Entry = serde_json::from_value(json!({
            "number": "197500000001", "status": "valid", "format": "card",
            "issue_date": "2019-04-02", "expiry_date": "2034-04-02",
            "issuing_authority": "ANTS",
            "categories": [{"code": "B", "issue_date": "2003-06-12", "expiry_date": null,
                            "restrictions": ["01"]}],
        }))
        .unwrap();
        let holder = card::Holder {
            family_name: "DUPONT".into(),
            given_names: "Marie".into(),
            usage_name: None,
            sex: 'F',
            birth_date: Date::new(1985, 3, 14).unwrap(),
            birthplace: Some("75115".into()),
            birthcountry: "99100".into(),
            birthplace_name: "Paris 15e".into(),
        };
        let licence = mdl_of(&entry, &holder).unwrap();
        assert_eq!(licence.document_number, "197500000001");
        assert_eq!(licence.expiry_date, Date::new(2034, 4, 2).unwrap());
        let b = licence.driving_privileges.first().unwrap();
        assert_eq!(b.vehicle_category_code, "B");
        assert_eq!(b.codes.first().map(|c| c.code.as_str()), Some("01"));
        let mut unreadable = entry;
        unreadable.issue_date = "2019-02-30".into();
        assert!(mdl_of(&unreadable, &holder).is_none(), "no such day");
    }
}
