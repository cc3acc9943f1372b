//! How long each JOSE operation takes with a key reused, as the hub uses
//! its keys: `cargo run --release -p jose --example jose-ops [ROUNDS]`.
//! A measurement, not a test (BENCHMARKS.md).

use std::time::Instant;

use jose::{Alg, DecryptionKey, KeyAlg, KeySet, SigningKey};
use serde_json::{Map, Value, json};

fn main() -> Result<(), jose::JoseError> {
    let rounds: u32 = std::env::args()
        .nth(1)
        .and_then(|text| text.parse().ok())
        .unwrap_or(2_000);
    let claims: Map<String, Value> = json!({
        "iss": "https://passerelle.example.fr/api/v2", "sub": "a".repeat(66),
        "aud": "sandbox", "exp": 1_800_000_060, "iat": 1_800_000_000,
        "nonce": "nonce-of-the-service-0123456789", "acr": "eidas1",
    })
    .as_object()
    .cloned()
    .unwrap_or_default();
    let key = SigningKey::generate(Alg::ES256)?;
    let public = KeySet::new(vec![key.clone()])?.public()?;
    let recipient = DecryptionKey::generate(KeyAlg::EcdhEs)?;
    let recipient_public = recipient.public_key()?;
    let time = |name: &str, op: &mut dyn FnMut() -> Result<(), jose::JoseError>| {
        let start = Instant::now();
        for _ in 0..rounds {
            op()?;
        }
        let each = start.elapsed() / rounds;
        println!("{name:<24} {:>8.1} µs", each.as_secs_f64() * 1e6);
        Ok::<(), jose::JoseError>(())
    };
    let token = jose::sign(&claims, &key, "JWT")?;
    time("sign ES256", &mut || {
        jose::sign(&claims, &key, "JWT").map(drop)
    })?;
    time("verify ES256", &mut || {
        jose::verify(&token, &public, &[Alg::ES256]).map(drop)
    })?;
    let copied = Map::new();
    let encrypted = jose::encrypt(
        token.as_bytes(),
        &recipient_public,
        KeyAlg::EcdhEs,
        "JWT",
        &copied,
    )?;
    time("encrypt ECDH-ES", &mut || {
        jose::encrypt(
            token.as_bytes(),
            &recipient_public,
            KeyAlg::EcdhEs,
            "JWT",
            &copied,
        )
        .map(drop)
    })?;
    time("decrypt ECDH-ES", &mut || {
        jose::decrypt(
            &encrypted,
            std::slice::from_ref(&recipient),
            &[KeyAlg::EcdhEs],
        )
        .map(drop)
    })?;
    Ok(())
}
