//! The licence's test PKI (ISO 18013-5 Annex B shapes, every name marked
//! TEST): an issuing authority CA, `IACA-TEST-FR`, that certifies the
//! document signer of the licences, `DS-mDL-TEST`; and the verifier's
//! list of trusted IACAs. Certificates are built by `card::pki`.

use card::pki::{
    Anchor, Authority, SignerRefused, StoredAuthority, TestPki, certify, check_signer, random_key,
};
use p256::ecdsa::VerifyingKey;
use serde::{Deserialize, Serialize};
use x509_cert::Certificate;
use x509_cert::builder::Profile;

use crate::MdocError;

pub const IACA_NAME: &str = "CN=IACA-TEST-FR,OU=Passerelle TEST,O=Passerelle,C=FR";
pub const DS_NAME: &str = "CN=DS-mDL-TEST,OU=Passerelle TEST,O=Passerelle,C=FR";

const DAY: u64 = 24 * 3600;

/// The IACA and the document signer it certifies.
#[derive(Debug, Clone)]
pub struct LicencePki {
    pub iaca: Authority,
    pub document_signer: Authority,
}

impl LicencePki {
    /// New keys: the IACA valid 10 years from `now` (Unix seconds), the
    /// document signer 3 years.
    pub fn generate(now: u64) -> Result<Self, MdocError> {
        let iaca = Self::iaca(IACA_NAME, now, 3653 * DAY)?;
        let document_signer = TestPki::leaf(&iaca, 2, DS_NAME, random_key(), now, 1096 * DAY)?;
        Ok(Self {
            iaca,
            document_signer,
        })
    }

    /// A self-signed IACA named `name`, valid from `not_before` for
    /// `lifetime` seconds.
    pub fn iaca(name: &str, not_before: u64, lifetime: u64) -> Result<Authority, MdocError> {
        let key = random_key();
        let certificate = certify(Profile::Root, 1, name, &key, &key, not_before, lifetime)?;
        Ok(Authority::new(certificate, key))
    }

    /// The stored form: certificates and PKCS#8 keys, base64.
    pub fn to_stored(&self) -> Result<StoredLicencePki, MdocError> {
        Ok(StoredLicencePki {
            iaca: self.iaca.to_stored()?,
            document_signer: self.document_signer.to_stored()?,
        })
    }

    pub fn from_stored(stored: &StoredLicencePki) -> Result<Self, MdocError> {
        Ok(Self {
            iaca: Authority::from_stored(&stored.iaca)?,
            document_signer: Authority::from_stored(&stored.document_signer)?,
        })
    }
}

/// [`LicencePki`] as a file holds it (the issuer's secret; its Debug
/// shows no key).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredLicencePki {
    pub iaca: StoredAuthority,
    pub document_signer: StoredAuthority,
}

/// The IACA root certificates a verifier trusts (its "VICAL").
#[derive(Debug, Clone, Default)]
pub struct TrustedIacas {
    anchors: Vec<Anchor>,
}

impl TrustedIacas {
    /// Trusts the self-signed P-256 CA certificates `iacas` (DER).
    pub fn new(iacas: &[Vec<u8>]) -> Result<Self, MdocError> {
        let anchors = iacas
            .iter()
            .map(|der| Anchor::from_der(der).map_err(MdocError::TrustList))
            .collect::<Result<_, _>>()?;
        Ok(Self { anchors })
    }

    /// Checks a document signer's certificate (§9.3.3, Annex B): issued
    /// by a trusted IACA, signed by it, both valid at `now`, for digital
    /// signatures, a P-256 key. Returns that key.
    pub fn check_signer(
        &self,
        certificate: &Certificate,
        now: u64,
    ) -> Result<VerifyingKey, MdocError> {
        check_signer(certificate, &self.anchors, now)
            .map(|(key, _)| key)
            .map_err(|refused| match refused {
                SignerRefused::UnknownIssuer => MdocError::UnknownIssuer,
                SignerRefused::Forged => MdocError::SignerForged,
                SignerRefused::Expired => MdocError::SignerExpired,
                SignerRefused::Usage => MdocError::SignerUsage,
                SignerRefused::Key => MdocError::SignerKey,
            })
    }
}

#[cfg(test)]
mod tests {
    use der::Encode as _;

    use super::*;

    const NOW: u64 = 1_750_000_000;

    fn der(authority: &Authority) -> Vec<u8> {
        authority.certificate.to_der().unwrap()
    }

    #[test]
    fn a_document_signer_under_a_trusted_iaca_is_accepted() {
        let pki = LicencePki::generate(NOW).unwrap();
        let trust = TrustedIacas::new(&[der(&pki.iaca)]).unwrap();
        let key = trust
            .check_signer(&pki.document_signer.certificate, NOW + 1)
            .unwrap();
        assert_eq!(&key, pki.document_signer.key().verifying_key());
        assert_eq!(
            pki.document_signer
                .certificate
                .tbs_certificate
                .subject
                .to_string(),
            DS_NAME
        );
    }

    #[test]
    fn a_document_signer_under_another_iaca_is_unknown() {
        let pki = LicencePki::generate(NOW).unwrap();
        let other = LicencePki::iaca("CN=IACA-TEST-XX,O=Other,C=XX", NOW, 3650 * DAY).unwrap();
        let trust = TrustedIacas::new(&[der(&other)]).unwrap();
        assert_eq!(
            trust.check_signer(&pki.document_signer.certificate, NOW),
            Err(MdocError::UnknownIssuer)
        );
    }

    #[test]
    fn a_document_signer_signed_by_an_impostor_of_the_same_name_is_forged() {
        let pki = LicencePki::generate(NOW).unwrap();
        let impostor = LicencePki::iaca(IACA_NAME, NOW, 3650 * DAY).unwrap();
        let forged = TestPki::leaf(&impostor, 2, DS_NAME, random_key(), NOW, 365 * DAY).unwrap();
        let trust = TrustedIacas::new(&[der(&pki.iaca)]).unwrap();
        assert_eq!(
            trust.check_signer(&forged.certificate, NOW),
            Err(MdocError::SignerForged)
        );
    }

    #[test]
    fn an_expired_document_signer_is_refused() {
        let pki = LicencePki::generate(NOW).unwrap();
        let trust = TrustedIacas::new(&[der(&pki.iaca)]).unwrap();
        assert_eq!(
            trust.check_signer(&pki.document_signer.certificate, NOW + 1097 * DAY),
            Err(MdocError::SignerExpired)
        );
        assert_eq!(
            trust.check_signer(&pki.document_signer.certificate, NOW - 1),
            Err(MdocError::SignerExpired)
        );
    }

    #[test]
    fn a_signer_certificate_is_not_a_trust_anchor() {
        let pki = LicencePki::generate(NOW).unwrap();
        assert!(matches!(
            TrustedIacas::new(&[der(&pki.document_signer)]),
            Err(MdocError::TrustList(_))
        ));
        assert!(matches!(
            TrustedIacas::new(&[vec![0x30, 0x03, 0x02]]),
            Err(MdocError::TrustList(_))
        ));
    }

    #[test]
    fn the_stored_form_round_trips_and_never_shows_keys() {
        let pki = LicencePki::generate(NOW).unwrap();
        let stored = pki.to_stored().unwrap();
        let again = LicencePki::from_stored(&stored).unwrap();
        assert_eq!(again.document_signer.key(), pki.document_signer.key());
        assert_eq!(again.iaca.certificate, pki.iaca.certificate);
        assert!(!format!("{stored:?}").contains(&stored.iaca.key));
        assert!(!format!("{pki:?}").contains("key:"));
    }
}
