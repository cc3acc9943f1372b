//! The roadside check: the police officer's reader of the digital driving
//! licence (ISO/IEC 18013-5 proximity presentation).
//!
//! The officer scans the QR code the citizen's app shows (its device
//! engagement), and [`roadside_check`] runs the session:
//!
//! 1. the session keys from the engagement's ephemeral key and the
//!    reader's own (ECDH, HKDF, §9.1.1.5);
//! 2. the device request for the chosen elements, encrypted, posted to
//!    where the app listens;
//! 3. the app's encrypted answer, opened with the session's counters;
//! 4. the device response checked in order by [`mdoc::verify`]: the
//!    document signer's chain to a trusted IACA, the MSO's signature and
//!    validity, each returned element's digest, no element that was not
//!    asked for, and the device's signature over this session's
//!    transcript (so a response recorded elsewhere does not pass).
//!
//! Transport: local HTTP, as no BLE or NFC is available here; the
//! engagement carries the URL (`mdoc::session::HTTP_RETRIEVAL`).

use std::collections::BTreeMap;

use mdoc::mdl::DrivingPrivilege;
use mdoc::session::ReaderSession;
use mdoc::{DeviceRequest, ItemsRequest, MDL_NAMESPACE, MdocError, TrustedIacas, Value, Verified};

/// What a roadside check asks by default: who, and what they may drive.
pub const ROADSIDE_ELEMENTS: &[&str] = &[
    "family_name",
    "given_name",
    "birth_date",
    "document_number",
    "expiry_date",
    "driving_privileges",
];

/// Why a check did not end with a verified licence; each says what the
/// officer sees.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CheckError {
    #[error("ce QR code n'est pas celui d'un permis de conduire : {0}")]
    Engagement(MdocError),
    #[error("ce QR code ne dit pas où joindre l'application")]
    NoAddress,
    #[error("l'application du titulaire ne répond pas ({0})")]
    Unreachable(String),
    #[error("le titulaire a refusé de montrer son permis")]
    Declined,
    #[error("la liaison avec l'application a échoué : {0}")]
    Session(MdocError),
    #[error("permis refusé : {0}")]
    Refused(MdocError),
}

/// Runs the check of the licence whose engagement `qr_code` shows, asking
/// for `elements`, trusting `trust`, at `now` (Unix seconds).
pub async fn roadside_check(
    qr_code: &str,
    elements: &[&str],
    trust: &TrustedIacas,
    now: u64,
) -> Result<Verified, CheckError> {
    let mut session =
        ReaderSession::from_qr_code(qr_code.trim()).map_err(CheckError::Engagement)?;
    let url = session
        .url()
        .filter(|url| url.starts_with("http://") || url.starts_with("https://"))
        .ok_or(CheckError::NoAddress)?
        .to_owned();
    let items = ItemsRequest::mdl(elements);
    let request = DeviceRequest {
        doc_requests: vec![ItemsRequest::mdl(elements)],
    };
    let establishment = request
        .to_bytes()
        .and_then(|request| session.establish(&request))
        .map_err(CheckError::Session)?;
    let unreachable =
        |error: reqwest::Error| CheckError::Unreachable(error.without_url().to_string());
    let response = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/cbor")
        .timeout(oidc::answer::TIMEOUT)
        .body(establishment)
        .send()
        .await
        .map_err(unreachable)?;
    // The holder's device answers: read it with the bound of any answer.
    let answer = oidc::answer::bytes(response)
        .await
        .map_err(|error| CheckError::Unreachable(error.to_string()))?;
    let response = match session.open(&answer) {
        Ok(response) => response,
        Err(MdocError::SessionStatus(_)) => return Err(CheckError::Declined),
        Err(error) => return Err(CheckError::Session(error)),
    };
    let verified = mdoc::verify(&response, &items, session.transcript(), trust, now)
        .map_err(CheckError::Refused)?;
    tracing::info!("roadside check: licence verified");
    Ok(verified)
}

/// What the officer's screen shows of a verified licence.
pub fn describe(verified: &Verified) -> String {
    let empty = BTreeMap::new();
    let elements = verified.elements.get(MDL_NAMESPACE).unwrap_or(&empty);
    let mut lines = vec!["Permis de conduire vérifié".to_owned()];
    for (identifier, value) in elements {
        let shown = match identifier.as_str() {
            "driving_privileges" => DrivingPrivilege::list_from_value(value)
                .map(|privileges| {
                    let privileges: Vec<String> =
                        privileges.iter().map(ToString::to_string).collect();
                    privileges.join(", ")
                })
                .unwrap_or_else(|_| "illisible".to_owned()),
            _ => text(value),
        };
        lines.push(format!("  {identifier} : {shown}"));
    }
    lines.push(format!(
        "  émis par : {} ; version numérique valable jusqu'au {}",
        verified.signer,
        verified.validity.valid_until.rfc3339()
    ));
    lines.join("\n")
}

/// A data element's value as text: dates as written, privileges as
/// `B (01)`.
fn text(value: &Value) -> String {
    match value {
        Value::Text(text) => text.clone(),
        Value::Bool(true) => "oui".to_owned(),
        Value::Bool(false) => "non".to_owned(),
        Value::Integer(number) => i128::from(*number).to_string(),
        Value::Tag(_, inner) => text(inner),
        Value::Bytes(bytes) => format!("({} octets)", bytes.len()),
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(", "),
        _ => "?".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_attestations_read_as_text() {
        let date = Value::Tag(1004, Box::new(Value::Text("2033-01-19".into())));
        assert_eq!(text(&date), "2033-01-19");
        assert_eq!(text(&Value::Bool(true)), "oui");
    }

    #[tokio::test]
    async fn a_holder_that_never_answers_is_given_up_on() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/mdoc", listener.local_addr().unwrap());
        // Takes the connection, reads nothing, answers nothing.
        let held = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
            drop(socket);
        });
        let holder = mdoc::session::DeviceSession::new(Some(&url)).unwrap();
        let trust = TrustedIacas::default();
        // Given up on after the answer's timeout, well before this bound.
        let qr_code = holder.qr_code();
        let check = roadside_check(&qr_code, ROADSIDE_ELEMENTS, &trust, 0);
        let result = tokio::time::timeout(std::time::Duration::from_secs(30), check)
            .await
            .expect("the check gave up on the holder");
        assert!(
            matches!(result, Err(CheckError::Unreachable(_))),
            "{result:?}"
        );
        held.abort();
    }

    #[tokio::test]
    async fn a_code_that_is_not_an_engagement_is_refused_before_any_request() {
        let trust = TrustedIacas::default();
        for code in ["", "mdoc:", "mdoc:!!!", "https://example.test/", "mdoc:oA"] {
            let result = roadside_check(code, ROADSIDE_ELEMENTS, &trust, 0).await;
            assert!(
                matches!(result, Err(CheckError::Engagement(_))),
                "{code}: {result:?}"
            );
        }
    }
}
