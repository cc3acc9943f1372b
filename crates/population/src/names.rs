//! French first names and family names, and how they become an e-mail address.
//!
//! Names keep their accents, hyphens and apostrophes because real identities have them and the
//! hub must carry them intact: the identity pivot's `family_name` is the birth name in capitals
//! ("LE GALL", "N'DIAYE", "MÜLLER"), `given_name` the first names separated by spaces
//! (franceconnect.md §3).

/// Women's first names, with the accents and hyphens of the civil register.
pub(crate) const FEMALE_GIVEN_NAMES: &[&str] = &[
    "Agnès",
    "Aïcha",
    "Alice",
    "Ambre",
    "Anaïs",
    "Anne",
    "Anne-Marie",
    "Anne-Sophie",
    "Aurélie",
    "Béatrice",
    "Bérénice",
    "Brigitte",
    "Camille",
    "Capucine",
    "Catherine",
    "Cécile",
    "Céline",
    "Chloé",
    "Christine",
    "Clémence",
    "Danièle",
    "Élise",
    "Éloïse",
    "Emma",
    "Émilie",
    "Fatoumata",
    "Françoise",
    "Gaëlle",
    "Geneviève",
    "Ginette",
    "Hélène",
    "Héloïse",
    "Inès",
    "Isabelle",
    "Jade",
    "Jeanne",
    "Joséphine",
    "Josette",
    "Julie",
    "Laëtitia",
    "Léa",
    "Leïla",
    "Léonie",
    "Louise",
    "Lucie",
    "Maëlle",
    "Maïwenn",
    "Manon",
    "Margaux",
    "Marie",
    "Marie-Christine",
    "Marie-Claire",
    "Marie-Hélène",
    "Martine",
    "Mélanie",
    "Mireille",
    "Monique",
    "Nadège",
    "Nathalie",
    "Noémie",
    "Océane",
    "Odile",
    "Rosalie",
    "Sandrine",
    "Solène",
    "Sophie",
    "Stéphanie",
    "Sylvie",
    "Thérèse",
    "Valérie",
    "Véronique",
    "Yasmine",
    "Zoé",
];

/// Men's first names, with the accents and hyphens of the civil register.
pub(crate) const MALE_GIVEN_NAMES: &[&str] = &[
    "Adrien",
    "Alain",
    "André",
    "Antoine",
    "Aurélien",
    "Baptiste",
    "Benoît",
    "Bernard",
    "Cédric",
    "Christophe",
    "Clément",
    "Daniel",
    "Élie",
    "Enzo",
    "Éric",
    "Erwan",
    "Étienne",
    "François",
    "Frédéric",
    "Gabriel",
    "Gaël",
    "Gérard",
    "Grégory",
    "Guillaume",
    "Hervé",
    "Hugo",
    "Jacques",
    "Jean",
    "Jean-Baptiste",
    "Jean-François",
    "Jean-Luc",
    "Jean-Marc",
    "Jean-Pierre",
    "Jérémy",
    "Jérôme",
    "Joël",
    "Julien",
    "Karim",
    "Kévin",
    "Laurent",
    "Léo",
    "Loïc",
    "Louis",
    "Lucas",
    "Mamadou",
    "Marc-Olivier",
    "Mathéo",
    "Mathis",
    "Maxime",
    "Mehdi",
    "Michel",
    "Mickaël",
    "Moussa",
    "Nathan",
    "Nicolas",
    "Noé",
    "Noël",
    "Olivier",
    "Patrick",
    "Paul-Antoine",
    "Philippe",
    "Pierre",
    "Pierre-Yves",
    "Raphaël",
    "Rémi",
    "René",
    "Sébastien",
    "Stéphane",
    "Théo",
    "Thomas",
    "Timothée",
    "Yannick",
    "Youssef",
];

/// Birth names, in capitals as the identity pivot writes them, accents kept.
pub(crate) const FAMILY_NAMES: &[&str] = &[
    "ADAM",
    "ANDRÉ",
    "ARNAUD",
    "AUBERT",
    "BAILLY",
    "BARBIER",
    "BARON",
    "BARRÉ",
    "BARTHÉLEMY",
    "BENOÎT",
    "BENSAÏD",
    "BERGER",
    "BERNARD",
    "BERTIN",
    "BERTRAND",
    "BESSON",
    "BLANC",
    "BLANCHARD",
    "BONNET",
    "BOUCHER",
    "BOULANGER",
    "BOURGEOIS",
    "BOUVIER",
    "BOYER",
    "BRETON",
    "BRUN",
    "BRUNET",
    "CARON",
    "CARPENTIER",
    "CARRÉ",
    "CASANOVA",
    "CHARPENTIER",
    "CHAUVIN",
    "CHEVALIER",
    "CLÉMENT",
    "COLIN",
    "CORDIER",
    "COUSIN",
    "D'ALMEIDA",
    "DA SILVA",
    "DAVID",
    "DELAUNAY",
    "DENIS",
    "DESCHAMPS",
    "DIALLO",
    "DUBOIS",
    "DUFOUR",
    "DUMAS",
    "DUMONT",
    "DUPONT",
    "DUPUIS",
    "DURAND",
    "DUVAL",
    "EL AMRANI",
    "ÉTIENNE",
    "FABRE",
    "FAURE",
    "FERNANDEZ",
    "FLEURY",
    "FONTAINE",
    "FOURNIER",
    "FRANÇOIS",
    "GAILLARD",
    "GARCIA",
    "GARNIER",
    "GAUTHIER",
    "GÉRARD",
    "GERMAIN",
    "GIRARD",
    "GIRAUD",
    "GRONDIN",
    "GUÉRIN",
    "GUILLAUME",
    "HAMON",
    "HENRY",
    "HERVÉ",
    "HOARAU",
    "HUBERT",
    "HUET",
    "JACOB",
    "JOLY",
    "KLEIN",
    "LACROIX",
    "LAMBERT",
    "LAURENT",
    "LE GALL",
    "LE GOFF",
    "LE ROUX",
    "LEBLANC",
    "LEBRUN",
    "LECLERC",
    "LEFÈVRE",
    "LEGRAND",
    "LEMAIRE",
    "LEMAÎTRE",
    "LEROY",
    "LÉVÊQUE",
    "LOPEZ",
    "LUCAS",
    "MARCHAND",
    "MARÉCHAL",
    "MARTIN",
    "MARTINEZ",
    "MASSON",
    "MATHIEU",
    "MÉNARD",
    "MERCIER",
    "MEUNIER",
    "MEYER",
    "MICHEL",
    "MOREAU",
    "MOREL",
    "MORIN",
    "MÜLLER",
    "N'DIAYE",
    "NGUYEN",
    "NICOLAS",
    "NOËL",
    "ORSINI",
    "PAYET",
    "PERRIN",
    "PETIT",
    "PICARD",
    "PRÉVOST",
    "RENARD",
    "RICHARD",
    "RIVIÈRE",
    "ROBERT",
    "ROBIN",
    "ROUSSEAU",
    "ROUSSEL",
    "ROUX",
    "SANTONI",
    "SCHMITT",
    "SIMON",
    "THOMAS",
    "TRAORÉ",
    "VIDAL",
    "VINCENT",
    "WEBER",
];

/// The e-mail local-part form of a name: lower-case ASCII letters and digits, French accents
/// dropped, every run of other characters (space, hyphen, apostrophe) turned into one hyphen.
///
/// `"Marie-Hélène"` → `"marie-helene"`, `"N'DIAYE"` → `"n-diaye"`, `"MÜLLER"` → `"muller"`.
pub(crate) fn email_part(name: &str) -> String {
    let mut part = String::with_capacity(name.len());
    let mut pending_separator = false;
    for c in name.chars() {
        let folded = fold_to_ascii(c);
        let letters = folded.chars().filter(char::is_ascii_alphanumeric);
        let mut any = false;
        for letter in letters {
            if pending_separator && !part.is_empty() {
                part.push('-');
            }
            pending_separator = false;
            part.push(letter.to_ascii_lowercase());
            any = true;
        }
        if !any {
            pending_separator = true;
        }
    }
    part
}

/// The ASCII letters a French letter is written with when accents are dropped; other
/// characters are returned unchanged.
fn fold_to_ascii(c: char) -> String {
    let folded = match c {
        'à' | 'â' | 'ä' | 'á' => "a",
        'À' | 'Â' | 'Ä' | 'Á' => "A",
        'é' | 'è' | 'ê' | 'ë' => "e",
        'É' | 'È' | 'Ê' | 'Ë' => "E",
        'î' | 'ï' | 'í' => "i",
        'Î' | 'Ï' | 'Í' => "I",
        'ô' | 'ö' | 'ó' => "o",
        'Ô' | 'Ö' | 'Ó' => "O",
        'ù' | 'û' | 'ü' | 'ú' => "u",
        'Ù' | 'Û' | 'Ü' | 'Ú' => "U",
        'ÿ' => "y",
        'Ÿ' => "Y",
        'ç' => "c",
        'Ç' => "C",
        'ñ' => "n",
        'Ñ' => "N",
        'œ' => "oe",
        'Œ' => "OE",
        'æ' => "ae",
        'Æ' => "AE",
        other => return other.to_string(),
    };
    folded.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_email_part_drops_accents_and_joins_words_with_hyphens() {
        assert_eq!(email_part("Marie-Hélène"), "marie-helene");
        assert_eq!(email_part("N'DIAYE"), "n-diaye");
        assert_eq!(email_part("MÜLLER"), "muller");
        assert_eq!(email_part("LE GALL"), "le-gall");
        assert_eq!(email_part("Laëtitia"), "laetitia");
        assert_eq!(email_part("Œdipe  Ñ"), "oedipe-n");
    }

    #[test]
    fn every_name_table_is_non_empty_and_free_of_duplicates() {
        for table in [FEMALE_GIVEN_NAMES, MALE_GIVEN_NAMES, FAMILY_NAMES] {
            assert!(table.len() >= 50);
            let mut sorted = table.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), table.len());
        }
    }

    #[test]
    fn family_names_are_in_capitals_and_every_name_has_an_email_form() {
        for name in FAMILY_NAMES {
            assert_eq!(name.to_uppercase(), *name);
        }
        for name in FEMALE_GIVEN_NAMES
            .iter()
            .chain(MALE_GIVEN_NAMES)
            .chain(FAMILY_NAMES)
        {
            let part = email_part(name);
            assert!(!part.is_empty(), "{name}");
            assert!(
                part.bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'-' || b.is_ascii_digit()),
                "{name} → {part}"
            );
        }
    }

    #[test]
    fn the_names_include_accents_hyphens_and_apostrophes() {
        assert!(FEMALE_GIVEN_NAMES.contains(&"Zoé"));
        assert!(MALE_GIVEN_NAMES.contains(&"Jean-Pierre"));
        assert!(MALE_GIVEN_NAMES.contains(&"Loïc"));
        assert!(FAMILY_NAMES.contains(&"N'DIAYE"));
        assert!(FAMILY_NAMES.contains(&"LE GALL"));
        assert!(FAMILY_NAMES.contains(&"MÜLLER"));
    }
}
