//! `/verification`: the trail checked, in the browser and against a
//! receipt.

use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::Value;
use web::Lang;

use crate::history::{posted_form, trail};
use crate::integrity;
use crate::integrity::{Finding, Head};
use crate::pages::{page, unavailable};
use crate::state::{Dashboard, Person, load};

#[derive(Template)]
#[template(path = "verification.html")]
pub(crate) struct VerificationTemplate<'a> {
    lang: Lang,
    hub: &'a str,
    count: usize,
    findings: Vec<String>,
    last_hash: Option<String>,
    /// What became of a receipt: checked, or refused and why.
    receipt: Option<(bool, String)>,
    /// Whether the browser's copy of the last head was compared.
    browser_head: bool,
    csrf: String,
}

/// The browser's copy of the last head seen intact (integrity::browser_head).
pub(crate) const HEAD_COOKIE: &str = "passerelle_dashboard_head";

/// A finding as the citizen reads it.
pub(crate) fn finding_text(finding: &Finding, lang: Lang, hub: &str) -> String {
    match (finding, lang) {
        (Finding::Altered(n), Lang::Fr) => format!(
            "L'entrée n° {n} a été modifiée (son contenu, sa date ou son numéro) ou n'a pas été écrite par {hub}."
        ),
        (Finding::Altered(n), Lang::En) => {
            format!(
                "Entry no. {n} was changed (its content, date or number) or was not written by {hub}."
            )
        }
        (Finding::Moved { from, to }, Lang::Fr) => {
            format!("L'entrée écrite sous le n° {from} a été déplacée au n° {to}.")
        }
        (Finding::Moved { from, to }, Lang::En) => {
            format!("The entry written as no. {from} was moved to no. {to}.")
        }
        (Finding::Missing { after, before }, Lang::Fr) => {
            format!("Des entrées ont été retirées entre le n° {after} et le n° {before}.")
        }
        (Finding::Missing { after, before }, Lang::En) => {
            format!("Entries were removed between no. {after} and no. {before}.")
        }
        (Finding::RemovedEarly(n), Lang::Fr) => {
            format!(
                "L'entrée qui précédait le n° {n} a été retirée avant la fin de sa durée de conservation."
            )
        }
        (Finding::RemovedEarly(n), Lang::En) => {
            format!("The entry before no. {n} was removed before the end of its keeping period.")
        }
        (Finding::UnknownKey(n), Lang::Fr) => {
            format!("L'entrée n° {n} n'est chaînée par aucune clé connue de {hub}.")
        }
        (Finding::UnknownKey(n), Lang::En) => {
            format!("Entry no. {n} is chained by no key {hub} knows.")
        }
        (Finding::Truncated { last, receipt }, Lang::Fr) => format!(
            "L'historique s'arrête au n° {last}, mais un reçu atteste le n° {receipt} : les dernières entrées ont été retirées, ou une copie plus ancienne de l'historique a été restaurée."
        ),
        (Finding::Truncated { last, receipt }, Lang::En) => format!(
            "The history ends at no. {last}, but a receipt attests no. {receipt}: the last entries were removed, or an older copy of the history was restored."
        ),
        (Finding::DiffersFromReceipt(n), Lang::Fr) => format!(
            "L'entrée n° {n} n'est plus celle qu'atteste le reçu : l'historique a été réécrit ou restauré depuis."
        ),
        (Finding::DiffersFromReceipt(n), Lang::En) => format!(
            "Entry no. {n} is no longer the one the receipt attests: the history was rewritten or restored since."
        ),
    }
}

/// `GET /verification`: the chain checked, and compared with the head this
/// browser last saw intact.
pub(crate) async fn verification(
    State(dashboard): State<Arc<Dashboard>>,
    headers: HeaderMap,
) -> Response {
    check_integrity(&dashboard, &headers, None).await
}

/// `POST /verification`: the same, with a receipt from a connection email.
pub(crate) async fn verification_with_receipt(
    State(dashboard): State<Arc<Dashboard>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (_, _, pairs) = match posted_form(&dashboard, &headers, &body, "/").await {
        Ok(form) => form,
        Err(response) => return response,
    };
    let receipt = pairs
        .iter()
        .find(|(name, _)| name == "recu")
        .map(|(_, value)| value.trim().to_owned())
        .unwrap_or_default();
    check_integrity(&dashboard, &headers, Some(&receipt)).await
}

/// Reads a hub's receipt: its signature by a hub this dashboard trusts,
/// its type, and that it is this person's.
pub(crate) async fn read_receipt(
    dashboard: &Dashboard,
    person: &Person,
    receipt: &str,
) -> Option<Head> {
    let header = jose::peek_header(receipt).ok()?;
    if header.typ.as_deref() != Some(RECEIPT_TYP) {
        return None;
    }
    for verifier in &dashboard.receipt_verifiers {
        let Ok(claims) = verifier.verify_signature(receipt).await else {
            continue;
        };
        let issuer = claims.get("iss").and_then(Value::as_str);
        if issuer != Some(verifier.settings().issuer.as_str())
            || claims.get("sub").and_then(Value::as_str) != Some(person.sub.as_str())
        {
            return None;
        }
        let seq = claims.get("seq").and_then(Value::as_i64)?;
        let hash = claims.get("head").and_then(Value::as_str)?;
        use base64::Engine as _;
        let hash = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(hash)
            .ok()?
            .try_into()
            .ok()?;
        return Some(Head { seq, hash });
    }
    None
}

/// The hubs' receipt type (hub::trail::RECEIPT_TYP: apps share no code).
pub(crate) const RECEIPT_TYP: &str = "trail-receipt+jwt";

pub(crate) async fn check_integrity(
    dashboard: &Dashboard,
    headers: &HeaderMap,
    receipt: Option<&str>,
) -> Response {
    let lang = Lang::of(headers, None);
    let session = load(dashboard, headers).await;
    let Some(person) = &session.data.user else {
        return Redirect::to("/").into_response();
    };
    let Ok(traces) = trail(dashboard, person).await else {
        return unavailable(dashboard, lang);
    };
    let trail_keys = dashboard.trail_keys.get();
    let kept_since = integrity::kept_since(
        dashboard.clock.now(),
        dashboard.retention_secs.min(crate::state::HISTORY_SECS),
    );
    let mut findings =
        integrity::check_chain(person.sub.as_str(), &traces, &trail_keys, kept_since);
    let browser = web::cookie_value(headers, HEAD_COOKIE)
        .and_then(|value| integrity::parse_browser_head(&trail_keys, person.sub.as_str(), &value));
    if let Some(head) = &browser {
        findings.extend(integrity::check_head(&traces, head));
    }
    let receipt = match receipt {
        None => None,
        Some(receipt) => match read_receipt(dashboard, person, receipt).await {
            Some(head) => {
                let finding = integrity::check_head(&traces, &head);
                let text = lang.pick("Reçu vérifié : entrée n°", "Receipt checked: entry no.");
                findings.extend(finding);
                Some((true, format!("{text} {}.", head.seq)))
            }
            None => Some((
                false,
                lang.pick(
                    "Ce reçu n'est pas valable : il n'est pas signé par la plateforme, ou il concerne une autre personne.",
                    "This receipt is not valid: it is not signed by the platform, or it is another person's.",
                )
                .to_owned(),
            )),
        },
    };
    findings.dedup();
    let hub = &dashboard.config.hub_name;
    let template = VerificationTemplate {
        lang,
        hub,
        count: traces.len(),
        findings: findings
            .iter()
            .map(|finding| finding_text(finding, lang, hub))
            .collect(),
        last_hash: traces
            .last()
            .map(|trace| base16ct::lower::encode_string(&trace.hash)),
        receipt,
        browser_head: browser.is_some(),
        csrf: session.csrf_token(),
    };
    let title = lang.pick("Intégrité de l'historique", "History integrity");
    let mut response = page(dashboard, title, &template, lang, Some("/verification"));
    // An intact head is what this browser will hold the trail to next time.
    if findings.is_empty()
        && let Some(last) = traces.last()
        && let Some(value) = integrity::browser_head(
            &trail_keys,
            person.sub.as_str(),
            &Head {
                seq: last.seq,
                hash: last.hash,
            },
        )
    {
        let secure = if dashboard.config.public_url.starts_with("https://") {
            "; Secure"
        } else {
            ""
        };
        if let Ok(cookie) = axum::http::HeaderValue::from_str(&format!(
            "{HEAD_COOKIE}={value}; Path=/; Max-Age=34214400; HttpOnly; SameSite=Lax{secure}"
        )) {
            response
                .headers_mut()
                .append(axum::http::header::SET_COOKIE, cookie);
        }
    }
    response
}
