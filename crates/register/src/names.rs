//! Comparing names the way a civil register clerk would: ignoring case, accents and the
//! choice between a space, a hyphen and an apostrophe.
//!
//! Identity providers do not all write names alike ("Marie-Hélène" / "MARIE HELENE",
//! "N'DIAYE" / "N’DIAYE"); the RNIPP check must not fail on that (franceconnect.md §8, the
//! "identité redressée" is the register's spelling, whatever the provider sent).

/// The comparable form of a name: accents of French letters dropped (plus `ñ`), upper case,
/// spaces, hyphens and apostrophes collapsed into single spaces, trimmed.
///
/// `"  marie-hélène "` → `"MARIE HELENE"`, `"N’Diaye"` → `"N DIAYE"`.
pub(crate) fn normalise_name(name: &str) -> String {
    let mut normal = String::with_capacity(name.len());
    let mut pending_space = false;
    for c in name.chars() {
        if is_separator(c) {
            pending_space = true;
            continue;
        }
        if pending_space && !normal.is_empty() {
            normal.push(' ');
        }
        pending_space = false;
        match strip_diacritic(c) {
            Some(plain) => normal.push_str(plain),
            None => normal.extend(c.to_uppercase()),
        }
    }
    normal
}

/// Characters that only separate the parts of a name.
fn is_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '-' | '\u{2010}' | '\u{2011}' | '\'' | '\u{2019}')
}

/// The upper-case ASCII spelling of a French letter with a diacritic or a ligature; `None` for
/// any other character. A small table is enough: the register holds French civil names, and
/// no Unicode-normalisation crate is wanted for it.
fn strip_diacritic(c: char) -> Option<&'static str> {
    let plain = match c {
        'à' | 'â' | 'ä' | 'á' | 'À' | 'Â' | 'Ä' | 'Á' => "A",
        'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' | 'Ê' | 'Ë' => "E",
        'î' | 'ï' | 'í' | 'Î' | 'Ï' | 'Í' => "I",
        'ô' | 'ö' | 'ó' | 'Ô' | 'Ö' | 'Ó' => "O",
        'ù' | 'û' | 'ü' | 'ú' | 'Ù' | 'Û' | 'Ü' | 'Ú' => "U",
        'ÿ' | 'Ÿ' => "Y",
        'ç' | 'Ç' => "C",
        'ñ' | 'Ñ' => "N",
        'œ' | 'Œ' => "OE",
        'æ' | 'Æ' => "AE",
        _ => return None,
    };
    Some(plain)
}

/// Levenshtein distance in characters: the fewest insertions, deletions and substitutions
/// that turn `a` into `b`.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    // `previous[j]` is the distance between the prefix of `a` read so far and `b[..j]`.
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, a_char) in a.chars().enumerate() {
        let mut current = Vec::with_capacity(previous.len());
        current.push(i + 1);
        for (b_char, pair) in b.iter().zip(previous.windows(2)) {
            let [diagonal, above] = pair else { continue };
            let left = current.last().copied().unwrap_or(0);
            let substitution = diagonal + usize::from(a_char != *b_char);
            current.push(substitution.min(above + 1).min(left + 1));
        }
        previous = current;
    }
    previous.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalising_drops_accents_and_case() {
        assert_eq!(normalise_name("Hélène"), "HELENE");
        assert_eq!(normalise_name("MÜLLER"), "MULLER");
        assert_eq!(normalise_name("françois"), "FRANCOIS");
        assert_eq!(normalise_name("Loïc Maëlle Zoé"), "LOIC MAELLE ZOE");
        assert_eq!(normalise_name("Œdipe Ænéas Ñuñez"), "OEDIPE AENEAS NUNEZ");
        assert_eq!(normalise_name("ÀÂÄÉÈÊËÎÏÔÖÙÛÜŸÇ"), "AAAEEEEIIOOUUUYC");
    }

    #[test]
    fn normalising_treats_hyphens_spaces_and_apostrophes_alike() {
        assert_eq!(
            normalise_name("Marie-Hélène"),
            normalise_name("MARIE HELENE")
        );
        assert_eq!(normalise_name("  marie   -  hélène "), "MARIE HELENE");
        assert_eq!(normalise_name("N'DIAYE"), normalise_name("n’diaye"));
        assert_eq!(normalise_name("le  gall"), "LE GALL");
        assert_eq!(normalise_name(" - "), "");
    }

    #[test]
    fn edit_distance_counts_insertions_deletions_and_substitutions() {
        assert_eq!(edit_distance("DUPONT", "DUPONT"), 0);
        assert_eq!(edit_distance("DUPONT", "DUPOND"), 1);
        assert_eq!(edit_distance("DUPONT", "DUPONTT"), 1);
        assert_eq!(edit_distance("DUPONT", "DUPNT"), 1);
        assert_eq!(edit_distance("DUPONT", "DUPNOT"), 2);
        assert_eq!(edit_distance("KITTEN", "SITTING"), 3);
        assert_eq!(edit_distance("", "ABC"), 3);
        assert_eq!(edit_distance("ABC", ""), 3);
        assert_eq!(edit_distance("", ""), 0);
    }
}
