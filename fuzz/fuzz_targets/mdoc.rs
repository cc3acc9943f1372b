//! What a wallet or a reader sends about a driving licence: device
//! responses and requests (CBOR, COSE), the QR code's engagement, the
//! OpenID4VP link; a response is also checked by the verifier.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mdoc::oid4vp::PresentationRequest;
use mdoc::{DeviceRequest, DeviceResponse, IssuerSigned, ItemsRequest, OpenId4VpHandover};
use mdoc::{SessionTranscript, TrustedIacas};

fuzz_target!(|data: &[u8]| {
    let _ = DeviceRequest::from_bytes(data);
    let _ = IssuerSigned::from_bytes(data);
    if DeviceResponse::from_bytes(data).is_ok() {
        if let Ok(handover) = OpenId4VpHandover::new("c", "r", "n", "m") {
            let transcript = SessionTranscript::openid4vp(handover);
            let request = ItemsRequest::mdl(&["family_name", "driving_privileges"]);
            let _ = mdoc::verify(data, &request, &transcript, &TrustedIacas::default(), 0);
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = mdoc::session::parse_qr_code(text);
        let _ = PresentationRequest::from_uri(text);
        let _ = mdoc::session::ReaderSession::from_qr_code(text);
    }
});
