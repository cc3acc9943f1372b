//! BER-TLV as ISO 7816-4 and ICAO 9303 use it in the data groups: tags of
//! one or two bytes, definite lengths of up to three bytes.

use crate::CardError;

/// One tag-length-value element, borrowed from its encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tag: u16,
    pub value: &'a [u8],
}

/// Encodes one element.
pub fn encode(tag: u16, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 5);
    if tag > 0xFF {
        out.extend_from_slice(&tag.to_be_bytes());
    } else {
        out.push(tag as u8);
    }
    let len = value.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len <= 0xFF {
        out.extend_from_slice(&[0x81, len as u8]);
    } else {
        let len = u16::try_from(len).unwrap_or(u16::MAX);
        out.push(0x82);
        out.extend_from_slice(&len.to_be_bytes());
    }
    out.extend_from_slice(value);
    out
}

/// Decodes the element at the start of `bytes`; returns it and the rest.
pub fn decode(bytes: &[u8]) -> Result<(Tlv<'_>, &[u8]), CardError> {
    let bad = || CardError::Malformed("TLV");
    let (&first, rest) = bytes.split_first().ok_or_else(bad)?;
    let (tag, rest) = if first & 0x1F == 0x1F {
        let (&second, rest) = rest.split_first().ok_or_else(bad)?;
        (u16::from_be_bytes([first, second]), rest)
    } else {
        (u16::from(first), rest)
    };
    let (&len_byte, rest) = rest.split_first().ok_or_else(bad)?;
    let (len, rest) = match len_byte {
        0..=0x7F => (usize::from(len_byte), rest),
        0x81 => {
            let (&l, rest) = rest.split_first().ok_or_else(bad)?;
            (usize::from(l), rest)
        }
        0x82 => {
            let (l, rest) = rest.split_at_checked(2).ok_or_else(bad)?;
            let l: [u8; 2] = l.try_into().map_err(|_| bad())?;
            (usize::from(u16::from_be_bytes(l)), rest)
        }
        0x83 => {
            let (l, rest) = rest.split_at_checked(3).ok_or_else(bad)?;
            let [a, b, c]: [u8; 3] = l.try_into().map_err(|_| bad())?;
            (
                (usize::from(a) << 16) | (usize::from(b) << 8) | usize::from(c),
                rest,
            )
        }
        _ => return Err(bad()),
    };
    let (value, rest) = rest.split_at_checked(len).ok_or_else(bad)?;
    Ok((Tlv { tag, value }, rest))
}

/// Decodes exactly one element filling `bytes`, with the expected tag.
pub fn decode_one(bytes: &[u8], tag: u16) -> Result<&[u8], CardError> {
    let (tlv, rest) = decode(bytes)?;
    if tlv.tag != tag || !rest.is_empty() {
        return Err(CardError::Malformed("unexpected TLV tag"));
    }
    Ok(tlv.value)
}

/// The elements one after the other in `bytes`.
pub fn decode_all(mut bytes: &[u8]) -> Result<Vec<Tlv<'_>>, CardError> {
    let mut all = Vec::new();
    while !bytes.is_empty() {
        let (tlv, rest) = decode(bytes)?;
        all.push(tlv);
        bytes = rest;
    }
    Ok(all)
}

/// How many bytes the element at the start of `bytes` takes, header
/// included, from its first few bytes only (to size a READ BINARY).
pub fn total_len(header: &[u8]) -> Result<usize, CardError> {
    let bad = || CardError::Malformed("TLV header");
    let tag_len = match header.first() {
        Some(first) if first & 0x1F == 0x1F => 2,
        Some(_) => 1,
        None => return Err(bad()),
    };
    let rest = header.get(tag_len..).ok_or_else(bad)?;
    let (&len_byte, after) = rest.split_first().ok_or_else(bad)?;
    let (len, len_len) = match len_byte {
        0..=0x7F => (usize::from(len_byte), 1),
        0x81 => (usize::from(*after.first().ok_or_else(bad)?), 2),
        0x82 => {
            let l: [u8; 2] = after
                .get(..2)
                .and_then(|l| l.try_into().ok())
                .ok_or_else(bad)?;
            (usize::from(u16::from_be_bytes(l)), 3)
        }
        _ => return Err(bad()),
    };
    Ok(tag_len + len_len + len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_short_long_and_two_byte_tags() {
        for (tag, len) in [(0x61, 5), (0x5F1F, 90), (0x77, 300), (0x6F, 128)] {
            let value = vec![7u8; len];
            let bytes = encode(tag, &value);
            assert_eq!(
                total_len(&bytes[..4.min(bytes.len())]).unwrap(),
                bytes.len()
            );
            let (tlv, rest) = decode(&bytes).unwrap();
            assert_eq!((tlv.tag, tlv.value, rest), (tag, &value[..], &[][..]));
        }
    }

    #[test]
    fn truncated_input_is_an_error() {
        let bytes = encode(0x61, &[1, 2, 3]);
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err());
        }
        assert!(decode(&[0x61, 0x84, 0, 0, 0, 1]).is_err());
    }
}
