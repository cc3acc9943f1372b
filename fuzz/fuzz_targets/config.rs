//! The config loader: any TOML text is refused with a named setting or
//! accepted, never a crash.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = passerelle::Config::parse(text, std::iter::empty());
});
