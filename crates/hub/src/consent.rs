//! The consent page ("Continuer sur <service>"), the code, and the way back
//! when the citizen gives up.

use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use oidc::op::{DataGrant, Grant};
use oidc::{ErrorCode, OAuthError};
use serde_json::{Map, Value};

use crate::authorize::{
    answer_saved, load_interaction, page_lang, parse_form, see_other, see_other_saving,
};
use crate::config::Platform;
use crate::errors::HubError;
use crate::flow::{SessionData, SignedIn, Verified};
use crate::notify::{self, Connection};
use crate::pages::render;
use crate::state::Hub;
use crate::sub::pairwise_sub;
use crate::trail;
use crate::{level, policy, revoke};
use web::{Lang, Session};

/// Labels of the claims (French, English), for the consent page.
const LABELS: &[(&str, &str, &str)] = &[
    ("given_name", "Prénoms", "Given names"),
    ("family_name", "Nom de naissance", "Birth name"),
    ("preferred_username", "Nom d'usage", "Usage name"),
    ("birthdate", "Date de naissance", "Date of birth"),
    ("gender", "Sexe", "Sex"),
    ("birthplace", "Lieu de naissance", "Place of birth"),
    ("birthcountry", "Pays de naissance", "Country of birth"),
    ("email", "Adresse électronique", "Email address"),
    ("idp_id", "Compte utilisé", "Account used"),
    (
        "idp_birthdate",
        "Date de naissance déclarée au compte",
        "Date of birth as the account states it",
    ),
    (
        "rnipp_given_name",
        "Prénoms au répertoire national",
        "Given names in the national register",
    ),
    (
        "rnipp_family_name",
        "Nom de naissance au répertoire national",
        "Birth name in the national register",
    ),
    (
        "rnipp_birthdate",
        "Date de naissance au répertoire national",
        "Date of birth in the national register",
    ),
    (
        "rnipp_gender",
        "Sexe au répertoire national",
        "Sex in the national register",
    ),
    (
        "rnipp_birthplace",
        "Lieu de naissance au répertoire national",
        "Place of birth in the national register",
    ),
    (
        "rnipp_birthcountry",
        "Pays de naissance au répertoire national",
        "Country of birth in the national register",
    ),
];

/// A claim as a citizen reads it: a day/month/year date, a word for the
/// gender, the name of a commune or country beside its INSEE code.
fn readable(claim: &str, value: &str, lang: Lang) -> String {
    let claim = claim.trim_start_matches("rnipp_");
    match claim {
        "gender" => match value {
            "female" => lang.pick("Féminin", "Female").to_owned(),
            "male" => lang.pick("Masculin", "Male").to_owned(),
            other => other.to_owned(),
        },
        "birthdate" | "idp_birthdate" => match (value.get(0..4), value.get(5..7), value.get(8..10))
        {
            (Some(year), Some(month), Some(day)) => format!("{day}/{month}/{year}"),
            _ => value.to_owned(),
        },
        "birthplace" if value.is_empty() => {
            lang.pick("Né(e) à l'étranger", "Born abroad").to_owned()
        }
        "birthplace" => match population::cog::commune(value) {
            Some(commune) => format!("{} ({value})", commune.name),
            None => value.to_owned(),
        },
        "birthcountry" => match population::cog::country(value) {
            Some(country) => format!("{} ({value})", country.name),
            None => value.to_owned(),
        },
        _ => value.to_owned(),
    }
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentTemplate<'a> {
    lang: Lang,
    service: &'a str,
    person: String,
    provider: &'a str,
    acr: &'a str,
    shared: Vec<(&'static str, String)>,
    from_providers: Vec<(String, String)>,
    csrf: String,
}

/// What the service receives: the claims its scopes and claims request
/// release. The identity is the register's on the standard platform
/// (FranceConnect's « identité redressée »), the provider's own on the plus
/// one with the register's beside it as `rnipp_*` (FranceConnect+, which
/// tells services to reconcile on `sub`, not on these). Beside the
/// identity: `idp_id`, the provider used, and `idp_birthdate`, the birth
/// date as the provider wrote it.
fn released(
    platform: Platform,
    verified: &Verified,
    scopes: &oidc::Scopes,
    asked: &[String],
) -> Map<String, Value> {
    let pivot = match platform {
        Platform::Standard => &verified.identity,
        Platform::Plus => verified
            .provider_identity
            .as_ref()
            .unwrap_or(&verified.identity),
    };
    let mut claims = Map::new();
    for name in oidc::claims::claims_for(scopes)
        .into_iter()
        .chain(asked.iter().map(String::as_str))
    {
        let value = match name {
            "idp_id" => Some(Value::String(verified.provider.clone())),
            "idp_birthdate" => Some(Value::String(
                verified
                    .idp_birthdate
                    .clone()
                    .unwrap_or_else(|| pivot.birthdate.clone()),
            )),
            _ => match name.strip_prefix("rnipp_") {
                Some(register) => verified.identity.claim(register),
                None => pivot.claim(name),
            },
        };
        if let Some(value) = value {
            claims.insert(name.to_owned(), value);
        }
    }
    claims
}

/// What the granted data provider scopes let them read at checktoken:
/// each one's own `sub` for the person, and the identity pivot. `None`
/// when no scope is a data provider's.
fn data_grant(hub: &Hub, verified: &Verified, scopes: &oidc::Scopes) -> Option<DataGrant> {
    let subs: std::collections::BTreeMap<String, String> = scopes
        .iter()
        .filter_map(|scope| hub.config.data_scope(scope))
        .map(|(provider, _)| {
            let sub = pairwise_sub(
                hub.config.sub_secret.as_bytes(),
                &provider.client_id,
                &verified.identity,
            );
            (provider.client_id.clone(), sub)
        })
        .collect();
    if subs.is_empty() {
        return None;
    }
    let pivot = oidc::Scopes::parse("openid identite_pivot").ok()?;
    Some(DataGrant {
        subs,
        identity: released(hub.config.platform, verified, &pivot, &[]),
    })
}

/// `GET /interaction/consent`: the page, or, for a service allowed to
/// skip it that sent `prompt=login` alone, the code at once
/// (FranceConnect's `/auto-login`).
pub async fn page(State(hub): State<Arc<Hub>>, headers: HeaderMap) -> Response {
    let session = match load_interaction(&hub, &headers).await {
        Ok(session) => session,
        Err(error) => return error.into_response(),
    };
    let skips = session.data.interaction.as_ref().is_some_and(|request| {
        request.prompt.login
            && !request.prompt.consent
            && !session.data.sso
            && hub
                .service(&request.client_id)
                .is_some_and(|service| service.skip_consent_on_prompt_login)
    });
    if skips {
        return match issue(&hub, &headers, None).await {
            Ok(response) => response,
            Err(error) => error.into_response(),
        };
    }
    consent_page(&hub, &headers, &session)
}

/// The consent page of the login in `session`: at `GET /interaction/consent`,
/// and at the authorization endpoint itself in single sign-on.
pub fn consent_page(hub: &Hub, headers: &HeaderMap, session: &Session<SessionData>) -> Response {
    let (Some(request), Some(verified)) = (&session.data.interaction, &session.data.verified)
    else {
        return HubError::NoInteraction.into_response();
    };
    let service = hub
        .provider
        .client(&request.client_id)
        .map_or("", |client| client.name.as_str());
    let provider = hub
        .identity_provider(&verified.provider)
        .map_or("", |idp| idp.config.name.as_str());
    let released = released(
        hub.config.platform,
        verified,
        &request.scopes,
        &request.claims,
    );
    let lang = page_lang(headers, session);
    let from_providers = request
        .scopes
        .iter()
        .filter_map(|scope| hub.config.data_scope(scope))
        .map(|(provider, scope)| {
            let label = match lang {
                Lang::En => scope.label_en.as_deref().unwrap_or(&scope.label),
                Lang::Fr => &scope.label,
            };
            (label.to_owned(), provider.name.clone())
        })
        .collect();
    let shared = LABELS
        .iter()
        .filter_map(|(claim, french, english)| match released.get(*claim) {
            Some(Value::String(_)) if *claim == "idp_id" => {
                Some((lang.pick(french, english), provider.to_owned()))
            }
            Some(Value::String(value)) => {
                Some((lang.pick(french, english), readable(claim, value, lang)))
            }
            _ => None,
        })
        .collect();
    let person = format!(
        "{} {}",
        verified.identity.given_name, verified.identity.family_name
    );
    let template = ConsentTemplate {
        lang,
        service,
        person,
        provider,
        acr: verified.acr.as_str(),
        shared,
        from_providers,
        csrf: session.csrf_token(),
    };
    let title = format!("{} {service}", lang.pick("Continuer sur", "Continue to"));
    render(&template, &title, lang, Some("/interaction/consent"))
}

/// `POST /interaction/consent`: issue the code and go back to the service.
pub async fn accept(State(hub): State<Arc<Hub>>, headers: HeaderMap, body: Bytes) -> Response {
    match issue(&hub, &headers, Some(&body)).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

/// Issues the code: from the page's form (`body`, its CSRF token checked),
/// or with no form when the page is skipped.
async fn issue(hub: &Hub, headers: &HeaderMap, body: Option<&[u8]>) -> Result<Response, HubError> {
    let mut session = load_interaction(hub, headers).await?;
    if let Some(body) = body {
        parse_form(&session, body)?;
    }
    let (Some(request), Some(verified)) = (
        session.data.interaction.take(),
        session.data.verified.clone(),
    ) else {
        return Err(HubError::NoInteraction);
    };
    let client = hub
        .provider
        .client(&request.client_id)
        .ok_or(HubError::NoInteraction)?;
    // The rules again, right before the code: the page may have been open
    // while the person blocked the provider or ended its sessions. Their
    // settings are read with their trail's head, which the entry chains
    // onto.
    let person = trail::person(hub, &verified.identity).await;
    if let Err(refusal) = policy::check_login_given(hub, &request, &verified, &person.settings) {
        tracing::info!(?refusal, provider = %verified.provider, "code refused by the rules");
        hub.count_login(&verified.provider, request.acr.as_str(), refusal.outcome());
        session.data.banner = refusal.banner(hub, &verified.provider, request.acr);
        session.data.verified = None;
        session.data.interaction = Some(request);
        return Ok(see_other_saving(hub, &session, "/interaction").await);
    }
    let acr = level::reported(
        hub.config.platform,
        &hub.provider.settings().acr_offered,
        request.acr,
        verified.acr,
        session.data.sso,
    );
    let grant = Grant {
        client_id: client.client_id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        scopes: request.scopes.clone(),
        nonce: request.nonce.clone(),
        acr,
        auth_time: verified.auth_time,
        sub: pairwise_sub(
            hub.config.sub_secret.as_bytes(),
            &client.entity_id,
            &verified.identity,
        ),
        claims: released(
            hub.config.platform,
            &verified,
            &request.scopes,
            &request.claims,
        ),
        pkce: request.pkce.clone(),
        // `amr` when the service asks for it (its scope, or the claims
        // request) and is registered for it (FranceConnect
        // `overrideClaimAmrMiddleware`): how the person authenticated.
        amr: if (request.scopes.contains("amr")
            || request.claims.iter().any(|claim| claim == "amr"))
            && client.scopes.contains("amr")
        {
            verified.amr.clone()
        } else {
            Vec::new()
        },
        data: data_grant(hub, &verified, &request.scopes),
        token_issued_at: None,
    };
    // What must last is written first, the trail's entry and the
    // connection email: when the database cannot take them, the login
    // stops here (503) and no service holds a code for a connection the
    // person was never told of.
    let trace = trail::record_connection(
        hub,
        &verified,
        &person,
        &client.client_id,
        &client.name,
        acr,
    )
    .await?;
    let connection = Connection {
        verified: &verified,
        service: &client.name,
        acr,
        trace: trace.as_ref(),
    };
    let device = notify::connection(hub, headers, &connection).await?;
    let signed_in = SignedIn {
        client_id: grant.client_id.clone(),
        sub: grant.sub.clone(),
    };
    if !session.data.signed_in.contains(&signed_in) {
        session.data.signed_in.push(signed_in);
    }
    // The code and the session, which no longer holds the request, are
    // written at once: one round trip to Redis. When the code cannot be
    // written the login stops (503) as it did; the session saved beside it
    // has lost only a request that the service's next one replaces.
    let (location, saved) = tokio::join!(hub.provider.issue_code(&grant, &request.state), async {
        revoke::file_session(hub, &mut session).await;
        hub.sessions.save(&session).await
    });
    let location = location.map_err(|error| {
        tracing::error!(%error, "code could not be issued");
        HubError::Storage
    })?;
    tracing::info!(client_id = %client.client_id, provider = %verified.provider, %acr, "code issued");
    hub.count_login(&verified.provider, acr.as_str(), "success");
    let mut response = answer_saved(saved, see_other(&location, None));
    if let Some(device) = device {
        response.headers_mut().append(header::SET_COOKIE, device);
    }
    Ok(response)
}

/// `POST /interaction/abort`: the citizen goes back to the service, which
/// receives `access_denied`.
pub async fn abort(State(hub): State<Arc<Hub>>, headers: HeaderMap, body: Bytes) -> Response {
    let mut session = match load_interaction(&hub, &headers).await {
        Ok(session) => session,
        Err(error) => return error.into_response(),
    };
    if let Err(error) = parse_form(&session, &body) {
        return error.into_response();
    }
    let Some(request) = session.data.interaction.take() else {
        return HubError::NoInteraction.into_response();
    };
    session.data.at_provider = None;
    let error = OAuthError::new(ErrorCode::AccessDenied, "user authentication aborted");
    let location = hub
        .provider
        .error_redirect(&request.redirect_uri, Some(&request.state), &error);
    see_other_saving(&hub, &session, &location).await
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomeTemplate<'a> {
    lang: Lang,
    name: &'a str,
    issuer: String,
    providers: Vec<&'a str>,
}

/// `GET /`: what this hub is.
pub async fn home(State(hub): State<Arc<Hub>>, headers: HeaderMap) -> Response {
    let lang = Lang::of(&headers, None);
    let providers = hub
        .providers
        .iter()
        .map(|idp| idp.config.name.as_str())
        .collect();
    let template = HomeTemplate {
        lang,
        name: &hub.config.name,
        issuer: hub.config.issuer(),
        providers,
    };
    render(&template, &hub.config.name, lang, Some("/"))
}

#[cfg(test)]
mod tests {
    use oidc::{Acr, Identity, Scopes};
    use web::Lang;

    use super::{Platform, Verified, readable, released};

    fn person(given_name: &str, birthdate: &str) -> Identity {
        Identity {
            given_name: given_name.into(),
            family_name: "N'DIAYE".into(),
            birthdate: birthdate.into(),
            gender: "female".into(),
            birthplace: "75107".into(),
            birthcountry: "99100".into(),
            email: "awa@example.fr".into(),
            preferred_username: None,
        }
    }

    fn verified() -> Verified {
        Verified {
            provider: "impots".into(),
            acr: Acr::Eidas2,
            auth_time: 0,
            verified_at: 0,
            identity: person("Awa Marie", "1970-01-01"),
            provider_identity: Some(person("Awa", "1970-01-01")),
            idp_birthdate: Some("1970-00-00".into()),
            provider_id_token: String::new(),
            amr: Vec::new(),
        }
    }

    #[test]
    fn the_standard_platform_releases_the_register_identity_and_the_plus_one_the_provider_s() {
        let scopes = Scopes::parse("openid given_name idp_birthdate").unwrap();
        let standard = released(Platform::Standard, &verified(), &scopes, &[]);
        assert_eq!(standard["given_name"], "Awa Marie");
        assert_eq!(standard["idp_birthdate"], "1970-00-00");
        let scopes = Scopes::parse("openid rnipp_given_name rnipp_birthdate").unwrap();
        let plus = released(Platform::Plus, &verified(), &scopes, &[]);
        assert_eq!(plus["given_name"], "Awa");
        assert_eq!(plus["rnipp_given_name"], "Awa Marie");
        assert_eq!(
            plus["rnipp_given_name_array"],
            serde_json::json!(["Awa", "Marie"])
        );
        assert_eq!(plus["birthdate"], "1970-01-01");
        assert_eq!(plus["rnipp_birthdate"], "1970-01-01");
        assert!(!plus.contains_key("family_name"));
    }

    #[test]
    fn claims_are_shown_as_a_citizen_reads_them() {
        assert_eq!(readable("gender", "female", Lang::Fr), "Féminin");
        assert_eq!(readable("gender", "female", Lang::En), "Female");
        assert_eq!(readable("birthdate", "1985-03-14", Lang::Fr), "14/03/1985");
        assert_eq!(readable("birthplace", "", Lang::Fr), "Né(e) à l'étranger");
        assert_eq!(readable("birthplace", "", Lang::En), "Born abroad");
        assert!(readable("birthplace", "2A004", Lang::Fr).starts_with("Ajaccio"));
        assert_eq!(
            readable("birthcountry", "99100", Lang::Fr),
            "France (99100)"
        );
        assert_eq!(readable("family_name", "DUPONT", Lang::Fr), "DUPONT");
    }
}
