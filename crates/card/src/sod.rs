//! EF.SOD: a CMS SignedData (RFC 5652) whose content is the LDS security
//! object, signed by the document signer (ICAO 9303 part 10, 4.6).

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use der::asn1::{ObjectIdentifier, OctetString, SetOfVec};
use der::{Any, Encode as _, Tag};
use sha2::{Digest as _, Sha256};
use spki::AlgorithmIdentifierOwned;
use x509_cert::attr::Attribute;

use crate::lds::{ECDSA_WITH_SHA256, LDS_SECURITY_OBJECT, LdsSecurityObject, SHA256};
use crate::pki::Authority;
use crate::{CardError, tlv};

/// `id-signedData`.
pub const SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
/// The `contentType` signed attribute.
pub const ATTR_CONTENT_TYPE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
/// The `messageDigest` signed attribute.
pub const ATTR_MESSAGE_DIGEST: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");

/// What goes into one SOD; the fields are open so that tests can build the
/// malformed ones a verifier must refuse.
#[derive(Debug, Clone)]
pub struct SodParts {
    pub content_type: ObjectIdentifier,
    /// The DER LDS security object.
    pub content: Vec<u8>,
    /// The `messageDigest` attribute; the content's SHA-256 when `None`.
    pub message_digest: Option<Vec<u8>>,
}

impl SodParts {
    pub fn new(object: &LdsSecurityObject) -> Result<Self, CardError> {
        Ok(Self {
            content_type: LDS_SECURITY_OBJECT,
            content: object.to_der()?,
            message_digest: None,
        })
    }

    /// Signs with `signer` and wraps the ContentInfo in tag 77.
    pub fn sign(&self, signer: &Authority) -> Result<Vec<u8>, CardError> {
        let sha256 = AlgorithmIdentifierOwned {
            oid: SHA256,
            parameters: None,
        };
        let digest = match &self.message_digest {
            Some(digest) => digest.clone(),
            None => Sha256::digest(&self.content).to_vec(),
        };
        let attribute = |oid, value: Any| -> Result<Attribute, CardError> {
            Ok(Attribute {
                oid,
                values: SetOfVec::try_from(vec![value])?,
            })
        };
        let signed_attrs = SetOfVec::try_from(vec![
            attribute(ATTR_CONTENT_TYPE, Any::encode_from(&self.content_type)?)?,
            attribute(ATTR_MESSAGE_DIGEST, Any::new(Tag::OctetString, digest)?)?,
        ])?;
        let signature = signer.sign(&signed_attrs.to_der()?);
        let tbs = &signer.certificate.tbs_certificate;
        let signer_info = SignerInfo {
            version: CmsVersion::V1,
            sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
                issuer: tbs.issuer.clone(),
                serial_number: tbs.serial_number.clone(),
            }),
            digest_alg: sha256.clone(),
            signed_attrs: Some(signed_attrs),
            signature_algorithm: AlgorithmIdentifierOwned {
                oid: ECDSA_WITH_SHA256,
                parameters: None,
            },
            signature: OctetString::new(signature)?,
            unsigned_attrs: None,
        };
        let signed_data = SignedData {
            version: CmsVersion::V3,
            digest_algorithms: SetOfVec::try_from(vec![sha256])?,
            encap_content_info: EncapsulatedContentInfo {
                econtent_type: self.content_type,
                econtent: Some(Any::new(Tag::OctetString, self.content.clone())?),
            },
            certificates: Some(CertificateSet(SetOfVec::try_from(vec![
                CertificateChoices::Certificate(signer.certificate.clone()),
            ])?)),
            crls: None,
            signer_infos: SignerInfos(SetOfVec::try_from(vec![signer_info])?),
        };
        let info = ContentInfo {
            content_type: SIGNED_DATA,
            content: Any::encode_from(&signed_data)?,
        };
        Ok(tlv::encode(0x77, &info.to_der()?))
    }
}
