//! The pairwise subject identifier.
//!
//! `sub` = hex(HMAC-SHA-256(platform secret, "v1" ‖ 0 ‖ entity_id ‖ 0 ‖
//! identity hash)) followed by `v1`, where the identity hash is the SHA-256
//! of the identity pivot's six fields, each followed by a 0 byte, birthplace
//! emptied for people born abroad. The version suffix lets the derivation
//! change one day without confusing old and new values. See docs/sub.md.

use hmac::{Hmac, Mac};
use oidc::Identity;
use oidc::claims::FRANCE;
use sha2::{Digest, Sha256};

/// The hash of the identity pivot: the same person gives the same hash
/// whichever provider they came through.
pub fn identity_hash(identity: &Identity) -> [u8; 32] {
    let birthplace = if identity.birthcountry == FRANCE {
        identity.birthplace.as_str()
    } else {
        ""
    };
    let mut hash = Sha256::new();
    for field in [
        identity.given_name.as_str(),
        identity.family_name.as_str(),
        identity.birthdate.as_str(),
        identity.gender.as_str(),
        birthplace,
        identity.birthcountry.as_str(),
    ] {
        hash.update(field.as_bytes());
        hash.update([0]);
    }
    hash.finalize().into()
}

/// The `sub` of a person at a service entity.
pub fn pairwise_sub(secret: &[u8], entity_id: &str, identity: &Identity) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return String::new(); // HMAC takes keys of any length; unreachable
    };
    mac.update(b"v1\0");
    mac.update(entity_id.as_bytes());
    mac.update(&[0]);
    mac.update(&identity_hash(identity));
    let digest = mac.finalize().into_bytes();
    let mut sub = base16ct::lower::encode_string(&digest);
    sub.push_str("v1");
    sub
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person() -> Identity {
        Identity {
            given_name: "Marie Hélène".into(),
            family_name: "DUPONT".into(),
            birthdate: "1980-02-29".into(),
            gender: "female".into(),
            birthplace: "75107".into(),
            birthcountry: "99100".into(),
            email: "a@example.fr".into(),
            preferred_username: None,
        }
    }

    #[test]
    fn the_same_person_gets_the_same_sub_at_one_entity_whatever_her_email() {
        let mut other_provider = person();
        other_provider.email = "b@example.fr".into();
        assert_eq!(
            pairwise_sub(b"secret", "sp", &person()),
            pairwise_sub(b"secret", "sp", &other_provider)
        );
    }

    #[test]
    fn two_entities_get_two_subs_and_the_secret_matters() {
        let sub = pairwise_sub(b"secret", "sp1", &person());
        assert_ne!(sub, pairwise_sub(b"secret", "sp2", &person()));
        assert_ne!(sub, pairwise_sub(b"other", "sp1", &person()));
        assert_eq!(sub.len(), 66);
        assert!(sub.ends_with("v1"));
    }

    #[test]
    fn field_boundaries_cannot_be_shifted() {
        let mut shifted = person();
        shifted.given_name = "Marie HélèneD".into();
        shifted.family_name = "UPONT".into();
        assert_ne!(identity_hash(&person()), identity_hash(&shifted));
    }

    mod properties {
        use proptest::prelude::*;
        use serde_json::{Map, Value, json};

        use super::*;

        /// A name from a small alphabet, so that two draws often differ
        /// only where two fields meet; with a NUL and a newline, which
        /// `Identity::from_claims` refuses.
        fn name() -> impl Strategy<Value = String> {
            let alphabet = vec!['a', 'b', ' ', 'é', '\0', '\n'];
            prop::collection::vec(prop::sample::select(alphabet), 0..6)
                .prop_map(|chars| chars.into_iter().collect())
        }

        /// The fields of the pivot but the names.
        fn rest()
        -> impl Strategy<Value = (&'static str, &'static str, (&'static str, &'static str))>
        {
            let birthdates = vec!["1980-02-29", "1980-02-00", "1980-00-00"];
            let places = vec![("75107", "99100"), ("2A004", "99100"), ("", "99134")];
            (
                prop::sample::select(birthdates),
                prop::sample::select(vec!["female", "male"]),
                prop::sample::select(places),
            )
        }

        /// Claims as a provider sends them.
        fn claims_of(
            given: &str,
            family: &str,
            (birthdate, gender, (place, country)): (&str, &str, (&str, &str)),
            email: &str,
        ) -> Map<String, Value> {
            let claims = json!({
                "given_name": given,
                "family_name": family,
                "birthdate": birthdate,
                "gender": gender,
                "birthplace": place,
                "birthcountry": country,
                "email": email,
            });
            claims.as_object().cloned().unwrap_or_default()
        }

        fn claims() -> impl Strategy<Value = Map<String, Value>> {
            (name(), name(), rest())
                .prop_map(|(given, family, rest)| claims_of(&given, &family, rest, "a@example.fr"))
        }

        /// Two people as alike as can be: the second's names are the
        /// first's, cut at another place (or at the same), and her other
        /// fields are the first's or drawn anew; her email may differ.
        fn two_people() -> impl Strategy<Value = (Map<String, Value>, Map<String, Value>)> {
            (
                name(),
                name(),
                rest(),
                any::<prop::sample::Index>(),
                prop::option::of(rest()),
                any::<bool>(),
            )
                .prop_map(|(given, family, rest, cut, other_rest, same_email)| {
                    let first = claims_of(&given, &family, rest, "a@example.fr");
                    let whole: Vec<char> = given.chars().chain(family.chars()).collect();
                    let cut = cut.index(whole.len() + 1);
                    let (left, right) = whole.split_at(cut);
                    let (left, right): (String, String) =
                        (left.iter().collect(), right.iter().collect());
                    let email = if same_email {
                        "a@example.fr"
                    } else {
                        "b@example.fr"
                    };
                    let second = claims_of(&left, &right, other_rest.unwrap_or(rest), email);
                    (first, second)
                })
        }

        /// What makes a person one person: the identity pivot.
        fn pivot(identity: &Identity) -> [&str; 6] {
            [
                &identity.given_name,
                &identity.family_name,
                &identity.birthdate,
                &identity.gender,
                &identity.birthplace,
                &identity.birthcountry,
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            /// Two people accepted from providers never share a `sub` at a
            /// service, and one person has one, whatever their email.
            #[test]
            fn two_people_never_share_a_sub_and_one_person_has_one(
                (first, second) in two_people(),
                secret in any::<[u8; 16]>(),
            ) {
                let (Ok(first), Ok(second)) =
                    (Identity::from_claims(&first), Identity::from_claims(&second))
                else {
                    return Ok(());
                };
                for identity in [&first, &second] {
                    prop_assert!(!identity.given_name.contains(['\0', '\n']));
                    prop_assert!(!identity.family_name.contains(['\0', '\n']));
                }
                let same_person = pivot(&first) == pivot(&second);
                let same_sub =
                    pairwise_sub(&secret, "sp", &first) == pairwise_sub(&secret, "sp", &second);
                prop_assert_eq!(same_person, same_sub);
            }

            /// One person never has the same `sub` at two services.
            #[test]
            fn two_services_never_share_a_persons_sub(
                person in claims(),
                one in prop::collection::vec(any::<char>(), 0..12),
                other in prop::collection::vec(any::<char>(), 0..12),
                secret in any::<[u8; 16]>(),
            ) {
                let Ok(person) = Identity::from_claims(&person) else {
                    return Ok(());
                };
                let (one, other): (String, String) =
                    (one.into_iter().collect(), other.into_iter().collect());
                prop_assume!(one != other);
                prop_assert_ne!(
                    pairwise_sub(&secret, &one, &person),
                    pairwise_sub(&secret, &other, &person)
                );
            }
        }
    }
}
