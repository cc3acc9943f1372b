//! The verifier of a card read relayed by a wallet: Passive Authentication
//! of EF.SOD and the data groups, then Active Authentication over the
//! challenge this provider issued, in the order of the design note
//! (research/france-identite.md, 4.4), each failure its own error.
//!
//! The wallet is untrusted: everything here is checked from bytes a real
//! chip would emit, against the country signing CA of the trust store.

use std::collections::BTreeMap;

use card::lds::{self, ECDSA_WITH_SHA256, File, LDS_SECURITY_OBJECT, LdsSecurityObject};
use card::mrz::Mrz;
use card::pki::{Anchor, SignerRefused, check_signer};
use card::{Date, Evidence, Holder, tlv};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{SignedData, SignerIdentifier};
use der::asn1::ObjectIdentifier;
use der::{Decode as _, Encode as _};
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{DerSignature, Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey as _;
use sha2::{Digest as _, Sha256, Sha384, Sha512};
use x509_cert::Certificate;
use x509_cert::crl::CertificateList;
use x509_cert::serial_number::SerialNumber;

/// The data groups a login reads: never DG2 (the face), by minimisation.
pub const LOGIN_GROUPS: [File; 5] = [File::Dg1, File::Dg11, File::Dg13, File::Dg14, File::Dg15];

/// Why a card read is refused. Each check has its own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardCheck {
    #[error("EF.SOD is not a CMS SignedData: {0}")]
    SodStructure(&'static str),
    #[error("EF.SOD's content is not an LDS security object")]
    WrongContentType,
    #[error("EF.SOD uses a hash algorithm that is not allowed")]
    HashAlgorithm,
    #[error("EF.SOD's signed attributes are missing or malformed: {0}")]
    SignedAttributes(&'static str),
    #[error("EF.SOD's messageDigest is not the hash of its content")]
    MessageDigest,
    #[error("EF.SOD's signature algorithm is not supported")]
    SignatureAlgorithm,
    #[error("EF.SOD's signature does not verify with its document signer's key")]
    SodSignature,
    #[error("EF.SOD carries no certificate for its signer")]
    DocumentSignerMissing,
    #[error("the document signer was issued by no trusted country signing CA")]
    UnknownCountrySigningCa,
    #[error("the document signer's certificate is not signed by the country signing CA it names")]
    DocumentSignerForged,
    #[error("the document signer's certificate is not valid now")]
    DocumentSignerExpired,
    #[error("the document signer's certificate is revoked")]
    DocumentSignerRevoked,
    #[error("the document signer's certificate is not for digital signatures")]
    DocumentSignerUsage,
    #[error("data group {0} is not listed in EF.SOD")]
    DataGroupNotInSod(u8),
    #[error("data group {0} does not match its hash in EF.SOD")]
    DataGroupHash(u8),
    #[error("data group {0} is not one this read may carry")]
    UnexpectedDataGroup(u8),
    #[error("data group {0} is missing")]
    MissingDataGroup(u8),
    #[error("the data groups are malformed: {0}")]
    DataGroup(String),
    #[error("the MRZ is invalid: {0}")]
    Mrz(String),
    #[error("not a French identity card")]
    NotFrenchIdCard,
    #[error("the card expired")]
    CardExpired,
    #[error("the card's Active Authentication algorithm is not supported")]
    ActiveAuthenticationAlgorithm,
    #[error("the card's signature of the challenge does not verify")]
    ActiveAuthentication,
    #[error("the trust store is invalid: {0}")]
    TrustStore(String),
}

/// A trusted country signing CA and what its CRL revokes.
#[derive(Debug, Clone)]
struct Csca {
    root: Anchor,
    revoked: Vec<SerialNumber>,
}

impl AsRef<Anchor> for Csca {
    fn as_ref(&self) -> &Anchor {
        &self.root
    }
}

/// The country signing CAs a verifier trusts (the "master list"), with
/// their CRLs.
#[derive(Debug, Clone, Default)]
pub struct TrustStore {
    cscas: Vec<Csca>,
}

impl TrustStore {
    /// Trusts the self-signed CA certificates `cscas` (DER) and applies the
    /// CRLs `crls` (DER), each of which must be signed by one of them.
    pub fn new(cscas: &[Vec<u8>], crls: &[Vec<u8>]) -> Result<Self, CardCheck> {
        let bad = |what: &str| CardCheck::TrustStore(what.to_string());
        let mut cscas = cscas
            .iter()
            .map(|der| {
                Ok(Csca {
                    root: Anchor::from_der(der).map_err(|e| bad(&format!("CSCA: {e}")))?,
                    revoked: Vec::new(),
                })
            })
            .collect::<Result<Vec<_>, CardCheck>>()?;
        for der in crls {
            let list = CertificateList::from_der(der).map_err(|e| bad(&e.to_string()))?;
            let csca = cscas
                .iter_mut()
                .find(|c| c.root.certificate.tbs_certificate.subject == list.tbs_cert_list.issuer)
                .ok_or_else(|| bad("CRL of an unknown CA"))?;
            let signature = list
                .signature
                .as_bytes()
                .and_then(|s| DerSignature::from_bytes(s).ok());
            let tbs = list
                .tbs_cert_list
                .to_der()
                .map_err(|e| bad(&e.to_string()))?;
            if signature.is_none_or(|s| csca.root.key.verify(&tbs, &s).is_err()) {
                return Err(bad("CRL signature"));
            }
            csca.revoked.extend(
                list.tbs_cert_list
                    .revoked_certificates
                    .iter()
                    .flatten()
                    .map(|r| r.serial_number.clone()),
            );
        }
        Ok(Self { cscas })
    }

    /// Checks a signer's certificate issued under one of the anchors (step
    /// 3): the document signer of a card, or the signer of a seal.
    pub fn check_signer(
        &self,
        certificate: &Certificate,
        now: u64,
    ) -> Result<VerifyingKey, CardCheck> {
        let (key, csca) =
            check_signer(certificate, &self.cscas, now).map_err(|refused| match refused {
                SignerRefused::UnknownIssuer => CardCheck::UnknownCountrySigningCa,
                SignerRefused::Forged => CardCheck::DocumentSignerForged,
                SignerRefused::Expired => CardCheck::DocumentSignerExpired,
                SignerRefused::Usage => CardCheck::DocumentSignerUsage,
                SignerRefused::Key => CardCheck::SignatureAlgorithm,
            })?;
        if csca
            .revoked
            .contains(&certificate.tbs_certificate.serial_number)
        {
            return Err(CardCheck::DocumentSignerRevoked);
        }
        Ok(key)
    }
}

/// What a verified card read establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCard {
    pub issuing_state: String,
    pub document_number: String,
    pub expiry: Date,
    pub holder: Holder,
    /// SHA-256 of DG15's public key, hex: the card's own identity.
    pub key_fingerprint: String,
}

/// Verifies `evidence` read for `challenge` at `now` (Unix seconds).
/// The caller has checked that it issued `challenge` for this very
/// transaction and consumed it (step 6's single use).
pub fn verify(
    evidence: &Evidence,
    trust: &TrustStore,
    challenge: &[u8; 8],
    now: u64,
) -> Result<VerifiedCard, CardCheck> {
    // 1. The structure of EF.SOD.
    let (signed_data, object, content) = parse_sod(&evidence.sod.0)?;
    // 2. Signed attributes and the signature; 3. the document signer.
    check_signature(&signed_data, &content, trust, now)?;
    // 4. Every data group received is the one signed.
    let groups = check_groups(&evidence.data_groups, &object)?;
    // 5. The MRZ.
    let today = Date::from_unix(now);
    let group = |file: File| -> Result<&[u8], CardCheck> {
        let number = file.data_group().unwrap_or_default();
        groups
            .get(&number)
            .copied()
            .ok_or(CardCheck::MissingDataGroup(number))
    };
    let mrz =
        lds::parse_dg1(group(File::Dg1)?, today).map_err(|e| CardCheck::Mrz(e.to_string()))?;
    if mrz.document_code != "ID" || mrz.issuing_state != "FRA" {
        return Err(CardCheck::NotFrenchIdCard);
    }
    if mrz.expiry_date < today {
        return Err(CardCheck::CardExpired);
    }
    // 6. Active Authentication over the challenge.
    let dg15 =
        lds::parse_dg15(group(File::Dg15)?).map_err(|e| CardCheck::DataGroup(e.to_string()))?;
    check_active_authentication(group(File::Dg14)?, dg15, &evidence.signature.0, challenge)?;
    let holder = holder(&mrz, group(File::Dg11)?, group(File::Dg13)?)?;
    Ok(VerifiedCard {
        issuing_state: mrz.issuing_state,
        document_number: mrz.document_number,
        expiry: mrz.expiry_date,
        holder,
        key_fingerprint: hex(&Sha256::digest(dg15)),
    })
}

fn parse_sod(sod: &[u8]) -> Result<(SignedData, LdsSecurityObject, Vec<u8>), CardCheck> {
    let structure = CardCheck::SodStructure;
    let inner = tlv::decode_one(sod, 0x77).map_err(|_| structure("not tag 77"))?;
    let info = ContentInfo::from_der(inner).map_err(|_| structure("not a ContentInfo"))?;
    if info.content_type != card::sod::SIGNED_DATA {
        return Err(structure("not signedData"));
    }
    let signed_data: SignedData = info
        .content
        .decode_as()
        .map_err(|_| structure("not a SignedData"))?;
    if signed_data.version != CmsVersion::V3 {
        return Err(structure("SignedData version is not 3"));
    }
    if signed_data.signer_infos.0.len() != 1 {
        return Err(structure("not exactly one SignerInfo"));
    }
    let encap = &signed_data.encap_content_info;
    if encap.econtent_type != LDS_SECURITY_OBJECT {
        return Err(CardCheck::WrongContentType);
    }
    let content = encap
        .econtent
        .as_ref()
        .map(|any| any.value().to_vec())
        .ok_or(structure("no content"))?;
    let object =
        LdsSecurityObject::from_der(&content).map_err(|_| structure("not an LDSSecurityObject"))?;
    if object.version > 1 {
        return Err(structure("LDSSecurityObject version"));
    }
    if ![lds::SHA256, lds::SHA384, lds::SHA512].contains(&object.hash_algorithm.oid) {
        return Err(CardCheck::HashAlgorithm);
    }
    Ok((signed_data, object, content))
}

fn hash(algorithm: ObjectIdentifier, bytes: &[u8]) -> Option<Vec<u8>> {
    Some(match algorithm {
        a if a == lds::SHA256 => Sha256::digest(bytes).to_vec(),
        a if a == lds::SHA384 => Sha384::digest(bytes).to_vec(),
        a if a == lds::SHA512 => Sha512::digest(bytes).to_vec(),
        _ => return None,
    })
}

fn check_signature(
    signed_data: &SignedData,
    content: &[u8],
    trust: &TrustStore,
    now: u64,
) -> Result<(), CardCheck> {
    let attributes = CardCheck::SignedAttributes;
    let signer = signed_data
        .signer_infos
        .0
        .iter()
        .next()
        .ok_or(CardCheck::SodStructure("no SignerInfo"))?;
    let signed_attrs = signer.signed_attrs.as_ref().ok_or(attributes("absent"))?;
    let value = |oid| {
        signed_attrs.iter().find(|a| a.oid == oid).and_then(|a| {
            (a.values.len() == 1)
                .then(|| a.values.iter().next())
                .flatten()
        })
    };
    let content_type: ObjectIdentifier = value(card::sod::ATTR_CONTENT_TYPE)
        .and_then(|v| v.decode_as().ok())
        .ok_or(attributes("contentType"))?;
    if content_type != signed_data.encap_content_info.econtent_type {
        return Err(attributes("contentType differs from the content's"));
    }
    let digest: der::asn1::OctetString = value(card::sod::ATTR_MESSAGE_DIGEST)
        .and_then(|v| v.decode_as().ok())
        .ok_or(attributes("messageDigest"))?;
    let expected = hash(signer.digest_alg.oid, content).ok_or(CardCheck::HashAlgorithm)?;
    if digest.as_bytes() != expected.as_slice() {
        return Err(CardCheck::MessageDigest);
    }
    if signer.signature_algorithm.oid != ECDSA_WITH_SHA256 {
        return Err(CardCheck::SignatureAlgorithm);
    }
    // The document signer, matched by the SignerInfo's sid.
    let SignerIdentifier::IssuerAndSerialNumber(sid) = &signer.sid else {
        return Err(CardCheck::DocumentSignerMissing);
    };
    let certificate = signed_data
        .certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .find_map(|choice| match choice {
            cms::cert::CertificateChoices::Certificate(c)
                if c.tbs_certificate.issuer == sid.issuer
                    && c.tbs_certificate.serial_number == sid.serial_number =>
            {
                Some(c)
            }
            _ => None,
        })
        .ok_or(CardCheck::DocumentSignerMissing)?;
    let key = trust.check_signer(certificate, now)?;
    // The signature covers the DER SET OF encoding of the attributes.
    let signed = signed_attrs.to_der().map_err(|_| attributes("encoding"))?;
    let signature = DerSignature::from_bytes(signer.signature.as_bytes())
        .map_err(|_| CardCheck::SodSignature)?;
    key.verify(&signed, &signature)
        .map_err(|_| CardCheck::SodSignature)
}

fn check_groups<'a>(
    received: &'a BTreeMap<u8, card::b64::Bytes>,
    object: &LdsSecurityObject,
) -> Result<BTreeMap<u8, &'a [u8]>, CardCheck> {
    let allowed: Vec<u8> = LOGIN_GROUPS.iter().filter_map(|f| f.data_group()).collect();
    let mut groups = BTreeMap::new();
    for (&number, bytes) in received {
        if !allowed.contains(&number) {
            return Err(CardCheck::UnexpectedDataGroup(number));
        }
        let listed = object
            .hash_of(number)
            .ok_or(CardCheck::DataGroupNotInSod(number))?;
        let actual = hash(object.hash_algorithm.oid, &bytes.0).ok_or(CardCheck::HashAlgorithm)?;
        if actual != listed {
            return Err(CardCheck::DataGroupHash(number));
        }
        groups.insert(number, bytes.0.as_slice());
    }
    Ok(groups)
}

fn check_active_authentication(
    dg14: &[u8],
    dg15: &[u8],
    signature: &[u8],
    challenge: &[u8; 8],
) -> Result<(), CardCheck> {
    let algorithm = lds::parse_dg14(dg14).map_err(|e| CardCheck::DataGroup(e.to_string()))?;
    if algorithm != ECDSA_WITH_SHA256 {
        return Err(CardCheck::ActiveAuthenticationAlgorithm);
    }
    let key = VerifyingKey::from_public_key_der(dg15)
        .map_err(|_| CardCheck::ActiveAuthenticationAlgorithm)?;
    // Plain r‖s (BSI TR-03111), not DER.
    let signature =
        Signature::from_slice(signature).map_err(|_| CardCheck::ActiveAuthentication)?;
    key.verify(challenge, &signature)
        .map_err(|_| CardCheck::ActiveAuthentication)
}

fn holder(mrz: &Mrz, dg11: &[u8], dg13: &[u8]) -> Result<Holder, CardCheck> {
    let malformed = |e: card::CardError| CardCheck::DataGroup(e.to_string());
    let mut holder = lds::parse_holder(mrz, dg13).map_err(malformed)?;
    holder.birth_date = lds::parse_dg11_birth_date(dg11).map_err(malformed)?;
    Ok(holder)
}

/// Lower-case hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    base16ct::lower::encode_string(bytes)
}

/// A challenge as [`hex`] wrote it: 16 hexadecimal digits.
pub fn parse_challenge(text: &str) -> Option<[u8; 8]> {
    let bytes: Option<Vec<u8>> = (0..text.len())
        .step_by(2)
        .map(|at| {
            text.get(at..at + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        })
        .collect();
    bytes.and_then(|b| <[u8; 8]>::try_from(b).ok())
}
