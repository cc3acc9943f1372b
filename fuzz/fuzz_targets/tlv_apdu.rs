//! TLV and data groups as a card sends them, command and response APDUs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = card::tlv::decode_all(data);
    let _ = card::tlv::total_len(data);
    if let Ok((tlv, _rest)) = card::tlv::decode(data) {
        let _ = card::tlv::decode_all(tlv.value);
    }
    let _ = card::apdu::split_response(data);
    let _ = card::apdu::Command::parse(data);
});
