//! The register's index of the population and the matching rule.

use std::collections::HashMap;

use population::{Citizen, Date, DrivingLicence, Gender, driving_licence};
use serde::Serialize;

use crate::names::{edit_distance, normalise_name};
use crate::query::IdentityQuery;

/// Largest total edit distance, over family and given names, still answered `near_match`:
/// one or two typing mistakes, not another person.
const NEAR_MATCH_MAX_EDITS: usize = 2;

/// The identity the register holds for a person: the pivot in the register's own spelling
/// (the "identité redressée" of franceconnect.md §3, §8) and the usage name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Identity {
    given_name: String,
    family_name: String,
    birthdate: String,
    gender: String,
    birthplace: String,
    birthcountry: String,
    /// The usage name; absent from the JSON when the person has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    preferred_username: Option<String>,
}

/// The answer to an identity query, serialised as `{"outcome": "…", …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub(crate) enum Outcome {
    /// Exactly one living person has this identity; here is how the register writes it.
    Match {
        /// The register's identity.
        identity: Identity,
    },
    /// No exact match, but one person born the same day, same place, same sex has names one
    /// or two edits away: most likely a typo at the identity provider.
    NearMatch,
    /// Exactly one person has this identity, and they are dead (FranceConnect error Y010015).
    Deceased,
    /// No one, or more than one person, answers to the query.
    NotFound,
}

/// The answer to a driving licence query, serialised as `{"outcome": "…", …}`. Only an exact
/// match finds a licence: a near match says nothing of anyone's licence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub(crate) enum LicenceOutcome {
    /// The person's licence, whatever its status: the caller decides what a suspended or
    /// cancelled licence means for it.
    Licence { licence: DrivingLicence },
    /// The person holds no licence.
    NoLicence,
    /// The person is dead.
    Deceased,
    /// No one, or more than one person, answers to the query exactly.
    NotFound,
}

impl LicenceOutcome {
    /// The `outcome` value, for logs.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::Licence { .. } => "licence",
            Self::NoLicence => "no_licence",
            Self::Deceased => "deceased",
            Self::NotFound => "not_found",
        }
    }
}

impl Outcome {
    /// The `outcome` value, for logs.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::Match { .. } => "match",
            Self::NearMatch => "near_match",
            Self::Deceased => "deceased",
            Self::NotFound => "not_found",
        }
    }
}

/// People grouped by what must match exactly: birth date, sex, birth place and country.
#[derive(Debug)]
pub(crate) struct Index {
    by_birth: HashMap<BirthKey, Vec<Entry>>,
    /// Licence number → the licence and whether its holder is dead.
    by_licence: HashMap<String, (DrivingLicence, bool)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct BirthKey {
    birthdate: Date,
    gender: Gender,
    birthplace: String,
    birthcountry: String,
}

#[derive(Debug)]
struct Entry {
    normal_given_name: String,
    normal_family_name: String,
    identity: Identity,
    deceased: bool,
    licence: Option<DrivingLicence>,
}

/// The exact matches of a query: none, one, or several.
enum Exact<'a> {
    None,
    One(&'a Entry),
    Several,
}

impl Index {
    /// Indexes `citizens` once; queries then only look at people born the same day.
    pub(crate) fn new(citizens: &[Citizen]) -> Self {
        let mut by_birth: HashMap<BirthKey, Vec<Entry>> = HashMap::new();
        let mut by_licence = HashMap::new();
        for citizen in citizens {
            let pivot = citizen.pivot();
            let key = BirthKey {
                birthdate: citizen.birthdate,
                gender: citizen.gender,
                birthplace: pivot.birthplace.clone(),
                birthcountry: pivot.birthcountry.clone(),
            };
            let entry = Entry {
                normal_given_name: normalise_name(&pivot.given_name),
                normal_family_name: normalise_name(&pivot.family_name),
                identity: Identity {
                    given_name: pivot.given_name,
                    family_name: pivot.family_name,
                    birthdate: pivot.birthdate,
                    gender: pivot.gender,
                    birthplace: pivot.birthplace,
                    birthcountry: pivot.birthcountry,
                    preferred_username: citizen.usage_name.clone(),
                },
                deceased: citizen.deceased_on.is_some(),
                licence: driving_licence(citizen),
            };
            if let Some(licence) = &entry.licence {
                by_licence.insert(licence.number.clone(), (licence.clone(), entry.deceased));
            }
            by_birth.entry(key).or_default().push(entry);
        }
        Self {
            by_birth,
            by_licence,
        }
    }

    /// The register's answer to `query`.
    ///
    /// Birth date, sex, birthplace and birth country must be equal; names are compared after
    /// [`normalise_name`]. One exact match gives `match` (or `deceased`); several exact
    /// matches give `not_found`, as the RNIPP refuses several echoes (Y010006). Without an
    /// exact match, a single person whose two names are in total at most two edits away gives
    /// `near_match`; it says nothing of that person, not even whether they are alive.
    pub(crate) fn find(&self, query: &IdentityQuery) -> Outcome {
        let (born_alike, exact) = self.exact(query);
        match exact {
            Exact::One(entry) if entry.deceased => return Outcome::Deceased,
            Exact::One(entry) => {
                return Outcome::Match {
                    identity: entry.identity.clone(),
                };
            }
            Exact::Several => return Outcome::NotFound,
            Exact::None => {}
        }
        let given_name = normalise_name(&query.given_name);
        let family_name = normalise_name(&query.family_name);
        let near = born_alike.iter().filter(|entry| {
            let edits = edit_distance(&entry.normal_given_name, &given_name)
                + edit_distance(&entry.normal_family_name, &family_name);
            edits <= NEAR_MATCH_MAX_EDITS
        });
        if near.count() == 1 {
            Outcome::NearMatch
        } else {
            Outcome::NotFound
        }
    }

    /// The driving licence of the one person who answers to `query` exactly.
    pub(crate) fn licence(&self, query: &IdentityQuery) -> LicenceOutcome {
        match self.exact(query).1 {
            Exact::One(entry) if entry.deceased => LicenceOutcome::Deceased,
            Exact::One(entry) => match &entry.licence {
                Some(licence) => LicenceOutcome::Licence {
                    licence: licence.clone(),
                },
                None => LicenceOutcome::NoLicence,
            },
            Exact::None | Exact::Several => LicenceOutcome::NotFound,
        }
    }

    /// The licence of `number`, as it stands.
    pub(crate) fn licence_numbered(&self, number: &str) -> LicenceOutcome {
        match self.by_licence.get(number) {
            Some((_, true)) => LicenceOutcome::Deceased,
            Some((licence, false)) => LicenceOutcome::Licence {
                licence: licence.clone(),
            },
            None => LicenceOutcome::NotFound,
        }
    }

    /// The people born as `query` says, and which of them it names exactly.
    fn exact(&self, query: &IdentityQuery) -> (&[Entry], Exact<'_>) {
        let key = BirthKey {
            birthdate: query.birthdate,
            gender: query.gender,
            birthplace: query.birthplace.clone(),
            birthcountry: query.birthcountry.clone(),
        };
        let Some(born_alike) = self.by_birth.get(&key) else {
            return (&[], Exact::None);
        };
        let given_name = normalise_name(&query.given_name);
        let family_name = normalise_name(&query.family_name);
        let mut exact = born_alike.iter().filter(|entry| {
            entry.normal_given_name == given_name && entry.normal_family_name == family_name
        });
        let exact = match (exact.next(), exact.next()) {
            (Some(entry), None) => Exact::One(entry),
            (Some(_), Some(_)) => Exact::Several,
            (None, _) => Exact::None,
        };
        (born_alike, exact)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use population::generate;

    fn query_for(citizen: &Citizen) -> IdentityQuery {
        let pivot = citizen.pivot();
        IdentityQuery {
            given_name: pivot.given_name,
            family_name: pivot.family_name,
            birthdate: citizen.birthdate,
            gender: citizen.gender,
            birthplace: pivot.birthplace,
            birthcountry: pivot.birthcountry,
        }
    }

    #[test]
    fn every_living_citizen_matches_their_own_pivot_exactly() {
        let citizens = generate(population::DEFAULT_SEED, 2_000);
        let index = Index::new(&citizens);
        for citizen in &citizens {
            let outcome = index.find(&query_for(citizen));
            if citizen.deceased_on.is_some() {
                assert_eq!(outcome, Outcome::Deceased);
            } else {
                let Outcome::Match { identity } = outcome else {
                    panic!("{citizen:?} → {outcome:?}");
                };
                assert_eq!(identity.family_name, citizen.family_name);
                assert_eq!(identity.preferred_username, citizen.usage_name);
            }
        }
    }

    #[test]
    fn a_match_ignores_case_accents_and_separators_but_answers_in_the_registers_spelling() {
        let citizens = generate(1, 6);
        let index = Index::new(&citizens);
        let mut query = query_for(&citizens[4]);
        query.given_name = " marie helene   anais ".into();
        query.family_name = "le-gall".into();
        let Outcome::Match { identity } = index.find(&query) else {
            panic!("no match");
        };
        assert_eq!(identity.given_name, "Marie-Hélène Anaïs");
        assert_eq!(identity.family_name, "LE GALL");
        assert_eq!(identity.preferred_username.as_deref(), Some("N'DIAYE"));
    }

    #[test]
    fn one_or_two_typos_give_a_near_match_and_three_do_not() {
        let citizens = generate(1, 6);
        let index = Index::new(&citizens);
        let mut query = query_for(&citizens[0]);
        query.family_name = "DUPOND".into();
        assert_eq!(index.find(&query), Outcome::NearMatch);
        query.given_name = "Mari".into();
        assert_eq!(index.find(&query), Outcome::NearMatch);
        query.family_name = "DUPONDE".into();
        assert_eq!(index.find(&query), Outcome::NotFound);
    }

    #[test]
    fn the_birth_data_must_match_exactly() {
        let citizens = generate(1, 6);
        let index = Index::new(&citizens);
        let mut query = query_for(&citizens[0]);
        query.birthdate = Date::new(1985, 3, 15).unwrap();
        assert_eq!(index.find(&query), Outcome::NotFound);
        let mut query = query_for(&citizens[0]);
        query.birthplace = "75116".into();
        assert_eq!(index.find(&query), Outcome::NotFound);
        let mut query = query_for(&citizens[0]);
        query.gender = Gender::Male;
        assert_eq!(index.find(&query), Outcome::NotFound);
    }

    #[test]
    fn two_people_answering_to_one_query_give_not_found() {
        let mut citizens = generate(1, 2);
        let mut twin = citizens[0].clone();
        twin.id = 3;
        twin.given_names = vec!["MARIE".into()];
        citizens.push(twin);
        let index = Index::new(&citizens);
        assert_eq!(index.find(&query_for(&citizens[0])), Outcome::NotFound);
    }

    #[test]
    fn a_dead_persons_near_match_does_not_reveal_the_death() {
        let citizens = generate(1, 6);
        let index = Index::new(&citizens);
        let mut query = query_for(&citizens[2]);
        assert_eq!(index.find(&query), Outcome::Deceased);
        query.family_name = "MARTINE".into();
        assert_eq!(index.find(&query), Outcome::NearMatch);
    }

    #[test]
    fn a_licence_is_found_by_an_exact_match_only() {
        let citizens = generate(population::DEFAULT_SEED, 200);
        let index = Index::new(&citizens);
        let marie = citizens.first().unwrap();
        let LicenceOutcome::Licence { licence } = index.licence(&query_for(marie)) else {
            panic!("Marie holds a licence");
        };
        assert_eq!(Some(licence), driving_licence(marie));
        let loic = citizens.get(5).unwrap();
        assert_eq!(index.licence(&query_for(loic)), LicenceOutcome::NoLicence);
        let jacques = citizens.get(2).unwrap();
        assert_eq!(index.licence(&query_for(jacques)), LicenceOutcome::Deceased);
        let mut typo = query_for(marie);
        typo.family_name = "DUPOND".into();
        assert_eq!(index.find(&typo), Outcome::NearMatch);
        assert_eq!(index.licence(&typo), LicenceOutcome::NotFound);
        let LicenceOutcome::Licence { licence } = index.licence(&query_for(marie)) else {
            panic!("Marie holds a licence");
        };
        assert_eq!(
            index.licence_numbered(&licence.number),
            LicenceOutcome::Licence { licence }
        );
        assert_eq!(
            index.licence_numbered("000000000000"),
            LicenceOutcome::NotFound
        );
    }

    #[test]
    fn outcomes_serialise_with_an_outcome_tag() {
        let citizens = generate(1, 2);
        let index = Index::new(&citizens);
        let json = serde_json::to_value(index.find(&query_for(&citizens[1]))).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "outcome": "match",
                "identity": {
                    "given_name": "Youssef",
                    "family_name": "EL AMRANI",
                    "birthdate": "1979-07-22",
                    "gender": "male",
                    "birthplace": "",
                    "birthcountry": "99350",
                }
            })
        );
        assert_eq!(
            serde_json::to_value(Outcome::NearMatch).unwrap(),
            serde_json::json!({"outcome": "near_match"})
        );
    }
}
