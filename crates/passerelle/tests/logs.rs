//! The logs of a whole login, as JSON lines: each request's id goes with
//! it from the hub to the provider, and no secret, token or personal datum
//! of the citizen is in them (issue 21, part 4).
//!
//! A test binary of its own: it installs the process's one subscriber.
#![expect(
    clippy::unwrap_used,
    reason = "the writer's helpers are not #[test] fns, which clippy does not see as tests"
)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use passerelle::logs::{self, LogFormat};
use serde_json::Value;
use testkit::{Citizen, Federation, PASSWORD, SANDBOX_CALLBACK, SANDBOX_SECRET};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Where the lines go: kept, to be read by the test.
#[derive(Clone, Default)]
struct Kept(Arc<Mutex<Vec<u8>>>);

impl Write for Kept {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'writer> MakeWriter<'writer> for Kept {
    type Writer = Kept;

    fn make_writer(&'writer self) -> Self::Writer {
        self.clone()
    }
}

impl Kept {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// Our crates at debug level, stricter than an operator's `info`; the
/// libraries at `info`.
const FILTER: &str = "info,passerelle=debug,hub=debug,web=debug,oidc=debug,idp_password=debug,\
                      demo_sp=debug,dashboard=debug,mail=debug,store=debug";

/// Whether `value` is in `text`: as a substring when it is long enough not
/// to turn up by chance in a random token, else as a whole word.
fn appears(text: &str, value: &str) -> bool {
    if value.chars().count() >= 8 {
        return text.contains(value);
    }
    text.split(|c: char| !c.is_alphanumeric())
        .any(|word| word == value)
}

#[tokio::test]
async fn a_login_logs_json_lines_with_request_ids_and_nothing_personal() {
    let kept = Kept::default();
    logs::install(LogFormat::Json, EnvFilter::new(FILTER), false, kept.clone()).unwrap();
    let federation = Federation::start().await.unwrap();
    let citizen = Citizen::new();

    // A wrong password first, then the login, the tokens and the identity.
    let login = federation.login_of("impots", 1);
    let page = federation.provider_login_page(&citizen, "impots").await;
    let csrf = page.input("csrf").unwrap();
    let wrong = citizen
        .post(
            &testkit::absolute(&page.url, "/login"),
            &[
                ("csrf", &csrf),
                ("identifier", &login),
                ("password", "Not-the-password-2026"),
            ],
        )
        .await;
    assert_ne!(wrong.status, 303, "{}", wrong.body);
    let back = Citizen::new()
        .log_in(
            &federation.authorize_url(&[]),
            &federation.hub,
            "impots",
            &login,
            PASSWORD,
            SANDBOX_CALLBACK,
        )
        .await;
    let code = back.location_params()["code"].clone();
    let identity = federation.sandbox_userinfo(&code).await.unwrap();
    assert!(identity.contains_key("family_name"), "{identity:?}");
    // The connection email is sent by the outbox, inside this run.
    assert!(!federation.delivered_mails().await.is_empty());
    // The code again: a replay.
    assert!(federation.sandbox_userinfo(&code).await.is_err());

    let text = kept.text();
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    assert!(lines.len() > 20, "{text}");

    // Each request served is named by its span: part, id, method, route.
    let served: Vec<&Value> = lines
        .iter()
        .filter(|line| line["message"] == "served")
        .collect();
    let span = |line: &Value, field: &str| line["span"][field].as_str().unwrap_or("").to_owned();
    assert!(
        served
            .iter()
            .any(|line| span(line, "route").ends_with("/authorize")
                && span(line, "part") == "hub_standard"),
        "{text}"
    );
    // The provider's token endpoint, called by the hub, served the hub's
    // request id: one login reads as one thread.
    let at_provider_token = served
        .iter()
        .find(|line| span(line, "part") == "impots" && span(line, "route").ends_with("/token"))
        .unwrap_or_else(|| panic!("no token request at the provider: {text}"));
    let id = span(at_provider_token, "id");
    assert!(
        served
            .iter()
            .any(|line| span(line, "part") == "hub_standard" && span(line, "id") == id),
        "the provider's token request {id} has no hub request: {text}"
    );
    // No path, no query: no code or state in a route.
    assert!(!text.contains("state-of-the-service"), "{text}");

    // Security events, for an operator to alert on: target `security`,
    // field `event`.
    for event in ["login_failed", "code_replayed"] {
        assert!(
            lines
                .iter()
                .any(|line| line["target"] == "security" && line["event"] == event),
            "no {event} event: {text}"
        );
    }

    // Nothing secret or personal, anywhere.
    let person = federation
        .running
        .citizens
        .iter()
        .find(|person| person.id == 1)
        .unwrap();
    let mut private: Vec<String> = vec![
        PASSWORD.into(),
        "Not-the-password-2026".into(),
        SANDBOX_SECRET.into(),
        code,
        login,
        person.family_name.clone(),
        person.birthdate.to_string(),
        person.email.clone(),
        person.phone.clone(),
        person.nir.clone(),
        person.tax_number.clone(),
        person.online_access_number.clone(),
    ];
    private.extend(person.given_names.iter().cloned());
    private.extend(person.usage_name.clone());
    // What the service received about her, and her pseudonym there.
    private.extend(
        [
            "sub",
            "given_name",
            "family_name",
            "birthdate",
            "birthplace",
            "email",
            "preferred_username",
        ]
        .iter()
        .filter_map(|claim| identity.get(*claim)?.as_str())
        .map(str::to_owned),
    );
    private.retain(|value| !value.is_empty());
    assert!(private.len() >= 16, "{private:?}");
    for value in &private {
        assert!(
            !appears(&text, value),
            "« {value} » is in the logs:\n{text}"
        );
    }
}

#[test]
fn a_value_is_found_as_a_word_or_a_long_substring_only() {
    assert!(appears("login of ROY refused", "ROY"));
    assert!(!appears("id xROYa3", "ROY"));
    assert!(appears("a 1985-03-02b", "1985-03-02"));
}
