//! The federation end to end, through real listening servers: service → hub
//! → identity provider → hub → service → token → userinfo, and one test per
//! check that must refuse.
#![expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code: a failure is a failed test"
)]

use std::collections::BTreeMap;

#[path = "federation/attacks.rs"]
mod attacks;
#[path = "federation/integrity.rs"]
mod integrity;
#[path = "federation/relying_party.rs"]
mod relying_party;
#[path = "federation/sso.rs"]
mod sso;

use serde_json::{Map, Value};
use testkit::{
    Citizen, DEMO_SP_ID, DEMO_SP_SECRET, Federation, PASSWORD, RogueMode, SANDBOX_CALLBACK,
    SANDBOX_ID, SANDBOX_SECRET,
};

/// Logs citizen `id` in at the sandbox service through `provider`; returns
/// the callback parameters.
async fn sandbox_login(
    federation: &Federation,
    citizen: &Citizen,
    provider: &str,
    id: u32,
) -> BTreeMap<String, String> {
    let login = federation.login_of(provider, id);
    let back = citizen
        .log_in(
            &federation.authorize_url(&[]),
            &federation.hub,
            provider,
            &login,
            PASSWORD,
            SANDBOX_CALLBACK,
        )
        .await;
    assert_eq!(back.status, 303, "{}", back.body);
    assert!(
        back.location
            .as_deref()
            .unwrap_or_default()
            .starts_with(SANDBOX_CALLBACK)
    );
    back.location_params()
}

/// The sandbox service's authorize request, followed to the page the hub
/// shows (or the redirect back to the sandbox).
async fn sandbox_page(
    federation: &Federation,
    citizen: &Citizen,
    overrides: &[(&str, &str)],
) -> testkit::Response {
    citizen
        .open(&federation.authorize_url(overrides), SANDBOX_CALLBACK)
        .await
}

async fn redeem(federation: &Federation, form: &[(&str, &str)]) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/token", federation.issuer))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn sandbox_tokens(federation: &Federation, code: &str) -> (u16, Value) {
    redeem(
        federation,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", SANDBOX_CALLBACK),
            ("client_id", SANDBOX_ID),
            ("client_secret", SANDBOX_SECRET),
        ],
    )
    .await
}

async fn hub_keys(federation: &Federation) -> jose::PublicKeySet {
    let text = reqwest::get(format!("{}/jwks", federation.issuer))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    jose::PublicKeySet::from_json(&text).unwrap()
}

async fn userinfo(federation: &Federation, access_token: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{}/userinfo", federation.issuer))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
}

async fn userinfo_claims(federation: &Federation, access_token: &str) -> Map<String, Value> {
    let response = userinfo(federation, access_token).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/jwt");
    let jwt = response.text().await.unwrap();
    jose::verify(&jwt, &hub_keys(federation).await, &[jose::Alg::ES256]).unwrap()
}

/// A full login, returning the verified ID token claims and userinfo claims.
async fn full_login(
    federation: &Federation,
    provider: &str,
    id: u32,
) -> (Map<String, Value>, Map<String, Value>) {
    let citizen = Citizen::new();
    let params = sandbox_login(federation, &citizen, provider, id).await;
    let (status, tokens) = sandbox_tokens(federation, &params["code"]).await;
    assert_eq!(status, 200, "{tokens}");
    let id_token = verified_id_token(federation, &tokens).await;
    let userinfo = userinfo_claims(federation, tokens["access_token"].as_str().unwrap()).await;
    (id_token, userinfo)
}

/// Citizen 1 logs in to the demo service through `platform`'s hub and
/// `provider`; returns the redirect back to the demo service.
async fn demo_sp_login(
    federation: &Federation,
    citizen: &Citizen,
    platform: &str,
    provider: &str,
) -> testkit::Response {
    let hub = match platform {
        "plus" => &federation.hub_plus,
        _ => &federation.hub,
    };
    citizen
        .log_in(
            &format!("{}/login/{platform}", federation.url("demo_sp")),
            hub,
            provider,
            &federation.login_of(provider, 1),
            PASSWORD,
            "no-stop",
        )
        .await
}

/// Citizen 1 logs in through impots at `authorize`; returns the redirect
/// back to `redirect_uri`.
async fn impots_login_at(
    federation: &Federation,
    citizen: &Citizen,
    authorize: &str,
    redirect_uri: &str,
) -> testkit::Response {
    citizen
        .log_in(
            authorize,
            &federation.hub,
            "impots",
            &federation.login_of("impots", 1),
            PASSWORD,
            redirect_uri,
        )
        .await
}

/// Citizen 1 authenticates through impots at `authorize`; returns the page
/// the hub shows next (the consent, or a refusal).
async fn impots_consent_at(
    federation: &Federation,
    citizen: &Citizen,
    authorize: &str,
    redirect_uri: &str,
) -> testkit::Response {
    citizen
        .authenticate(
            authorize,
            &federation.hub,
            "impots",
            &federation.login_of("impots", 1),
            PASSWORD,
            redirect_uri,
        )
        .await
}

/// The ID token of a token response, verified with the hub's keys.
async fn verified_id_token(federation: &Federation, tokens: &Value) -> Map<String, Value> {
    jose::verify(
        tokens["id_token"].as_str().unwrap(),
        &hub_keys(federation).await,
        &[jose::Alg::ES256],
    )
    .unwrap()
}

/// Logs out of the demo service from its page `me`; returns the page the
/// redirects end on.
async fn demo_sp_logout(
    federation: &Federation,
    citizen: &Citizen,
    me: &testkit::Response,
) -> testkit::Response {
    let demo_sp = federation.url("demo_sp");
    let csrf = me.input("csrf").unwrap();
    citizen
        .follow(
            citizen
                .post(&format!("{demo_sp}/logout"), &[("csrf", &csrf)])
                .await,
            "",
        )
        .await
}

#[tokio::test]
async fn a_citizen_logs_in_to_a_service_through_the_hub_and_the_service_reads_her_identity() {
    let federation = Federation::start().await.unwrap();
    let citizen = Citizen::new();
    let params = sandbox_login(&federation, &citizen, "impots", 1).await;
    assert_eq!(params["state"], "state-of-the-service");
    assert_eq!(
        params["iss"], federation.issuer,
        "RFC 9207 iss in the authorization response"
    );

    let (status, tokens) = sandbox_tokens(&federation, &params["code"]).await;
    assert_eq!(status, 200, "{tokens}");
    let mut fields: Vec<&String> = tokens.as_object().unwrap().keys().collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "access_token",
            "expires_in",
            "id_token",
            "scope",
            "token_type"
        ]
    );
    assert_eq!(tokens["expires_in"], 60);
    assert_eq!(tokens["token_type"], "Bearer");

    let id_token = verified_id_token(&federation, &tokens).await;
    let mut claims: Vec<&String> = id_token.keys().collect();
    claims.sort();
    assert_eq!(
        claims,
        [
            "acr",
            "aud",
            "auth_time",
            "exp",
            "iat",
            "iss",
            "nonce",
            "sub"
        ]
    );
    assert_eq!(id_token["iss"], federation.issuer.as_str());
    assert_eq!(id_token["aud"], SANDBOX_ID);
    assert_eq!(id_token["nonce"], "nonce-of-the-service-0123456789");
    assert_eq!(id_token["acr"], "eidas1");
    assert_eq!(
        id_token["exp"].as_i64().unwrap() - id_token["iat"].as_i64().unwrap(),
        60
    );

    let userinfo = userinfo_claims(&federation, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(userinfo["sub"], id_token["sub"]);
    assert_eq!(userinfo["iss"], federation.issuer.as_str());
    assert_eq!(userinfo["given_name"], "Marie");
    assert_eq!(userinfo["family_name"], "DUPONT");
    assert_eq!(userinfo["birthdate"], "1985-03-14");
    assert_eq!(userinfo["gender"], "female");
    assert_eq!(userinfo["birthplace"], "75115");
    assert_eq!(userinfo["birthcountry"], "99100");
    assert_eq!(userinfo["email"], "marie.dupont.1@example.fr");
    assert_eq!(userinfo["given_name_array"], serde_json::json!(["Marie"]));
}

#[tokio::test]
async fn a_person_born_abroad_has_an_empty_birthplace_and_her_country_code() {
    let federation = Federation::start().await.unwrap();
    let (_, userinfo) = full_login(&federation, "impots", 2).await;
    assert_eq!(userinfo["birthplace"], "");
    assert_eq!(userinfo["birthcountry"], "99350");
}

#[tokio::test]
async fn one_person_gets_the_same_sub_at_a_service_whichever_provider_and_the_register_corrects_her_identity()
 {
    let federation = Federation::start().await.unwrap();
    let (via_impots, _) = full_login(&federation, "impots", 5).await;
    let (via_ameli, userinfo) = full_login(&federation, "ameli", 5).await;
    assert_eq!(via_impots["sub"], via_ameli["sub"]);
    // ameli holds given names in capitals; the service gets the register's.
    assert_eq!(userinfo["given_name"], "Marie-Hélène Anaïs");
    assert_eq!(userinfo["preferred_username"], "N'DIAYE");
}

#[tokio::test]
async fn two_services_get_two_different_subs_for_one_person() {
    let federation = Federation::start().await.unwrap();
    let (at_sandbox, _) = full_login(&federation, "impots", 1).await;
    let citizen = Citizen::new();
    let back = demo_sp_login(&federation, &citizen, "standard", "impots").await;
    // The demo service's own callback is followed: it shows what it received.
    let me = citizen.follow(back, "").await;
    assert!(me.shows("Identité reçue"), "{}", me.body);
    assert!(me.shows("DUPONT"));
    assert!(
        !me.shows(at_sandbox["sub"].as_str().unwrap()),
        "a different sub at another service"
    );
}

/// `passerelle demo` runs both platforms: the demo service logs in at
/// eidas1 through the standard hub and at eidas2 through the plus hub, where
/// its tokens come encrypted to the key it publishes.
#[tokio::test]
async fn the_demo_service_logs_in_at_eidas1_on_the_standard_platform_and_eidas2_on_the_plus_one() {
    let federation = Federation::start().await.unwrap();
    for (platform, provider, acr) in [
        ("standard", "impots", "eidas1"),
        ("plus", "laposte", "eidas2"),
    ] {
        let citizen = Citizen::new();
        let back = demo_sp_login(&federation, &citizen, platform, provider).await;
        let me = citizen.follow(back, "").await;
        assert!(me.shows("Identité reçue"), "{platform}: {}", me.body);
        assert!(
            me.shows(&format!("au niveau <strong>{acr}</strong>")),
            "{platform}"
        );
        assert!(me.shows("DUPONT"), "{platform}");
        assert_eq!(
            me.shows("jetons chiffrés pour ce service"),
            platform == "plus",
            "{platform}: only the plus platform encrypts"
        );
    }
    // Each platform has its own issuer and keys.
    let discovery = |hub: &str| {
        let url = format!("{hub}/api/v2/.well-known/openid-configuration");
        async move {
            reqwest::get(url)
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let (standard, plus) = (
        discovery(&federation.hub).await,
        discovery(&federation.hub_plus).await,
    );
    assert_ne!(standard["issuer"], plus["issuer"]);
    assert_eq!(
        standard["acr_values_supported"],
        serde_json::json!(["eidas1"])
    );
    assert_eq!(
        plus["acr_values_supported"],
        serde_json::json!(["eidas2", "eidas3"])
    );
    let jwks = |hub: &str| {
        let url = format!("{hub}/api/v2/jwks");
        async move { reqwest::get(url).await.unwrap().text().await.unwrap() }
    };
    assert_ne!(
        jwks(&federation.hub).await,
        jwks(&federation.hub_plus).await
    );
}

/// The citizen's journey (issue 4, point 1): single sign-on to a second
/// service skips the choice and the provider but not the confirmation; the
/// session id changes on the way back from the provider; the session
/// slides, 30 minutes on the standard platform.
#[tokio::test]
async fn single_sign_on_carries_to_a_second_service_within_a_sliding_session() {
    let federation = Federation::start().await.unwrap();
    let citizen = Citizen::new();
    let cookie = "passerelle_hub_standard";
    let authorize = federation.authorize_url(&[]);
    citizen.open(&authorize, SANDBOX_CALLBACK).await;
    let before = citizen.cookie(&federation.hub, cookie).unwrap();
    let consent = impots_consent_at(&federation, &citizen, &authorize, SANDBOX_CALLBACK).await;
    let after = citizen.cookie(&federation.hub, cookie).unwrap();
    assert_ne!(before, after, "no session fixation");
    let with_old_cookie = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/interaction", federation.hub))
        .header("cookie", format!("{cookie}={before}"))
        .send()
        .await
        .unwrap();
    assert!(
        !with_old_cookie
            .text()
            .await
            .unwrap()
            .contains("Continuer sur"),
        "the pre-login session id is worthless"
    );
    let back = citizen.consent(&federation.hub, &consent).await;
    let (_, tokens) = sandbox_tokens(&federation, &back.location_params()["code"]).await;
    let sandbox_sub =
        userinfo_claims(&federation, tokens["access_token"].as_str().unwrap()).await["sub"].clone();

    // The demo service: straight to the confirmation page.
    let demo_sp = federation.url("demo_sp").to_owned();
    let confirmation = citizen.open(&format!("{demo_sp}/login/standard"), "").await;
    assert!(
        confirmation.shows("Continuer sur Service de démonstration"),
        "{}",
        confirmation.body
    );
    let me = citizen
        .follow(citizen.consent(&federation.hub, &confirmation).await, "")
        .await;
    assert!(me.shows("DUPONT"), "{}", me.body);
    assert!(!me.shows(sandbox_sub.as_str().unwrap()), "its own sub");

    // Each visit slides the session: 29 minutes later, and 29 more, it holds.
    let sso = || {
        let url = federation.authorize_url(&[]);
        let citizen = &citizen;
        async move { citizen.open(&url, SANDBOX_CALLBACK).await }
    };
    for _ in 0..2 {
        federation.clock.advance(29 * 60);
        assert!(sso().await.shows("Continuer sur"));
    }
    federation.clock.advance(30 * 60 + 1);
    assert!(sso().await.shows("Choisissez un compte"));
}

/// In single sign-on, the authorization endpoint answers a browser's `GET`
/// with the consent page itself, whose form issues the code; a form's
/// `POST` gets a 303 to it, which a reload does not post again. A fresh
/// login is sent on to the choice page either way.
#[tokio::test]
async fn in_single_sign_on_authorize_answers_a_get_with_the_consent_page_itself() {
    let federation = Federation::start().await.unwrap();
    let citizen = Citizen::new();
    let authorize = federation.authorize_url(&[]);
    let fresh = citizen.get(&authorize).await;
    assert_eq!(
        (fresh.status, fresh.location.as_deref()),
        (303, Some("/interaction"))
    );
    let consent = impots_consent_at(&federation, &citizen, &authorize, SANDBOX_CALLBACK).await;
    let back = citizen.consent(&federation.hub, &consent).await;
    assert!(back.location_params().contains_key("code"), "{back:?}");

    let sso = citizen.get(&federation.authorize_url(&[])).await;
    assert_eq!((sso.status, sso.location.as_deref()), (200, None));
    assert!(sso.shows("Continuer sur"), "{}", sso.body);
    let back = citizen.consent(&federation.hub, &sso).await;
    let (status, tokens) = sandbox_tokens(&federation, &back.location_params()["code"]).await;
    assert_eq!(status, 200, "{tokens}");

    let url = url::Url::parse(&federation.authorize_url(&[])).unwrap();
    let form: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let endpoint = format!("{}/api/v2/authorize", federation.hub);
    let posted = citizen.post(&endpoint, &form).await;
    assert_eq!(
        (posted.status, posted.location.as_deref()),
        (303, Some("/interaction/consent"))
    );
}

/// On the plus platform too, the demo service logs out through the hub
/// (its ID token came encrypted; the hint is the signed token inside).
#[tokio::test]
async fn the_demo_service_logs_out_through_the_plus_hub() {
    let federation = Federation::start().await.unwrap();
    let citizen = Citizen::new();
    let back = demo_sp_login(&federation, &citizen, "plus", "laposte").await;
    let me = citizen.follow(back, "").await;
    let out = demo_sp_logout(&federation, &citizen, &me).await;
    assert!(
        out.shows("Vous êtes déconnecté de ce service et de Passerelle"),
        "{}",
        out.body
    );
}

/// On the plus platform the session lasts 10 minutes.
#[tokio::test]
async fn a_plus_session_ends_after_ten_idle_minutes() {
    let federation = Federation::start().await.unwrap();
    let demo_sp = federation.url("demo_sp").to_owned();
    let citizen = Citizen::new();
    let back = demo_sp_login(&federation, &citizen, "plus", "laposte").await;
    citizen.follow(back, "").await;
    let again = || {
        let url = format!("{demo_sp}/login/plus");
        let citizen = &citizen;
        async move { citizen.open(&url, "").await }
    };
    federation.clock.advance(9 * 60);
    assert!(again().await.shows("Continuer sur"));
    federation.clock.advance(10 * 60 + 1);
    assert!(again().await.shows("Choisissez un compte"));
}

#[tokio::test]
async fn the_demo_service_logs_out_through_the_hub_and_the_provider() {
    let federation = Federation::start().await.unwrap();
    let citizen = Citizen::new();
    let demo_sp = federation.url("demo_sp").to_owned();
    let back = demo_sp_login(&federation, &citizen, "standard", "ameli").await;
    let me = citizen.follow(back, "").await;
    let out = demo_sp_logout(&federation, &citizen, &me).await;
    assert!(
        out.url.starts_with(&format!("{demo_sp}/logged-out")),
        "{}",
        out.url
    );
    assert!(
        out.shows("Vous êtes déconnecté de ce service et de Passerelle"),
        "{}",
        out.body
    );
    // The hub session is gone: a new login shows the provider choice again.
    let again = sandbox_page(&federation, &citizen, &[]).await;
    assert!(again.shows("Choisissez un compte"), "{}", again.body);
}

/// The sandbox logs out through the hub with its ID token.
async fn sandbox_logs_out(federation: &Federation, citizen: &Citizen, id_token: &str) {
    let mut url = url::Url::parse(&format!("{}/session/end", federation.issuer)).unwrap();
    url.query_pairs_mut()
        .append_pair("id_token_hint", id_token)
        .append_pair("post_logout_redirect_uri", "http://localhost:8000/")
        .append_pair("state", "bye");
    let out = citizen.open(url.as_str(), "http://localhost:8000/").await;
    let location = out.location.unwrap_or_default();
    assert!(
        location.starts_with("http://localhost:8000/?state=bye"),
        "{location}"
    );
}

/// Issue 4, point 2: a logout from one service reaches the others of the
/// session by the back channel, without holding up the citizen.
#[tokio::test]
async fn logging_out_from_one_service_logs_the_citizen_out_of_the_others_by_back_channel() {
    let federation = Federation::start().await.unwrap();
    let citizen = Citizen::new();
    let back = demo_sp_login(&federation, &citizen, "standard", "impots").await;
    assert!(citizen.follow(back, "").await.shows("DUPONT"));
    // Single sign-on to the sandbox, which then logs out.
    let confirmation = sandbox_page(&federation, &citizen, &[]).await;
    let back = citizen.consent(&federation.hub, &confirmation).await;
    let (_, tokens) = sandbox_tokens(&federation, &back.location_params()["code"]).await;
    sandbox_logs_out(&federation, &citizen, tokens["id_token"].as_str().unwrap()).await;
    // The demo service was told: its session is over.
    wait_logged_out_of_demo_sp(&federation, &citizen).await;
}

/// Waits (a few seconds at most) until the demo service no longer shows
/// the person: told by back-channel logout.
async fn wait_logged_out_of_demo_sp(federation: &Federation, citizen: &Citizen) {
    let demo_sp = federation.url("demo_sp");
    for _ in 0..60 {
        if citizen
            .get(&format!("{demo_sp}/me"))
            .await
            .location
            .as_deref()
            == Some("/")
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    unreachable!("the demo service still shows the person");
}

/// A service that fails to take the logout token is tried again; the token
/// is signed for it, typed `logout+jwt`, and names its own `sub`.
#[tokio::test]
async fn a_back_channel_logout_is_retried_and_carries_a_signed_logout_token() {
    use std::sync::{Arc, Mutex};

    let received: Arc<Mutex<Vec<String>>> = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let receiver = format!("http://{}/bc", listener.local_addr().unwrap());
    let router = axum::Router::new()
        .route(
            "/bc",
            axum::routing::post(
                |axum::extract::State(received): axum::extract::State<Arc<Mutex<Vec<String>>>>,
                 body: String| async move {
                    let mut received = received.lock().unwrap();
                    received.push(body);
                    // The first attempt meets a service that is down.
                    if received.len() == 1 {
                        axum::http::StatusCode::SERVICE_UNAVAILABLE
                    } else {
                        axum::http::StatusCode::OK
                    }
                },
            ),
        )
        .with_state(received.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let extra = policy_service(
        "bc-client",
        &format!("backchannel_logout_uri = \"{receiver}\""),
    );
    let federation = Federation::builder().toml(&extra).start().await.unwrap();
    let citizen = Citizen::new();
    let authorize = federation.authorize_url(&[
        ("client_id", "bc-client"),
        ("redirect_uri", CLIENTS_CALLBACK),
    ]);
    let back = impots_login_at(&federation, &citizen, &authorize, CLIENTS_CALLBACK).await;
    let (_, tokens) = redeem_as(&federation, "bc-client", &back.location_params()["code"]).await;
    let bc_claims = verified_id_token(&federation, &tokens).await;
    let confirmation = sandbox_page(&federation, &citizen, &[]).await;
    let back = citizen.consent(&federation.hub, &confirmation).await;
    let (_, tokens) = sandbox_tokens(&federation, &back.location_params()["code"]).await;
    sandbox_logs_out(&federation, &citizen, tokens["id_token"].as_str().unwrap()).await;
    let arrived = |count: usize| {
        let received = received.clone();
        async move {
            for _ in 0..40 {
                if received.lock().unwrap().len() >= count {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    };
    arrived(1).await;
    // The failed delivery waits in the hub's store, due again a second later.
    let outbox = &federation.running.stores["hub_standard"].outbox;
    assert_eq!(outbox.waiting().await.unwrap(), 1, "kept for a retry");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(received.lock().unwrap().len(), 1, "not before it is due");
    federation.clock.advance(1);
    arrived(2).await;
    let bodies = received.lock().unwrap().clone();
    assert_eq!(bodies.len(), 2, "one failure, one retry");
    for _ in 0..20 {
        if outbox.waiting().await.unwrap() == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(outbox.waiting().await.unwrap(), 0, "delivered, then gone");
    let form: BTreeMap<String, String> = url::form_urlencoded::parse(bodies[1].as_bytes())
        .into_owned()
        .collect();
    let token = &form["logout_token"];
    assert_eq!(
        jose::peek_header(token).unwrap().typ.as_deref(),
        Some("logout+jwt")
    );
    let claims = jose::verify(token, &hub_keys(&federation).await, &[jose::Alg::ES256]).unwrap();
    assert_eq!(claims["iss"], federation.issuer.as_str());
    assert_eq!(claims["aud"], "bc-client");
    assert_eq!(claims["sub"], bc_claims["sub"]);
    assert!(claims.get("nonce").is_none());
    assert!(
        claims["events"]
            .get("http://schemas.openid.net/event/backchannel-logout")
            .is_some()
    );
}

/// The emails sent so far, once at least `count` have gone (the mail
/// worker delivers in the background).
async fn mails_once(federation: &Federation, count: usize) -> Vec<mail::Sent> {
    for _ in 0..50 {
        let mails = federation.mails();
        if mails.len() >= count {
            return mails;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    federation.mails()
}

/// Issue 4, point 3: an email at each connection, to the address the
/// provider gave, naming the service, the provider, the date and time, with
/// the dashboard and « ce n'était pas moi » links.
#[tokio::test]
async fn each_connection_sends_the_citizen_an_email() {
    let federation = Federation::start().await.unwrap();
    let citizen = Citizen::new();
    sandbox_login(&federation, &citizen, "impots", 1).await;
    let mails = mails_once(&federation, 1).await;
    assert_eq!(mails.len(), 1);
    let mail = &mails[0].message;
    assert_eq!(mail.to, "marie.dupont.1@example.fr");
    assert_eq!(
        mail.subject,
        "Connexion à Votre service (bac à sable) avec Passerelle"
    );
    let dashboard = federation.url("dashboard");
    for expected in [
        "Bonjour Marie DUPONT".to_owned(),
        "impots.gouv (démo)".to_owned(),
        "(heure de Paris)".to_owned(),
        "niveau eidas1".to_owned(),
        format!("Ce n'était pas vous ? Signalez-le : {dashboard}/signalement"),
        format!("Vos connexions des six derniers mois : {dashboard}/"),
    ] {
        assert!(mail.text.contains(&expected), "{expected}: {}", mail.text);
    }
    // Single sign-on to another service is a connection too.
    let demo_sp = federation.url("demo_sp").to_owned();
    let confirmation = citizen.open(&format!("{demo_sp}/login/standard"), "").await;
    citizen
        .follow(citizen.consent(&federation.hub, &confirmation).await, "")
        .await;
    let mails = mails_once(&federation, 2).await;
    assert_eq!(mails.len(), 2);
    assert_eq!(
        mails[1].message.subject,
        "Connexion à Service de démonstration avec Passerelle"
    );
}

/// With `notify = "new_device"`, as FranceConnect: only from a browser the
/// person has not used before (recognised by a cookie of pseudonymous tags).
#[tokio::test]
async fn the_new_device_policy_mails_only_from_an_unknown_browser() {
    let federation = Federation::builder()
        .hub(|hub| hub.notify = hub::NotifyPolicy::NewDevice)
        .start()
        .await
        .unwrap();
    let citizen = Citizen::new();
    sandbox_login(&federation, &citizen, "impots", 1).await;
    assert_eq!(mails_once(&federation, 1).await.len(), 1);
    let tags = citizen
        .cookie(&federation.hub, "passerelle_devices_standard")
        .unwrap();
    assert!(
        !tags.contains("DUPONT") && !tags.contains("marie"),
        "{tags}"
    );
    // The same browser, even after its session ended: no mail.
    federation.clock.advance(3600);
    sandbox_login(&federation, &citizen, "ameli", 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(federation.mails().len(), 1);
    // Another browser: a mail.
    sandbox_login(&federation, &Citizen::new(), "impots", 1).await;
    assert_eq!(mails_once(&federation, 2).await.len(), 2);
}

/// Logs the citizen in to the dashboard (through single sign-on when the
/// browser has a hub session); returns the dashboard's home page.
async fn dashboard_home(federation: &Federation, citizen: &Citizen) -> testkit::Response {
    let dashboard = federation.url("dashboard").to_owned();
    let confirmation = citizen.open(&format!("{dashboard}/login"), "").await;
    assert!(
        confirmation.shows("Continuer sur Tableau de bord"),
        "{}",
        confirmation.body
    );
    citizen
        .follow(citizen.consent(&federation.hub, &confirmation).await, "")
        .await
}

/// Waits (a few seconds at most) until the dashboard no longer knows the
/// citizen: the hubs read the queue of ended sessions each second.
async fn wait_logged_out_of_dashboard(federation: &Federation, citizen: &Citizen) {
    let dashboard = federation.url("dashboard");
    for _ in 0..60 {
        if !citizen.get(&format!("{dashboard}/")).await.shows("Bonjour") {
            // The dashboard tells a logout from a new login by the second.
            federation.clock.advance(1);
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    unreachable!("the dashboard still shows the person");
}

/// Logs the citizen in to the dashboard through `provider` (no session).
async fn dashboard_login_with(
    federation: &Federation,
    citizen: &Citizen,
    provider: &str,
) -> testkit::Response {
    let dashboard = federation.url("dashboard");
    let consent = citizen
        .authenticate(
            &format!("{dashboard}/login"),
            &federation.hub,
            provider,
            &federation.login_of(provider, 1),
            PASSWORD,
            "",
        )
        .await;
    assert!(
        consent.shows("Continuer sur Tableau de bord"),
        "{}",
        consent.body
    );
    citizen
        .follow(citizen.consent(&federation.hub, &consent).await, "")
        .await
}

/// Issue 4, point 4: the dashboard shows the connections under a pseudonym,
/// verifies the chain, blocks a provider (which the hub enforces), and
/// records a report.
#[tokio::test]
async fn the_dashboard_shows_the_history_blocks_a_provider_and_takes_a_report() {
    let federation = Federation::start().await.unwrap();
    let dashboard = federation.url("dashboard").to_owned();
    let citizen = Citizen::new();
    sandbox_login(&federation, &citizen, "impots", 1).await;
    let home = dashboard_home(&federation, &citizen).await;
    assert!(home.shows("Bonjour Marie DUPONT"), "{}", home.body);
    assert!(home.shows("Votre service (bac à sable)"), "{}", home.body);
    assert!(home.shows("impots.gouv (démo)"));
    assert!(home.shows("par Passerelle"));
    assert!(home.shows("(heure de Paris)"));

    // The trail is kept under a pseudonym: no name in it.
    let traces = &federation.running.stores["traces"].traces;
    let verified = sandbox_sub(&federation).await;
    assert!(
        traces.trail(&verified, 0).await.unwrap().is_empty(),
        "not the sandbox's sub"
    );

    let check = citizen.get(&format!("{dashboard}/verification")).await;
    assert!(
        check.shows("L&#39;historique est intact : 3 entrée(s)"),
        "{}",
        check.body
    );

    // Block impots: the hub refuses it at the next login, in any browser.
    let csrf = home.input("csrf").unwrap();
    let saved = citizen
        .post(
            &format!("{dashboard}/fournisseurs"),
            &[("csrf", &csrf), ("blocked", "impots"), ("blocked", "nope")],
        )
        .await;
    assert_eq!(saved.location.as_deref(), Some("/"), "{}", saved.body);
    let other = Citizen::new();
    let refused = impots_consent_at(
        &federation,
        &other,
        &federation.authorize_url(&[]),
        SANDBOX_CALLBACK,
    )
    .await;
    assert!(
        refused.shows("Vous avez bloqué impots.gouv (démo)"),
        "{}",
        refused.body
    );
    sandbox_login(&federation, &other, "ameli", 1).await;
    // The block ended every session opened with impots, the dashboard's
    // own too (by back-channel logout): back in with ameli.
    wait_logged_out_of_dashboard(&federation, &citizen).await;
    let home = dashboard_login_with(&federation, &citizen, "ameli").await;
    assert!(
        home.body.contains("value=\"impots\" checked"),
        "{}",
        home.body
    );
    let csrf = home.input("csrf").unwrap();
    // Unblock: impots works again (a second later: a session verified in
    // the second its provider's sessions were ended is ended too).
    federation.clock.advance(1);
    citizen
        .post(&format!("{dashboard}/fournisseurs"), &[("csrf", &csrf)])
        .await;
    sandbox_login(&federation, &Citizen::new(), "impots", 1).await;

    // A report of the first connection, with what to do.
    let form = citizen.get(&format!("{dashboard}/signalement")).await;
    assert!(form.shows("Votre service (bac à sable)"), "{}", form.body);
    let reported = citizen
        .post(
            &format!("{dashboard}/signalement"),
            &[
                ("csrf", &form.input("csrf").unwrap()),
                ("seq", "1"),
                ("comment", "Je n'étais pas devant mon ordinateur."),
            ],
        )
        .await;
    assert!(
        reported.shows("Signalement enregistré"),
        "{}",
        reported.body
    );
    assert!(
        reported.shows("Changez sans attendre le mot de passe de votre compte impots.gouv (démo)")
    );
    let home = citizen.get(&format!("{dashboard}/")).await;
    assert!(
        home.shows("Signalement de la connexion n° 1"),
        "{}",
        home.body
    );
    let check = citizen.get(&format!("{dashboard}/verification")).await;
    assert!(check.shows("L&#39;historique est intact"), "{}", check.body);
    for trace in traces
        .trail(&dashboard_sub(&federation).await, 0)
        .await
        .unwrap()
    {
        let body = String::from_utf8(trace.body).unwrap();
        assert!(
            !body.contains("DUPONT") && !body.contains("Marie"),
            "{body}"
        );
    }
}

/// The sandbox's sub for citizen 1 (to show the trail is not under it).
async fn sandbox_sub(federation: &Federation) -> String {
    let params = sandbox_login(federation, &Citizen::new(), "impots", 1).await;
    let (_, tokens) = sandbox_tokens(federation, &params["code"]).await;
    userinfo_claims(federation, tokens["access_token"].as_str().unwrap()).await["sub"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The pseudonym the dashboard files this citizen's trail under: the hub's
/// pairwise sub for the dashboard's entity.
async fn dashboard_sub(federation: &Federation) -> String {
    let traces = &federation.running.stores["traces"].traces;
    let settings = federation.config.traces.as_ref().unwrap();
    let marie = federation
        .running
        .citizens
        .iter()
        .find(|person| person.id == 1)
        .unwrap();
    let pivot = marie.pivot();
    let identity = oidc::Identity {
        given_name: pivot.given_name,
        family_name: pivot.family_name,
        birthdate: pivot.birthdate,
        gender: pivot.gender,
        birthplace: pivot.birthplace,
        birthcountry: pivot.birthcountry,
        email: String::new(),
        preferred_username: None,
    };
    let pseudonym = settings.pseudonym(&identity);
    assert!(!traces.trail(&pseudonym, 0).await.unwrap().is_empty());
    pseudonym
}

/// The dashboard in English, by the switch in its header.
#[tokio::test]
async fn the_dashboard_speaks_english_by_its_switch() {
    let federation = Federation::start().await.unwrap();
    let dashboard = federation.url("dashboard").to_owned();
    let citizen = Citizen::new();
    sandbox_login(&federation, &citizen, "impots", 1).await;
    let home = dashboard_home(&federation, &citizen).await;
    assert!(
        home.shows("href=\"/langue/en?retour=%2F\""),
        "{}",
        home.body
    );
    let switched = citizen
        .open(&format!("{dashboard}/langue/en?retour=/"), "")
        .await;
    assert!(switched.shows("<html lang=\"en\">"), "{}", switched.body);
    assert!(switched.shows("My dashboard") && switched.shows("Login history"));
    assert!(switched.shows("(Paris time)") && switched.shows("Block impots.gouv (démo)"));
    let check = citizen.get(&format!("{dashboard}/verification")).await;
    assert!(check.shows("The history is intact"), "{}", check.body);
    // The choice is the browser's: the demo service speaks English too.
    let demo = citizen
        .get(&format!("{}/", federation.url("demo_sp")))
        .await;
    assert!(
        demo.shows("Log in with Passerelle+") && demo.shows("<html lang=\"en\">"),
        "{}",
        demo.body
    );
}

/// The report link of the email leads through a login to the form.
#[tokio::test]
async fn the_report_link_logs_the_citizen_in_first() {
    let federation = Federation::start().await.unwrap();
    let dashboard = federation.url("dashboard").to_owned();
    let citizen = Citizen::new();
    sandbox_login(&federation, &citizen, "impots", 1).await;
    let confirmation = citizen.open(&format!("{dashboard}/signalement"), "").await;
    assert!(
        confirmation.shows("Continuer sur Tableau de bord"),
        "{}",
        confirmation.body
    );
    let form = citizen
        .follow(citizen.consent(&federation.hub, &confirmation).await, "")
        .await;
    assert!(form.shows("Signaler une connexion"), "{}", form.body);
}

/// Issue 4, point 5: French by default, English when the service asks it
/// by `ui_locales` (the provider's page too), or by the switch, which wins.
#[tokio::test]
async fn pages_speak_english_by_ui_locales_or_by_the_switch() {
    let federation = Federation::start().await.unwrap();
    let citizen = Citizen::new();
    let authorize = federation.authorize_url(&[("ui_locales", "de en")]);
    let choice = citizen.open(&authorize, SANDBOX_CALLBACK).await;
    assert!(choice.shows("<html lang=\"en\">"), "{}", choice.body);
    assert!(choice.shows("Choose an account to log in with"));
    assert!(choice.shows("Skip to content"));
    assert!(choice.shows("href=\"/langue/fr?retour=%2Finteraction\""));
    let consent = impots_consent_at(&federation, &citizen, &authorize, SANDBOX_CALLBACK).await;
    assert!(
        consent.shows("Continue to Votre service (bac à sable)"),
        "{}",
        consent.body
    );
    assert!(consent.shows("Birth name") && consent.shows("Female"));
    // The switch: back to French, whatever the service asked.
    let switched = citizen
        .get(&format!(
            "{}/langue/fr?retour=/interaction/consent",
            federation.hub
        ))
        .await;
    assert_eq!(switched.location.as_deref(), Some("/interaction/consent"));
    let consent = citizen
        .get(&format!("{}/interaction/consent", federation.hub))
        .await;
    assert!(consent.shows("<html lang=\"fr\">"), "{}", consent.body);
    assert!(consent.shows("Continuer sur Votre service (bac à sable)"));
    // Error pages follow the switch too, on every part.
    citizen
        .get(&format!("{}/langue/en?retour=/", federation.hub))
        .await;
    let error = citizen
        .get(&format!(
            "{}/api/v2/authorize?client_id=nobody",
            federation.hub
        ))
        .await;
    assert_eq!(error.status, 400);
    assert!(
        error.shows("<html lang=\"en\">") && error.shows("Unknown service"),
        "{}",
        error.body
    );
    assert!(error.shows("Error code: <code>HUB-AUTHZ-CLIENT</code>"));
    let error = citizen
        .get(&format!(
            "{}/authorize?client_id=nobody",
            federation.url("impots")
        ))
        .await;
    assert!(error.shows("Invalid request"), "{}", error.body);
    // Never a way out of the site.
    for retour in [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
    ] {
        let url = format!(
            "{}/langue/en?retour={}",
            federation.hub,
            url::form_urlencoded::byte_serialize(retour.as_bytes()).collect::<String>()
        );
        assert_eq!(
            citizen.get(&url).await.location.as_deref(),
            Some("/"),
            "{retour}"
        );
    }
}

/// The provider's login page, in English when the service asked it.
#[tokio::test]
async fn the_provider_login_page_follows_ui_locales() {
    let federation = Federation::start().await.unwrap();
    let citizen = Citizen::new();
    let choice = sandbox_page(&federation, &citizen, &[("ui_locales", "en")]).await;
    let login_page = citizen
        .follow(
            citizen.choose(&federation.hub, &choice, "ameli").await,
            SANDBOX_CALLBACK,
        )
        .await;
    assert!(
        login_page.shows("Log in to your account ameli (démo)"),
        "{}",
        login_page.body
    );
    assert!(login_page.shows("Social security number"));
    let wrong = citizen
        .post(
            &format!("{}/login", federation.url("ameli")),
            &[
                ("csrf", &login_page.input("csrf").unwrap()),
                ("identifier", "123"),
                ("password", "x"),
            ],
        )
        .await;
    assert!(
        wrong.shows("The social security number has 13 digits"),
        "{}",
        wrong.body
    );
}

/// Issue 4, point 5: the DSFR theme, served from the npm package (installed
/// by the test command in themes/), on every part.
#[tokio::test]
async fn the_dsfr_theme_is_served_from_its_npm_package_on_every_part() {
    let federation = Federation::builder().dsfr().start().await.unwrap();
    let http = reqwest::Client::new();
    for base in [
        &federation.hub,
        federation.url("impots"),
        federation.url("dashboard"),
    ] {
        let theme = http
            .get(format!("{base}/static/theme.css"))
            .send()
            .await
            .unwrap();
        assert_eq!(theme.status(), 200);
        assert!(
            theme
                .text()
                .await
                .unwrap()
                .contains("@import url(\"/static/dsfr/dsfr.min.css\")")
        );
        let css = http
            .get(format!("{base}/static/dsfr/dsfr.min.css"))
            .send()
            .await
            .unwrap();
        assert_eq!(css.status(), 200, "{base}");
        assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
        let font = http
            .get(format!("{base}/static/dsfr/fonts/Marianne-Bold.woff2"))
            .send()
            .await
            .unwrap();
        assert_eq!(font.headers()["content-type"], "font/woff2");
    }
    for outside in [
        "../package.json",
        "..%2Fpackage.json",
        "dsfr.module.js",
        "%2Fetc%2Fpasswd.css",
    ] {
        let response = http
            .get(format!("{}/static/dsfr/{outside}", federation.hub))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{outside}");
    }
    let page = Citizen::new().get(&format!("{}/", federation.hub)).await;
    assert!(page.shows("<link rel=\"stylesheet\" href=\"/static/theme.css\">"));
}

#[tokio::test]
async fn a_dsfr_theme_without_its_package_stops_the_start() {
    let error = Federation::builder()
        .toml("\n[web]\ntheme = \"dsfr\"\ndsfr_dir = \"/nowhere\"\n")
        .start()
        .await
        .unwrap_err();
    assert!(error.to_string().contains("web.dsfr_dir"), "{error}");
}

#[tokio::test]
async fn a_second_login_in_the_same_browser_skips_the_provider_but_not_the_consent_page() {
    let federation = Federation::start().await.unwrap();
    let citizen = Citizen::new();
    sandbox_login(&federation, &citizen, "impots", 1).await;
    let second = sandbox_page(&federation, &citizen, &[("state", "second-state")]).await;
    assert!(second.shows("Continuer sur"), "{}", second.body);
    let back = citizen.consent(&federation.hub, &second).await;
    assert_eq!(back.location_params()["state"], "second-state");
    // prompt=login forces a new authentication.
    let forced = sandbox_page(&federation, &citizen, &[("prompt", "login")]).await;
    assert!(forced.shows("Choisissez un compte"), "{}", forced.body);
}

#[tokio::test]
async fn storage_writes_per_login_are_few() {
    let federation = Federation::start().await.unwrap();
    let before = federation.hub_writes();
    full_login(&federation, "impots", 1).await;
    let writes = federation.hub_writes() - before;
    // authorize, choice, callback (rotation: delete + save), consent (code +
    // session + the session filed under its person, to be ended at their
    // request), token (take + access token) = 9.
    assert!(writes <= 9, "{writes} writes for one login");
}

// ---------------------------------------------------------------- refusals

#[tokio::test]
async fn an_unknown_client_gets_an_error_page_and_no_redirect() {
    let federation = Federation::start().await.unwrap();
    let before = federation.hub_writes();
    let page = Citizen::new()
        .get(&federation.authorize_url(&[("client_id", "nobody")]))
        .await;
    assert_eq!(page.status, 400);
    assert!(page.location.is_none());
    assert!(page.shows("HUB-AUTHZ-CLIENT"));
    assert_eq!(
        federation.hub_writes(),
        before,
        "a refused request changes nothing"
    );
}

#[tokio::test]
async fn an_unregistered_redirect_uri_gets_an_error_page_and_no_redirect() {
    let federation = Federation::start().await.unwrap();
    for uri in [
        "http://localhost:8000/evil",
        "http://localhost:8000/callback/",
        "",
    ] {
        let page = Citizen::new()
            .get(&federation.authorize_url(&[("redirect_uri", uri)]))
            .await;
        assert_eq!(page.status, 400, "{uri}");
        assert!(page.location.is_none());
        assert!(page.shows("HUB-AUTHZ-REDIRECT-URI"));
    }
}

async fn refused_back_to_service(
    federation: &Federation,
    overrides: &[(&str, &str)],
) -> BTreeMap<String, String> {
    let before = federation.hub_writes();
    let response = Citizen::new()
        .get(&federation.authorize_url(overrides))
        .await;
    assert_eq!(response.status, 303, "{}", response.body);
    assert!(
        response
            .location
            .as_deref()
            .unwrap()
            .starts_with(SANDBOX_CALLBACK)
    );
    assert_eq!(
        federation.hub_writes(),
        before,
        "a refused request changes nothing"
    );
    let params = response.location_params();
    assert_eq!(params["iss"], federation.issuer);
    params
}

#[tokio::test]
async fn a_missing_or_short_nonce_goes_back_to_the_service_as_invalid_request() {
    let federation = Federation::start().await.unwrap();
    for nonce in ["", "only-21-characters-xx"] {
        let params = refused_back_to_service(&federation, &[("nonce", nonce)]).await;
        assert_eq!(params["error"], "invalid_request");
        assert!(params["error_description"].contains("nonce"));
        assert_eq!(params["state"], "state-of-the-service");
    }
}

#[tokio::test]
async fn a_missing_state_goes_back_to_the_service_as_invalid_request() {
    let federation = Federation::start().await.unwrap();
    let params = refused_back_to_service(&federation, &[("state", "")]).await;
    assert_eq!(params["error"], "invalid_request");
    assert!(!params.contains_key("state"));
}

#[tokio::test]
async fn a_level_the_platform_does_not_offer_is_invalid_acr() {
    let federation = Federation::start().await.unwrap();
    let params = refused_back_to_service(&federation, &[("acr_values", "eidas2")]).await;
    assert_eq!(params["error"], "invalid_acr");
    assert_eq!(
        params["error_description"],
        "acr_value is not valid, should be equal one of these values, expected eidas1, got eidas2"
    );
}

#[tokio::test]
async fn other_bad_parameters_go_back_to_the_service() {
    let federation = Federation::start().await.unwrap();
    for (overrides, error) in [
        (
            vec![("response_type", "token")],
            "unsupported_response_type",
        ),
        (vec![("scope", "profile")], "invalid_scope"),
        (vec![("scope", "unknown profile")], "invalid_scope"),
        (vec![("prompt", "none")], "login_required"),
        (
            vec![
                ("code_challenge", "abc"),
                ("code_challenge_method", "plain"),
            ],
            "invalid_request",
        ),
    ] {
        let params = refused_back_to_service(&federation, &overrides).await;
        assert_eq!(params["error"], error, "{overrides:?}");
    }
}

#[tokio::test]
async fn a_bad_client_secret_or_basic_authentication_is_invalid_client() {
    let federation = Federation::start().await.unwrap();
    let citizen = Citizen::new();
    let params = sandbox_login(&federation, &citizen, "impots", 1).await;
    let code = params["code"].as_str();
    let form = |secret| {
        vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", SANDBOX_CALLBACK),
            ("client_id", SANDBOX_ID),
            ("client_secret", secret),
        ]
    };
    let (status, body) = redeem(&federation, &form("wrong-secret")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let basic = reqwest::Client::new()
        .post(format!("{}/token", federation.issuer))
        .basic_auth(SANDBOX_ID, Some(SANDBOX_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", SANDBOX_CALLBACK),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 401);
    // Refused attempts left the code usable.
    let (status, _) = redeem(&federation, &form(SANDBOX_SECRET)).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_reused_code_is_refused_and_revokes_the_access_token_it_gave() {
    let federation = Federation::start().await.unwrap();
    let citizen = Citizen::new();
    let params = sandbox_login(&federation, &citizen, "impots", 1).await;
    let (status, tokens) = sandbox_tokens(&federation, &params["code"]).await;
    assert_eq!(status, 200);
    let (status, body) = sandbox_tokens(&federation, &params["code"]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let response = userinfo(&federation, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn a_code_expires_after_30_seconds_and_an_access_token_after_60() {
    let federation = Federation::start().await.unwrap();
    let citizen = Citizen::new();
    let params = sandbox_login(&federation, &citizen, "impots", 1).await;
    federation.clock.advance(31);
    let (status, body) = sandbox_tokens(&federation, &params["code"]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    let params = sandbox_login(&federation, &Citizen::new(), "impots", 1).await;
    let (_, tokens) = sandbox_tokens(&federation, &params["code"]).await;
    federation.clock.advance(61);
    assert_eq!(
        userinfo(&federation, tokens["access_token"].as_str().unwrap())
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn pkce_is_required_of_a_client_registered_with_it_and_a_wrong_verifier_is_refused() {
    let federation = Federation::start().await.unwrap();
    let callback = format!("{}/callback/standard", federation.url("demo_sp"));
    // Without a challenge, the demo service's request is refused.
    let response = Citizen::new()
        .get(&federation.authorize_url(&[("client_id", DEMO_SP_ID), ("redirect_uri", &callback)]))
        .await;
    assert_eq!(response.location_params()["error"], "invalid_request");
    // With one, the wrong verifier is refused at the token endpoint.
    let verifier = "a-verifier-of-at-least-forty-three-characters-123";
    let challenge = oidc::PkceChallenge::of(verifier);
    let authorize = federation.authorize_url(&[
        ("client_id", DEMO_SP_ID),
        ("redirect_uri", &callback),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]);
    let citizen = Citizen::new();
    let back = impots_login_at(&federation, &citizen, &authorize, &callback).await;
    let code = back.location_params()["code"].clone();
    let form = |verifier: &'static str| {
        vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.clone()),
            ("redirect_uri", callback.clone()),
            ("client_id", DEMO_SP_ID.to_owned()),
            ("client_secret", DEMO_SP_SECRET.to_owned()),
            ("code_verifier", verifier.to_owned()),
        ]
    };
    let wrong = form("another-verifier-of-at-least-forty-three-characters");
    let wrong: Vec<(&str, &str)> = wrong.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, body) = redeem(&federation, &wrong).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn the_register_refuses_unknown_near_and_deceased_identities_with_a_clear_page() {
    let federation = Federation::start().await.unwrap();
    let cases = [
        ("3999999999901".to_owned(), "HUB-REGISTER-NOT-FOUND"),
        ("3999999999902".to_owned(), "HUB-REGISTER-NEAR-MATCH"),
        (federation.login_of("impots", 3), "HUB-REGISTER-DECEASED"),
    ];
    for (login, code) in cases {
        let citizen = Citizen::new();
        let page = citizen
            .authenticate(
                &federation.authorize_url(&[]),
                &federation.hub,
                "impots",
                &login,
                PASSWORD,
                SANDBOX_CALLBACK,
            )
            .await;
        assert_eq!(page.status, 403, "{login}: {}", page.body);
        assert!(page.shows(code), "{login}: {}", page.body);
    }
}

#[tokio::test]
async fn a_wrong_password_is_refused_with_a_generic_message() {
    let federation = Federation::start().await.unwrap();
    let citizen = Citizen::new();
    let choice = sandbox_page(&federation, &citizen, &[]).await;
    let login_page = citizen
        .follow(citizen.choose(&federation.hub, &choice, "impots").await, "")
        .await;
    let csrf = login_page.input("csrf").unwrap();
    let login_url = format!("{}/login", federation.url("impots"));
    for identifier in [federation.login_of("impots", 1), "1234567890123".to_owned()] {
        let page = citizen
            .post(
                &login_url,
                &[
                    ("csrf", &csrf),
                    ("identifier", &identifier),
                    ("password", "wrong-password-1"),
                ],
            )
            .await;
        assert!(
            page.shows("Identifiant ou mot de passe incorrect."),
            "{}",
            page.body
        );
    }
    let page = citizen
        .post(
            &login_url,
            &[
                ("csrf", &csrf),
                ("identifier", "12"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert!(page.shows("13 chiffres"));
    let page = citizen
        .post(
            &login_url,
            &[
                ("csrf", "forged"),
                ("identifier", "12"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(page.status, 403);
}

// ------------------------------------------- the hub as a relying party

/// Logs in through the rogue provider; returns the last page shown.
async fn through_rogue(federation: &Federation, mode: RogueMode) -> testkit::Response {
    through_rogue_asking(federation, mode, "eidas1").await
}

async fn through_rogue_asking(
    federation: &Federation,
    mode: RogueMode,
    acr: &str,
) -> testkit::Response {
    federation.rogue.set_mode(mode);
    let citizen = Citizen::new();
    let choice = sandbox_page(federation, &citizen, &[("acr_values", acr)]).await;
    let chosen = citizen.choose(&federation.hub, &choice, "rogue").await;
    citizen.follow(chosen, SANDBOX_CALLBACK).await
}

#[tokio::test]
async fn an_unknown_kid_makes_the_hub_refetch_the_keys_once_then_refuse() {
    let federation = Federation::start().await.unwrap();
    through_rogue(&federation, RogueMode::Honest).await;
    assert_eq!(federation.rogue.jwks_fetches(), 1, "keys are cached");
    let page = through_rogue(&federation, RogueMode::UnknownKid).await;
    assert!(page.shows("HUB-PROVIDER-TOKENS"), "{}", page.body);
    assert_eq!(
        federation.rogue.jwks_fetches(),
        1,
        "no refetch within a minute of the last one"
    );
    federation.clock.advance(61);
    through_rogue(&federation, RogueMode::UnknownKid).await;
    assert_eq!(
        federation.rogue.jwks_fetches(),
        2,
        "one refetch for the unknown kid"
    );
}

#[tokio::test]
async fn a_provider_error_brings_the_citizen_back_to_the_choice_with_a_banner() {
    let federation = Federation::start().await.unwrap();
    let page = through_rogue(&federation, RogueMode::ErrorAnswer).await;
    assert!(page.shows("Choisissez un compte"), "{}", page.body);
    assert!(
        page.shows("La connexion à Fournisseur piégé n&#39;a pas été possible"),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn a_level_the_provider_is_not_configured_for_is_refused() {
    let federation = Federation::start().await.unwrap();
    let page = through_rogue(&federation, RogueMode::TooHighAcr).await;
    assert!(page.shows("Choisissez un compte"), "{}", page.body);
    assert!(page.shows("n&#39;a pas été possible"), "{}", page.body);
}

#[tokio::test]
async fn a_level_below_the_request_is_refused_and_never_reaches_the_service() {
    let federation = Federation::builder().plus().start().await.unwrap();
    // The rogue may prove eidas2, but proves eidas1 to an eidas2 request:
    // the citizen is back on the hub's choice page, the service hears nothing.
    let page = through_rogue_asking(&federation, RogueMode::Honest, "eidas2").await;
    assert_eq!(
        page.status, 200,
        "an error page, not a redirect to the service"
    );
    assert!(page.url.starts_with(&federation.hub), "{}", page.url);
    assert!(page.shows("Choisissez un compte"), "{}", page.body);
    assert!(
        page.shows("n&#39;a pas le niveau de sécurité que demande ce service (eidas2)"),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn a_callback_for_another_provider_than_the_one_chosen_is_refused() {
    let federation = Federation::start().await.unwrap();
    let citizen = Citizen::new();
    let choice = sandbox_page(&federation, &citizen, &[]).await;
    let chosen = citizen.choose(&federation.hub, &choice, "impots").await;
    let state = url::Url::parse(chosen.location.as_deref().unwrap())
        .unwrap()
        .query_pairs()
        .find(|(name, _)| name == "state")
        .unwrap()
        .1
        .into_owned();
    // A code arriving at the ameli callback with impots' state: mix-up.
    let page = citizen
        .get(&format!(
            "{}/api/v2/oidc-callback/ameli?code=x&state={state}",
            federation.hub
        ))
        .await;
    assert_eq!(page.status, 400);
    assert!(page.shows("HUB-CALLBACK"));
}

#[tokio::test]
async fn the_discovery_document_is_stable() {
    let federation = Federation::start().await.unwrap();
    let text = reqwest::get(format!(
        "{}/.well-known/openid-configuration",
        federation.issuer
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    let text = text.replace(&federation.hub, "http://hub.test");
    let document: Value = serde_json::from_str(&text).unwrap();
    insta::assert_json_snapshot!("discovery", document);
}

#[tokio::test]
async fn token_endpoint_errors_are_rfc_6749_json() {
    let federation = Federation::start().await.unwrap();
    let (status, body) = redeem(
        &federation,
        &[
            ("grant_type", "password"),
            ("client_id", SANDBOX_ID),
            ("client_secret", SANDBOX_SECRET),
        ],
    )
    .await;
    assert_eq!(status, 400);
    insta::assert_json_snapshot!("token_unsupported_grant_type", body);
    let (status, body) = redeem(
        &federation,
        &[
            ("grant_type", "authorization_code"),
            ("code", "garbage"),
            ("client_id", SANDBOX_ID),
            ("client_secret", SANDBOX_SECRET),
        ],
    )
    .await;
    assert_eq!(status, 400);
    insta::assert_json_snapshot!("token_invalid_code", body);
}

// ------------------------------------------------------- interoperability

/// The certified client library openid-client (npm) logs in as the sandbox
/// service: discovery, PKCE, `iss` in the callback (RFC 9207), code
/// exchange, ID token validation with its signature, signed userinfo.
#[tokio::test]
async fn the_openid_client_library_completes_a_login_and_validates_the_tokens() {
    use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};

    let federation = Federation::start().await.unwrap();
    let interop = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop");
    assert!(
        interop.join("node_modules/openid-client").exists(),
        "node packages missing: run ./scripts/test (it runs npm ci in interop/)"
    );
    let mut node = tokio::process::Command::new("node")
        .arg("openid-client.mjs")
        .args([
            federation.issuer.as_str(),
            SANDBOX_ID,
            SANDBOX_SECRET,
            SANDBOX_CALLBACK,
        ])
        .current_dir(&interop)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node is installed (./scripts/test installs it)");
    let mut lines = BufReader::new(node.stdout.take().unwrap()).lines();
    let first: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    let authorize = first["authorization_url"]
        .as_str()
        .unwrap_or_else(|| panic!("{first}"));

    let citizen = Citizen::new();
    let back = impots_login_at(&federation, &citizen, authorize, SANDBOX_CALLBACK).await;
    let mut stdin = node.stdin.take().unwrap();
    stdin
        .write_all(format!("{}\n", back.location.unwrap()).as_bytes())
        .await
        .unwrap();
    stdin.flush().await.unwrap();

    let result: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    assert!(
        result.get("error").is_none(),
        "openid-client refused: {result}"
    );
    assert_eq!(result["id_token_claims"]["iss"], federation.issuer.as_str());
    assert_eq!(result["id_token_claims"]["acr"], "eidas1");
    assert_eq!(result["userinfo"]["family_name"], "DUPONT");
    assert_eq!(result["userinfo"]["sub"], result["id_token_claims"]["sub"]);
    assert!(node.wait().await.unwrap().success());
}

// ------------------------------------------------- client registrations

const CLIENTS_CALLBACK: &str = "https://service.example.fr/callback";

/// Extra services: one authenticating with `private_key_jwt`, one with
/// RS256 tokens, one with HS256 tokens (FranceConnect legacy), and a second
/// client of the sandbox's entity (the first only when given its keys).
fn extra_services(jwks: Option<&str>) -> String {
    let service = |id: &str, auth: &str, extra: &str| {
        format!(
            "\n[[hub.standard.services]]\nclient_id = \"{id}\"\n{auth}\nname = \"{id}\"\nredirect_uris = [\"{CLIENTS_CALLBACK}\"]\nscopes = [\"openid\", \"identite_pivot\", \"email\", \"preferred_username\"]\nrequire_pkce = false\n{extra}\n"
        )
    };
    let secret = "client_secret = \"a-secret-of-at-least-32-characters-000\"";
    [
        jwks.map(|jwks| service("jwt-client", &format!("jwks = '{jwks}'"), ""))
            .unwrap_or_default(),
        service("rs256-client", secret, "signing_alg = \"RS256\""),
        service("hs256-client", secret, "signing_alg = \"HS256\""),
        service("sandbox-app", secret, "entity_id = \"sandbox\""),
    ]
    .concat()
}

/// Redeems a code as one of the extra services (secret `client_secret_post`).
async fn redeem_as(federation: &Federation, client_id: &str, code: &str) -> (u16, Value) {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", CLIENTS_CALLBACK),
        ("client_id", client_id),
        ("client_secret", "a-secret-of-at-least-32-characters-000"),
    ];
    redeem(federation, &form).await
}

async fn code_for(federation: &Federation, client_id: &str, redirect_uri: &str) -> String {
    let authorize =
        federation.authorize_url(&[("client_id", client_id), ("redirect_uri", redirect_uri)]);
    let citizen = Citizen::new();
    let back = impots_login_at(federation, &citizen, &authorize, redirect_uri).await;
    back.location_params()["code"].clone()
}

fn assertion(
    key: &jose::SigningKey,
    client_id: &str,
    audience: &str,
    jti: &str,
    now: i64,
) -> String {
    let claims = serde_json::json!({"iss": client_id, "sub": client_id, "aud": audience, "jti": jti, "exp": now + 60, "iat": now});
    jose::sign(claims.as_object().unwrap(), key, "JWT").unwrap()
}

#[tokio::test]
async fn a_client_authenticates_with_private_key_jwt_and_an_assertion_cannot_be_replayed() {
    let key = jose::SigningKey::generate(jose::Alg::ES256).unwrap();
    let jwks = jose::KeySet::new(vec![key.clone()])
        .unwrap()
        .public()
        .unwrap()
        .to_json()
        .to_string();
    let federation = Federation::builder()
        .toml(&extra_services(Some(&jwks)))
        .start()
        .await
        .unwrap();
    let now = 1_800_000_000;
    let token_endpoint = format!("{}/token", federation.issuer);
    let type_ = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
    let signed = assertion(&key, "jwt-client", &token_endpoint, "jti-1", now);
    let code = code_for(&federation, "jwt-client", CLIENTS_CALLBACK).await;
    let form = |code: &str, assertion: &str| {
        vec![
            ("grant_type".to_owned(), "authorization_code".to_owned()),
            ("code".to_owned(), code.to_owned()),
            ("redirect_uri".to_owned(), CLIENTS_CALLBACK.to_owned()),
            ("client_assertion_type".to_owned(), type_.to_owned()),
            ("client_assertion".to_owned(), assertion.to_owned()),
        ]
    };
    let post = |form: Vec<(String, String)>| {
        let endpoint = token_endpoint.clone();
        async move {
            reqwest::Client::new()
                .post(endpoint)
                .form(&form)
                .send()
                .await
                .unwrap()
        }
    };
    // A foreign key's assertion is refused and leaves the code usable.
    let stranger = jose::SigningKey::generate(jose::Alg::ES256).unwrap();
    let refused = post(form(
        &code,
        &assertion(&stranger, "jwt-client", &token_endpoint, "jti-0", now),
    ))
    .await;
    assert_eq!(refused.status(), 401);
    let accepted = post(form(&code, &signed)).await;
    assert_eq!(accepted.status(), 200);
    // The same assertion again, even with a fresh code: the jti was used.
    let code = code_for(&federation, "jwt-client", CLIENTS_CALLBACK).await;
    let replayed = post(form(&code, &signed)).await;
    assert_eq!(replayed.status(), 401);
    let body: Value = replayed.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
}

#[tokio::test]
async fn id_tokens_are_signed_with_the_algorithm_each_client_registered() {
    let federation = Federation::builder()
        .toml(&extra_services(None))
        .start()
        .await
        .unwrap();
    let secret = "a-secret-of-at-least-32-characters-000";
    for (client_id, alg) in [("rs256-client", "RS256"), ("hs256-client", "HS256")] {
        let code = code_for(&federation, client_id, CLIENTS_CALLBACK).await;
        let (status, tokens) = redeem_as(&federation, client_id, &code).await;
        assert_eq!(status, 200, "{tokens}");
        let id_token = tokens["id_token"].as_str().unwrap();
        assert_eq!(jose::peek_header(id_token).unwrap().alg.as_str(), alg);
        let claims = match alg {
            "HS256" => jose::verify_hmac(id_token, secret.as_bytes()).unwrap(),
            _ => jose::verify(id_token, &hub_keys(&federation).await, &[jose::Alg::RS256]).unwrap(),
        };
        assert_eq!(claims["aud"], client_id);
    }
}

#[tokio::test]
async fn two_clients_of_one_entity_share_the_sub() {
    let federation = Federation::builder()
        .toml(&extra_services(None))
        .start()
        .await
        .unwrap();
    let (at_sandbox, _) = full_login(&federation, "impots", 1).await;
    let code = code_for(&federation, "sandbox-app", CLIENTS_CALLBACK).await;
    let (status, tokens) = redeem_as(&federation, "sandbox-app", &code).await;
    assert_eq!(status, 200);
    let claims = verified_id_token(&federation, &tokens).await;
    assert_eq!(claims["sub"], at_sandbox["sub"]);
}

#[tokio::test]
async fn the_authorize_endpoint_accepts_post_and_a_revoked_token_no_longer_reads_userinfo() {
    let federation = Federation::start().await.unwrap();
    let citizen = Citizen::new();
    let url = url::Url::parse(&federation.authorize_url(&[])).unwrap();
    let form: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let choice = citizen
        .follow(
            citizen
                .post(&format!("{}/authorize", federation.issuer), &form)
                .await,
            SANDBOX_CALLBACK,
        )
        .await;
    assert!(choice.shows("Choisissez un compte"), "{}", choice.body);

    let params = sandbox_login(&federation, &Citizen::new(), "impots", 1).await;
    let (_, tokens) = sandbox_tokens(&federation, &params["code"]).await;
    let access_token = tokens["access_token"].as_str().unwrap();
    let revoke_as = |token: &str, client: &'static str, secret: &'static str| {
        let endpoint = format!("{}/token/revocation", federation.issuer);
        let form = [
            ("token", token.to_owned()),
            ("client_id", client.to_owned()),
            ("client_secret", secret.to_owned()),
        ];
        async move {
            let answer = reqwest::Client::new().post(endpoint).form(&form).send();
            answer.await.unwrap().status()
        }
    };
    let revoke = |secret: &'static str| revoke_as(access_token, SANDBOX_ID, secret);
    assert_eq!(revoke("wrong").await, 401);
    // Another service, and a token the hub never issued: success, as
    // RFC 7009 §2.2 says, and nothing revoked.
    assert_eq!(
        revoke_as(access_token, DEMO_SP_ID, DEMO_SP_SECRET).await,
        200
    );
    let unknown = "a-token-the-hub-never-issued-0123456789abcdef";
    assert_eq!(revoke_as(unknown, SANDBOX_ID, SANDBOX_SECRET).await, 200);
    assert_eq!(
        userinfo(&federation, access_token).await.status(),
        200,
        "a refused or foreign revocation changes nothing"
    );
    assert_eq!(revoke(SANDBOX_SECRET).await, 200);
    assert_eq!(userinfo(&federation, access_token).await.status(), 401);
}

// ------------------------------------------------------------ scale-out

/// Nothing a login needs lives in a hub process's memory: a login begun on
/// one hub finishes on another that shares only the SQLite file and the
/// keys, each step alternating between the two.
#[tokio::test]
async fn a_login_started_on_one_hub_process_finishes_on_another() {
    let dir =
        std::env::temp_dir().join(format!("passerelle-scale-{}", oidc::types::random_token(6)));
    let federation = Federation::builder()
        .all_on_disk(&dir)
        .start()
        .await
        .unwrap();
    let other = federation.second_hub().await.unwrap();
    let on_other = |url: &str| url.replace(&federation.hub, &other);
    let citizen = Citizen::new();

    // authorize on the first hub, the choice page and the choice on the second
    let authorized = citizen.get(&federation.authorize_url(&[])).await;
    let choice = citizen
        .get(&on_other(&testkit::absolute(
            &authorized.url,
            authorized.location.as_deref().unwrap(),
        )))
        .await;
    assert!(choice.shows("Choisissez un compte"), "{}", choice.body);
    let chosen = citizen.choose(&other, &choice, "impots").await;
    // the provider sends the citizen back to the first hub's callback
    let login_page = citizen.follow(chosen, "").await;
    let csrf = login_page.input("csrf").unwrap();
    let login = federation.login_of("impots", 1);
    let submitted = citizen
        .post(
            &format!("{}/login", federation.url("impots")),
            &[
                ("csrf", &csrf),
                ("identifier", &login),
                ("password", PASSWORD),
            ],
        )
        .await;
    let consent = citizen.follow(submitted, "").await;
    assert!(consent.shows("Continuer sur"), "{}", consent.body);
    // consent on the second hub, code redeemed on the second, userinfo on the first
    let back = citizen.consent(&other, &consent).await;
    let code = back.location_params()["code"].clone();
    let response = reqwest::Client::new()
        .post(format!("{other}/api/v2/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", SANDBOX_CALLBACK),
            ("client_id", SANDBOX_ID),
            ("client_secret", SANDBOX_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.unwrap();
    let claims = userinfo_claims(&federation, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(claims["family_name"], "DUPONT");
    // The federation's workers may still be writing there: a leftover
    // temporary folder is no failure.
    let _ = std::fs::remove_dir_all(dir);
}

// ------------------------------------------------------------ pages, input

#[tokio::test]
async fn the_provider_used_last_comes_first_on_the_choice_page() {
    let federation = Federation::start().await.unwrap();
    let citizen = Citizen::new();
    let first = sandbox_page(&federation, &citizen, &[]).await;
    assert!(
        first.body.find("value=\"impots\"").unwrap() < first.body.find("value=\"ameli\"").unwrap()
    );
    assert!(!first.shows("Dernier utilisé"));
    sandbox_login(&federation, &citizen, "ameli", 1).await;
    let again = sandbox_page(&federation, &citizen, &[("prompt", "login")]).await;
    let ameli = again.body.find("value=\"ameli\"").unwrap();
    assert!(
        ameli < again.body.find("value=\"impots\"").unwrap(),
        "{}",
        again.body
    );
    assert!(again.body[ameli..].contains("Dernier utilisé"));
}

/// Garbage at every endpoint: never a server error, never a crash.
#[tokio::test]
async fn no_input_makes_any_part_fail() {
    let federation = Federation::start().await.unwrap();
    let nasty = [
        "",
        "%",
        "%ff%fe",
        "a=%00&a=%00",
        "client_id=sandbox&client_id=sandbox",
        "client_id=sandbox&redirect_uri=http://localhost:8000/callback&redirect_uri=http://evil.test/",
        "client_id=sandbox&redirect_uri=http://localhost:8000/callback&scope=%E9%E9&state=%ff&nonce=%00",
        "code=%C3%28&grant_type=authorization_code&client_id=sandbox&client_secret=x",
        "client_assertion=a.b.c&client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion=eyJhbGciOiJub25lIn0.eyJpc3MiOiJzYW5kYm94In0.&client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "id_token_hint=a.b.c&post_logout_redirect_uri=http://evil.test/",
        "access_token=%ff",
    ];
    // Long input: 8 KiB in a URL (what HTTP clients send at most), 100 KiB in a body.
    let long_query = format!("state={}", "x".repeat(8_000));
    let long_body = format!("state={}", "x".repeat(100_000));
    let hub = &federation.hub;
    let impots = federation.url("impots");
    let paths = [
        format!("{hub}/api/v2/authorize"),
        format!("{hub}/api/v2/token"),
        format!("{hub}/api/v2/userinfo"),
        format!("{hub}/api/v2/token/revocation"),
        format!("{hub}/api/v2/session/end"),
        format!("{hub}/api/v2/oidc-callback/impots"),
        format!("{hub}/api/v2/oidc-callback/nobody"),
        format!("{hub}/api/v2/client/logout-callback"),
        format!("{hub}/interaction"),
        format!("{hub}/interaction/consent"),
        format!("{impots}/authorize"),
        format!("{impots}/login"),
        format!("{impots}/token"),
        format!("{impots}/session/end"),
        format!("{}/callback", federation.url("demo_sp")),
    ];
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for path in &paths {
        for input in nasty
            .iter()
            .copied()
            .chain([long_query.as_str(), long_body.as_str()])
        {
            let shown = &input[..input.len().min(80)];
            if input.len() <= 10_000 {
                let get = http
                    .get(format!("{path}?{input}"))
                    .header("cookie", "passerelle_hub=%ff; passerelle_idp_impots=x");
                let status = get.send().await.unwrap().status();
                assert!(status.as_u16() < 500, "GET {path}?{shown}: {status}");
            }
            let post = http
                .post(path)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("authorization", "Bearer %ff")
                .body(input.to_owned())
                .send()
                .await
                .unwrap();
            assert!(
                post.status().as_u16() < 500,
                "POST {path} {shown}: {}",
                post.status()
            );
        }
    }
    // Everything still answers.
    full_login(&federation, "impots", 1).await;
}

// ------------------------------------------------------- encrypted tokens

fn encrypted_service(id: &str, key: &jose::DecryptionKey) -> String {
    let jwks = serde_json::json!({"keys": [key.public_key().unwrap().to_json()]}).to_string();
    format!(
        "\n[[hub.standard.services]]\nclient_id = \"{id}\"\nclient_secret = \"a-secret-of-at-least-32-characters-000\"\nname = \"{id}\"\nredirect_uris = [\"{CLIENTS_CALLBACK}\"]\nscopes = [\"openid\", \"identite_pivot\", \"email\", \"preferred_username\"]\nrequire_pkce = false\nencryption_alg = \"{}\"\njwks = '{jwks}'\n",
        key.alg()
    )
}

/// Logs in at an encrypting service; returns (id_token, userinfo) as sent.
async fn encrypted_tokens(federation: &Federation, client_id: &str) -> (String, String) {
    let code = code_for(federation, client_id, CLIENTS_CALLBACK).await;
    let (status, tokens) = redeem_as(federation, client_id, &code).await;
    assert_eq!(status, 200, "{tokens}");
    let response = userinfo(federation, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(response.headers()["content-type"], "application/jwt");
    (
        tokens["id_token"].as_str().unwrap().to_owned(),
        response.text().await.unwrap(),
    )
}

/// A federation with two encrypting services, `ecdh-client` and
/// `rsa-client`, and their decryption keys in that order.
async fn encrypting_federation() -> ([jose::DecryptionKey; 2], Federation) {
    let keys = [
        jose::DecryptionKey::generate(jose::KeyAlg::EcdhEs).unwrap(),
        jose::DecryptionKey::generate(jose::KeyAlg::RsaOaep256).unwrap(),
    ];
    let extra =
        encrypted_service("ecdh-client", &keys[0]) + &encrypted_service("rsa-client", &keys[1]);
    let federation = Federation::builder().toml(&extra).start().await.unwrap();
    (keys, federation)
}

/// Asserts the ID token of a token response is encrypted to `encryption`
/// and that key decrypts it.
#[track_caller]
fn assert_id_token_encrypted_to(tokens: &Value, encryption: &jose::DecryptionKey) {
    let id_token = tokens["id_token"].as_str().unwrap();
    assert_eq!(
        jose::peek_jwe_header(id_token).unwrap().kid.as_deref(),
        Some(encryption.kid())
    );
    jose::decrypt(
        id_token,
        std::slice::from_ref(encryption),
        &jose::KeyAlg::ALL,
    )
    .unwrap();
}

#[tokio::test]
async fn tokens_of_an_encrypting_service_are_signed_then_encrypted_to_its_key() {
    let (keys, federation) = encrypting_federation().await;
    let hub_keys = hub_keys(&federation).await;
    for (client_id, key) in [("ecdh-client", &keys[0]), ("rsa-client", &keys[1])] {
        let (id_token, userinfo) = encrypted_tokens(&federation, client_id).await;
        for token in [&id_token, &userinfo] {
            let header = jose::peek_jwe_header(token).unwrap();
            assert_eq!(
                (header.alg, header.kid.as_deref(), header.cty.as_deref()),
                (key.alg(), Some(key.kid()), Some("JWT"))
            );
            let inner = String::from_utf8(
                jose::decrypt(token, std::slice::from_ref(key), &jose::KeyAlg::ALL).unwrap(),
            )
            .unwrap();
            let claims = jose::verify(&inner, &hub_keys, &[jose::Alg::ES256]).unwrap();
            assert_eq!(claims["aud"], client_id);
        }
        let inner =
            jose::decrypt(&userinfo, std::slice::from_ref(key), &jose::KeyAlg::ALL).unwrap();
        let claims = jose::verify(
            std::str::from_utf8(&inner).unwrap(),
            &hub_keys,
            &[jose::Alg::ES256],
        )
        .unwrap();
        assert_eq!(claims["family_name"], "DUPONT");
    }
}

/// A service publishing its keys at a `jwks_uri`, authenticating with
/// `private_key_jwt` and receiving encrypted tokens, then rotating its keys.
#[tokio::test]
async fn a_service_publishing_its_keys_is_read_at_its_jwks_uri_and_its_rotation_followed() {
    let set = |signing: &jose::SigningKey, encryption: &jose::DecryptionKey| {
        serde_json::json!({"keys": [
            signing.public_key().unwrap().to_json(),
            encryption.public_key().unwrap().to_json(),
        ]})
        .to_string()
    };
    let (signing, encryption) = (
        jose::SigningKey::generate(jose::Alg::ES256).unwrap(),
        jose::DecryptionKey::generate(jose::KeyAlg::EcdhEs).unwrap(),
    );
    let publisher = testkit::KeyPublisher::start(&set(&signing, &encryption))
        .await
        .unwrap();
    let extra = format!(
        "\n[[hub.standard.services]]\nclient_id = \"published\"\nname = \"published\"\nredirect_uris = [\"{CLIENTS_CALLBACK}\"]\nscopes = [\"openid\", \"identite_pivot\", \"email\", \"preferred_username\"]\nrequire_pkce = false\nencryption_alg = \"ECDH-ES\"\njwks_uri = \"{}\"\n",
        publisher.url()
    );
    let federation = Federation::builder().toml(&extra).start().await.unwrap();
    assert_eq!(
        publisher.fetches(),
        0,
        "nothing is fetched before it is needed"
    );
    let token_endpoint = format!("{}/token", federation.issuer);
    let redeem_signed = |key: jose::SigningKey, jti: &'static str| {
        let federation = &federation;
        let token_endpoint = token_endpoint.clone();
        async move {
            let code = code_for(federation, "published", CLIENTS_CALLBACK).await;
            let now = oidc::Clock::now(&federation.clock);
            let signed = assertion(&key, "published", &token_endpoint, jti, now);
            let type_ = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
            redeem(
                federation,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", CLIENTS_CALLBACK),
                    ("client_assertion_type", type_),
                    ("client_assertion", &signed),
                ],
            )
            .await
        }
    };
    let (status, tokens) = redeem_signed(signing.clone(), "jti-1").await;
    assert_eq!(status, 200, "{tokens}");
    assert_id_token_encrypted_to(&tokens, &encryption);
    assert_eq!(
        publisher.fetches(),
        1,
        "one fetch serves the assertion and the encryption"
    );

    // The service rotates both keys. An assertion by the new key names an
    // unknown kid: the set was fetched under a minute ago, so it is refused.
    let (signing, encryption) = (
        jose::SigningKey::generate(jose::Alg::ES256).unwrap(),
        jose::DecryptionKey::generate(jose::KeyAlg::EcdhEs).unwrap(),
    );
    publisher.publish(&set(&signing, &encryption));
    let (status, body) = redeem_signed(signing.clone(), "jti-2").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert_eq!(publisher.fetches(), 1);
    // A minute later the unknown kid makes the hub refetch, and the new
    // encryption key is used.
    federation.clock.advance(61);
    let (status, tokens) = redeem_signed(signing.clone(), "jti-3").await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(publisher.fetches(), 2);
    assert_id_token_encrypted_to(&tokens, &encryption);
    // Only the encryption key changes: the hub sees it once its copy is
    // five minutes old.
    let encryption = jose::DecryptionKey::generate(jose::KeyAlg::EcdhEs).unwrap();
    publisher.publish(&set(&signing, &encryption));
    federation.clock.advance(301);
    let (status, tokens) = redeem_signed(signing, "jti-4").await;
    assert_eq!(status, 200, "{tokens}");
    let id_token = tokens["id_token"].as_str().unwrap();
    assert_eq!(
        jose::peek_jwe_header(id_token).unwrap().kid.as_deref(),
        Some(encryption.kid())
    );
}

/// The independent check: Node's `jose` (not ours) decrypts and verifies
/// the encrypted tokens and reads the same claims.
#[tokio::test]
async fn another_jose_library_decrypts_and_verifies_the_encrypted_tokens() {
    use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};

    let (keys, federation) = encrypting_federation().await;
    let interop = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop");
    for (client_id, key) in [("ecdh-client", &keys[0]), ("rsa-client", &keys[1])] {
        let (id_token, userinfo) = encrypted_tokens(&federation, client_id).await;
        let mut node = tokio::process::Command::new("node")
            .arg("jose-check.mjs")
            .args([key.to_private_json(), format!("{}/jwks", federation.issuer)])
            .current_dir(&interop)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node is installed (./scripts/test installs it)");
        let mut stdin = node.stdin.take().unwrap();
        stdin
            .write_all(format!("{id_token}\n{userinfo}\n").as_bytes())
            .await
            .unwrap();
        drop(stdin);
        let mut lines = BufReader::new(node.stdout.take().unwrap()).lines();
        for (token, expected) in [(&id_token, "nonce"), (&userinfo, "family_name")] {
            let result: Value =
                serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
            assert!(result.get("error").is_none(), "{client_id}: {result}");
            assert_eq!(result["header"]["alg"], key.alg().as_str());
            assert_eq!(result["header"]["enc"], "A256GCM");
            assert_eq!(result["header"]["iss"], federation.issuer.as_str());
            assert_eq!(result["header"]["aud"], client_id);
            let ours = jose::decrypt(token, std::slice::from_ref(key), &jose::KeyAlg::ALL).unwrap();
            let ours = jose::verify(
                std::str::from_utf8(&ours).unwrap(),
                &hub_keys(&federation).await,
                &[jose::Alg::ES256],
            )
            .unwrap();
            assert_eq!(
                result["claims"],
                Value::Object(ours),
                "{client_id}: same claims both ways"
            );
            assert!(result["claims"].get(expected).is_some());
        }
        assert!(node.wait().await.unwrap().success());
    }
}

// ------------------------------------------------------ levels of assurance

#[tokio::test]
async fn an_essential_acr_in_the_claims_parameter_is_honoured() {
    let federation = Federation::start().await.unwrap();
    let essential =
        |level: &str| format!(r#"{{"id_token":{{"acr":{{"essential":true,"value":"{level}"}}}}}}"#);
    let params = refused_back_to_service(
        &federation,
        &[("claims", &essential("eidas2")), ("acr_values", "")],
    )
    .await;
    assert_eq!(params["error"], "invalid_acr");
    let params = refused_back_to_service(&federation, &[("claims", &essential("eidas0"))]).await;
    assert_eq!(params["error"], "invalid_acr");
    let params = refused_back_to_service(&federation, &[("claims", "{not json")]).await;
    assert_eq!(params["error"], "invalid_request");
    let choice = Citizen::new()
        .get(&federation.authorize_url(&[("claims", &essential("eidas1")), ("acr_values", "")]))
        .await;
    assert_eq!(
        choice.location.as_deref(),
        Some("/interaction"),
        "{}",
        choice.body
    );
}

#[tokio::test]
async fn max_age_forces_a_new_authentication_once_exceeded() {
    let federation = Federation::start().await.unwrap();
    let citizen = Citizen::new();
    sandbox_login(&federation, &citizen, "impots", 1).await;
    let within = sandbox_page(&federation, &citizen, &[("max_age", "60")]).await;
    assert!(within.shows("Continuer sur"), "{}", within.body);
    federation.clock.advance(61);
    let beyond = sandbox_page(&federation, &citizen, &[("max_age", "60")]).await;
    assert!(beyond.shows("Choisissez un compte"), "{}", beyond.body);
}

async fn plus_login(federation: &Federation, citizen: &Citizen, acr: &str) -> Map<String, Value> {
    let authorize = federation.authorize_url(&[("acr_values", acr)]);
    let back = impots_login_at(federation, citizen, &authorize, SANDBOX_CALLBACK).await;
    let (status, tokens) = sandbox_tokens(federation, &back.location_params()["code"]).await;
    assert_eq!(status, 200, "{tokens}");
    open_sandbox_token(federation, tokens["id_token"].as_str().unwrap()).await
}

/// A token the (plus) hub sent the sandbox: decrypted with the sandbox's
/// key, then its signature verified.
async fn open_sandbox_token(federation: &Federation, token: &str) -> Map<String, Value> {
    let inner = jose::decrypt(
        token,
        std::slice::from_ref(&federation.sandbox_key),
        &jose::KeyAlg::ALL,
    )
    .unwrap(); // the plus platform encrypts every token
    jose::verify(
        std::str::from_utf8(&inner).unwrap(),
        &hub_keys(federation).await,
        &[jose::Alg::ES256],
    )
    .unwrap()
}

/// Issue 17, point 1: the `idp_id` scope (FranceConnect's) gives the
/// service the provider the person logged in with, shown on the
/// confirmation page by its name.
#[tokio::test]
async fn the_idp_id_scope_names_the_provider_used() {
    let federation = Federation::start().await.unwrap();
    let citizen = Citizen::new();
    let consent = citizen
        .authenticate(
            &federation.authorize_url(&[("scope", "openid given_name idp_id")]),
            &federation.hub,
            "ameli",
            &federation.login_of("ameli", 1),
            PASSWORD,
            SANDBOX_CALLBACK,
        )
        .await;
    assert!(consent.shows("Compte utilisé"), "{}", consent.body);
    let back = citizen.consent(&federation.hub, &consent).await;
    let (_, tokens) = sandbox_tokens(&federation, &back.location_params()["code"]).await;
    let claims = userinfo_claims(&federation, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(claims["idp_id"], "ameli");
    assert!(claims.get("family_name").is_none(), "{claims:?}");
}

/// Issue 17, point 1: `amr`, how the person authenticated, comes from the
/// provider (`pwd` for a password) and reaches a service registered for it
/// that asks, by its scope or the claims request; never one that does not.
#[tokio::test]
async fn amr_is_carried_from_the_provider_to_a_service_that_asks_for_it() {
    let federation = Federation::start().await.unwrap();
    let amr_of = |overrides: Vec<(&'static str, &'static str)>| {
        let url = federation.authorize_url(&overrides);
        let federation = &federation;
        async move {
            let back = impots_login_at(federation, &Citizen::new(), &url, SANDBOX_CALLBACK).await;
            let (_, tokens) = sandbox_tokens(federation, &back.location_params()["code"]).await;
            verified_id_token(federation, &tokens)
                .await
                .get("amr")
                .cloned()
        }
    };
    assert_eq!(
        amr_of(vec![("scope", "openid given_name amr")]).await,
        Some(serde_json::json!(["pwd"]))
    );
    assert_eq!(
        amr_of(vec![
            ("scope", "openid given_name"),
            ("claims", r#"{"id_token":{"amr":{"essential":true}}}"#),
        ])
        .await,
        Some(serde_json::json!(["pwd"]))
    );
    assert_eq!(amr_of(vec![("scope", "openid given_name")]).await, None);
    // A service not registered for amr cannot ask for it.
    let federation = Federation::builder()
        .toml(&policy_service("plain", ""))
        .start()
        .await
        .unwrap();
    let refused = Citizen::new()
        .get(&federation.authorize_url(&[
            ("client_id", "plain"),
            ("redirect_uri", CLIENTS_CALLBACK),
            ("scope", "openid amr"),
        ]))
        .await;
    assert!(
        refused
            .location
            .as_deref()
            .is_some_and(|location| location.starts_with(CLIENTS_CALLBACK)),
        "{:?}",
        refused.location
    );
    assert_eq!(refused.location_params()["error"], "invalid_scope");
}

/// Issue 17, point 1: an unknown scope is dropped, as FranceConnect drops
/// it: the login goes on with the known ones, and the token's `scope` does
/// not name it.
#[tokio::test]
async fn an_unknown_scope_is_ignored_as_franceconnect_ignores_it() {
    let federation = Federation::start().await.unwrap();
    let back = impots_login_at(
        &federation,
        &Citizen::new(),
        &federation.authorize_url(&[("scope", "openid given_name scope_de_demain")]),
        SANDBOX_CALLBACK,
    )
    .await;
    let (status, tokens) = sandbox_tokens(&federation, &back.location_params()["code"]).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["scope"], "given_name openid");
}

/// Issue 17: the demo's sandboxes take a FranceConnect integration as it
/// is, on both platforms, from the authorize request to userinfo: no PKCE,
/// `client_secret_post`, FranceConnect's parameters and scopes (on the plus
/// platform its `rnipp_*` ones too), only the base URL changed.
#[tokio::test]
async fn a_franceconnect_integration_logs_in_on_both_platforms_without_pkce() {
    // The plus sandbox publishes its key at localhost:8000 for the people
    // who try it; here it is registered inline.
    let key = jose::DecryptionKey::generate(jose::KeyAlg::EcdhEs).unwrap();
    let jwks = serde_json::json!({ "keys": [key.public_key().unwrap().to_json()] });
    let federation = Federation::builder()
        .edit(move |config| {
            let sandbox = config.hub.values_mut().flat_map(|hub| &mut hub.services);
            for service in sandbox.filter(|service| service.client_id == "sandbox-plus") {
                service.jwks_uri = None;
                service.jwks = Some(jwks.to_string());
            }
        })
        .start()
        .await
        .unwrap();
    let pivot = "given_name family_name birthdate gender birthplace birthcountry";
    for (base, client, secret, acr, provider, scope) in [
        (
            &federation.hub,
            SANDBOX_ID,
            SANDBOX_SECRET,
            "eidas1",
            "impots",
            format!("openid {pivot} email idp_birthdate"),
        ),
        (
            &federation.hub_plus,
            "sandbox-plus",
            "sandbox-plus-secret-0123456789abcdef0123456",
            "eidas2",
            "laposte",
            format!("openid {pivot} email rnipp_identite_pivot"),
        ),
    ] {
        let url = url::Url::parse_with_params(
            &format!("{base}/api/v2/authorize"),
            [
                ("response_type", "code"),
                ("client_id", client),
                ("redirect_uri", SANDBOX_CALLBACK),
                ("scope", scope.as_str()),
                ("state", "0123456789abcdef0123456789abcdef"),
                ("nonce", "fedcba9876543210fedcba9876543210"),
                ("acr_values", acr),
                ("prompt", "login consent"),
            ],
        )
        .unwrap();
        let back = Citizen::new()
            .log_in(
                url.as_str(),
                base,
                provider,
                &federation.login_of(provider, 1),
                PASSWORD,
                SANDBOX_CALLBACK,
            )
            .await;
        let params = back.location_params();
        assert_eq!(params["state"], "0123456789abcdef0123456789abcdef");
        assert_eq!(params["iss"], format!("{base}/api/v2"));
        let tokens: Value = reqwest::Client::new()
            .post(format!("{base}/api/v2/token"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &params["code"]),
                ("redirect_uri", SANDBOX_CALLBACK),
                ("client_id", client),
                ("client_secret", secret),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let keys = jose::PublicKeySet::from_json(
            &reqwest::get(format!("{base}/api/v2/jwks"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        )
        .unwrap();
        // The plus platform signs then encrypts; the standard one signs.
        let open = |token: &str| {
            let signed = if token.split('.').count() == 5 {
                String::from_utf8(
                    jose::decrypt(token, std::slice::from_ref(&key), &jose::KeyAlg::ALL).unwrap(),
                )
                .unwrap()
            } else {
                token.to_owned()
            };
            jose::verify(&signed, &keys, &[jose::Alg::ES256]).unwrap()
        };
        let id_token = open(tokens["id_token"].as_str().expect("an ID token"));
        assert_eq!(id_token["acr"], acr);
        assert_eq!(id_token["nonce"], "fedcba9876543210fedcba9876543210");
        let userinfo = reqwest::Client::new()
            .get(format!("{base}/api/v2/userinfo"))
            .bearer_auth(tokens["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let claims = open(&userinfo);
        let citizen = federation.running.citizens[0].pivot();
        assert_eq!(claims["sub"], id_token["sub"]);
        assert_eq!(claims["family_name"], citizen.family_name.as_str());
        assert_eq!(claims["birthdate"], citizen.birthdate.as_str());
        if client == SANDBOX_ID {
            assert_eq!(claims["idp_birthdate"], citizen.birthdate.as_str());
            assert!(claims.get("rnipp_family_name").is_none());
        } else {
            // The provider's identity, and the register's beside it.
            assert_eq!(claims["rnipp_family_name"], citizen.family_name.as_str());
            assert_eq!(claims["rnipp_birthplace"], citizen.birthplace.as_str());
            assert!(claims["rnipp_given_name_array"].is_array(), "{claims:?}");
            assert!(claims.get("idp_birthdate").is_none());
        }
    }
    // Each platform drops the other's scopes, as an unknown scope.
    let citizen = Citizen::new();
    let dropped = sandbox_page(
        &federation,
        &citizen,
        &[("scope", "openid given_name rnipp_birth")],
    )
    .await;
    assert!(dropped.shows("Choisissez un compte"), "{}", dropped.body);
    let discovery: Value = reqwest::get(format!(
        "{}/.well-known/openid-configuration",
        federation.issuer
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let scopes = discovery["scopes_supported"].as_array().unwrap();
    assert!(scopes.contains(&Value::from("idp_birthdate")));
    assert!(scopes.contains(&Value::from("dgfip_rfr")));
    assert!(!scopes.contains(&Value::from("rnipp_birth")));
}

/// Issue 17, point 1: a provider's presumed birth date (`YYYY-MM-00`) is
/// accepted as FranceConnect accepts it: services read the first of the
/// month in `birthdate`, and the date as the provider wrote it in
/// `idp_birthdate`, which the confirmation page names.
#[tokio::test]
async fn a_presumed_birth_date_is_released_as_a_first_day_and_idp_birthdate_keeps_it() {
    let federation = Federation::start().await.unwrap();
    federation.rogue.set_mode(RogueMode::PresumedBirthdate);
    let person = testkit::presumed_citizen().unwrap().pivot();
    let citizen = Citizen::new();
    let choice = sandbox_page(
        &federation,
        &citizen,
        &[("scope", "openid identite_pivot idp_birthdate")],
    )
    .await;
    let consent = citizen
        .follow(
            citizen.choose(&federation.hub, &choice, "rogue").await,
            SANDBOX_CALLBACK,
        )
        .await;
    assert!(
        consent.shows("Date de naissance déclarée au compte"),
        "{}",
        consent.body
    );
    let back = citizen.consent(&federation.hub, &consent).await;
    let (_, tokens) = sandbox_tokens(&federation, &back.location_params()["code"]).await;
    let claims = userinfo_claims(&federation, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(claims["birthdate"], person.birthdate.as_str());
    let presumed = format!("{}00", &person.birthdate[..8]);
    assert_eq!(claims["idp_birthdate"], presumed.as_str());
    assert_eq!(claims["family_name"], person.family_name.as_str());
}

/// A service registered for the tax data provider's scopes, and a second
/// data provider (health insurance) whose answers are encrypted.
fn data_clients(key: &jose::DecryptionKey) -> String {
    let jwks = serde_json::json!({ "keys": [key.public_key().unwrap().to_json()] });
    format!(
        "{}\n[[hub.standard.data_providers]]\nclient_id = \"donnees-sante\"\nclient_secret = \"donnees-sante-secret-0123456789abcdef01\"\nname = \"Assurance maladie (démo)\"\nencryption_alg = \"ECDH-ES\"\njwks = '{jwks}'\n[[hub.standard.data_providers.scopes]]\nname = \"cnam_caisse\"\nlabel = \"Caisse d'assurance maladie\"\n",
        policy_service("fd-client", "",).replace(
            "\"preferred_username\"]",
            "\"preferred_username\", \"dgfip_rfr\", \"dgfip_nbpart\", \"cnam_caisse\"]"
        )
    )
}

async fn checktoken(federation: &Federation, form: &[(&str, &str)]) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/checktoken", federation.issuer))
        .form(form)
        .send()
        .await
        .unwrap()
}

/// What the tax data provider reads of a token, verified as the hub's.
async fn introspect_as_tax(federation: &Federation, token: &str) -> Map<String, Value> {
    let answer = checktoken(
        federation,
        &[
            ("token", token),
            ("client_id", "donnees-fiscales"),
            ("client_secret", "donnees-fiscales-secret-0123456789abcdef"),
        ],
    )
    .await;
    assert_eq!(answer.status(), 200);
    assert_eq!(
        answer.headers()["content-type"],
        "application/token-introspection+jwt"
    );
    let jwt = answer.text().await.unwrap();
    let claims = jose::verify(&jwt, &hub_keys(federation).await, &[jose::Alg::ES256]).unwrap();
    assert_eq!(claims["iss"], federation.issuer.as_str());
    assert_eq!(claims["aud"], "donnees-fiscales");
    claims["token_introspection"].as_object().unwrap().clone()
}

/// Issue 17, point 3: a data provider checks at `/api/v2/checktoken` the
/// token a service hands it, with its own credentials: the service, the
/// validity, its own scopes, its own `sub` and the identity, signed (and
/// encrypted to one registered for it). It learns nothing of a token
/// without its scopes, nor of an expired or revoked one; a service's
/// credentials are not a data provider's. The confirmation page names the
/// data and who gives it.
#[tokio::test]
async fn a_data_provider_reads_the_tokens_carrying_its_scopes_at_checktoken() {
    let health_key = jose::DecryptionKey::generate(jose::KeyAlg::EcdhEs).unwrap();
    let federation = Federation::builder()
        .toml(&data_clients(&health_key))
        .start()
        .await
        .unwrap();
    let login = |scope: &'static str| {
        let federation = &federation;
        async move {
            let citizen = Citizen::new();
            let authorize = federation.authorize_url(&[
                ("client_id", "fd-client"),
                ("redirect_uri", CLIENTS_CALLBACK),
                ("scope", scope),
            ]);
            let consent =
                impots_consent_at(federation, &citizen, &authorize, CLIENTS_CALLBACK).await;
            let back = citizen.consent(&federation.hub, &consent).await;
            let (status, tokens) =
                redeem_as(federation, "fd-client", &back.location_params()["code"]).await;
            assert_eq!(status, 200, "{tokens}");
            (consent, tokens)
        }
    };
    let (consent, tokens) = login("openid identite_pivot dgfip_rfr dgfip_nbpart cnam_caisse").await;
    for shown in [
        "Revenu fiscal de référence",
        "Nombre de parts et situation de famille",
        "Administration fiscale (démo)",
        "Caisse d&#39;assurance maladie",
        "Assurance maladie (démo)",
    ] {
        assert!(consent.shows(shown), "{shown}: {}", consent.body);
    }
    let token = tokens["access_token"].as_str().unwrap();
    let seen = introspect_as_tax(&federation, token).await;
    let person = federation.running.citizens[0].pivot();
    assert_eq!(seen["active"], true);
    assert_eq!(seen["aud"], "fd-client");
    assert_eq!(seen["scope"], "dgfip_nbpart dgfip_rfr");
    assert_eq!(seen["acr"], "eidas1");
    assert_eq!(seen["family_name"], person.family_name.as_str());
    assert_eq!(seen["birthdate"], person.birthdate.as_str());
    let now = oidc::Clock::now(&federation.clock);
    assert_eq!(seen["iat"], now);
    assert_eq!(seen["exp"], now + 60);
    let id_token = verified_id_token(&federation, &tokens).await;
    let tax_sub = seen["sub"].as_str().unwrap().to_owned();
    assert_ne!(tax_sub, id_token["sub"].as_str().unwrap());

    // The health data provider's answer is encrypted to it, with its own
    // scope and its own sub.
    let answer = checktoken(
        &federation,
        &[
            ("token", token),
            ("client_id", "donnees-sante"),
            ("client_secret", "donnees-sante-secret-0123456789abcdef01"),
        ],
    )
    .await;
    let jwe = answer.text().await.unwrap();
    assert_eq!(jwe.split('.').count(), 5, "{jwe}");
    let signed =
        jose::decrypt(&jwe, std::slice::from_ref(&health_key), &jose::KeyAlg::ALL).unwrap();
    let health = jose::verify(
        std::str::from_utf8(&signed).unwrap(),
        &hub_keys(&federation).await,
        &[jose::Alg::ES256],
    )
    .unwrap();
    let health = health["token_introspection"].as_object().unwrap();
    assert_eq!(health["scope"], "cnam_caisse");
    assert_ne!(health["sub"].as_str().unwrap(), tax_sub);

    // A token without its scopes: nothing, not even its validity.
    let (_, plain) = login("openid identite_pivot cnam_caisse").await;
    let unseen = introspect_as_tax(&federation, plain["access_token"].as_str().unwrap()).await;
    assert_eq!(
        Value::Object(unseen),
        serde_json::json!({ "active": false })
    );
    // Unknown, then revoked, then expired tokens.
    let unknown = introspect_as_tax(&federation, "a-token-the-hub-never-issued-0123456789").await;
    assert_eq!(unknown["active"], false);
    let (_, revoked) = login("openid dgfip_rfr").await;
    let revoked = revoked["access_token"].as_str().unwrap();
    let answer = reqwest::Client::new()
        .post(format!("{}/token/revocation", federation.issuer))
        .form(&[
            ("token", revoked),
            ("client_id", "fd-client"),
            ("client_secret", "a-secret-of-at-least-32-characters-000"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(
        introspect_as_tax(&federation, revoked).await["active"],
        false
    );
    federation.clock.advance(61);
    assert_eq!(introspect_as_tax(&federation, token).await["active"], false);

    // Bad credentials, and a service's credentials, are refused.
    for (client_id, secret) in [
        (
            "donnees-fiscales",
            "not-the-secret-0123456789abcdef0123456789",
        ),
        ("fd-client", "a-secret-of-at-least-32-characters-000"),
    ] {
        let refused = checktoken(
            &federation,
            &[
                ("token", token),
                ("client_id", client_id),
                ("client_secret", secret),
            ],
        )
        .await;
        assert_eq!(refused.status(), 401, "{client_id}");
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["error"], "invalid_client");
    }
    let no_token = checktoken(
        &federation,
        &[
            ("client_id", "donnees-fiscales"),
            ("client_secret", "donnees-fiscales-secret-0123456789abcdef"),
        ],
    )
    .await;
    assert_eq!(no_token.status(), 400);
}

/// Issue 17, point 2: a `state` and a `nonce` of a few kilobytes, as
/// frameworks send them, go through and come back unchanged.
#[tokio::test]
async fn a_state_and_a_nonce_of_several_kilobytes_go_through() {
    let federation = Federation::start().await.unwrap();
    let state = "s".repeat(3_000);
    let nonce = "n".repeat(3_000);
    let back = impots_login_at(
        &federation,
        &Citizen::new(),
        &federation.authorize_url(&[("state", &state), ("nonce", &nonce)]),
        SANDBOX_CALLBACK,
    )
    .await;
    let params = back.location_params();
    assert_eq!(params["state"], state);
    let (_, tokens) = sandbox_tokens(&federation, &params["code"]).await;
    let claims = verified_id_token(&federation, &tokens).await;
    assert_eq!(claims["nonce"], nonce);
}

/// Issue 17, point 2: on FranceConnect+ an absent or unknown `acr_values`
/// means eidas3 (`config/oidc-acr.ts`); on the standard platform, eidas1.
#[tokio::test]
async fn an_absent_or_unknown_acr_values_asks_the_platform_default_level() {
    let federation = Federation::builder().plus().start().await.unwrap();
    for acr_values in ["", "eidas9 inconnu"] {
        let citizen = Citizen::new();
        let choice = sandbox_page(&federation, &citizen, &[("acr_values", acr_values)]).await;
        assert_eq!(choice.status, 200, "{acr_values:?}: {}", choice.body);
        assert!(
            choice.shows("ne permet pas le niveau de sécurité demandé (eidas3)"),
            "{acr_values:?}: {}",
            choice.body
        );
    }
    let standard = Federation::start().await.unwrap();
    let back = impots_login_at(
        &standard,
        &Citizen::new(),
        &standard.authorize_url(&[("acr_values", "")]),
        SANDBOX_CALLBACK,
    )
    .await;
    let (_, tokens) = sandbox_tokens(&standard, &back.location_params()["code"]).await;
    let claims = verified_id_token(&standard, &tokens).await;
    assert_eq!(claims["acr"], "eidas1");
}

#[tokio::test]
async fn the_plus_platform_offers_eidas2_and_eidas3_and_greys_out_weaker_providers() {
    let federation = Federation::builder().plus().start().await.unwrap();
    let params = refused_back_to_service(&federation, &[("acr_values", "eidas1")]).await;
    assert_eq!(params["error"], "invalid_acr");
    assert_eq!(
        params["error_description"],
        "acr_value is not valid, should be equal one of these values, expected eidas2,eidas3, got eidas1"
    );
    let citizen = Citizen::new();
    let choice = sandbox_page(&federation, &citizen, &[("acr_values", "eidas3")]).await;
    let ameli = choice.body.find("value=\"ameli\"").unwrap();
    assert!(
        choice.body[ameli..].starts_with("value=\"ameli\" disabled"),
        "{}",
        &choice.body[ameli..ameli + 80]
    );
    assert!(choice.shows("ne permet pas le niveau de sécurité demandé (eidas3)"));
    // A weaker provider chosen anyway (a forged form) is refused.
    let forced = citizen.choose(&federation.hub, &choice, "ameli").await;
    assert!(forced.shows("HUB-PROVIDER-UNAVAILABLE"));
}

#[tokio::test]
async fn on_the_plus_platform_single_sign_on_serves_eidas2_only_and_reports_eidas2() {
    let federation = Federation::builder().plus().start().await.unwrap();
    let citizen = Citizen::new();
    let first = plus_login(&federation, &citizen, "eidas3").await;
    assert_eq!(first["acr"], "eidas3", "the level the provider proved");
    // An eidas2 request reuses the session, reported at eidas2.
    let sso = sandbox_page(&federation, &citizen, &[("acr_values", "eidas2")]).await;
    assert!(sso.shows("Continuer sur"), "{}", sso.body);
    let back = citizen.consent(&federation.hub, &sso).await;
    let (_, tokens) = sandbox_tokens(&federation, &back.location_params()["code"]).await;
    let claims = open_sandbox_token(&federation, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(claims["acr"], "eidas2");
    // An eidas3 request authenticates again.
    let again = sandbox_page(&federation, &citizen, &[("acr_values", "eidas3")]).await;
    assert!(again.shows("Choisissez un compte"), "{}", again.body);
}

// ------------------------------------------------------ per-service policy

fn policy_service(id: &str, policy: &str) -> String {
    format!(
        "\n[[hub.standard.services]]\nclient_id = \"{id}\"\nclient_secret = \"a-secret-of-at-least-32-characters-000\"\nname = \"{id}\"\nredirect_uris = [\"{CLIENTS_CALLBACK}\"]\nscopes = [\"openid\", \"identite_pivot\", \"email\", \"preferred_username\"]\nrequire_pkce = false\n{policy}\n"
    )
}

#[tokio::test]
async fn a_service_sees_only_the_providers_it_accepts_and_its_blocked_ones_as_unavailable() {
    let extra = policy_service("only-impots", "providers = [\"impots\"]")
        + &policy_service("no-ameli", "blocked_providers = [\"ameli\"]");
    let federation = Federation::builder().toml(&extra).start().await.unwrap();
    let citizen = Citizen::new();
    let choice = |client: &'static str| {
        let url =
            federation.authorize_url(&[("client_id", client), ("redirect_uri", CLIENTS_CALLBACK)]);
        let citizen = &citizen;
        async move { citizen.open(&url, CLIENTS_CALLBACK).await }
    };
    let only = choice("only-impots").await;
    assert!(
        only.shows("value=\"impots\"") && !only.shows("value=\"ameli\""),
        "{}",
        only.body
    );
    let blocked = choice("no-ameli").await;
    let ameli = blocked.body.find("value=\"ameli\"").unwrap();
    assert!(blocked.body[ameli..].starts_with("value=\"ameli\" disabled"));
    assert!(blocked.shows("Indisponible pour ce service."));
    let forced = citizen.choose(&federation.hub, &blocked, "ameli").await;
    assert!(forced.shows("HUB-PROVIDER-UNAVAILABLE"), "{}", forced.body);
}

#[tokio::test]
async fn a_service_may_ask_single_claims_its_scopes_allow_and_no_other() {
    let extra = policy_service("email-only", "").replace(
        "scopes = [\"openid\", \"identite_pivot\", \"email\", \"preferred_username\"]",
        "scopes = [\"openid\", \"email\"]",
    );
    let federation = Federation::builder().toml(&extra).start().await.unwrap();
    // The sandbox asks email by scope, and family_name and a claim nobody
    // knows one by one: it gets the first two.
    let asked = r#"{"userinfo":{"family_name":null,"shoe_size":{"essential":true}}}"#;
    let authorize = federation.authorize_url(&[("scope", "openid email"), ("claims", asked)]);
    let back = impots_login_at(&federation, &Citizen::new(), &authorize, SANDBOX_CALLBACK).await;
    let (status, tokens) = sandbox_tokens(&federation, &back.location_params()["code"]).await;
    assert_eq!(status, 200, "{tokens}");
    let claims = userinfo_claims(&federation, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(claims["family_name"], "DUPONT");
    assert!(claims.contains_key("email"));
    assert!(!claims.contains_key("given_name") && !claims.contains_key("shoe_size"));
    // A service whose scopes do not cover a claim cannot ask it one by one.
    let refused = Citizen::new()
        .get(&federation.authorize_url(&[
            ("client_id", "email-only"),
            ("redirect_uri", CLIENTS_CALLBACK),
            ("scope", "openid email"),
            ("claims", r#"{"id_token":{"birthdate":null}}"#),
        ]))
        .await;
    assert!(
        refused
            .location
            .as_deref()
            .unwrap()
            .starts_with(CLIENTS_CALLBACK)
    );
    let params = refused.location_params();
    assert_eq!(params["error"], "invalid_request");
    assert_eq!(
        params["error_description"],
        "claim birthdate is not allowed for this client"
    );
}

#[tokio::test]
async fn idp_hint_goes_straight_to_a_provider_the_service_may_name_and_no_other() {
    let extra = policy_service("hinting", "idp_hints = [\"impots\"]");
    let federation = Federation::builder().toml(&extra).start().await.unwrap();
    let hinted = |provider: &'static str| {
        federation.authorize_url(&[
            ("client_id", "hinting"),
            ("redirect_uri", CLIENTS_CALLBACK),
            ("idp_hint", provider),
        ])
    };
    let straight = Citizen::new().get(&hinted("impots")).await;
    let location = straight.location.clone().unwrap_or_default();
    assert!(
        location.starts_with(&format!("{}/authorize", federation.url("impots"))),
        "{location}"
    );
    let refused = Citizen::new().get(&hinted("ameli")).await;
    let params = refused.location_params();
    assert_eq!(
        params["error"], "invalid_idp_hint",
        "{:?}",
        refused.location
    );
    // The sandbox names no hint: any idp_hint is refused for it.
    let params = refused_back_to_service(&federation, &[("idp_hint", "impots")]).await;
    assert_eq!(params["error"], "invalid_idp_hint");
}

/// Issue 17, point 2: a platform-wide `idp_hints` (FranceConnect
/// `Core_ALLOWED_IDP_HINTS`) lets every service name those providers; a
/// service's own list replaces it; a name outside both is refused with
/// `invalid_idp_hint`.
#[tokio::test]
async fn the_platform_idp_hints_serve_every_service_unless_its_own_list_replaces_them() {
    let extra = policy_service("hinting", "idp_hints = [\"impots\"]");
    let federation = Federation::builder()
        .hub(|hub| hub.idp_hints = vec!["ameli".into()])
        .toml(&extra)
        .start()
        .await
        .unwrap();
    let hinted = |client: &str, redirect: &str, provider: &str| {
        federation.authorize_url(&[
            ("client_id", client),
            ("redirect_uri", redirect),
            ("idp_hint", provider),
        ])
    };
    let lands_at = |response: &testkit::Response, provider: &str| {
        response
            .location
            .as_deref()
            .unwrap_or_default()
            .starts_with(&format!("{}/authorize", federation.url(provider)))
    };
    // The sandbox has no list of its own: the platform's.
    let straight = Citizen::new()
        .get(&hinted(SANDBOX_ID, SANDBOX_CALLBACK, "ameli"))
        .await;
    assert!(lands_at(&straight, "ameli"), "{:?}", straight.location);
    let refused = Citizen::new()
        .get(&hinted(SANDBOX_ID, SANDBOX_CALLBACK, "impots"))
        .await;
    assert_eq!(refused.location_params()["error"], "invalid_idp_hint");
    // A service's own list replaces the platform's.
    let own = Citizen::new()
        .get(&hinted("hinting", CLIENTS_CALLBACK, "impots"))
        .await;
    assert!(lands_at(&own, "impots"), "{:?}", own.location);
    let replaced = Citizen::new()
        .get(&hinted("hinting", CLIENTS_CALLBACK, "ameli"))
        .await;
    assert_eq!(replaced.location_params()["error"], "invalid_idp_hint");
    // A platform list naming no provider is a bad setting.
    let error = Federation::builder()
        .hub(|hub| hub.idp_hints = vec!["amelie".into()])
        .start()
        .await
        .unwrap_err();
    assert!(error.to_string().contains("idp_hints"), "{error}");
}

/// Issue 17, point 2: a service registered for it (FranceConnect
/// `allowedPrompts`) that sends `prompt=login` alone gets its code without
/// the confirmation page, the person having just logged in at the
/// provider; with `consent` too, or for another service, the page shows.
#[tokio::test]
async fn prompt_login_alone_skips_the_confirmation_page_for_a_service_allowed_to() {
    let extra = policy_service("autologin", "skip_consent_on_prompt_login = true");
    let federation = Federation::builder().toml(&extra).start().await.unwrap();
    let login = federation.login_of("impots", 1);
    let through = |client: &'static str, callback: &'static str, prompt: &'static str| {
        let url = federation.authorize_url(&[
            ("client_id", client),
            ("redirect_uri", callback),
            ("prompt", prompt),
        ]);
        let (hub, login) = (federation.hub.clone(), login.clone());
        async move {
            Citizen::new()
                .authenticate(&url, &hub, "impots", &login, PASSWORD, callback)
                .await
        }
    };
    let skipped = through("autologin", CLIENTS_CALLBACK, "login").await;
    assert_eq!(skipped.status, 303, "{}", skipped.body);
    let params = skipped.location_params();
    assert!(params.contains_key("code"), "{:?}", skipped.location);
    assert_eq!(params["state"], "state-of-the-service");
    for (client, callback, prompt) in [
        ("autologin", CLIENTS_CALLBACK, "login consent"),
        ("autologin", CLIENTS_CALLBACK, ""),
        (SANDBOX_ID, SANDBOX_CALLBACK, "login"),
    ] {
        let shown = through(client, callback, prompt).await;
        assert!(
            shown.shows("Continuer sur"),
            "{client} {prompt:?}: {:?} {}",
            shown.location,
            shown.body
        );
    }
}

#[tokio::test]
async fn a_policy_naming_an_unknown_provider_is_a_bad_setting() {
    let error = Federation::builder()
        .toml(&policy_service("typo", "blocked_providers = [\"amelie\"]"))
        .start()
        .await
        .unwrap_err();
    assert!(error.to_string().contains("blocked_providers"), "{error}");
}

// ------------------------------------------------------ PostgreSQL + Redis

/// Issue 16, points 1 and 2: the federation on PostgreSQL (a schema per
/// part) and Redis: a login through the hub, single sign-on to the
/// dashboard, a block that ends the session; the hub's durable writes for
/// a brokered login are the trail's entry and the queued email.
#[tokio::test]
async fn the_federation_runs_on_postgresql_and_redis_with_two_durable_writes_per_login() {
    let federation = Federation::builder().on_postgres().start().await.unwrap();
    let durable = |part: &str| federation.running.stores[part].durable_writes();
    let all = |part: &str| federation.running.stores[part].writes();
    let (hub_durable, hub_all, trail) = (
        durable("hub_standard"),
        all("hub_standard"),
        durable("traces"),
    );
    let mails = federation.delivered_mails().await.len();
    full_login(&federation, "impots", 1).await;
    // The mail part's own later writes (claiming, removing) are delivery,
    // not the login: the login queued one message.
    let queued = federation.delivered_mails().await.len() - mails;
    let written = (
        durable("hub_standard") - hub_durable,
        durable("traces") - trail,
        queued,
    );
    assert_eq!(written, (0, 1, 1), "hub, trail, mail");
    assert!(
        all("hub_standard") > hub_all,
        "sessions, codes and tokens went to Redis"
    );
    // The dashboard reads the trail from PostgreSQL; a block ends the
    // session through the same queue.
    let citizen = Citizen::new();
    sandbox_login(&federation, &citizen, "impots", 1).await;
    let home = dashboard_home(&federation, &citizen).await;
    assert!(home.shows("Bonjour Marie DUPONT"), "{}", home.body);
    assert!(federation.delivered_mails().await.len() >= 2);
    federation.drop_postgres().await.unwrap();
}

/// Issue 16, point 3: every part answers `/healthz`, and `/readyz` while
/// its stores answer; with Redis stopped a hub is not ready, nothing
/// panics, and it is ready again once Redis is back.
#[tokio::test]
async fn every_part_answers_healthz_and_readyz_follows_its_stores() {
    let mut redis = testkit::services::OwnRedis::start().await.unwrap();
    let federation = Federation::builder()
        .on_postgres_and(&redis.url())
        .start()
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let status = |url: String| {
        let client = client.clone();
        async move {
            match client
                .get(url)
                .timeout(std::time::Duration::from_secs(10))
                .send()
                .await
            {
                Ok(response) => response.status().as_u16(),
                Err(_) => 0,
            }
        }
    };
    for part in [
        "hub_standard",
        "hub_plus",
        "impots",
        "register",
        "demo_sp",
        "dashboard",
        "wallet",
    ] {
        let base = federation.url(part);
        assert_eq!(status(format!("{base}/healthz")).await, 200, "{part}");
        assert_eq!(status(format!("{base}/readyz")).await, 200, "{part}");
    }
    redis.stop();
    let hub = federation.hub.clone();
    assert_eq!(status(format!("{hub}/readyz")).await, 503);
    assert_eq!(
        status(format!("{hub}/healthz")).await,
        200,
        "alive all the same"
    );
    let page = status(federation.authorize_url(&[])).await;
    assert_eq!(page, 503, "« service indisponible », not a hang");
    redis.start_again().await.unwrap();
    // Each part's connection comes back at its next use, as a load
    // balancer's health checks (every 2 s on /readyz) make it.
    let returned = std::time::Instant::now();
    for part in ["hub_standard", "impots"] {
        let base = federation.url(part);
        let mut ready = false;
        for _ in 0..50 {
            if status(format!("{base}/readyz")).await == 200 {
                ready = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(ready, "{part} ready again after Redis' return");
    }
    assert!(returned.elapsed() < std::time::Duration::from_secs(5));
    full_login(&federation, "impots", 1).await;
    federation.drop_postgres().await.unwrap();
}

/// A service registered with `client_secret_hash`, in a form made at
/// `hub.standard` from `secret`'s text form (hmac) or as an Argon2id PHC.
fn hashed_service(id: &str, hash: &str) -> String {
    format!(
        "\n[[hub.standard.services]]\nclient_id = \"{id}\"\nclient_secret_hash = \"{hash}\"\nname = \"{id}\"\nredirect_uris = [\"{CLIENTS_CALLBACK}\"]\nscopes = [\"openid\", \"identite_pivot\", \"email\", \"preferred_username\"]\nrequire_pkce = false\n"
    )
}

/// Issue 15, point 3: a client secret stored as a keyed hash is checked
/// at the token endpoint in constant time and at full speed; an Argon2id
/// hash of an older config still works, on the bounded pool, and is kept
/// in the keyed form after its first success.
#[tokio::test]
async fn hashed_client_secrets_are_checked_by_their_keyed_hash() {
    use argon2::PasswordHasher as _;
    const SECRET: &str = "a-secret-of-at-least-32-characters-000";
    let key = oidc::client_secret_key("demo-only-pairwise-secret-0123456789abcdef");
    let keyed = oidc::ClientSecret::hash(SECRET, &key);
    let salt = argon2::password_hash::SaltString::encode_b64(b"0123456789abcdef").unwrap();
    let phc = argon2::Argon2::default()
        .hash_password(SECRET.as_bytes(), &salt)
        .unwrap()
        .to_string();
    let extra = hashed_service("keyed", &keyed) + &hashed_service("legacy", &phc);
    let federation = Federation::builder().toml(&extra).start().await.unwrap();
    for client in ["keyed", "legacy"] {
        let code = code_for(&federation, client, CLIENTS_CALLBACK).await;
        let wrong = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", CLIENTS_CALLBACK),
            ("client_id", client),
            ("client_secret", "a-secret-of-at-least-32-characters-001"),
        ];
        let (status, body) = redeem(&federation, &wrong).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client")),
            "{client}"
        );
        let (status, tokens) = redeem_as(&federation, client, &code).await;
        assert_eq!(status, 200, "{client}: {tokens}");
        // Later requests: the keyed hash, even for the Argon2id one.
        let code = code_for(&federation, client, CLIENTS_CALLBACK).await;
        let (status, _) = redeem_as(&federation, client, &code).await;
        assert_eq!(status, 200);
    }
}

/// Issue 16, point 3: Prometheus metrics on an address of their own:
/// logins by platform, provider, level and outcome, errors by code,
/// request latency by part, each part's store round trip, queue depths.
#[tokio::test]
async fn metrics_count_logins_errors_latency_stores_and_queues() {
    let federation = Federation::builder()
        .toml("\n[metrics]\nlisten = \"127.0.0.1:9\"\n")
        .start()
        .await
        .unwrap();
    full_login(&federation, "impots", 1).await;
    // An error page and an OAuth error.
    reqwest::get(format!("{}/interaction", federation.hub))
        .await
        .unwrap();
    redeem(&federation, &[("grant_type", "authorization_code")]).await;
    let metrics = reqwest::get(format!("{}/metrics", federation.url("metrics")))
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    for expected in [
        "passerelle_logins_total{platform=\"standard\",provider=\"impots\",acr=\"eidas1\",outcome=\"success\"} 1",
        "passerelle_errors_total{part=\"hub_standard\",code=\"HUB-SESSION\"} 1",
        "passerelle_errors_total{part=\"hub_standard\",code=\"invalid_client\"} 1",
        "# TYPE passerelle_http_request_duration_seconds histogram",
        "passerelle_http_request_duration_seconds_bucket{part=\"hub_standard\",status=\"3xx\",le=\"+Inf\"}",
        "passerelle_store_ping_seconds{part=\"hub_standard\"}",
        "passerelle_queue_depth{part=\"mail\"}",
    ] {
        assert!(text.contains(expected), "{expected} missing in:\n{text}");
    }
    // Not on the parts' public addresses.
    let public = reqwest::get(format!("{}/metrics", federation.hub))
        .await
        .unwrap();
    assert_eq!(public.status(), 404);
}

/// Issue 16, point 3: a rotation made in the key folder (by `passerelle
/// keys rotate` on any machine sharing it) is served and signed with by a
/// running process at its next reread (every minute), without a restart;
/// the retired key stays published for its grace period.
#[tokio::test]
async fn a_key_rotation_is_taken_by_a_running_process() {
    let dir =
        std::env::temp_dir().join(format!("passerelle-keys-{}", oidc::types::random_token(6)));
    let federation = Federation::builder().on_disk(&dir).start().await.unwrap();
    let before = hub_keys(&federation).await;
    let old_kids: Vec<String> = before
        .keys()
        .iter()
        .map(|key| key.kid().to_owned())
        .collect();
    assert!(
        federation.running.reload_keys().is_empty(),
        "nothing changed yet"
    );
    let now = oidc::Clock::now(&federation.clock);
    let rotation = passerelle::keys::rotate(&dir.join("keys"), "hub_standard", now, 3600).unwrap();
    assert_eq!(
        federation.running.reload_keys(),
        vec!["hub_standard".to_owned()]
    );
    let after = hub_keys(&federation).await;
    let kids: Vec<String> = after
        .keys()
        .iter()
        .map(|key| key.kid().to_owned())
        .collect();
    for kid in rotation.added.iter().chain(&old_kids) {
        assert!(kids.contains(kid), "{kid} not served: {kids:?}");
    }
    full_login(&federation, "impots", 1).await;
    let citizen = Citizen::new();
    let params = sandbox_login(&federation, &citizen, "impots", 1).await;
    let (_, tokens) = sandbox_tokens(&federation, &params["code"]).await;
    let header = jose::peek_header(tokens["id_token"].as_str().unwrap()).unwrap();
    assert!(
        header
            .kid
            .as_ref()
            .is_some_and(|kid| rotation.added.contains(kid)),
        "signed with {:?}, not a new key",
        header.kid
    );
    // Past the grace period, the retired keys go at the next reread.
    federation.clock.advance(3601);
    assert_eq!(
        federation.running.reload_keys(),
        vec!["hub_standard".to_owned()]
    );
    let kids: Vec<String> = hub_keys(&federation)
        .await
        .keys()
        .iter()
        .map(|key| key.kid().to_owned())
        .collect();
    assert!(old_kids.iter().all(|kid| !kids.contains(kid)), "{kids:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 18: the load tool's full logins through the instant provider (the
/// hub's own work, no password to check): each is a whole brokered login,
/// choice page, the provider's tokens verified, the register, consent, code,
/// tokens and userinfo, with nothing failed, each ID token verified, and
/// each login the provider gave an email of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_load_tool_logs_users_in_through_the_instant_provider() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let federation = Federation::builder()
        .toml(&testkit::InstantProvider::hub_config(&issuer))
        .start()
        .await
        .unwrap();
    let people: Vec<_> = federation
        .running
        .citizens
        .iter()
        .take(8)
        .filter(|citizen| citizen.deceased_on.is_none())
        .cloned()
        .collect();
    let clock = std::sync::Arc::new(federation.clock.clone());
    testkit::InstantProvider::start(listener, people, clock)
        .await
        .unwrap();
    let target = testkit::load::Target {
        hub: federation.hub.clone(),
        provider: testkit::INSTANT_ID.into(),
        logins: vec!["unused".into()],
        password: String::new(),
        client_id: SANDBOX_ID.into(),
        client_secret: SANDBOX_SECRET.into(),
        redirect_uri: SANDBOX_CALLBACK.into(),
        sso: false,
    };
    let load = testkit::load::Load::start(target, 2);
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let report = load.stop().await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let logins = report.completed.len();
    assert!(logins > 2, "{logins}");
    // Each through the provider: an email each, naming it.
    let mails = mails_once(&federation, logins).await;
    assert!(mails.len() >= logins, "{} emails", mails.len());
    assert!(
        mails.iter().all(|mail| mail
            .message
            .text
            .contains("Fournisseur instantané (mesures)")),
        "{mails:?}"
    );
}

/// Issue 18: the project's load tool keeps working. A short run in single
/// sign-on: each user's first login is a full one, the next go through the
/// hub's session; every ID token is verified, and nothing fails but a
/// provider saying it is busy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_load_tool_logs_users_in_and_verifies_every_id_token() {
    let federation = Federation::start().await.unwrap();
    let logins = federation
        .running
        .citizens
        .iter()
        .take(6)
        .filter(|citizen| citizen.deceased_on.is_none())
        .map(|citizen| federation.login_of("impots", citizen.id))
        .collect();
    let target = testkit::load::Target {
        hub: federation.hub.clone(),
        provider: "impots".into(),
        logins,
        password: PASSWORD.into(),
        client_id: SANDBOX_ID.into(),
        client_secret: SANDBOX_SECRET.into(),
        redirect_uri: SANDBOX_CALLBACK.into(),
        sso: true,
    };
    let load = testkit::load::Load::start(target.clone(), 3);
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let report = load.stop().await;
    let unexpected: Vec<_> = report
        .failures
        .iter()
        .filter(|failure| failure.kind != testkit::load::Kind::Busy)
        .collect();
    assert!(unexpected.is_empty(), "{unexpected:?}");
    // More logins than users: the later ones were single sign-ons.
    assert!(report.completed.len() > 3, "{}", report.completed.len());
    assert!(report.percentile(50).is_some());

    // The token endpoint alone (`load --tokens`): codes minted ahead, then
    // all redeemed, each ID token verified; every access token reads the
    // userinfo afterwards.
    let minted = testkit::load::Minted::mint(target, 2, 9).await;
    assert_eq!(minted.count(), 9, "{:?}", minted.report.failures);
    let (redeemed, _) = minted.redeem().await;
    assert!(redeemed.failures.is_empty(), "{:?}", redeemed.failures);
    assert_eq!(redeemed.completed.len(), 9);
    let tokens: Vec<String> = redeemed
        .completed
        .iter()
        .map(|redemption| redemption.access_token.clone())
        .collect();
    assert_eq!(
        testkit::load::sessions_refused(&federation.hub, &tokens).await,
        Vec::new()
    );
}
