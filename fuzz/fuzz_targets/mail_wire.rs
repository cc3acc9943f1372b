//! The mail's and the texts' inputs: recipient, subject, sender's name and
//! text carry names people and services typed. Whatever they hold, the
//! message on the wire has our headers only, each once: no `Bcc:` slipped
//! in a name, no second body. A phone number people typed is read as a
//! French mobile in international form, or not at all (the text itself
//! goes to the gateway as JSON). The input's parts: the four fields, in
//! that order.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "parts.rs"]
mod parts;
use parts::parts;

fuzz_target!(|data: &[u8]| {
    let parts = parts(data);
    let text = |n: usize| String::from_utf8_lossy(parts.get(n).copied().unwrap_or_default());
    let message = mail::Message {
        to: text(0).into_owned(),
        subject: text(1).into_owned(),
        sender: parts.get(2).map(|_| text(2).into_owned()),
        text: text(3).into_owned(),
    };
    if let Some(mobile) = idp_password::sms::french_mobile(&message.to) {
        let national = mobile.strip_prefix("+33").unwrap_or_default();
        assert!(
            national.len() == 9 && national.bytes().all(|b| b.is_ascii_digit()),
            "{mobile}"
        );
    }
    let Ok(raw) = mail::wire_text(&message, "Passerelle <ne-pas-repondre@example.fr>") else {
        return;
    };
    if let Some(problem) = mail::header_problem(&raw) {
        panic!("{problem}");
    }
});
