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
use mdoc::{
    DeviceResponse, FullDate, ItemsRequest, LicencePki, MDL_DOCTYPE, MDL_NAMESPACE, MdocError,
    OpenId4VpHandover, SessionTranscript, TDate, TrustedIacas, ValidityInfo, Value,
};
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{DerSignature, VerifyingKey};
use p256::pkcs8::{DecodePublicKey as _, EncodePublicKey as _};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest as _, Sha256};

use crate::api::{ApiError, CardRead, code, not_activated};
use crate::identity::{self, Identity};
use crate::{WalletProvider, flow, verify};

/// How long an issued licence is valid before the app must renew it.
pub const LICENCE_VALIDITY_SECS: i64 = 30 * 24 * 3600;
/// The app renews a licence this long before it ends (the MSO's
/// `expectedUpdate`).
pub const RENEW_BEFORE_SECS: i64 = 7 * 24 * 3600;

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
                "{}/api/v1/driving-licences",
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
        let body = json!({
            "given_name": pivot.given_name, "family_name": pivot.family_name,
            "birthdate": pivot.birthdate, "gender": pivot.gender,
            "birthplace": pivot.birthplace, "birthcountry": pivot.birthcountry,
        });
        self.ask("match", &body).await
    }

    /// The register's entry for a licence number, as it stands.
    async fn look_up_number(&self, number: &str) -> Result<Answer, ApiError> {
        self.ask("lookup", &json!({ "number": number })).await
    }

    /// `POST {register}/api/v1/driving-licences/{endpoint}`.
    async fn ask(&self, endpoint: &str, body: &serde_json::Value) -> Result<Answer, ApiError> {
        let unavailable = || {
            ApiError::new(
                code::LICENCE_UNAVAILABLE,
                "Le registre des permis de conduire est indisponible. Réessayez.",
            )
        };
        let response = self
            .http
            .post(format!("{}/{endpoint}", self.url))
            .timeout(oidc::answer::TIMEOUT)
            .json(body)
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
        oidc::answer::json(response).await.map_err(|error| {
            tracing::warn!(%error, "licence register's answer unreadable");
            unavailable()
        })
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
    let issuer = issuer_of(&idp)?;
    let device_key = device_key(&body.device_key, &body.proof, &body.challenge)?;
    let read = CardRead {
        challenge: body.challenge,
        evidence: body.evidence,
    };
    let card = idp.read_card(&read, "card").await?;
    let mut identity = Identity::of_card(&idp.stores, &card)
        .await?
        .ok_or_else(not_activated)?;
    let pivot = identity::claims_identity(&card, &identity.stored.email);
    let entry = issuer.look_up(&pivot).await?;
    let holder = Holder {
        family_name: card.holder.family_name.clone(),
        given_name: card.holder.given_names.clone(),
        birth_date: card.holder.birth_date,
    };
    let issued = issue_to(&idp, issuer, &mut identity, entry, &holder, &device_key).await?;
    tracing::info!(provider = %idp.config.id, "driving licence issued");
    Ok(Json(issued).into_response())
}

/// The elements a renewal presents to the issuer.
pub const RENEWAL_ELEMENTS: [&str; 4] =
    ["family_name", "given_name", "birth_date", "document_number"];

/// The transcript a renewal is device-signed over: an OpenID4VP handover
/// to the provider's renewal endpoint, its nonce the challenge.
pub fn renewal_transcript(
    provider_url: &str,
    challenge: &str,
) -> Result<SessionTranscript, MdocError> {
    let endpoint = format!("{}/app/licence/renew", provider_url.trim_end_matches('/'));
    Ok(SessionTranscript::openid4vp(OpenId4VpHandover::new(
        &endpoint, &endpoint, challenge, "renewal",
    )?))
}

/// `POST /app/licence/renew` body.
#[derive(Debug, Deserialize)]
pub struct Renewal {
    /// A challenge of `/app/challenge`, used once.
    pub challenge: String,
    /// The identity the licence was issued to.
    pub identity: String,
    /// The licence presented for [`RENEWAL_ELEMENTS`] over
    /// [`renewal_transcript`]: DeviceResponse, base64.
    pub device_response: String,
}

/// `POST /app/licence/renew`: the app presents the licence it holds, still
/// valid, to the issuer, which checks it as any verifier would (its own
/// IACA, this challenge's transcript, the device key's signature). If the
/// identity is still active and bound to that key, and the register still
/// says the licence is valid, a fresh one is issued to the same key. No
/// card read: the device key proves the holder.
pub async fn renew(
    State(idp): State<Arc<WalletProvider>>,
    Json(body): Json<Renewal>,
) -> Result<Response, ApiError> {
    let issuer = issuer_of(&idp)?;
    let challenge = verify::parse_challenge(&body.challenge)
        .ok_or_else(|| ApiError::new(code::BAD_REQUEST, "Défi mal formé."))?;
    let now = idp.clock.now();
    flow::take_challenge(&idp.stores, &challenge, "card", now).await??;
    let not_renewable = |why: String| {
        ApiError::new(
            code::LICENCE_NOT_RENEWABLE,
            format!("Ce permis ne peut pas être renouvelé ({why}) : ajoutez-le de nouveau."),
        )
    };
    let bytes = card::b64::decode(&body.device_response)
        .map_err(|_| ApiError::new(code::BAD_REQUEST, "Présentation mal formée."))?;
    let trust = issuer
        .iaca_der()
        .and_then(|der| TrustedIacas::new(&[der]).ok())
        .ok_or_else(|| not_renewable("racine indisponible".into()))?;
    let transcript = renewal_transcript(&idp.config.public_url, &body.challenge)
        .map_err(|e| not_renewable(e.to_string()))?;
    let verified = mdoc::verify(
        &bytes,
        &ItemsRequest::mdl(&RENEWAL_ELEMENTS),
        &transcript,
        &trust,
        u64::try_from(now).unwrap_or_default(),
    )
    .map_err(|e| not_renewable(e.to_string()))?;
    // The key the device signature was just checked with.
    let device_key = DeviceResponse::from_bytes(&bytes)
        .ok()
        .and_then(|response| response.documents.into_iter().next())
        .and_then(|document| document.issuer_signed.mso().ok())
        .map(|mso| mso.device_key)
        .ok_or_else(|| not_renewable("clé illisible".into()))?;
    let mut identity = Identity::by_id(&idp.stores, &body.identity)
        .await?
        .filter(|identity| identity.record.licence_key == Some(key_hash(&device_key)))
        .ok_or_else(not_activated)?;
    let element = |name: &str| {
        verified
            .elements
            .get(MDL_NAMESPACE)
            .and_then(|elements| elements.get(name))
    };
    let text = |name: &str| match element(name) {
        Some(Value::Text(text)) => Some(text.clone()),
        _ => None,
    };
    let holder = (|| {
        Some(Holder {
            family_name: text("family_name")?,
            given_name: text("given_name")?,
            birth_date: FullDate::from_value(element("birth_date")?, "birth_date")
                .ok()?
                .0,
        })
    })()
    .ok_or_else(|| not_renewable("données illisibles".into()))?;
    let number = text("document_number").ok_or_else(|| not_renewable("numéro illisible".into()))?;
    let entry = issuer.look_up_number(&number).await?;
    let issued = issue_to(&idp, issuer, &mut identity, entry, &holder, &device_key).await?;
    tracing::info!(provider = %idp.config.id, "driving licence renewed");
    Ok(Json(issued).into_response())
}

/// The issuer, or why there is none.
fn issuer_of(idp: &WalletProvider) -> Result<&LicenceIssuer, ApiError> {
    idp.licence.as_ref().ok_or_else(|| {
        ApiError::new(
            code::LICENCE_UNAVAILABLE,
            "Ce fournisseur ne délivre pas de permis de conduire.",
        )
    })
}

/// Who the licence names.
struct Holder {
    family_name: String,
    given_name: String,
    birth_date: Date,
}

/// SHA-256 (hex) of a device key's SubjectPublicKeyInfo.
fn key_hash(key: &VerifyingKey) -> String {
    let der = key
        .to_public_key_der()
        .map(|der| der.as_bytes().to_vec())
        .unwrap_or_default();
    verify::hex(&Sha256::digest(der))
}

/// The register's answer, if it is a licence that may be issued: the one
/// decision on what the register said, for a first issue and a renewal.
fn valid_licence(answer: Answer) -> Result<Entry, ApiError> {
    let entry = match answer {
        Answer::Licence { licence } => licence,
        Answer::NoLicence | Answer::Deceased | Answer::NotFound => {
            return Err(ApiError::new(
                code::NO_LICENCE,
                "Aucun permis de conduire n'est enregistré à votre nom.",
            ));
        }
    };
    match entry.status.as_str() {
        "valid" => Ok(entry),
        "suspended" => Err(ApiError::new(
            code::LICENCE_SUSPENDED,
            "Votre permis de conduire est suspendu : il ne peut pas être mis dans votre portefeuille.",
        )),
        _ => Err(ApiError::new(
            code::LICENCE_CANCELLED,
            "Votre permis de conduire est annulé : il ne peut pas être mis dans votre portefeuille.",
        )),
    }
}

/// Issues `answer`'s licence for `holder`, bound to `device_key`, and
/// records that key on the identity (only it renews the licence).
async fn issue_to(
    idp: &WalletProvider,
    issuer: &LicenceIssuer,
    identity: &mut Identity,
    answer: Answer,
    holder: &Holder,
    device_key: &VerifyingKey,
) -> Result<IssuedLicence, ApiError> {
    let entry = valid_licence(answer)?;
    let now = idp.clock.now();
    let licence = mdl_of(&entry, holder).ok_or_else(|| {
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
        expected_update: Some(at(now + LICENCE_VALIDITY_SECS - RENEW_BEFORE_SECS)),
    };
    let elements = licence.elements(Date::from_time(now));
    let signed = mdoc::issue(
        MDL_DOCTYPE,
        &elements,
        device_key,
        &issuer.pki.document_signer,
        validity,
    )
    .and_then(|signed| signed.to_bytes())
    .map_err(|error| {
        tracing::warn!(%error, "the licence could not be signed");
        ApiError::new(code::SEAL, "Le permis n'a pas pu être signé. Réessayez.")
    })?;
    identity.record.licence_key = Some(key_hash(device_key));
    identity.save(&idp.stores).await?;
    Ok(IssuedLicence {
        issuer_signed: card::b64::encode(&signed),
        document_number: entry.number,
        categories: entry.categories.into_iter().map(|c| c.code).collect(),
        expiry_date: entry.expiry_date,
        valid_until: now + LICENCE_VALIDITY_SECS,
    })
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
fn mdl_of(entry: &Entry, holder: &Holder) -> Option<mdoc::Licence> {
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
        given_name: holder.given_name.clone(),
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

    #[tokio::test]
    async fn a_register_that_never_answers_is_unavailable_not_waited_for() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        // Takes the connection, reads nothing, answers nothing.
        let held = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
            drop(socket);
        });
        let issuer = LicenceIssuer::new(&url, LicencePki::generate(1_800_000_000).unwrap());
        // Given up on after the answer's timeout, well before this bound.
        let lookup = issuer.look_up_number("123456789012");
        let refused = tokio::time::timeout(std::time::Duration::from_secs(30), lookup)
            .await
            .expect("the issuer gave up on the register")
            .err();
        assert_eq!(
            refused.map(|error| error.code()),
            Some(code::LICENCE_UNAVAILABLE.code)
        );
        held.abort();
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
        let holder = Holder {
            family_name: "DUPONT".into(),
            given_name: "Marie".into(),
            birth_date: Date::new(1985, 3, 14).unwrap(),
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
