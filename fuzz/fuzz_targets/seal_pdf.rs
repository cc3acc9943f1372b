//! What a citizen pastes or uploads: the certification seal at the town
//! hall, and the identity proof PDF at the checker. The input's parts: the
//! country signing CA to trust (so that a seed from the tests verifies
//! whole), then the PDF or the seal's text.
#![no_main]

use idp_wallet::verify::TrustStore;
use libfuzzer_sys::fuzz_target;

#[path = "parts.rs"]
mod parts;
use parts::parts;

const NOW: u64 = 1_800_000_000;

fuzz_target!(|data: &[u8]| {
    let parts = parts(data);
    let (Some(csca), Some(bytes)) = (parts.first(), parts.get(1)) else {
        return;
    };
    let Ok(trust) = TrustStore::new(&[csca.to_vec()], &[]) else {
        return;
    };
    let types = [
        idp_wallet::proof::SEAL_TYPE,
        idp_wallet::certification::SEAL_TYPE,
    ];
    if let Ok(seal) = idp_wallet::pdf::seal_of(bytes) {
        let _ = idp_wallet::seal::verify::<serde_json::Value>(&seal, types[0], &trust, NOW);
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        for typ in types {
            let _ = idp_wallet::seal::verify::<serde_json::Value>(text, typ, &trust, NOW);
        }
    }
});
