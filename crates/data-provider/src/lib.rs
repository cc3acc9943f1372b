//! A data provider of the federation, FranceConnect's « fournisseur de
//! données »: the tax administration's data on the fictional population
//! (demo), as the DGFiP serves its `dgfip_*` scopes.
//!
//! A service logged in through the hub with the scopes `dgfip_rfr` and/or
//! `dgfip_nbpart` hands its access token over:
//!
//! ```text
//! GET /api/v1/situation-fiscale
//! Authorization: Bearer <the service's access token>
//! ```
//!
//! The data provider checks the token at the hub (`POST {hub}/checktoken`
//! with its own credentials), verifies the hub's signature on the answer,
//! finds the person by the identity pivot the answer carries, and answers
//! only what the token's scopes for it allow:
//!
//! | scope | members |
//! |---|---|
//! | `dgfip_rfr` | `revenu_fiscal_de_reference` (euros) |
//! | `dgfip_nbpart` | `nombre_de_parts`, `situation_de_famille` (`marie`, `celibataire`) |
//!
//! The household is the demo's convention: a person with a usage name is
//! taken as married (two shares), anyone else as single (one share).
//!
//! Refusals are JSON: 401 `invalid_token` (unknown, expired, revoked, or
//! none of our scopes), 404 `not_found` (no tax record for the person),
//! 503 `temporarily_unavailable` (the hub did not answer, or answered
//! something we could not verify). The data provider stores nothing.

mod config;
mod errors;
mod routes;
mod state;

use population::Citizen;
use serde_json::{Map, Value, json};

pub use config::Config;
pub use errors::{API_ERRORS, ApiError};
pub use routes::router;

/// The scope of the reference tax income.
pub const SCOPE_INCOME: &str = "dgfip_rfr";
/// The scope of the household (number of shares, family situation).
pub const SCOPE_HOUSEHOLD: &str = "dgfip_nbpart";

/// What the scopes give of a citizen's tax record.
fn tax_data(citizen: &Citizen, scopes: &[&str]) -> Map<String, Value> {
    let mut data = Map::new();
    if scopes.contains(&SCOPE_INCOME) {
        data.insert(
            "revenu_fiscal_de_reference".into(),
            citizen.reference_income.into(),
        );
    }
    if scopes.contains(&SCOPE_HOUSEHOLD) {
        let married = citizen.usage_name.is_some();
        data.insert("nombre_de_parts".into(), json!(if married { 2 } else { 1 }));
        data.insert(
            "situation_de_famille".into(),
            (if married { "marie" } else { "celibataire" }).into(),
        );
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_scope_gives_its_own_members_only() {
        let mut citizen = population::generate(7, 1).remove(0);
        citizen.usage_name = Some("MARTIN".into());
        let income = tax_data(&citizen, &[SCOPE_INCOME]);
        assert_eq!(
            income.keys().collect::<Vec<_>>(),
            ["revenu_fiscal_de_reference"]
        );
        let household = tax_data(&citizen, &[SCOPE_HOUSEHOLD]);
        assert_eq!(household["nombre_de_parts"], json!(2));
        assert_eq!(household["situation_de_famille"], "marie");
        assert!(!household.contains_key("revenu_fiscal_de_reference"));
        citizen.usage_name = None;
        assert_eq!(
            tax_data(&citizen, &[SCOPE_HOUSEHOLD])["situation_de_famille"],
            "celibataire"
        );
        assert!(tax_data(&citizen, &["openid"]).is_empty());
    }
}
