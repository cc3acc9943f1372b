//! The relying-party side every service shares (`web::rp`), attacked at
//! the demo service's portal: a callback nobody started, a callback at
//! another hub than the one the login went to, a forged state, a logout
//! without the form's token, a logged-out return without our state. Each
//! is refused and signs nobody in or out.

use super::*;

/// Whether the portal knows someone in this browser (`/me` shows the
/// identity; without a login it sends home).
async fn signed_in(citizen: &Citizen, demo_sp: &str) -> bool {
    let me = citizen.get(&format!("{demo_sp}/me")).await;
    me.status == 200 && me.shows("DUPONT")
}

#[tokio::test]
async fn a_callback_nobody_started_signs_nobody_in() {
    let federation = Federation::start().await.unwrap();
    let demo_sp = federation.url("demo_sp").to_owned();
    let citizen = Citizen::new();
    let page = citizen
        .get(&format!(
            "{demo_sp}/callback/standard?code=stolen&state=any"
        ))
        .await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.shows("RP-NO-LOGIN"), "{}", page.body);
    assert!(page.shows("Connexion expirée"));
    assert!(!signed_in(&citizen, &demo_sp).await);
}

#[tokio::test]
async fn a_callback_at_another_hub_or_with_another_state_is_refused_and_the_real_one_still_completes()
 {
    let federation = Federation::start().await.unwrap();
    let demo_sp = federation.url("demo_sp").to_owned();
    let citizen = Citizen::new();
    let start = citizen.get(&format!("{demo_sp}/login/standard")).await;
    assert_eq!(start.status, 303);
    let state = start.location_params()["state"].clone();

    // The standard hub's state, brought back at the plus hub's callback
    // (mix-up): no login is in progress there.
    let mixed = citizen
        .get(&format!("{demo_sp}/callback/plus?code=x&state={state}"))
        .await;
    assert_eq!(mixed.status, 400, "{}", mixed.body);
    assert!(mixed.shows("RP-NO-LOGIN"), "{}", mixed.body);

    // Another state at the right callback: the answer does not verify.
    let forged = citizen
        .get(&format!("{demo_sp}/callback/standard?code=x&state=forged"))
        .await;
    assert_eq!(forged.status, 502, "{}", forged.body);
    assert!(forged.shows("RP-REJECTED"), "{}", forged.body);
    assert!(!signed_in(&citizen, &demo_sp).await);

    // Neither consumed the login in progress: the real answer completes it.
    let back = demo_sp_login(&federation, &citizen, "standard", "impots").await;
    citizen.follow(back, "").await;
    assert!(signed_in(&citizen, &demo_sp).await);
}

#[tokio::test]
async fn a_logout_without_the_form_token_or_our_state_signs_nobody_out() {
    let federation = Federation::start().await.unwrap();
    let demo_sp = federation.url("demo_sp").to_owned();
    let citizen = Citizen::new();
    let back = demo_sp_login(&federation, &citizen, "standard", "impots").await;
    citizen.follow(back, "").await;
    assert!(signed_in(&citizen, &demo_sp).await);

    // A cross-site form: no token, no logout.
    let forged = citizen
        .post(&format!("{demo_sp}/logout"), &[("csrf", "forged")])
        .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert!(forged.shows("RP-FORM-EXPIRED"), "{}", forged.body);
    assert!(signed_in(&citizen, &demo_sp).await);

    // A link to the logged-out page without our state (from another site):
    // nobody is signed out.
    let out = citizen
        .get(&format!("{demo_sp}/logged-out?state=forged"))
        .await;
    assert_eq!(out.status, 303, "{}", out.body);
    assert!(!out.shows("déconnecté"), "{}", out.body);
    assert!(signed_in(&citizen, &demo_sp).await);
    // The hub's session is intact: the next login goes straight to the
    // confirmation page.
    let again = citizen.open(&format!("{demo_sp}/login/standard"), "").await;
    assert!(again.shows("Continuer sur"), "{}", again.body);
}
