//! Issue 21, part 3: attacks on the running federation, in the attacker's
//! words. Each is refused with a clear error, and changes nothing: no code
//! reaches a service, no session opens, no connection is mailed. The
//! threat model in docs/security.md names, for each attack, this test or
//! the one that already covered it.

use super::*;

/// A provider lies in its ID token, every way a forger tries: `alg: none`,
/// HS256 keyed with its own public key, a key fetched from a `jku`,
/// another audience, expired, issued in the future (and, as before, a
/// changed byte, another issuer, another nonce, a key it does not publish).
#[tokio::test]
async fn an_id_token_forged_in_any_way_is_refused_and_opens_nothing() {
    let federation = Federation::start().await.unwrap();
    let honest = through_rogue(&federation, RogueMode::Honest).await;
    assert!(honest.shows("Continuer sur"), "{}", honest.body);
    for mode in [
        RogueMode::AlgNone,
        RogueMode::HmacKeyedWithThePublicKey,
        RogueMode::KeyFromJku,
        RogueMode::AnotherAudience,
        RogueMode::Expired,
        RogueMode::IssuedInTheFuture,
        RogueMode::TamperedSignature,
        RogueMode::WrongIssuer,
        RogueMode::WrongNonce,
        RogueMode::UnknownKid,
    ] {
        federation.rogue.set_mode(mode);
        well_made(&federation, mode).await;
        refused_and_opens_nothing(&federation, mode).await;
    }
    assert_eq!(federation.rogue.jku_fetches(), 1, "a jku was followed");
    assert!(federation.mails().is_empty(), "a connection was mailed");
}

/// A provider's userinfo lies, every way a front that can change the
/// answer tries: sent unsigned (plain JSON, where the signed answer was
/// expected), a claim changed under the signature, signed for another
/// client, expired, or someone else's. Each is refused as the forged ID
/// tokens are: no code, no session, no mail.
#[tokio::test]
async fn a_userinfo_forged_in_any_way_is_refused_and_opens_nothing() {
    let federation = Federation::start().await.unwrap();
    let honest = through_rogue(&federation, RogueMode::Honest).await;
    assert!(honest.shows("Continuer sur"), "{}", honest.body);
    for mode in [
        RogueMode::UnsignedUserinfo,
        RogueMode::TamperedUserinfo,
        RogueMode::UserinfoForAnotherClient,
        RogueMode::ExpiredUserinfo,
        RogueMode::UserinfoOfSomeoneElse,
    ] {
        federation.rogue.set_mode(mode);
        userinfo_well_made(&federation, mode).await;
        refused_and_opens_nothing(&federation, mode).await;
    }
    assert!(federation.mails().is_empty(), "a connection was mailed");
}

/// A new citizen logs in through the rogue, lying in `mode`: the hub's
/// error page, no redirect, and no session (the next request asks for a
/// provider again).
async fn refused_and_opens_nothing(federation: &Federation, mode: RogueMode) {
    let citizen = Citizen::new();
    let choice = sandbox_page(federation, &citizen, &[]).await;
    let chosen = citizen.choose(&federation.hub, &choice, "rogue").await;
    let page = citizen.follow(chosen, SANDBOX_CALLBACK).await;
    assert!(page.shows("HUB-PROVIDER-TOKENS"), "{mode:?}: {}", page.body);
    assert!(page.location.is_none(), "{mode:?}: {:?}", page.location);
    let again = sandbox_page(federation, &citizen, &[]).await;
    assert!(
        again.shows("Choisissez un compte"),
        "{mode:?}: {}",
        again.body
    );
}

/// Checks that the rogue's userinfo in `mode` is the lie it means: the
/// honest identity unsigned, or a JWT whose only fault is the one named.
async fn userinfo_well_made(federation: &Federation, mode: RogueMode) {
    let rogue = federation.rogue.url();
    let response = reqwest::get(format!("{rogue}/userinfo")).await.unwrap();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = response.text().await.unwrap();
    if mode == RogueMode::UnsignedUserinfo {
        assert!(
            content_type.starts_with("application/json"),
            "{content_type}"
        );
        let claims: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(claims["sub"], "rogue-sub-1");
        assert_eq!(claims["aud"], "passerelle-hub");
        return;
    }
    assert_eq!(content_type, "application/jwt");
    let published = reqwest::get(format!("{rogue}/jwks"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let published = jose::PublicKeySet::from_json(&published).unwrap();
    let verified = jose::verify(&body, &published, &[jose::Alg::ES256]);
    if mode == RogueMode::TamperedUserinfo {
        assert!(verified.is_err(), "the changed claim still verifies");
        return;
    }
    let claims = verified.unwrap();
    let now = oidc::Clock::now(&federation.clock);
    let (aud, sub) = (claims["aud"].as_str(), claims["sub"].as_str());
    match mode {
        RogueMode::UserinfoForAnotherClient => assert_eq!(aud, Some("another-client")),
        RogueMode::ExpiredUserinfo => assert!(claims["exp"].as_i64().unwrap() <= now),
        RogueMode::UserinfoOfSomeoneElse => assert_eq!(sub, Some("rogue-sub-2")),
        _ => unreachable!("{mode:?} is not a userinfo lie"),
    }
    if mode != RogueMode::UserinfoForAnotherClient {
        assert_eq!(aud, Some("passerelle-hub"));
    }
}

/// Checks that the rogue's forgery in `mode` is well made, so that its
/// refusal means something: it verifies, under the key the forger meant.
async fn well_made(federation: &Federation, mode: RogueMode) {
    let rogue = federation.rogue.url();
    let tokens: Value = reqwest::Client::new()
        .post(format!("{rogue}/token"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = tokens["id_token"].as_str().unwrap();
    let header = base64::Engine::decode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        token.split('.').next().unwrap(),
    )
    .unwrap();
    let header: Value = serde_json::from_slice(&header).unwrap();
    let published: Value = reqwest::get(format!("{rogue}/jwks"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let published_set = jose::PublicKeySet::from_json(&published.to_string()).unwrap();
    let now = oidc::Clock::now(&federation.clock);
    let claims = match mode {
        RogueMode::AlgNone => {
            assert_eq!(header["alg"], "none");
            assert!(token.ends_with('.'), "{token}");
            return;
        }
        RogueMode::HmacKeyedWithThePublicKey => {
            assert_eq!(header["alg"], "HS256");
            let secret = published["keys"][0].to_string();
            jose::verify_hmac(token, secret.as_bytes()).unwrap()
        }
        RogueMode::KeyFromJku => {
            let jku = header["jku"].as_str().unwrap();
            assert_eq!(jku, format!("{rogue}/attacker/jwks"));
            let set = reqwest::get(jku).await.unwrap().text().await.unwrap();
            let set = jose::PublicKeySet::from_json(&set).unwrap();
            jose::verify(token, &set, &[jose::Alg::ES256]).unwrap()
        }
        RogueMode::AnotherAudience | RogueMode::Expired | RogueMode::IssuedInTheFuture => {
            jose::verify(token, &published_set, &[jose::Alg::ES256]).unwrap()
        }
        _ => return,
    };
    match mode {
        RogueMode::AnotherAudience => assert_eq!(claims["aud"], "another-client"),
        RogueMode::Expired => assert!(claims["exp"].as_i64().unwrap() <= now),
        RogueMode::IssuedInTheFuture => assert!(claims["iat"].as_i64().unwrap() > now + 60),
        _ => assert_eq!(claims["aud"], "passerelle-hub"),
    }
}

/// Every disguise of a redirect URI an attacker registers nowhere: each
/// gets the hub's error page, never a redirect (to it or anywhere).
#[tokio::test]
async fn a_redirect_uri_in_any_disguise_gets_a_page_and_no_redirect() {
    let federation = Federation::start().await.unwrap();
    for disguise in [
        "http://evil.test/callback",
        "http://localhost:8000/callback/../../evil",
        "http://localhost:8000/callback/",
        "http://localhost:8000/callback?next=http://evil.test/",
        "http://localhost:8000/callback#http://evil.test/",
        "http://localhost:8000@evil.test/callback",
        "http://evil.test\\@localhost:8000/callback",
        "http://evil.test/\\localhost:8000/callback",
        "http://localhost:8000/call\tback",
        "http://localhost:8000/callback\n",
        " http://localhost:8000/callback",
        "//evil.test/callback",
        "/callback",
        "https://localhost:8000/callback",
        "http://localhost:8001/callback",
        "http://localhost.evil.test:8000/callback",
        "http://LOCALHOST:8000/CALLBACK",
        "javascript:alert(1)//localhost:8000/callback",
        "data:text/html,<script>alert(1)</script>",
    ] {
        let page = Citizen::new()
            .get(&federation.authorize_url(&[("redirect_uri", disguise)]))
            .await;
        assert!(
            page.location.is_none(),
            "{disguise:?} was followed to {:?}",
            page.location
        );
        assert_eq!(page.status, 400, "{disguise:?}: {}", page.body);
    }
}

/// The same disguises as a logout's return address, with a genuine ID
/// token: the hub never sends the browser there.
#[tokio::test]
async fn a_post_logout_redirect_uri_in_any_disguise_is_never_followed() {
    let federation = Federation::start().await.unwrap();
    for disguise in [
        "http://evil.test/",
        "http://localhost:8000/../evil",
        "http://localhost:8000/?next=http://evil.test/",
        "http://localhost:8000@evil.test/",
        "http://evil.test\\@localhost:8000/",
        "http://localhost:8000/\t",
        "//evil.test/",
        "https://localhost:8000/",
        "http://localhost:8001/",
        "http://localhost.evil.test:8000/",
    ] {
        let citizen = Citizen::new();
        let back = sandbox_login(&federation, &citizen, "impots", 1).await;
        let (_, tokens) = sandbox_tokens(&federation, &back["code"]).await;
        let mut url = url::Url::parse(&format!("{}/session/end", federation.issuer)).unwrap();
        url.query_pairs_mut()
            .append_pair("id_token_hint", tokens["id_token"].as_str().unwrap())
            .append_pair("post_logout_redirect_uri", disguise)
            .append_pair("state", "bye");
        let mut page = citizen.get(url.as_str()).await;
        // Follow the hub's own pages; stop at the first address elsewhere.
        for _ in 0..10 {
            let Some(location) = page.location.clone() else {
                break;
            };
            let next = testkit::absolute(&page.url, &location);
            assert!(
                next.starts_with(&federation.hub),
                "{disguise:?} sent the browser to {next}"
            );
            page = citizen.get(&next).await;
        }
        assert!(page.status >= 400, "{disguise:?}: {}", page.body);
    }
}

/// Code injection: a code stolen from one service, redeemed by another
/// (its own credentials), or at another redirect URI. Refused; and the
/// stolen code is spent, so the thief's try also kills it for everyone.
#[tokio::test]
async fn a_code_stolen_from_one_service_is_worthless_to_another() {
    let federation = Federation::start().await.unwrap();
    let demo_sp_callback = format!("{}/callback/standard", federation.url("demo_sp"));
    for (client_id, secret, redirect_uri) in [
        (DEMO_SP_ID, DEMO_SP_SECRET, SANDBOX_CALLBACK),
        (DEMO_SP_ID, DEMO_SP_SECRET, demo_sp_callback.as_str()),
        (
            SANDBOX_ID,
            SANDBOX_SECRET,
            "http://localhost:8000/login-callback",
        ),
    ] {
        let back = sandbox_login(&federation, &Citizen::new(), "impots", 1).await;
        let code = &back["code"];
        let (status, body) = redeem(
            &federation,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect_uri),
                ("client_id", client_id),
                ("client_secret", secret),
            ],
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant")),
            "{client_id} at {redirect_uri}: {body}"
        );
        assert!(body.get("access_token").is_none());
        let (status, body) = sandbox_tokens(&federation, code).await;
        assert_eq!(status, 400, "a code tried by a thief still works: {body}");
    }
}

/// PKCE downgrade: a service that sent a challenge cannot have its code
/// redeemed without the verifier, even a service PKCE is optional for;
/// and `plain`, which a thief of the request could answer, is refused.
#[tokio::test]
async fn a_code_issued_under_a_challenge_needs_its_verifier_and_plain_is_refused() {
    let federation = Federation::start().await.unwrap();
    let verifier = "a-verifier-of-at-least-forty-three-characters-456";
    let challenge = oidc::PkceChallenge::of(verifier);
    let plain = Citizen::new()
        .get(&federation.authorize_url(&[
            ("code_challenge", verifier),
            ("code_challenge_method", "plain"),
        ]))
        .await;
    let refused = plain.location_params();
    assert_eq!(
        refused.get("error").map(String::as_str),
        Some("invalid_request"),
        "{plain:?}"
    );
    assert!(!refused.contains_key("code"));

    let login = |with: &'static str| {
        let authorize = federation.authorize_url(&[
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ]);
        let federation = &federation;
        async move {
            let back =
                impots_login_at(federation, &Citizen::new(), &authorize, SANDBOX_CALLBACK).await;
            let code = back.location_params()["code"].clone();
            let mut form = vec![
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", SANDBOX_CALLBACK),
                ("client_id", SANDBOX_ID),
                ("client_secret", SANDBOX_SECRET),
            ];
            if !with.is_empty() {
                form.push(("code_verifier", with));
            }
            redeem(federation, &form).await
        }
    };
    let (status, body) = login("").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let (status, body) = login(verifier).await;
    assert_eq!(status, 200, "{body}");
}

/// Clickjacking: no page of the federation may be framed.
#[tokio::test]
async fn no_page_of_the_federation_may_be_framed() {
    let federation = Federation::start().await.unwrap();
    let pages = [
        federation.authorize_url(&[]),
        format!("{}/", federation.url("impots")),
        format!("{}/", federation.url("demo_sp")),
        format!("{}/", federation.url("dashboard")),
        format!("{}/", federation.hub),
    ];
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for page in pages {
        let response = http.get(&page).send().await.unwrap();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(header("x-frame-options"), "DENY", "{page}");
        assert!(
            header("content-security-policy").contains("frame-ancestors 'none'"),
            "{page}"
        );
    }
}

/// CSRF: the hub's forms posted from another site (no token, or the
/// token of the attacker's own session) are refused, and the victim's
/// login goes no further.
#[tokio::test]
async fn the_hubs_forms_posted_from_another_site_are_refused() {
    let federation = Federation::start().await.unwrap();
    let attacker = Citizen::new();
    let attackers_page = sandbox_page(&federation, &attacker, &[]).await;
    let attackers_token = attackers_page.input("csrf").unwrap();

    let victim = Citizen::new();
    let authorize = federation.authorize_url(&[]);
    let consent = impots_consent_at(&federation, &victim, &authorize, SANDBOX_CALLBACK).await;
    assert!(consent.shows("Continuer sur"), "{}", consent.body);
    for token in ["", attackers_token.as_str()] {
        for (form, fields) in [
            ("consent", vec![("csrf", token)]),
            ("choose", vec![("csrf", token), ("provider", "ameli")]),
        ] {
            let posted = victim
                .post(&format!("{}/interaction/{form}", federation.hub), &fields)
                .await;
            let params = posted.location_params();
            assert!(!params.contains_key("code"), "{form} with {token:?}");
            assert!(
                posted.status >= 400,
                "{form} with {token:?}: {} {}",
                posted.status,
                posted.body
            );
        }
    }
    // The victim's own form still works: nothing was changed.
    let back = victim.consent(&federation.hub, &consent).await;
    assert!(back.location_params().contains_key("code"));
}

/// Oversized bodies: refused before they are read whole, by every part.
#[tokio::test]
async fn an_oversized_body_is_refused_by_every_part() {
    let federation = Federation::start().await.unwrap();
    let body = format!("state={}", "x".repeat(2 * 1024 * 1024));
    let http = reqwest::Client::new();
    for url in [
        format!("{}/token", federation.issuer),
        format!("{}/interaction/choose", federation.hub),
        format!("{}/login", federation.url("impots")),
        format!("{}/token", federation.url("impots")),
    ] {
        let response = http
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 413, "{url}");
    }
}

/// Session fixation: the attacker plants his own session cookies (the
/// hub's and the provider's) in the victim's browser before she logs in.
/// Her login gets new sessions; his cookies open nothing after it.
#[tokio::test]
async fn cookies_planted_before_a_login_open_nothing_after_it() {
    let federation = Federation::start().await.unwrap();
    let attacker = Citizen::new();
    federation.provider_login_page(&attacker, "impots").await;
    let victim = Citizen::new();
    victim.plant_cookies_of(&attacker, &federation.hub);
    let hub_cookie = "passerelle_hub_standard";
    let planted = attacker.cookie(&federation.hub, hub_cookie).unwrap();
    assert_eq!(
        victim.cookie(&federation.hub, hub_cookie),
        Some(planted.clone())
    );
    let back = sandbox_login(&federation, &victim, "impots", 1).await;
    assert!(back.contains_key("code"));
    assert_ne!(victim.cookie(&federation.hub, hub_cookie), Some(planted));
    // The attacker's browser: the choice page again, and at the provider
    // the login form, not her account.
    let again = sandbox_page(&federation, &attacker, &[]).await;
    assert!(again.shows("Choisissez un compte"), "{}", again.body);
    let account = attacker
        .get(&format!("{}/compte", federation.url("impots")))
        .await;
    assert!(!account.shows("DUPONT"), "{}", account.body);
}

/// CSRF beyond the hub: a provider's login form and the dashboard's forms,
/// posted from another site, change nothing.
#[tokio::test]
async fn the_providers_and_the_dashboards_forms_posted_from_another_site_are_refused() {
    let federation = Federation::start().await.unwrap();
    // The provider's login form: a login forced into the victim's browser.
    let victim = Citizen::new();
    federation.provider_login_page(&victim, "impots").await;
    let forced = victim
        .post(
            &format!("{}/login", federation.url("impots")),
            &[
                ("identifier", &federation.login_of("impots", 2)),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert!(forced.status >= 400, "{} {}", forced.status, forced.body);
    assert!(forced.location.is_none(), "{:?}", forced.location);

    // The dashboard: a block and a report forced on its owner.
    let owner = Citizen::new();
    dashboard_login_with(&federation, &owner, "ameli").await;
    let dashboard = federation.url("dashboard");
    for token in ["", "forged-token"] {
        for (form, fields) in [
            ("fournisseurs", vec![("csrf", token), ("blocked", "impots")]),
            ("signalement", vec![("csrf", token), ("seq", "1")]),
        ] {
            let posted = owner.post(&format!("{dashboard}/{form}"), &fields).await;
            assert!(
                posted.status >= 400,
                "{form} with {token:?}: {} {}",
                posted.status,
                posted.body
            );
        }
    }
    // Nothing was blocked: she still logs in through impots.
    let back = sandbox_login(&federation, &Citizen::new(), "impots", 1).await;
    assert!(back.contains_key("code"));
}
