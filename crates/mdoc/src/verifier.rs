//! The verifier's checks of a DeviceResponse (§9.3.1), in the order
//! [`verify`] runs them, each failure its own [`MdocError`]:
//!
//! 1. the response parses (malformed CBOR or structure),
//! 2. its status is 0,
//! 3. it carries one document, of the requested type,
//! 4. issuerAuth carries the document signer's certificate (x5chain),
//! 5. that certificate chains to a trusted IACA, valid now, for
//!    signatures ([`TrustedIacas::check_signer`]),
//! 6. issuerAuth verifies with it,
//! 7. the mobile security object is for this document type,
//! 8. and valid now,
//! 9. every returned element matches its digest, as received,
//! 10. every returned element was requested (refused, not ignored),
//! 11. the device signature over DeviceAuthenticationBytes for this
//!     session's transcript verifies with the MSO's device key (a
//!     response replayed from another session, or presented by another
//!     device, fails here).

use std::collections::{BTreeMap, BTreeSet};

use der::Decode as _;
use x509_cert::Certificate;

use crate::MdocError;
use crate::cbor::Value;
use crate::cose;
use crate::issuer::IssuerSignedItem;
use crate::mso::{MobileSecurityObject, ValidityInfo};
use crate::pki::TrustedIacas;
use crate::request::ItemsRequest;
use crate::response::{
    DeviceAuth, DeviceResponse, Document, STATUS_OK, device_authentication_bytes,
};
use crate::transcript::SessionTranscript;

/// What a verified response establishes.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    pub doc_type: String,
    pub validity: ValidityInfo,
    /// The document signer's subject, e.g. `CN=DS-mDL-TEST,…`.
    pub signer: String,
    /// The disclosed elements: namespace → identifier → value. Only
    /// issuer-signed elements; device-signed ones are not returned.
    pub elements: BTreeMap<String, BTreeMap<String, Value>>,
}

/// Verifies `response` (DeviceResponse bytes) as the answer to
/// `request` in the session of `transcript`, against `trust`, at `now`
/// (Unix seconds).
pub fn verify(
    response: &[u8],
    request: &ItemsRequest,
    transcript: &SessionTranscript,
    trust: &TrustedIacas,
    now: u64,
) -> Result<Verified, MdocError> {
    let response = DeviceResponse::from_bytes(response)?;
    check_status(&response)?;
    let document = check_document(&response, request)?;
    let signer = check_x5chain(document)?;
    let signer_key = trust.check_signer(&signer, now)?;
    check_issuer_signature(document, &signer_key)?;
    let mso = check_mso_doc_type(document)?;
    mso.validity_info.check(now)?;
    let items = check_digests(document, &mso)?;
    check_requested(&items, request)?;
    check_device_signature(document, &mso, transcript)?;
    let mut elements: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    for (namespace, item) in items {
        elements
            .entry(namespace)
            .or_default()
            .insert(item.element_identifier, item.element_value);
    }
    Ok(Verified {
        doc_type: mso.doc_type,
        validity: mso.validity_info,
        signer: signer.tbs_certificate.subject.to_string(),
        elements,
    })
}

/// Step 2: status 0 (OK, §8.3.2.1.2.3).
fn check_status(response: &DeviceResponse) -> Result<(), MdocError> {
    if response.status != STATUS_OK {
        return Err(MdocError::Status(response.status));
    }
    Ok(())
}

/// Step 3: one document, of the type requested.
fn check_document<'a>(
    response: &'a DeviceResponse,
    request: &ItemsRequest,
) -> Result<&'a Document, MdocError> {
    let document = match response.documents.as_slice() {
        [] => return Err(MdocError::NoDocument),
        [document] => document,
        _ => {
            return Err(MdocError::Malformed(
                "DeviceResponse (more documents than requested)",
            ));
        }
    };
    if document.doc_type != request.doc_type {
        return Err(MdocError::WrongDocType {
            expected: request.doc_type.clone(),
            found: document.doc_type.clone(),
        });
    }
    Ok(document)
}

/// Step 4: the document signer's certificate, first of x5chain
/// (§9.1.2.4).
fn check_x5chain(document: &Document) -> Result<Certificate, MdocError> {
    let chain = cose::x5chain(&document.issuer_signed.issuer_auth)?;
    let leaf = chain.first().ok_or(MdocError::X5ChainMissing)?;
    Certificate::from_der(leaf).map_err(|_| MdocError::Malformed("x5chain certificate"))
}

/// Step 6: issuerAuth is the document signer's signature over the MSO
/// (§9.3.1 step 3).
fn check_issuer_signature(
    document: &Document,
    signer_key: &p256::ecdsa::VerifyingKey,
) -> Result<(), MdocError> {
    if !cose::verify(&document.issuer_signed.issuer_auth, signer_key, None)? {
        return Err(MdocError::IssuerSignature);
    }
    Ok(())
}

/// Step 7: the signed object names the document's type (§9.3.1 step 6).
fn check_mso_doc_type(document: &Document) -> Result<MobileSecurityObject, MdocError> {
    let mso = document.issuer_signed.mso()?;
    if mso.doc_type != document.doc_type {
        return Err(MdocError::MsoDocType {
            expected: document.doc_type.clone(),
            found: mso.doc_type,
        });
    }
    Ok(mso)
}

/// Step 9: each item's digest ID is in valueDigests for its namespace,
/// and the digest of its IssuerSignedItemBytes as received is the one
/// signed (§9.3.1 step 4).
fn check_digests(
    document: &Document,
    mso: &MobileSecurityObject,
) -> Result<Vec<(String, IssuerSignedItem)>, MdocError> {
    let mut items = Vec::new();
    let mut seen = BTreeSet::new();
    for (namespace, bytes, item) in document.issuer_signed.items()? {
        let named = || (namespace.to_string(), item.element_identifier.clone());
        let Some(expected) = mso
            .value_digests
            .get(namespace)
            .and_then(|digests| digests.get(&item.digest_id))
        else {
            let (namespace, identifier) = named();
            return Err(MdocError::DigestMissing {
                namespace,
                identifier,
            });
        };
        if mso.digest_algorithm.digest(&bytes.tagged_bytes()?) != *expected {
            let (namespace, identifier) = named();
            return Err(MdocError::ElementTampered {
                namespace,
                identifier,
            });
        }
        if !seen.insert(named()) {
            return Err(MdocError::Malformed("IssuerSigned (an element twice)"));
        }
        items.push((namespace.to_string(), item));
    }
    Ok(items)
}

/// Step 10: nothing was disclosed that was not asked for. Such a
/// response is refused, not trimmed: the holder's wallet disclosed more
/// than the citizen consented to, or someone added to it.
fn check_requested(
    items: &[(String, IssuerSignedItem)],
    request: &ItemsRequest,
) -> Result<(), MdocError> {
    match items
        .iter()
        .find(|(namespace, item)| !request.asks_for(namespace, &item.element_identifier))
    {
        Some((namespace, item)) => Err(MdocError::NotRequested {
            namespace: namespace.clone(),
            identifier: item.element_identifier.clone(),
        }),
        None => Ok(()),
    }
}

/// Step 11: the device signature (§9.1.3.6, §9.3.1 step 7).
fn check_device_signature(
    document: &Document,
    mso: &MobileSecurityObject,
    transcript: &SessionTranscript,
) -> Result<(), MdocError> {
    let signed = device_authentication_bytes(
        transcript,
        &document.doc_type,
        &document.device_signed.name_spaces,
    )?;
    let DeviceAuth::Signature(signature) = &document.device_signed.device_auth else {
        return Err(MdocError::Algorithm(
            "deviceMac (only deviceSignature)".into(),
        ));
    };
    if !cose::verify(signature, &mso.device_key, Some(&signed))? {
        return Err(MdocError::DeviceSignature);
    }
    Ok(())
}
