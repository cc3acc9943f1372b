//! Compact JWS and JWE as providers, services and wallets send them: the
//! header checks, the signature check, the decryption.
#![no_main]

use std::sync::LazyLock;

use jose::{Alg, DecryptionKey, KeyAlg, PublicKeySet, SigningKey};
use libfuzzer_sys::fuzz_target;

static KEYS: LazyLock<Option<(PublicKeySet, DecryptionKey)>> = LazyLock::new(|| {
    let signing = SigningKey::generate(Alg::ES256).ok()?;
    let public = serde_json::json!({ "keys": [signing.public_key().ok()?.to_json()] });
    let keys = PublicKeySet::from_json(&public.to_string()).ok()?;
    Some((keys, DecryptionKey::generate(KeyAlg::EcdhEs).ok()?))
});

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let Some((keys, decryption)) = KEYS.as_ref() else {
        return;
    };
    let _ = jose::peek_header(token);
    let _ = jose::verify(token, keys, &[Alg::ES256, Alg::RS256]);
    let _ = jose::verify_hmac(token, b"a secret of thirty-two bytes....");
    let _ = jose::peek_jwe_header(token);
    let _ = jose::decrypt(token, std::slice::from_ref(decryption), &KeyAlg::ALL);
});
