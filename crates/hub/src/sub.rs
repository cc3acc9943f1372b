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
    let mut sub: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
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
}
