//! The test PKI (ICAO 9303 part 12 shapes, every name marked TEST): a
//! country signing CA, `CSCA-TEST-FR`, that certifies the document signer
//! of the cards, `DS-CNIe-TEST`, and the signer of visible seals,
//! `DS-CEV-TEST`; and the CRL the CA publishes.

use std::str::FromStr as _;
use std::time::Duration;

use der::asn1::{BitString, UtcTime};
use der::{Decode as _, Encode as _};
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{DerSignature, SigningKey, VerifyingKey};
use p256::pkcs8::{
    DecodePrivateKey as _, DecodePublicKey as _, EncodePrivateKey as _, EncodePublicKey as _,
};
use serde::{Deserialize, Serialize};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::builder::{Builder as _, CertificateBuilder, Profile};
use x509_cert::certificate::Certificate;
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

use crate::CardError;
use crate::lds::ECDSA_WITH_SHA256;

const YEAR: u64 = 365 * 24 * 3600 + 6 * 3600;

/// A key and the certificate that names it.
#[derive(Clone)]
pub struct Authority {
    pub certificate: Certificate,
    key: SigningKey,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority")
            .field(
                "subject",
                &self.certificate.tbs_certificate.subject.to_string(),
            )
            .finish_non_exhaustive()
    }
}

impl Authority {
    pub fn new(certificate: Certificate, key: SigningKey) -> Self {
        Self { certificate, key }
    }

    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// DER ECDSA-with-SHA256 over `message`.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let signature: DerSignature = self.key.sign(message);
        signature.as_bytes().to_vec()
    }

    pub fn certificate_der(&self) -> Result<Vec<u8>, CardError> {
        Ok(self.certificate.to_der()?)
    }

    /// The stored form: the certificate and the PKCS#8 key, base64.
    pub fn to_stored(&self) -> Result<StoredAuthority, CardError> {
        Ok(StoredAuthority {
            certificate: crate::b64::encode(&self.certificate.to_der()?),
            key: crate::b64::encode(
                self.key
                    .to_pkcs8_der()
                    .map_err(|e| CardError::Crypto(e.to_string()))?
                    .as_bytes(),
            ),
        })
    }

    pub fn from_stored(stored: &StoredAuthority) -> Result<Self, CardError> {
        Ok(Self {
            certificate: Certificate::from_der(&crate::b64::decode(&stored.certificate)?)?,
            key: SigningKey::from_pkcs8_der(&crate::b64::decode(&stored.key)?)
                .map_err(|e| CardError::Crypto(e.to_string()))?,
        })
    }
}

/// A fresh P-256 key from the operating system's generator.
pub fn random_key() -> SigningKey {
    loop {
        let bytes: [u8; 32] = rand::random();
        if let Ok(key) = SigningKey::from_bytes(&bytes.into()) {
            return key;
        }
    }
}

/// The P-256 key a certificate names, if it names one.
pub fn key_of(certificate: &Certificate) -> Option<VerifyingKey> {
    let spki = certificate
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .ok()?;
    VerifyingKey::from_public_key_der(&spki).ok()
}

/// Whether `issuer_key` signed `certificate` (ECDSA with SHA-256 only).
pub fn signed_by(certificate: &Certificate, issuer_key: &VerifyingKey) -> bool {
    if certificate.signature_algorithm.oid != ECDSA_WITH_SHA256 {
        return false;
    }
    let (Ok(tbs), Some(signature)) = (
        certificate.tbs_certificate.to_der(),
        certificate.signature.as_bytes(),
    ) else {
        return false;
    };
    DerSignature::from_bytes(signature)
        .is_ok_and(|signature| issuer_key.verify(&tbs, &signature).is_ok())
}

/// Whether `now` (Unix seconds) is inside the certificate's validity.
pub fn valid_at(certificate: &Certificate, now: u64) -> bool {
    let validity = &certificate.tbs_certificate.validity;
    validity.not_before.to_unix_duration().as_secs() <= now
        && now <= validity.not_after.to_unix_duration().as_secs()
}

/// A root a verifier trusts: a self-signed P-256 CA certificate and its
/// key (a country signing CA for cards, an IACA for driving licences).
#[derive(Debug, Clone)]
pub struct Anchor {
    pub certificate: Certificate,
    pub key: VerifyingKey,
}

impl Anchor {
    /// Reads a root (DER): it must be a CA, self-signed, with a P-256 key;
    /// the error says which rule it breaks.
    pub fn from_der(der: &[u8]) -> Result<Self, String> {
        let certificate = Certificate::from_der(der).map_err(|e| e.to_string())?;
        let key = key_of(&certificate).ok_or("the root's key is not P-256")?;
        if !signed_by(&certificate, &key) {
            return Err("the root is not self-signed".into());
        }
        let is_ca = matches!(certificate.tbs_certificate.get::<BasicConstraints>(), Ok(Some((_, c))) if c.ca);
        if !is_ca {
            return Err("the root is not a CA".into());
        }
        Ok(Self { certificate, key })
    }
}

/// Why a signer's certificate is refused, in the order [`check_signer`]
/// checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignerRefused {
    /// Issued by none of the roots.
    UnknownIssuer,
    /// Not signed by the root it names.
    Forged,
    /// The certificate or its root is not valid at that time.
    Expired,
    /// Not for digital signatures.
    Usage,
    /// Its key is not P-256.
    Key,
}

/// Checks a signer's certificate (a document signer, a seal signer)
/// against `roots`: issued by one of them, signed by it, both valid at
/// `now`, for digital signatures, a P-256 key. Returns that key and the
/// root, whose own rules (a CRL) the caller applies.
pub fn check_signer<'a, R: AsRef<Anchor>>(
    certificate: &Certificate,
    roots: &'a [R],
    now: u64,
) -> Result<(VerifyingKey, &'a R), SignerRefused> {
    let tbs = &certificate.tbs_certificate;
    let root = roots
        .iter()
        .find(|root| root.as_ref().certificate.tbs_certificate.subject == tbs.issuer)
        .ok_or(SignerRefused::UnknownIssuer)?;
    let anchor = root.as_ref();
    if !signed_by(certificate, &anchor.key) {
        return Err(SignerRefused::Forged);
    }
    if !valid_at(certificate, now) || !valid_at(&anchor.certificate, now) {
        return Err(SignerRefused::Expired);
    }
    let usage = matches!(tbs.get::<KeyUsage>(), Ok(Some((_, usage))) if usage.digital_signature());
    if !usage {
        return Err(SignerRefused::Usage);
    }
    let key = key_of(certificate).ok_or(SignerRefused::Key)?;
    Ok((key, root))
}

impl AsRef<Anchor> for Anchor {
    fn as_ref(&self) -> &Anchor {
        self
    }
}

fn time(unix: u64) -> Result<Time, CardError> {
    Ok(Time::UtcTime(UtcTime::from_unix_duration(
        Duration::from_secs(unix),
    )?))
}

/// Issues a certificate of `profile` for `subject`'s key, signed by
/// `issuer_key`, valid from `not_before` for `lifetime` seconds.
pub fn certify(
    profile: Profile,
    serial: u32,
    subject: &str,
    key: &SigningKey,
    issuer_key: &SigningKey,
    not_before: u64,
    lifetime: u64,
) -> Result<Certificate, CardError> {
    let public = key.verifying_key().to_public_key_der()?;
    let spki = SubjectPublicKeyInfoOwned::from_der(public.as_bytes())?;
    let validity = Validity {
        not_before: time(not_before)?,
        not_after: time(not_before + lifetime)?,
    };
    let name = Name::from_str(subject)?;
    let builder = CertificateBuilder::new(
        profile,
        SerialNumber::from(serial),
        validity,
        name,
        spki,
        issuer_key,
    )
    .map_err(|e| CardError::Crypto(e.to_string()))?;
    builder
        .build::<DerSignature>()
        .map_err(|e| CardError::Crypto(e.to_string()))
}

/// The three authorities of the test PKI.
#[derive(Debug, Clone)]
pub struct TestPki {
    pub csca: Authority,
    pub document_signer: Authority,
    pub seal_signer: Authority,
}

pub const CSCA_NAME: &str = "CN=CSCA-TEST-FR,OU=Passerelle TEST,O=Passerelle,C=FR";
pub const DS_NAME: &str = "CN=DS-CNIe-TEST,OU=Passerelle TEST,O=Passerelle,C=FR";
pub const SEAL_NAME: &str = "CN=DS-CEV-TEST,OU=Passerelle TEST,O=Passerelle,C=FR";

impl TestPki {
    /// New keys: the CA valid 15 years from `now` (Unix seconds), the
    /// signers 10 years.
    pub fn generate(now: u64) -> Result<Self, CardError> {
        let csca_key = random_key();
        let csca = Authority {
            certificate: certify(
                Profile::Root,
                1,
                CSCA_NAME,
                &csca_key,
                &csca_key,
                now,
                15 * YEAR,
            )?,
            key: csca_key,
        };
        let signer = |serial, name| -> Result<Authority, CardError> {
            Self::leaf(&csca, serial, name, random_key(), now, 10 * YEAR)
        };
        Ok(Self {
            document_signer: signer(2, DS_NAME)?,
            seal_signer: signer(3, SEAL_NAME)?,
            csca,
        })
    }

    /// A signer certified by `csca`.
    pub fn leaf(
        csca: &Authority,
        serial: u32,
        name: &str,
        key: SigningKey,
        not_before: u64,
        lifetime: u64,
    ) -> Result<Authority, CardError> {
        let profile = Profile::Leaf {
            issuer: csca.certificate.tbs_certificate.subject.clone(),
            enable_key_agreement: false,
            enable_key_encipherment: false,
        };
        Ok(Authority {
            certificate: certify(profile, serial, name, &key, &csca.key, not_before, lifetime)?,
            key,
        })
    }

    /// The CA's CRL listing `revoked` serial numbers, issued at `now`, next
    /// update in 90 days.
    pub fn crl(&self, revoked: &[u32], now: u64) -> Result<Vec<u8>, CardError> {
        let algorithm = AlgorithmIdentifierOwned {
            oid: ECDSA_WITH_SHA256,
            parameters: None,
        };
        let revoked_certificates = revoked
            .iter()
            .map(|serial| {
                Ok(RevokedCert {
                    serial_number: SerialNumber::from(*serial),
                    revocation_date: time(now)?,
                    crl_entry_extensions: None,
                })
            })
            .collect::<Result<Vec<_>, CardError>>()?;
        let tbs = TbsCertList {
            version: x509_cert::Version::V2,
            signature: algorithm.clone(),
            issuer: self.csca.certificate.tbs_certificate.subject.clone(),
            this_update: time(now)?,
            next_update: Some(time(now + 90 * 24 * 3600)?),
            revoked_certificates: Some(revoked_certificates).filter(|r| !r.is_empty()),
            crl_extensions: None,
        };
        let signature = self.csca.sign(&tbs.to_der()?);
        let list = CertificateList {
            tbs_cert_list: tbs,
            signature_algorithm: algorithm,
            signature: BitString::from_bytes(&signature)?,
        };
        Ok(list.to_der()?)
    }

    /// The stored form: certificates and PKCS#8 keys, base64.
    pub fn to_stored(&self) -> Result<StoredPki, CardError> {
        Ok(StoredPki {
            csca: self.csca.to_stored()?,
            document_signer: self.document_signer.to_stored()?,
            seal_signer: self.seal_signer.to_stored()?,
        })
    }

    pub fn from_stored(stored: &StoredPki) -> Result<Self, CardError> {
        Ok(Self {
            csca: Authority::from_stored(&stored.csca)?,
            document_signer: Authority::from_stored(&stored.document_signer)?,
            seal_signer: Authority::from_stored(&stored.seal_signer)?,
        })
    }
}

/// [`TestPki`] as a file holds it (the personalisation side's secret).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredPki {
    pub csca: StoredAuthority,
    pub document_signer: StoredAuthority,
    pub seal_signer: StoredAuthority,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct StoredAuthority {
    pub certificate: String,
    pub key: String,
}

impl std::fmt::Debug for StoredAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredAuthority").finish_non_exhaustive()
    }
}
