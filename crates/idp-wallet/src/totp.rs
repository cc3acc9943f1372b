//! Time-based one-time codes (RFC 6238 over RFC 4226: HMAC-SHA1, 30 s
//! steps, 6 digits), the second factor of the town-hall agents, which any
//! authenticator app reads from the shared secret in base32.

use hmac::{Hmac, Mac as _};
use sha1::Sha1;

/// Seconds per step.
pub const STEP_SECS: i64 = 30;

/// RFC 4648 base32 (upper or lower case, spaces and padding ignored).
pub fn decode_base32(text: &str) -> Option<Vec<u8>> {
    let mut bits: u64 = 0;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.chars().filter(|c| !c.is_whitespace() && *c != '=') {
        let value = match c.to_ascii_uppercase() {
            letter @ 'A'..='Z' => u64::from(letter) - u64::from('A'),
            digit @ '2'..='7' => u64::from(digit) - u64::from('2') + 26,
            _ => return None,
        };
        bits = (bits << 5) | value;
        count += 5;
        if count >= 8 {
            count -= 8;
            out.push(u8::try_from((bits >> count) & 0xff).ok()?);
        }
    }
    Some(out)
}

/// RFC 4648 base32, no padding (for printing secrets).
pub fn encode_base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let mut bits: u32 = 0;
    let mut count = 0;
    for byte in bytes {
        bits = (bits << 8) | u32::from(*byte);
        count += 8;
        while count >= 5 {
            count -= 5;
            out.extend(
                ALPHABET
                    .get(((bits >> count) & 31) as usize)
                    .map(|c| char::from(*c)),
            );
        }
    }
    if count > 0 {
        out.extend(
            ALPHABET
                .get(((bits << (5 - count)) & 31) as usize)
                .map(|c| char::from(*c)),
        );
    }
    out
}

/// The code of `step` (HOTP), `digits` long.
fn hotp(secret: &[u8], step: u64, digits: u32) -> Option<u32> {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).ok()?;
    mac.update(&step.to_be_bytes());
    let hash = mac.finalize().into_bytes();
    let offset = usize::from(hash.last()? & 0x0f);
    let word: [u8; 4] = hash.get(offset..offset + 4)?.try_into().ok()?;
    let value = u32::from_be_bytes(word) & 0x7fff_ffff;
    Some(value % 10u32.pow(digits))
}

/// The 6-digit code at Unix time `now`.
pub fn code_at(secret: &[u8], now: i64) -> Option<String> {
    let step = u64::try_from(now.div_euclid(STEP_SECS)).ok()?;
    hotp(secret, step, 6).map(|code| format!("{code:06}"))
}

/// The step whose code `code` is, among the current one and its two
/// neighbours (clock drift): the caller refuses a step already used.
pub fn matching_step(secret: &[u8], code: &str, now: i64) -> Option<i64> {
    let current = now.div_euclid(STEP_SECS);
    [current, current - 1, current + 1]
        .into_iter()
        .find(|step| {
            code_at(secret, step * STEP_SECS).is_some_and(|expected| {
                oidc::types::constant_time_eq(expected.as_bytes(), code.trim().as_bytes())
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 secret, truncated to 6 digits (the
    /// 8-digit values' last six).
    #[test]
    fn the_rfc_6238_vectors() {
        let secret = b"12345678901234567890";
        for (time, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(code_at(secret, time).unwrap(), code, "at {time}");
        }
    }

    #[test]
    fn base32_round_trips_and_refuses_foreign_letters() {
        let secret = b"12345678901234567890";
        let text = encode_base32(secret);
        assert_eq!(text, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(decode_base32(&text).unwrap(), secret);
        assert_eq!(
            decode_base32("gezd gnbv").unwrap(),
            decode_base32("GEZDGNBV").unwrap()
        );
        assert_eq!(decode_base32("GEZ1"), None);
    }

    #[test]
    fn a_code_matches_its_step_and_its_neighbours_only() {
        let secret = b"12345678901234567890";
        let now = 1_800_000_000;
        let code = code_at(secret, now).unwrap();
        assert_eq!(matching_step(secret, &code, now), Some(now / 30));
        assert!(matching_step(secret, &code, now + 30).is_some());
        assert!(matching_step(secret, &code, now + 90).is_none());
        assert!(matching_step(secret, "12345", now).is_none());
    }
}
