//! The national identity register: Passerelle's stand-in for the RNIPP.
//!
//! FranceConnect checks, after every login that is not single sign-on, the identity an
//! identity provider returned against the national register of persons (RNIPP), and sends
//! service providers the register's spelling of it, the "identité redressée"
//! (franceconnect.md §3 and §8). This crate is that register for the demo federation: an HTTP
//! JSON service over a [`population`], built by [`router`]. The hub calls it through its own
//! client (apps never import each other), so the JSON contract below is the interface.
//!
//! # Contract, version 1
//!
//! ## `POST /api/v1/identities/match`
//!
//! Request body: a JSON object, at most 16 KiB, holding exactly the identity pivot as the
//! identity provider sent it. All six members are required and are strings; other members are
//! ignored. The `Content-Type` is not checked (send `application/json`).
//!
//! ```json
//! {
//!   "given_name": "Marie-Hélène Anaïs",
//!   "family_name": "LE GALL",
//!   "birthdate": "1982-12-05",
//!   "gender": "female",
//!   "birthplace": "29019",
//!   "birthcountry": "99100"
//! }
//! ```
//!
//! | member | rule (else HTTP 400) |
//! |---|---|
//! | `given_name` | 1 to 256 characters, not only spaces; first names separated by spaces |
//! | `family_name` | 1 to 256 characters, not only spaces; the birth name |
//! | `birthdate` | `YYYY-MM-DD`, a real calendar day (no presumed `YYYY-00-00` dates) |
//! | `gender` | `"female"` or `"male"` |
//! | `birthcountry` | INSEE COG country code: `99` and three digits, `"99100"` for France |
//! | `birthplace` | when `birthcountry` is `"99100"`: a 5-character INSEE COG commune code (`NNNNN`, `2ANNN`, `2BNNN`; Paris, Lyon and Marseille births use arrondissement codes such as `"75115"`); otherwise `""` |
//!
//! How the register compares: `birthdate`, `gender`, `birthplace` and `birthcountry` must be
//! equal. `given_name` and `family_name` are compared after normalisation: accents of French
//! letters removed (`à â ä é è ê ë î ï ô ö ù û ü ÿ ç ñ`, `œ` → `OE`, `æ` → `AE`), upper case,
//! every run of spaces, hyphens and apostrophes (`'` or `’`) made one space, ends trimmed. So
//! `"marie helene anais"` / `"le-gall"` finds `"Marie-Hélène Anaïs"` / `"LE GALL"`. The full list
//! of given names is compared, in order. The usage name is not searched on.
//!
//! Answers, all HTTP 200 with a JSON object whose `outcome` says what was found:
//!
//! - exactly one living person answers to the query:
//!   ```json
//!   {"outcome": "match",
//!    "identity": {"given_name": "Marie-Hélène Anaïs", "family_name": "LE GALL",
//!                 "birthdate": "1982-12-05", "gender": "female",
//!                 "birthplace": "29019", "birthcountry": "99100",
//!                 "preferred_username": "N'DIAYE"}}
//!   ```
//!   `identity` is the register's own spelling of the six pivot claims (the corrected
//!   identity), plus `preferred_username`, the usage name, a member present only when the
//!   person has one;
//! - exactly one person answers to the query and is dead: `{"outcome": "deceased"}`
//!   (FranceConnect Y010015);
//! - no exact answer, but exactly one person with the same birth date, gender, birthplace and
//!   birth country has names at most two edits away in total (Levenshtein distance, over
//!   the normalised given names plus the normalised family name): `{"outcome": "near_match"}`,
//!   most likely a typo at the identity provider; it says nothing of that person, not even
//!   whether they are alive;
//! - otherwise, including when several people answer to the query (FranceConnect Y010006):
//!   `{"outcome": "not_found"}`.
//!
//! Errors: `{"error": "invalid_request", "error_description": "…"}` with HTTP 400 for malformed
//! JSON, a body that is not an object, a missing or non-string member, or a member breaking
//! the rules above (the description names the member, e.g. `"gender must be \"female\" or
//! \"male\""`, never its value); HTTP 413 with the same shape for a body over 16 KiB.
//!
//! ## `POST /api/v1/driving-licences/match`
//!
//! The driving licence register (ANTS-like), over the same population: the same body and the
//! same errors as `/api/v1/identities/match`. Only an exact match (as above) finds a licence;
//! a near match is `not_found`. Answers, HTTP 200:
//!
//! - `{"outcome": "licence", "licence": {…}}`, whatever the licence's status: `number` (12
//!   characters), `format` (`"pink_paper"` or `"card"`), `status` (`"valid"`, `"suspended"` or
//!   `"cancelled"`), `issue_date`, `expiry_date` (`YYYY-MM-DD`; 19 January 2033 for a paper
//!   licence), `issuing_authority`, and `categories`, each with `code` (`"A"`, `"B"`…),
//!   `issue_date`, `expiry_date` (or `null`) and `restrictions` (EU codes, e.g. `["01"]`);
//! - `{"outcome": "no_licence"}`: the person holds none;
//! - `{"outcome": "deceased"}`;
//! - `{"outcome": "not_found"}`.
//!
//! ## `POST /api/v1/driving-licences/lookup`
//!
//! `{"number": "…"}`: the licence of that number as it stands, to renew a licence already
//! issued. Answers `licence` (as above), `deceased` or `not_found`; HTTP 400 for another body.
//!
//! ## `GET /health`
//!
//! HTTP 200, `text/plain`, body `ok`.

pub mod errors;
mod identity_match;
mod index;
mod names;
mod query;
mod routes;

use std::sync::Arc;

pub use errors::RegisterError;

/// The register's HTTP service over `citizens`, indexed once here; every route is listed in
/// one place (`routes.rs`).
pub fn router(citizens: Vec<population::Citizen>) -> axum::Router {
    let index = index::Index::new(&citizens);
    routes::routes(Arc::new(index))
}
