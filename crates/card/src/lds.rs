//! The logical data structure (ICAO 9303 part 10): the data groups this
//! card holds, each a BER-TLV with its own tag and file identifier, and the
//! LDS security object that lists their hashes.

use der::asn1::{ObjectIdentifier, OctetString};
use der::{Decode as _, Encode as _, Sequence};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

use crate::mrz::{Date, Mrz};
use crate::{CardError, tlv};

/// `id-icao-mrtd-security-ldsSecurityObject`, the SOD's content type.
pub const LDS_SECURITY_OBJECT: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.136.1.1.1");
/// `id-icao-mrtd-security-aaProtocolObject` (DG14's ActiveAuthenticationInfo).
pub const AA_PROTOCOL: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.136.1.1.5");
/// ecdsa-with-SHA256.
pub const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
/// id-sha256.
pub const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
/// id-sha384.
pub const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
/// id-sha512.
pub const SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");

/// The eMRTD application (LDS1).
pub const APPLICATION_ID: [u8; 7] = [0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01];

/// The elementary files of the application this card holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum File {
    Com,
    Dg1,
    Dg11,
    Dg13,
    Dg14,
    Dg15,
    Sod,
}

impl File {
    pub const ALL: [File; 7] = [
        File::Com,
        File::Dg1,
        File::Dg11,
        File::Dg13,
        File::Dg14,
        File::Dg15,
        File::Sod,
    ];

    /// The short file identifier a SELECT names.
    pub fn id(self) -> u16 {
        match self {
            File::Com => 0x011E,
            File::Dg1 => 0x0101,
            File::Dg11 => 0x010B,
            File::Dg13 => 0x010D,
            File::Dg14 => 0x010E,
            File::Dg15 => 0x010F,
            File::Sod => 0x011D,
        }
    }

    /// The tag its content starts with.
    pub fn tag(self) -> u16 {
        match self {
            File::Com => 0x60,
            File::Dg1 => 0x61,
            File::Dg11 => 0x6B,
            File::Dg13 => 0x6D,
            File::Dg14 => 0x6E,
            File::Dg15 => 0x6F,
            File::Sod => 0x77,
        }
    }

    /// The data-group number the SOD lists it under (none for EF.COM and
    /// EF.SOD themselves).
    pub fn data_group(self) -> Option<u8> {
        match self {
            File::Dg1 => Some(1),
            File::Dg11 => Some(11),
            File::Dg13 => Some(13),
            File::Dg14 => Some(14),
            File::Dg15 => Some(15),
            File::Com | File::Sod => None,
        }
    }

    pub fn from_id(id: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.id() == id)
    }

    pub fn from_data_group(number: u8) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|f| f.data_group() == Some(number))
    }
}

/// The personal data printed on and stored in the card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// Family name, as written (accents kept).
    pub family_name: String,
    /// Given names separated by spaces, as written.
    pub given_names: String,
    /// Usage name (nom d'usage), if any.
    pub usage_name: Option<String>,
    /// `M` or `F`.
    pub sex: char,
    pub birth_date: Date,
    /// The INSEE code of the commune of birth; `None` when born abroad.
    pub birthplace: Option<String>,
    /// The INSEE code of the country of birth (`99100` for France).
    pub birthcountry: String,
    /// The place of birth as printed.
    pub birthplace_name: String,
}

/// The document's own data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    /// Nine letters and digits.
    pub number: String,
    pub expiry: Date,
}

/// DG1: the MRZ.
pub fn dg1(holder: &Holder, document: &Document) -> Vec<u8> {
    let mrz = Mrz {
        document_code: "ID".into(),
        issuing_state: "FRA".into(),
        document_number: document.number.clone(),
        birth_date: holder.birth_date,
        sex: holder.sex,
        expiry_date: document.expiry,
        nationality: "FRA".into(),
        primary: holder.family_name.clone(),
        secondary: holder.given_names.clone(),
    };
    tlv::encode(0x61, &tlv::encode(0x5F1F, mrz.encode().as_bytes()))
}

/// Reads DG1's MRZ.
pub fn parse_dg1(bytes: &[u8], today: Date) -> Result<Mrz, CardError> {
    let inner = tlv::decode_one(bytes, 0x61)?;
    let text = tlv::decode_one(inner, 0x5F1F)?;
    let text = std::str::from_utf8(text).map_err(|_| CardError::Malformed("MRZ"))?;
    Mrz::parse(text, today)
}

/// DG11: additional personal details (full name, full birth date, place of
/// birth), with its tag list.
pub fn dg11(holder: &Holder) -> Vec<u8> {
    let name = format!(
        "{}<<{}",
        crate::mrz::transliterate(&holder.family_name),
        crate::mrz::transliterate(&holder.given_names)
    );
    let mut content = tlv::encode(0x5C, &[0x5F, 0x0E, 0x5F, 0x2B, 0x5F, 0x11]);
    content.extend(tlv::encode(0x5F0E, name.as_bytes()));
    content.extend(tlv::encode(0x5F2B, holder.birth_date.compact().as_bytes()));
    content.extend(tlv::encode(0x5F11, holder.birthplace_name.as_bytes()));
    tlv::encode(0x6B, &content)
}

/// DG13: our layout of the France-specific data group (the real one is
/// not standardised): the names as written, and the INSEE codes of the
/// place and country of birth.
pub fn dg13(holder: &Holder) -> Vec<u8> {
    let mut content = tlv::encode(0x80, holder.family_name.as_bytes());
    content.extend(tlv::encode(0x81, holder.given_names.as_bytes()));
    if let Some(usage) = &holder.usage_name {
        content.extend(tlv::encode(0x82, usage.as_bytes()));
    }
    content.extend(tlv::encode(
        0x83,
        holder.birthplace.as_deref().unwrap_or_default().as_bytes(),
    ));
    content.extend(tlv::encode(0x84, holder.birthcountry.as_bytes()));
    content.extend(tlv::encode(0x85, holder.birthplace_name.as_bytes()));
    tlv::encode(0x6D, &content)
}

/// What DG13 and DG1 together say of the holder.
pub fn parse_holder(dg1: &Mrz, dg13: &[u8]) -> Result<Holder, CardError> {
    let inner = tlv::decode_one(dg13, 0x6D)?;
    let mut holder = Holder {
        family_name: String::new(),
        given_names: String::new(),
        usage_name: None,
        sex: dg1.sex,
        birth_date: dg1.birth_date,
        birthplace: None,
        birthcountry: String::new(),
        birthplace_name: String::new(),
    };
    for element in tlv::decode_all(inner)? {
        let text = std::str::from_utf8(element.value)
            .map_err(|_| CardError::Malformed("DG13 text"))?
            .to_string();
        match element.tag {
            0x80 => holder.family_name = text,
            0x81 => holder.given_names = text,
            0x82 => holder.usage_name = Some(text),
            0x83 => holder.birthplace = Some(text).filter(|t| !t.is_empty()),
            0x84 => holder.birthcountry = text,
            0x85 => holder.birthplace_name = text,
            _ => return Err(CardError::Malformed("DG13 tag")),
        }
    }
    if holder.family_name.is_empty() || holder.birthcountry.is_empty() {
        return Err(CardError::Malformed("DG13 incomplete"));
    }
    Ok(holder)
}

/// The full birth date of DG11 (the MRZ has only two digits of the year).
pub fn parse_dg11_birth_date(bytes: &[u8]) -> Result<Date, CardError> {
    let inner = tlv::decode_one(bytes, 0x6B)?;
    let element = tlv::decode_all(inner)?
        .into_iter()
        .find(|e| e.tag == 0x5F2B)
        .ok_or(CardError::Malformed("DG11 without birth date"))?;
    std::str::from_utf8(element.value)
        .ok()
        .and_then(Date::parse_compact)
        .ok_or(CardError::Malformed("DG11 birth date"))
}

/// ActiveAuthenticationInfo (ICAO 9303 part 11, 6.1).
#[derive(Debug, Clone, PartialEq, Eq, Sequence)]
pub struct ActiveAuthenticationInfo {
    pub protocol: ObjectIdentifier,
    pub version: u8,
    pub signature_algorithm: ObjectIdentifier,
}

/// DG14: the security infos; here the Active Authentication one.
pub fn dg14(signature_algorithm: ObjectIdentifier) -> Result<Vec<u8>, CardError> {
    let info = ActiveAuthenticationInfo {
        protocol: AA_PROTOCOL,
        version: 1,
        signature_algorithm,
    };
    Ok(tlv::encode(0x6E, &tlv::encode(0x31, &info.to_der()?)))
}

/// The Active Authentication signature algorithm DG14 names.
pub fn parse_dg14(bytes: &[u8]) -> Result<ObjectIdentifier, CardError> {
    let set = tlv::decode_one(bytes, 0x6E)?;
    let mut infos = tlv::decode_one(set, 0x31)?;
    while !infos.is_empty() {
        let (element, rest) = tlv::decode(infos)?;
        let len = infos.len() - rest.len();
        let der = infos.get(..len).ok_or(CardError::Malformed("DG14"))?;
        if element.tag == 0x30
            && let Ok(info) = ActiveAuthenticationInfo::from_der(der)
            && info.protocol == AA_PROTOCOL
        {
            return Ok(info.signature_algorithm);
        }
        infos = rest;
    }
    Err(CardError::Malformed(
        "DG14 without ActiveAuthenticationInfo",
    ))
}

/// DG15: the Active Authentication public key.
pub fn dg15(public_key: &SubjectPublicKeyInfoOwned) -> Result<Vec<u8>, CardError> {
    Ok(tlv::encode(0x6F, &public_key.to_der()?))
}

/// DG15's public key, as DER SubjectPublicKeyInfo.
pub fn parse_dg15(bytes: &[u8]) -> Result<&[u8], CardError> {
    tlv::decode_one(bytes, 0x6F)
}

/// EF.COM: LDS version 1.7, Unicode 4.0, the data groups present.
pub fn com(files: &[File]) -> Vec<u8> {
    let tags: Vec<u8> = files
        .iter()
        .filter(|f| f.data_group().is_some())
        .map(|f| f.tag() as u8)
        .collect();
    let mut content = tlv::encode(0x5F01, b"0107");
    content.extend(tlv::encode(0x5F36, b"040000"));
    content.extend(tlv::encode(0x5C, &tags));
    tlv::encode(0x60, &content)
}

/// One data group's hash in the security object.
#[derive(Debug, Clone, PartialEq, Eq, Sequence)]
pub struct DataGroupHash {
    pub data_group_number: u8,
    pub data_group_hash_value: OctetString,
}

/// LDSSecurityObject (ICAO 9303 part 10, 4.6.2).
#[derive(Debug, Clone, PartialEq, Eq, Sequence)]
pub struct LdsSecurityObject {
    pub version: u8,
    pub hash_algorithm: AlgorithmIdentifierOwned,
    pub data_group_hash_values: Vec<DataGroupHash>,
}

impl LdsSecurityObject {
    /// The SHA-256 hashes of the given data groups, each hashed as stored
    /// (outer tag included).
    pub fn sha256(groups: &[(u8, &[u8])]) -> Result<Self, CardError> {
        let data_group_hash_values = groups
            .iter()
            .map(|(number, bytes)| {
                Ok(DataGroupHash {
                    data_group_number: *number,
                    data_group_hash_value: OctetString::new(Sha256::digest(bytes).to_vec())?,
                })
            })
            .collect::<Result<_, CardError>>()?;
        Ok(Self {
            version: 0,
            hash_algorithm: AlgorithmIdentifierOwned {
                oid: SHA256,
                parameters: None,
            },
            data_group_hash_values,
        })
    }

    /// The hash listed for a data group.
    pub fn hash_of(&self, number: u8) -> Option<&[u8]> {
        self.data_group_hash_values
            .iter()
            .find(|h| h.data_group_number == number)
            .map(|h| h.data_group_hash_value.as_bytes())
    }
}
