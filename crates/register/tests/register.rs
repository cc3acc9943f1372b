//! The register's HTTP contract, driven in process through the router.
#![expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "helpers shared by the #[tokio::test] cases are not seen by clippy as test code"
)]

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;

fn register() -> Router {
    register::router(population::generate(population::DEFAULT_SEED, 200))
}

async fn post_raw(body: impl Into<Body>) -> (StatusCode, Value) {
    post_to("/api/v1/identities/match", body).await
}

async fn post_to(path: &str, body: impl Into<Body>) -> (StatusCode, Value) {
    let request = Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.into())
        .unwrap();
    let response = register().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

async fn post(query: &Value) -> (StatusCode, Value) {
    post_raw(serde_json::to_vec(query).unwrap()).await
}

/// A match query: given and family names, birthdate, gender, birthplace, birthcountry.
fn person(
    given_name: &str,
    family_name: &str,
    birthdate: &str,
    gender: &str,
    birthplace: &str,
    birthcountry: &str,
) -> Value {
    json!({
        "given_name": given_name,
        "family_name": family_name,
        "birthdate": birthdate,
        "gender": gender,
        "birthplace": birthplace,
        "birthcountry": birthcountry,
    })
}

/// Notable citizen 5: Marie-Hélène Anaïs LE GALL, usage name N'DIAYE.
fn marie_helene() -> Value {
    person(
        "Marie-Hélène Anaïs",
        "LE GALL",
        "1982-12-05",
        "female",
        "29019",
        "99100",
    )
}

/// Marie-Hélène's query with one member replaced by `value`.
fn marie_helene_with(member: &str, value: &str) -> Value {
    let mut query = marie_helene();
    query[member] = json!(value);
    query
}

/// Asserts a 200 OK answer whose body is exactly `expected`.
#[track_caller]
fn assert_ok_body((status, body): (StatusCode, Value), expected: &Value) {
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, *expected);
}

/// Asserts a 200 OK answer whose outcome is a match, and returns the body.
#[track_caller]
fn assert_ok_match((status, body): (StatusCode, Value)) -> Value {
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["outcome"], "match");
    body
}

async fn bad_request_description(query: Value) -> String {
    raw_bad_request_description(serde_json::to_vec(&query).unwrap()).await
}

/// Posts a raw body, asserts an invalid_request 400, and returns its description.
async fn raw_bad_request_description(body: impl Into<Body>) -> String {
    let (status, body) = post_raw(body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_request");
    body["error_description"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_match_returns_the_canonical_identity_for_lowercase_names_without_accents() {
    let mut query = marie_helene_with("given_name", "marie helene  anais");
    query["family_name"] = json!("le-gall");
    assert_ok_body(
        post(&query).await,
        &json!({
            "outcome": "match",
            "identity": {
                "given_name": "Marie-Hélène Anaïs",
                "family_name": "LE GALL",
                "birthdate": "1982-12-05",
                "gender": "female",
                "birthplace": "29019",
                "birthcountry": "99100",
                "preferred_username": "N'DIAYE",
            }
        }),
    );
}

#[tokio::test]
async fn a_person_without_a_usage_name_has_no_preferred_username() {
    let query = person("Marie", "DUPONT", "1985-03-14", "female", "75115", "99100");
    let body = assert_ok_match(post(&query).await);
    assert!(body["identity"].get("preferred_username").is_none());
}

#[tokio::test]
async fn someone_born_abroad_with_an_empty_birthplace_matches() {
    let query = person("YOUSSEF", "El Amrani", "1979-07-22", "male", "", "99350");
    let body = assert_ok_match(post(&query).await);
    assert_eq!(body["identity"]["family_name"], "EL AMRANI");
    assert_eq!(body["identity"]["birthplace"], "");
}

#[tokio::test]
async fn a_corsican_birth_matches() {
    let query = person(
        "Laetitia Marie",
        "SANTONI",
        "1990-08-21",
        "female",
        "2A004",
        "99100",
    );
    let (_, body) = post(&query).await;
    assert_eq!(body["outcome"], "match");
}

#[tokio::test]
async fn a_typo_in_a_name_gives_a_near_match() {
    let query = marie_helene_with("family_name", "LE GAL");
    assert_ok_body(post(&query).await, &json!({"outcome": "near_match"}));
}

#[tokio::test]
async fn a_deceased_person_gives_deceased() {
    let query = person(
        "Jacques Henri",
        "MARTIN",
        "1938-11-02",
        "male",
        "69383",
        "99100",
    );
    assert_ok_body(post(&query).await, &json!({"outcome": "deceased"}));
}

#[tokio::test]
async fn an_unknown_person_gives_not_found() {
    let mut query = marie_helene_with("given_name", "Joséphine");
    query["family_name"] = json!("BONAPARTE");
    assert_ok_body(post(&query).await, &json!({"outcome": "not_found"}));

    let query = marie_helene_with("birthdate", "1982-12-06");
    assert_eq!(post(&query).await.1, json!({"outcome": "not_found"}));
}

#[tokio::test]
async fn malformed_json_is_a_bad_request() {
    let description = raw_bad_request_description("{\"given_name\": ").await;
    assert!(
        description.starts_with("the body is not valid JSON"),
        "{description}"
    );
}

#[tokio::test]
async fn a_missing_member_is_named() {
    let mut query = marie_helene();
    query.as_object_mut().unwrap().remove("birthcountry");
    assert_eq!(
        bad_request_description(query).await,
        "birthcountry is missing"
    );
}

#[tokio::test]
async fn a_birthdate_not_written_yyyy_mm_dd_is_a_bad_request() {
    let query = marie_helene_with("birthdate", "05/12/1982");
    assert_eq!(
        bad_request_description(query).await,
        "birthdate must be a YYYY-MM-DD calendar date"
    );
}

#[tokio::test]
async fn a_gender_other_than_female_or_male_is_a_bad_request() {
    let query = marie_helene_with("gender", "F");
    assert_eq!(
        bad_request_description(query).await,
        "gender must be \"female\" or \"male\""
    );
}

#[tokio::test]
async fn a_french_birth_without_a_5_character_birthplace_is_a_bad_request() {
    let query = marie_helene_with("birthplace", "290");
    assert_eq!(
        bad_request_description(query).await,
        "birthplace must be a 5-character COG commune code when birthcountry is 99100"
    );
}

#[tokio::test]
async fn a_birthcountry_that_is_not_99xxx_is_a_bad_request() {
    let query = marie_helene_with("birthcountry", "FR");
    assert_eq!(
        bad_request_description(query).await,
        "birthcountry must be a COG country code: 99 followed by three digits"
    );
}

#[tokio::test]
async fn a_birthplace_given_for_a_birth_abroad_is_a_bad_request() {
    let query = marie_helene_with("birthcountry", "99350");
    assert_eq!(
        bad_request_description(query).await,
        "birthplace must be empty when birthcountry is not 99100 (born abroad)"
    );
}

#[tokio::test]
async fn a_body_over_16_kib_is_refused() {
    let mut query = marie_helene();
    query["padding"] = json!("x".repeat(17 * 1024));
    let (status, body) = post(&query).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        body,
        json!({
            "error": "invalid_request",
            "error_description": "the request body is larger than 16384 bytes",
        })
    );
}

#[tokio::test]
async fn health_answers_ok() {
    let request = Request::get("/health").body(Body::empty()).unwrap();
    let response = register().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = to_bytes(response.into_body(), 1024).await.unwrap();
    assert_eq!(&bytes[..], b"ok");
}

#[tokio::test]
async fn the_licence_register_answers_with_the_licence_of_the_person_named_exactly() {
    let licences = "/api/v1/driving-licences/match";
    assert_ok_body(
        post_to(licences, serde_json::to_vec(&marie_helene()).unwrap()).await,
        &json!({"outcome": "licence", "licence": {
            "number": "003500000005",
            "format": "pink_paper",
            "status": "cancelled",
            "issue_date": "2000-09-25",
            "expiry_date": "2033-01-19",
            "issuing_authority": "Préfecture (35)",
            "categories": [{"code": "B", "issue_date": "2000-09-25", "expiry_date": null, "restrictions": []}],
        }}),
    );
    let typo = marie_helene_with("family_name", "LE GAL");
    let (_, body) = post_to(licences, serde_json::to_vec(&typo).unwrap()).await;
    assert_eq!(
        body,
        json!({"outcome": "not_found"}),
        "a near match finds no licence"
    );
    let (status, body) = post_to(licences, "{}").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let lookup = "/api/v1/driving-licences/lookup";
    let (status, body) = post_to(lookup, r#"{"number": "003500000005"}"#).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["licence"]["status"], "cancelled", "{body}");
    let (_, body) = post_to(lookup, r#"{"number": "999999999999"}"#).await;
    assert_eq!(body, json!({"outcome": "not_found"}));
    let (status, _) = post_to(lookup, r#"{"numero": "003500000005"}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
