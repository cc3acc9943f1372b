//! The level of assurance (eidas1 < eidas2 < eidas3): every decision the hub
//! makes about it, each a named rule, in one place.
//!
//! A request carries the level the service asked for (`acr_values`, else
//! the platform's default: [`crate::config::Platform::default_acr`]). Then:
//!
//! 1. [`provider_can_prove`]: a provider is offered, chosen or hinted only
//!    when one of its levels reaches the level asked;
//! 2. [`to_ask`]: the hub asks it for the level asked, or its own lowest
//!    when that is higher (FranceConnect `getAcrToAskToIdp`);
//! 3. [`proven`]: its answer counts only at a level it is configured for
//!    and at least the level asked (FranceConnect `checkIfAcrIsValid`);
//! 4. [`session_suffices`]: a verified session serves a request only at or
//!    below the level it proved (single sign-on, the code's form);
//! 5. [`sso_allows`]: single sign-on serves at most the platform's ceiling
//!    (FranceConnect+ serves eidas3 only after a new login);
//! 6. [`reported`]: the level written in the ID token.
//!
//! [`crate::policy`] applies rules 1, 4 and 5 on every path that reaches a
//! code (a fresh login, single sign-on, a hint, the consent form); the
//! provider's request (2) and its callback (3) apply theirs.

use oidc::Acr;

use crate::config::Platform;

/// Rule 1: one of the provider's levels reaches the level asked.
pub fn provider_can_prove(provider_levels: &[Acr], asked: Acr) -> bool {
    provider_levels.iter().any(|level| *level >= asked)
}

/// Rule 2: what the hub asks the provider for: the level asked, or the
/// provider's lowest level when that is higher.
pub fn to_ask(provider_levels: &[Acr], asked: Acr) -> Acr {
    provider_levels
        .iter()
        .copied()
        .min()
        .map_or(asked, |lowest| lowest.max(asked))
}

/// Why a provider's answer does not prove the level asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotProven {
    /// The provider proved a level below the one asked.
    TooLow(Acr),
    /// It proved none, or one it is not configured for.
    Unexpected,
}

/// Rule 3: the level the provider proved, when it is one it is configured
/// for and at least the level asked.
pub fn proven(provider_levels: &[Acr], asked: Acr, claimed: Option<Acr>) -> Result<Acr, NotProven> {
    match claimed {
        Some(level) if level >= asked && provider_levels.contains(&level) => Ok(level),
        Some(level) if level < asked => Err(NotProven::TooLow(level)),
        _ => Err(NotProven::Unexpected),
    }
}

/// Rule 4: a session that proved `proven` serves a request asking `asked`.
pub fn session_suffices(proven: Acr, asked: Acr) -> bool {
    proven >= asked
}

/// Rule 5: single sign-on may serve a request asking `asked` on this
/// platform.
pub fn sso_allows(platform: Platform, asked: Acr) -> bool {
    asked <= platform.sso_ceiling()
}

/// Rule 6: the level written in the ID token. Never more than the provider
/// proved: its level when the platform offers it, else the level asked
/// (FranceConnect `getInteractionAcr`). A single sign-on is reported at most
/// at the platform's ceiling, and never below the level asked
/// (FranceConnect+ `connexion-sso-fcp-high`: eidas2 after an eidas3 login).
pub fn reported(
    platform: Platform,
    platform_levels: &[Acr],
    asked: Acr,
    proven: Acr,
    single_sign_on: bool,
) -> Acr {
    let level = if platform_levels.contains(&proven) {
        proven
    } else {
        asked
    };
    if single_sign_on {
        level.min(platform.sso_ceiling()).max(asked)
    } else {
        level
    }
}

#[cfg(test)]
mod tests {
    use oidc::Acr::{Eidas1, Eidas2, Eidas3};

    use super::*;

    #[test]
    fn a_provider_is_offered_only_when_it_reaches_the_level_asked() {
        assert!(provider_can_prove(&[Eidas1], Eidas1));
        assert!(provider_can_prove(&[Eidas2, Eidas3], Eidas3));
        assert!(!provider_can_prove(&[Eidas1, Eidas2], Eidas3));
        assert!(!provider_can_prove(&[], Eidas1));
    }

    #[test]
    fn the_provider_is_asked_the_level_asked_or_its_own_lowest() {
        assert_eq!(to_ask(&[Eidas1], Eidas1), Eidas1);
        assert_eq!(to_ask(&[Eidas2, Eidas3], Eidas1), Eidas2);
        assert_eq!(to_ask(&[Eidas2, Eidas3], Eidas3), Eidas3);
        assert_eq!(to_ask(&[], Eidas2), Eidas2);
    }

    #[test]
    fn an_answer_proves_only_a_configured_level_at_least_the_one_asked() {
        assert_eq!(proven(&[Eidas2, Eidas3], Eidas2, Some(Eidas3)), Ok(Eidas3));
        assert_eq!(proven(&[Eidas2, Eidas3], Eidas2, Some(Eidas2)), Ok(Eidas2));
        assert_eq!(
            proven(&[Eidas2, Eidas3], Eidas3, Some(Eidas2)),
            Err(NotProven::TooLow(Eidas2))
        );
        // A level the provider is not configured for proves nothing, even
        // a higher one: a provider cannot promote itself.
        assert_eq!(
            proven(&[Eidas1], Eidas1, Some(Eidas3)),
            Err(NotProven::Unexpected)
        );
        assert_eq!(proven(&[Eidas1], Eidas1, None), Err(NotProven::Unexpected));
    }

    #[test]
    fn a_session_serves_up_to_the_level_it_proved() {
        assert!(session_suffices(Eidas2, Eidas1));
        assert!(session_suffices(Eidas2, Eidas2));
        assert!(!session_suffices(Eidas2, Eidas3));
    }

    #[test]
    fn single_sign_on_stops_at_the_platforms_ceiling() {
        assert!(sso_allows(Platform::Standard, Eidas3));
        assert!(sso_allows(Platform::Plus, Eidas2));
        assert!(!sso_allows(Platform::Plus, Eidas3));
    }

    #[test]
    fn the_reported_level_never_exceeds_what_was_proven_nor_the_sso_ceiling() {
        // The provider's level when the platform offers it.
        assert_eq!(
            reported(Platform::Plus, &[Eidas2, Eidas3], Eidas2, Eidas3, false),
            Eidas3
        );
        // Else the level asked (the standard platform offers eidas1 only).
        assert_eq!(
            reported(Platform::Standard, &[Eidas1], Eidas1, Eidas2, false),
            Eidas1
        );
        // Single sign-on after an eidas3 login: eidas2 on the plus platform.
        assert_eq!(
            reported(Platform::Plus, &[Eidas2, Eidas3], Eidas2, Eidas3, true),
            Eidas2
        );
        assert_eq!(
            reported(
                Platform::Standard,
                &[Eidas1, Eidas2, Eidas3],
                Eidas1,
                Eidas3,
                true
            ),
            Eidas3
        );
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        fn level() -> impl Strategy<Value = Acr> {
            prop::sample::select(vec![Eidas1, Eidas2, Eidas3])
        }

        fn levels() -> impl Strategy<Value = Vec<Acr>> {
            prop::sample::subsequence(vec![Eidas1, Eidas2, Eidas3], 0..=3)
        }

        fn platform() -> impl Strategy<Value = Platform> {
            prop::sample::select(vec![Platform::Standard, Platform::Plus])
        }

        proptest! {
            /// A login, then single sign-ons: whatever the provider's
            /// levels, the platform's, what was asked and what the
            /// provider claimed, no ID token says more than the provider
            /// proved, nor less than its request asked.
            #[test]
            fn the_level_returned_is_never_above_what_the_provider_proved(
                provider in levels(),
                offered in levels(),
                platform in platform(),
                asked in level(),
                claimed in prop::option::of(level()),
                later in prop::collection::vec(level(), 0..4),
            ) {
                let Ok(proved) = proven(&provider, asked, claimed) else {
                    // Nothing proven: no code, no token.
                    return Ok(());
                };
                prop_assert_eq!(claimed, Some(proved));
                prop_assert!(provider.contains(&proved));
                let first = reported(platform, &offered, asked, proved, false);
                prop_assert!(asked <= first && first <= proved);
                for asked in later {
                    if !(session_suffices(proved, asked) && sso_allows(platform, asked)) {
                        continue; // a new login, checked as the first was
                    }
                    let again = reported(platform, &offered, asked, proved, true);
                    prop_assert!(asked <= again && again <= proved);
                    prop_assert!(again <= platform.sso_ceiling().max(asked));
                }
            }

            /// The provider is offered only when it can prove the level,
            /// and is asked at least the level asked, never above its own.
            #[test]
            fn a_provider_is_asked_at_least_the_level_asked_and_no_more_than_it_proves(
                provider in levels(),
                asked in level(),
            ) {
                if provider_can_prove(&provider, asked) {
                    let ask = to_ask(&provider, asked);
                    prop_assert!(ask >= asked);
                    prop_assert!(provider.iter().any(|level| *level >= ask));
                }
            }
        }
    }
}
