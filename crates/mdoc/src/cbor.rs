//! The CBOR of ISO 18013-5 (RFC 8949): encoded-CBOR items (tag 24) that
//! keep their bytes as received, the two date types, and reading maps
//! by their keys without panicking on any input.
//!
//! Encoding is deterministic: a map is written in the order its entries
//! are built, which is the order the standard lists them (§8.1 does not
//! require canonical key order).

use card::Date;
pub use ciborium::Value;

use crate::MdocError;

/// Tag 24, "encoded CBOR data item" (RFC 8949 §3.4.5.1).
pub const ENCODED_CBOR: u64 = 24;
/// Tag 0, a date-time text (RFC 8949 §3.4.1).
pub const TDATE: u64 = 0;
/// Tag 1004, a full-date text (RFC 8943).
pub const FULL_DATE: u64 = 1004;

/// The bytes of one CBOR value.
pub fn encode(value: &Value) -> Result<Vec<u8>, MdocError> {
    let mut bytes = Vec::new();
    ciborium::into_writer(value, &mut bytes).map_err(|e| MdocError::Cbor(e.to_string()))?;
    Ok(bytes)
}

/// Exactly one CBOR value from `bytes`, nothing after it. Nesting is
/// bounded by ciborium's recursion limit, so hostile input cannot
/// exhaust the stack.
pub fn decode(bytes: &[u8]) -> Result<Value, MdocError> {
    let mut rest = bytes;
    let value: Value =
        ciborium::from_reader(&mut rest).map_err(|e| MdocError::Cbor(e.to_string()))?;
    if !rest.is_empty() {
        return Err(MdocError::Cbor(format!(
            "{} bytes after the item",
            rest.len()
        )));
    }
    Ok(value)
}

/// An encoded CBOR data item: `#6.24(bstr .cbor T)`, the shape of every
/// `...Bytes` structure of the standard (IssuerSignedItemBytes,
/// MobileSecurityObjectBytes, DeviceEngagementBytes…). It keeps the inner
/// bytes exactly as issued or received, so digests and signatures are
/// always over those bytes, never over a re-encoding (§9.1.2.4).
#[derive(Clone, PartialEq, Eq)]
pub struct Encoded(Vec<u8>);

impl std::fmt::Debug for Encoded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Encoded({} bytes)", self.0.len())
    }
}

impl Encoded {
    /// Encodes `value` as the item's content.
    pub fn of(value: &Value) -> Result<Self, MdocError> {
        Ok(Self(encode(value)?))
    }

    /// The tag-24 value `value` must be.
    pub fn from_value(value: &Value, what: &'static str) -> Result<Self, MdocError> {
        match value {
            Value::Tag(ENCODED_CBOR, inner) => match inner.as_ref() {
                Value::Bytes(bytes) => Ok(Self(bytes.clone())),
                _ => Err(MdocError::Malformed(what)),
            },
            _ => Err(MdocError::Malformed(what)),
        }
    }

    /// The content: the bytes of the embedded item.
    pub fn inner(&self) -> &[u8] {
        &self.0
    }

    /// The embedded item.
    pub fn decode(&self) -> Result<Value, MdocError> {
        decode(&self.0)
    }

    /// `#6.24(bstr)`, for building a larger structure.
    pub fn to_value(&self) -> Value {
        Value::Tag(ENCODED_CBOR, Box::new(Value::Bytes(self.0.clone())))
    }

    /// The tagged item's own bytes (`d8 18`, the byte string's head, the
    /// content): what digests and transcripts are computed over.
    pub fn tagged_bytes(&self) -> Result<Vec<u8>, MdocError> {
        encode(&self.to_value())
    }
}

/// `tdate` (§7.2.1, RFC 8949 §3.4.1): tag 0 over RFC 3339 text, in UTC
/// ("Z") without fractional seconds as §9.1.2.4 requires. Held as Unix
/// seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TDate(pub u64);

impl TDate {
    /// `YYYY-MM-DDTHH:MM:SSZ`.
    pub fn rfc3339(self) -> String {
        let seconds = self.0 % 86_400;
        format!(
            "{}T{:02}:{:02}:{:02}Z",
            Date::from_unix(self.0).iso(),
            seconds / 3600,
            seconds / 60 % 60,
            seconds % 60
        )
    }

    /// Parses `YYYY-MM-DDTHH:MM:SSZ`.
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        if bytes.len() != 20
            || bytes.get(10) != Some(&b'T')
            || bytes.get(13) != Some(&b':')
            || bytes.get(16) != Some(&b':')
            || bytes.get(19) != Some(&b'Z')
        {
            return None;
        }
        let date = FullDate::parse(text.get(..10)?)?;
        let field = |range: std::ops::Range<usize>, max: u64| -> Option<u64> {
            let digits = text.get(range)?;
            if !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            digits.parse().ok().filter(|n| *n <= max)
        };
        let (hours, minutes, seconds) =
            (field(11..13, 23)?, field(14..16, 59)?, field(17..19, 59)?);
        Some(Self(
            date.0.to_unix() + hours * 3600 + minutes * 60 + seconds,
        ))
    }

    pub fn to_value(self) -> Value {
        Value::Tag(TDATE, Box::new(Value::Text(self.rfc3339())))
    }

    pub fn from_value(value: &Value, what: &'static str) -> Result<Self, MdocError> {
        match value {
            Value::Tag(TDATE, inner) => match inner.as_ref() {
                Value::Text(text) => Self::parse(text).ok_or(MdocError::Malformed(what)),
                _ => Err(MdocError::Malformed(what)),
            },
            _ => Err(MdocError::Malformed(what)),
        }
    }
}

/// `full-date` (§7.2.1, RFC 8943): tag 1004 over `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FullDate(pub Date);

impl FullDate {
    /// Parses `YYYY-MM-DD` (a date that exists).
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        if bytes.len() != 10 || bytes.get(4) != Some(&b'-') || bytes.get(7) != Some(&b'-') {
            return None;
        }
        Date::parse_compact(&text.replace('-', "")).map(Self)
    }

    pub fn to_value(self) -> Value {
        Value::Tag(FULL_DATE, Box::new(Value::Text(self.0.iso())))
    }

    pub fn from_value(value: &Value, what: &'static str) -> Result<Self, MdocError> {
        match value {
            Value::Tag(FULL_DATE, inner) => match inner.as_ref() {
                Value::Text(text) => Self::parse(text).ok_or(MdocError::Malformed(what)),
                _ => Err(MdocError::Malformed(what)),
            },
            _ => Err(MdocError::Malformed(what)),
        }
    }
}

/// A map with text keys, in the order given.
pub fn text_map<'a>(entries: impl IntoIterator<Item = (&'a str, Value)>) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(key, value)| (Value::Text(key.to_string()), value))
            .collect(),
    )
}

/// A received CBOR map, read by key; `what` names the structure in the
/// error when a field is missing or of the wrong type.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    entries: &'a [(Value, Value)],
    what: &'static str,
}

impl<'a> Fields<'a> {
    pub fn of(value: &'a Value, what: &'static str) -> Result<Self, MdocError> {
        match value {
            Value::Map(entries) => Ok(Self { entries, what }),
            _ => Err(MdocError::Malformed(what)),
        }
    }

    /// The value under a text key.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.entries
            .iter()
            .find(|(k, _)| matches!(k, Value::Text(t) if t == key))
            .map(|(_, v)| v)
    }

    /// The value under an integer key (COSE labels, device engagement).
    pub fn label(&self, key: i64) -> Option<&'a Value> {
        self.entries
            .iter()
            .find(|(k, _)| matches!(k, Value::Integer(i) if i128::from(*i) == i128::from(key)))
            .map(|(_, v)| v)
    }

    pub fn required(&self, key: &str) -> Result<&'a Value, MdocError> {
        self.get(key).ok_or(MdocError::Malformed(self.what))
    }

    pub fn text(&self, key: &str) -> Result<&'a str, MdocError> {
        text(self.required(key)?, self.what)
    }

    pub fn uint(&self, key: &str) -> Result<u64, MdocError> {
        uint(self.required(key)?, self.what)
    }

    pub fn entries(&self) -> &'a [(Value, Value)] {
        self.entries
    }
}

pub fn text<'a>(value: &'a Value, what: &'static str) -> Result<&'a str, MdocError> {
    match value {
        Value::Text(text) => Ok(text),
        _ => Err(MdocError::Malformed(what)),
    }
}

pub fn uint(value: &Value, what: &'static str) -> Result<u64, MdocError> {
    match value {
        Value::Integer(i) => u64::try_from(*i).map_err(|_| MdocError::Malformed(what)),
        _ => Err(MdocError::Malformed(what)),
    }
}

pub fn bytes<'a>(value: &'a Value, what: &'static str) -> Result<&'a [u8], MdocError> {
    match value {
        Value::Bytes(bytes) => Ok(bytes),
        _ => Err(MdocError::Malformed(what)),
    }
}

pub fn array<'a>(value: &'a Value, what: &'static str) -> Result<&'a [Value], MdocError> {
    match value {
        Value::Array(items) => Ok(items),
        _ => Err(MdocError::Malformed(what)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_encoded_item_keeps_its_bytes_as_received() {
        // A map with a non-canonical (two-byte) length for a one-byte
        // integer: a re-encoding would change it, the item must not.
        let odd = vec![0xa1, 0x61, 0x61, 0x18, 0x01];
        let item =
            Encoded::from_value(&Value::Tag(24, Box::new(Value::Bytes(odd.clone()))), "item")
                .unwrap();
        assert_eq!(item.inner(), odd.as_slice());
        assert_eq!(
            item.tagged_bytes().unwrap(),
            [&[0xd8, 0x18, 0x45][..], &odd].concat()
        );
        assert_ne!(encode(&item.decode().unwrap()).unwrap(), odd);
    }

    #[test]
    fn a_tdate_is_rfc3339_in_utc_without_fractions() {
        let date = TDate(1_700_000_000);
        assert_eq!(date.rfc3339(), "2023-11-14T22:13:20Z");
        assert_eq!(TDate::parse("2023-11-14T22:13:20Z"), Some(date));
        assert_eq!(
            encode(&date.to_value()).unwrap()[..2],
            [0xc0, 0x74],
            "tag 0, a 20-character text"
        );
        for bad in [
            "2023-11-14T22:13:20.5Z",
            "2023-11-14T22:13:20+01:00",
            "2023-11-14 22:13:20Z",
            "2023-02-30T22:13:20Z",
            "2023-11-14T24:00:00Z",
            "2023-11-14T2a:13:20Z",
        ] {
            assert_eq!(TDate::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_full_date_is_tag_1004_over_year_month_day() {
        let date = FullDate::parse("1990-02-28").unwrap();
        assert_eq!(date.0, Date::new(1990, 2, 28).unwrap());
        let bytes = encode(&date.to_value()).unwrap();
        assert_eq!(bytes[..3], [0xd9, 0x03, 0xec]);
        assert_eq!(
            FullDate::from_value(&decode(&bytes).unwrap(), "date"),
            Ok(date)
        );
        assert_eq!(FullDate::parse("1990-2-28"), None);
        assert_eq!(FullDate::parse("1990/02/28"), None);
    }

    #[test]
    fn decoding_refuses_trailing_and_truncated_bytes() {
        assert!(matches!(decode(&[0x01, 0x02]), Err(MdocError::Cbor(_))));
        assert!(matches!(decode(&[0x82, 0x01]), Err(MdocError::Cbor(_))));
        assert!(matches!(decode(&[]), Err(MdocError::Cbor(_))));
    }
}
