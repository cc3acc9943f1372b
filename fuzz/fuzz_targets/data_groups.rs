//! The data groups' own parsers, each fed directly: through a card read
//! (`card_read`), a changed data group stops at its digest in EF.SOD and
//! never reaches them. The input's parts: DG1 (with the MRZ), DG11, DG13,
//! DG14, DG15, as a card holds them.
#![no_main]

use card::lds;
use card::mrz::{Date, Mrz};
use libfuzzer_sys::fuzz_target;

#[path = "parts.rs"]
mod parts;
use parts::parts;

fuzz_target!(|data: &[u8]| {
    let parts = parts(data);
    let group = |n: usize| parts.get(n).copied().unwrap_or_default();
    let today = Date::from_unix(1_800_000_000);
    if let Ok(mrz) = lds::parse_dg1(group(0), today) {
        let _ = lds::parse_holder(&mrz, group(2));
    }
    if let Ok(text) = std::str::from_utf8(group(0)) {
        let _ = Mrz::parse(text, today);
        let _ = Date::parse_compact(text);
    }
    let _ = lds::parse_dg11_birth_date(group(1));
    let _ = lds::parse_dg14(group(3));
    let _ = lds::parse_dg15(group(4));
});
