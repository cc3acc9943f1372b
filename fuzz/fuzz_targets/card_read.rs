//! A card read as a phone relays it: EF.SOD (CMS and its certificate
//! chain), the data groups and the Active Authentication signature. The
//! input is split into parts: the country signing CA to trust (so that a
//! seed read from the tests verifies whole, and mutations start from
//! there), EF.SOD, the signature, then DG1, DG11, DG13, DG14, DG15.
#![no_main]

use std::collections::BTreeMap;

use card::Evidence;
use card::b64::Bytes;
use idp_wallet::verify::{TrustStore, verify};
use libfuzzer_sys::fuzz_target;

#[path = "parts.rs"]
mod parts;
use parts::parts;

const NOW: u64 = 1_800_000_000;
/// The challenge the seeds answer.
const CHALLENGE: [u8; 8] = *b"fuzzseed";

fuzz_target!(|data: &[u8]| {
    let parts = parts(data);
    let mut parts = parts.into_iter();
    let csca = parts.next().unwrap_or_default();
    let Ok(trust) = TrustStore::new(&[csca.to_vec()], &[]) else {
        return;
    };
    let sod = parts.next().unwrap_or_default().to_vec();
    let signature = parts.next().unwrap_or_default().to_vec();
    let data_groups: BTreeMap<u8, Bytes> = [1u8, 11, 13, 14, 15]
        .into_iter()
        .zip(parts)
        .map(|(group, bytes)| (group, Bytes(bytes.to_vec())))
        .collect();
    let evidence = Evidence {
        sod: Bytes(sod),
        data_groups,
        signature: Bytes(signature),
    };
    let _ = verify(&evidence, &trust, &CHALLENGE, NOW);
});
