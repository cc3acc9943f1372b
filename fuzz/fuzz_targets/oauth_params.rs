//! The parameters of authorize, token and logout requests (a query string
//! or a form body), and the protocol values parsed from them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oidc::op::Params;

fuzz_target!(|data: &[u8]| {
    let Ok(params) = Params::parse(data) else {
        return;
    };
    for name in ["redirect_uri", "post_logout_redirect_uri"] {
        if let Some(value) = params.get(name) {
            let _ = oidc::RedirectUri::parse(value);
        }
    }
    if let Some(value) = params.get("acr_values") {
        let _ = oidc::Acr::parse(value);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = oidc::RedirectUri::parse(text);
        let _ = oidc::Acr::parse(text);
    }
});
