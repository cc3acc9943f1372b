//! Issue 15, point 1: single sign-on honours every rule of the provider
//! choice, at each reuse of the session, and a person's block or report
//! ends the sessions already open (the hub's and the services').

use super::*;

/// Service B of the issue: accepts ameli and MSA, blocks impots; may name
/// ameli in `idp_hint`.
fn service_b() -> String {
    policy_service(
        "service-b",
        "providers = [\"ameli\", \"msa\"]\nblocked_providers = [\"impots\"]\nidp_hints = [\"ameli\"]",
    )
}

/// The person blocks `provider` on the dashboard's home page `home`.
async fn block_on_dashboard(
    federation: &Federation,
    citizen: &Citizen,
    home: &testkit::Response,
    provider: &str,
) {
    let saved = citizen
        .post(
            &format!("{}/fournisseurs", federation.url("dashboard")),
            &[
                ("csrf", &home.input("csrf").unwrap()),
                ("blocked", provider),
            ],
        )
        .await;
    assert_eq!(saved.location.as_deref(), Some("/"), "{}", saved.body);
}

/// The person reports the connection numbered `seq` of their trail (« Ce
/// n'était pas moi ») on the dashboard.
async fn report_on_dashboard(
    federation: &Federation,
    owner: &Citizen,
    seq: &str,
) -> testkit::Response {
    let dashboard = federation.url("dashboard");
    let form = owner.get(&format!("{dashboard}/signalement")).await;
    owner
        .post(
            &format!("{dashboard}/signalement"),
            &[("csrf", &form.input("csrf").unwrap()), ("seq", seq)],
        )
        .await
}

/// Asserts that `page` shows `text`, printing the page otherwise.
#[track_caller]
fn assert_shows(page: &testkit::Response, text: &str) {
    assert!(page.shows(text), "{}", page.body);
}

/// The sandbox's authorize request again in `citizen`'s browser, followed
/// up to the page the hub shows.
async fn sandbox_again(federation: &Federation, citizen: &Citizen) -> testkit::Response {
    sandbox_page(federation, citizen, &[]).await
}

/// Service B's federation, and a citizen logged in at the sandbox through impots.
async fn service_b_after_an_impots_login() -> (Federation, Citizen) {
    let federation = Federation::builder()
        .toml(&service_b())
        .start()
        .await
        .unwrap();
    let citizen = Citizen::new();
    sandbox_login(&federation, &citizen, "impots", 1).await;
    (federation, citizen)
}

fn service_b_authorize(federation: &Federation, extra: &[(&str, &str)]) -> String {
    let mut params = vec![
        ("client_id", "service-b"),
        ("redirect_uri", CLIENTS_CALLBACK),
    ];
    params.extend_from_slice(extra);
    federation.authorize_url(&params)
}

#[tokio::test]
async fn single_sign_on_to_a_service_that_refuses_the_sessions_provider_shows_the_choice_and_gives_nothing()
 {
    let (federation, citizen) = service_b_after_an_impots_login().await;
    let page = citizen
        .open(&service_b_authorize(&federation, &[]), CLIENTS_CALLBACK)
        .await;
    assert!(!page.shows("Continuer sur"), "{}", page.body);
    assert_shows(
        &page,
        "Vous êtes connecté(e) avec impots.gouv (démo), que ce service n&#39;accepte pas",
    );
    assert!(page.location.is_none(), "the service is told nothing");
    // A provider it accepts goes through, and B gets its code.
    let consent = citizen
        .authenticate(
            &service_b_authorize(&federation, &[]),
            &federation.hub,
            "ameli",
            &federation.login_of("ameli", 1),
            PASSWORD,
            CLIENTS_CALLBACK,
        )
        .await;
    let back = citizen.consent(&federation.hub, &consent).await;
    assert!(
        back.location_params().contains_key("code"),
        "{:?}",
        back.location
    );
}

#[tokio::test]
async fn idp_hint_under_a_refused_session_goes_to_the_hinted_provider_and_never_to_the_refused_one()
{
    let (federation, citizen) = service_b_after_an_impots_login().await;
    let hinted = citizen
        .get(&service_b_authorize(&federation, &[("idp_hint", "ameli")]))
        .await;
    let location = hinted.location.clone().unwrap_or_default();
    assert!(
        location.starts_with(&format!("{}/authorize", federation.url("ameli"))),
        "{location}"
    );
    let refused = citizen
        .get(&service_b_authorize(&federation, &[("idp_hint", "impots")]))
        .await;
    assert_eq!(refused.location_params()["error"], "invalid_idp_hint");
    assert!(!refused.location_params().contains_key("code"));
}

#[tokio::test]
async fn prompt_login_and_max_age_are_checked_at_each_reuse() {
    let (federation, citizen) = service_b_after_an_impots_login().await;
    let reuse = |extra: &'static [(&'static str, &'static str)]| {
        let url = federation.authorize_url(extra);
        let citizen = &citizen;
        async move { citizen.open(&url, SANDBOX_CALLBACK).await }
    };
    assert!(reuse(&[("max_age", "3600")]).await.shows("Continuer sur"));
    federation.clock.advance(61);
    let fresh = reuse(&[("max_age", "60")]).await;
    assert_shows(&fresh, "Choisissez un compte");
    assert!(!fresh.shows("class=\"pa-alert\""), "no reason to give");
}

/// Browser A reaches the consent page through impots; from another
/// browser the person blocks impots on the dashboard. A's form, posted
/// after, gets no code: the rule is checked again before the code.
#[tokio::test]
async fn a_block_set_while_the_consent_page_is_open_refuses_the_code() {
    let federation = Federation::start().await.unwrap();
    let thief = Citizen::new();
    let authorize = federation.authorize_url(&[]);
    let consent = impots_consent_at(&federation, &thief, &authorize, SANDBOX_CALLBACK).await;
    assert_shows(&consent, "Continuer sur");
    let owner = Citizen::new();
    let home = dashboard_login_with(&federation, &owner, "ameli").await;
    block_on_dashboard(&federation, &owner, &home, "impots").await;
    let refused = thief.consent(&federation.hub, &consent).await;
    let refused = thief.follow(refused, SANDBOX_CALLBACK).await;
    assert!(!refused.location_params().contains_key("code"));
    assert_shows(&refused, "Vous avez bloqué impots.gouv (démo)");
}

/// The second case: the session already open through impots
/// stops serving once impots is blocked, and its services are logged out.
#[tokio::test]
async fn a_block_ends_the_open_session_and_logs_its_services_out_at_once() {
    let federation = Federation::start().await.unwrap();
    let citizen = Citizen::new();
    let back = demo_sp_login(&federation, &citizen, "standard", "impots").await;
    assert!(citizen.follow(back, "").await.shows("DUPONT"));
    let home = dashboard_home(&federation, &citizen).await;
    block_on_dashboard(&federation, &citizen, &home, "impots").await;
    // The demo service was told by back-channel logout.
    wait_logged_out_of_demo_sp(&federation, &citizen).await;
    // The next service opened in that browser gets no confirmation page.
    let next = sandbox_again(&federation, &citizen).await;
    assert_shows(&next, "Choisissez un compte");
    assert!(!next.shows("Continuer sur"));
}

/// A single sign-on to the same service does not file its session again
/// (it is filed for longer than it can live), and a report still ends it.
#[tokio::test]
async fn a_single_sign_on_to_the_same_service_writes_no_filing_and_a_report_still_ends_it() {
    let federation = Federation::start().await.unwrap();
    let thief = Citizen::new();
    sandbox_login(&federation, &thief, "impots", 1).await;
    let before = federation.hub_writes();
    let page = sandbox_again(&federation, &thief).await;
    assert_shows(&page, "Continuer sur");
    let back = thief.consent(&federation.hub, &page).await;
    let (status, _) = sandbox_tokens(&federation, &back.location_params()["code"]).await;
    assert_eq!(status, 200);
    // authorize (the session), consent (the code, the session), token
    // (the code taken, the access token): no filing.
    let writes = federation.hub_writes() - before;
    assert_eq!(writes, 5, "{writes} writes for a single sign-on");
    let owner = Citizen::new();
    dashboard_login_with(&federation, &owner, "ameli").await;
    let reported = report_on_dashboard(&federation, &owner, "2").await;
    assert_shows(&reported, "impots.gouv (démo)");
    let next = sandbox_again(&federation, &thief).await;
    assert_shows(&next, "Choisissez un compte");
}

/// « Ce n'était pas moi »: the thief's sessions through the reported
/// connection's provider end everywhere; the provider is not blocked.
#[tokio::test]
async fn a_report_ends_the_sessions_opened_with_the_reported_provider() {
    let federation = Federation::start().await.unwrap();
    let thief = Citizen::new();
    let back = demo_sp_login(&federation, &thief, "standard", "impots").await;
    assert!(thief.follow(back, "").await.shows("DUPONT"));
    let owner = Citizen::new();
    dashboard_login_with(&federation, &owner, "ameli").await;
    let reported = report_on_dashboard(&federation, &owner, "1").await;
    assert_shows(
        &reported,
        "Toutes les connexions ouvertes avec impots.gouv (démo)",
    );
    wait_logged_out_of_demo_sp(&federation, &thief).await;
    let next = sandbox_again(&federation, &thief).await;
    assert!(!next.shows("Continuer sur"), "{}", next.body);
    // The owner's own session (ameli) goes on; impots is not blocked.
    let dashboard = federation.url("dashboard");
    assert!(owner.get(&format!("{dashboard}/")).await.shows("Bonjour"));
    federation.clock.advance(1);
    sandbox_login(&federation, &Citizen::new(), "impots", 1).await;
}

/// On the plus platform too: a block ends the plus hub's session and its
/// services' (the plus hub reads the same queue).
#[tokio::test]
async fn a_block_ends_the_sessions_of_the_plus_platform_too() {
    let federation = Federation::start().await.unwrap();
    let citizen = Citizen::new();
    let demo_sp = federation.url("demo_sp").to_owned();
    let back = demo_sp_login(&federation, &citizen, "plus", "laposte").await;
    assert!(citizen.follow(back, "").await.shows("DUPONT"));
    let owner = Citizen::new();
    let home = dashboard_login_with(&federation, &owner, "ameli").await;
    block_on_dashboard(&federation, &owner, &home, "laposte").await;
    wait_logged_out_of_demo_sp(&federation, &citizen).await;
    let again = citizen
        .open(&format!("{demo_sp}/login/plus"), "no-stop")
        .await;
    assert!(!again.shows("Continuer sur"), "{}", again.body);
}
