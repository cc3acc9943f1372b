//! Places of birth as the INSEE Code officiel géographique (COG) names them.
//!
//! The identity pivot carries `birthplace` as a 5-character COG commune code (empty when born
//! abroad) and `birthcountry` as a COG country code, `99100` for France (franceconnect.md §3).
//! These tables are a small, real excerpt of the COG, embedded so the crate needs no file or
//! network at run time:
//!
//! - communes: the chef-lieu of every département (codes checked against INSEE's
//!   `departement2020.csv`, column `cheflieu`), a few other large towns, and the
//!   arrondissements of Paris (75101–75120), Lyon (69381–69389) and Marseille (13201–13216),
//!   which the civil register records instead of the commune codes 75056, 69123 and 13055;
//! - countries: about forty of INSEE's `99xxx` country codes (checked against the INSEE
//!   country list, 2025 edition).
//!
//! A wrong code here would be a bug in every identity built from it: add a code only after
//! checking it against INSEE's files.

/// A commune of the COG.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Commune {
    /// The 5-character COG code: two département characters (`"2A"`/`"2B"` in Corsica) and
    /// three digits, or `97` + three digits overseas.
    pub code: &'static str,
    /// The commune's name, e.g. `"Saint-Étienne"`.
    pub name: &'static str,
    /// The département: `"75"`, `"2A"`, `"971"`…
    pub department: &'static str,
}

/// A country (or former territory) of the COG, by its `99xxx` code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Country {
    /// The 5-digit COG code, `99` followed by three digits.
    pub code: &'static str,
    /// The country's short French name, e.g. `"Royaume-Uni"`.
    pub name: &'static str,
}

/// COG code of France as a birth country.
pub const FRANCE: &str = "99100";

/// The commune with this COG code, if the table holds it.
pub fn commune(code: &str) -> Option<&'static Commune> {
    COMMUNES.iter().find(|commune| commune.code == code)
}

/// The country with this COG code, if the table holds it.
pub fn country(code: &str) -> Option<&'static Country> {
    COUNTRIES.iter().find(|country| country.code == code)
}

/// Every commune of the table, sorted by code.
pub const COMMUNES: &[Commune] = &[
    commune_entry("01053", "Bourg-en-Bresse", "01"),
    commune_entry("02408", "Laon", "02"),
    commune_entry("03190", "Moulins", "03"),
    commune_entry("04070", "Digne-les-Bains", "04"),
    commune_entry("05061", "Gap", "05"),
    commune_entry("06004", "Antibes", "06"),
    commune_entry("06029", "Cannes", "06"),
    commune_entry("06088", "Nice", "06"),
    commune_entry("07186", "Privas", "07"),
    commune_entry("08105", "Charleville-Mézières", "08"),
    commune_entry("09122", "Foix", "09"),
    commune_entry("10387", "Troyes", "10"),
    commune_entry("11069", "Carcassonne", "11"),
    commune_entry("12202", "Rodez", "12"),
    commune_entry("13001", "Aix-en-Provence", "13"),
    commune_entry("13201", "Marseille 1er Arrondissement", "13"),
    commune_entry("13202", "Marseille 2e Arrondissement", "13"),
    commune_entry("13203", "Marseille 3e Arrondissement", "13"),
    commune_entry("13204", "Marseille 4e Arrondissement", "13"),
    commune_entry("13205", "Marseille 5e Arrondissement", "13"),
    commune_entry("13206", "Marseille 6e Arrondissement", "13"),
    commune_entry("13207", "Marseille 7e Arrondissement", "13"),
    commune_entry("13208", "Marseille 8e Arrondissement", "13"),
    commune_entry("13209", "Marseille 9e Arrondissement", "13"),
    commune_entry("13210", "Marseille 10e Arrondissement", "13"),
    commune_entry("13211", "Marseille 11e Arrondissement", "13"),
    commune_entry("13212", "Marseille 12e Arrondissement", "13"),
    commune_entry("13213", "Marseille 13e Arrondissement", "13"),
    commune_entry("13214", "Marseille 14e Arrondissement", "13"),
    commune_entry("13215", "Marseille 15e Arrondissement", "13"),
    commune_entry("13216", "Marseille 16e Arrondissement", "13"),
    commune_entry("14118", "Caen", "14"),
    commune_entry("15014", "Aurillac", "15"),
    commune_entry("16015", "Angoulême", "16"),
    commune_entry("17300", "La Rochelle", "17"),
    commune_entry("18033", "Bourges", "18"),
    commune_entry("19272", "Tulle", "19"),
    commune_entry("21231", "Dijon", "21"),
    commune_entry("22278", "Saint-Brieuc", "22"),
    commune_entry("23096", "Guéret", "23"),
    commune_entry("24322", "Périgueux", "24"),
    commune_entry("25056", "Besançon", "25"),
    commune_entry("26362", "Valence", "26"),
    commune_entry("27229", "Évreux", "27"),
    commune_entry("28085", "Chartres", "28"),
    commune_entry("29019", "Brest", "29"),
    commune_entry("29232", "Quimper", "29"),
    commune_entry("2A004", "Ajaccio", "2A"),
    commune_entry("2B033", "Bastia", "2B"),
    commune_entry("30189", "Nîmes", "30"),
    commune_entry("31555", "Toulouse", "31"),
    commune_entry("32013", "Auch", "32"),
    commune_entry("33063", "Bordeaux", "33"),
    commune_entry("34172", "Montpellier", "34"),
    commune_entry("35238", "Rennes", "35"),
    commune_entry("36044", "Châteauroux", "36"),
    commune_entry("37261", "Tours", "37"),
    commune_entry("38185", "Grenoble", "38"),
    commune_entry("39300", "Lons-le-Saunier", "39"),
    commune_entry("40192", "Mont-de-Marsan", "40"),
    commune_entry("41018", "Blois", "41"),
    commune_entry("42218", "Saint-Étienne", "42"),
    commune_entry("43157", "Le Puy-en-Velay", "43"),
    commune_entry("44109", "Nantes", "44"),
    commune_entry("45234", "Orléans", "45"),
    commune_entry("46042", "Cahors", "46"),
    commune_entry("47001", "Agen", "47"),
    commune_entry("48095", "Mende", "48"),
    commune_entry("49007", "Angers", "49"),
    commune_entry("50129", "Cherbourg-en-Cotentin", "50"),
    commune_entry("50502", "Saint-Lô", "50"),
    commune_entry("51108", "Châlons-en-Champagne", "51"),
    commune_entry("51454", "Reims", "51"),
    commune_entry("52121", "Chaumont", "52"),
    commune_entry("52448", "Saint-Dizier", "52"),
    commune_entry("53130", "Laval", "53"),
    commune_entry("54395", "Nancy", "54"),
    commune_entry("55029", "Bar-le-Duc", "55"),
    commune_entry("55545", "Verdun", "55"),
    commune_entry("56260", "Vannes", "56"),
    commune_entry("57463", "Metz", "57"),
    commune_entry("58194", "Nevers", "58"),
    commune_entry("59350", "Lille", "59"),
    commune_entry("59599", "Tourcoing", "59"),
    commune_entry("60057", "Beauvais", "60"),
    commune_entry("61001", "Alençon", "61"),
    commune_entry("62041", "Arras", "62"),
    commune_entry("63113", "Clermont-Ferrand", "63"),
    commune_entry("64102", "Bayonne", "64"),
    commune_entry("64445", "Pau", "64"),
    commune_entry("65440", "Tarbes", "65"),
    commune_entry("66136", "Perpignan", "66"),
    commune_entry("67462", "Sélestat", "67"),
    commune_entry("67482", "Strasbourg", "67"),
    commune_entry("68066", "Colmar", "68"),
    commune_entry("68224", "Mulhouse", "68"),
    commune_entry("69266", "Villeurbanne", "69"),
    commune_entry("69381", "Lyon 1er Arrondissement", "69"),
    commune_entry("69382", "Lyon 2e Arrondissement", "69"),
    commune_entry("69383", "Lyon 3e Arrondissement", "69"),
    commune_entry("69384", "Lyon 4e Arrondissement", "69"),
    commune_entry("69385", "Lyon 5e Arrondissement", "69"),
    commune_entry("69386", "Lyon 6e Arrondissement", "69"),
    commune_entry("69387", "Lyon 7e Arrondissement", "69"),
    commune_entry("69388", "Lyon 8e Arrondissement", "69"),
    commune_entry("69389", "Lyon 9e Arrondissement", "69"),
    commune_entry("70550", "Vesoul", "70"),
    commune_entry("71270", "Mâcon", "71"),
    commune_entry("72181", "Le Mans", "72"),
    commune_entry("73065", "Chambéry", "73"),
    commune_entry("74010", "Annecy", "74"),
    commune_entry("75101", "Paris 1er Arrondissement", "75"),
    commune_entry("75102", "Paris 2e Arrondissement", "75"),
    commune_entry("75103", "Paris 3e Arrondissement", "75"),
    commune_entry("75104", "Paris 4e Arrondissement", "75"),
    commune_entry("75105", "Paris 5e Arrondissement", "75"),
    commune_entry("75106", "Paris 6e Arrondissement", "75"),
    commune_entry("75107", "Paris 7e Arrondissement", "75"),
    commune_entry("75108", "Paris 8e Arrondissement", "75"),
    commune_entry("75109", "Paris 9e Arrondissement", "75"),
    commune_entry("75110", "Paris 10e Arrondissement", "75"),
    commune_entry("75111", "Paris 11e Arrondissement", "75"),
    commune_entry("75112", "Paris 12e Arrondissement", "75"),
    commune_entry("75113", "Paris 13e Arrondissement", "75"),
    commune_entry("75114", "Paris 14e Arrondissement", "75"),
    commune_entry("75115", "Paris 15e Arrondissement", "75"),
    commune_entry("75116", "Paris 16e Arrondissement", "75"),
    commune_entry("75117", "Paris 17e Arrondissement", "75"),
    commune_entry("75118", "Paris 18e Arrondissement", "75"),
    commune_entry("75119", "Paris 19e Arrondissement", "75"),
    commune_entry("75120", "Paris 20e Arrondissement", "75"),
    commune_entry("76351", "Le Havre", "76"),
    commune_entry("76540", "Rouen", "76"),
    commune_entry("77288", "Melun", "77"),
    commune_entry("78646", "Versailles", "78"),
    commune_entry("79191", "Niort", "79"),
    commune_entry("80021", "Amiens", "80"),
    commune_entry("81004", "Albi", "81"),
    commune_entry("82121", "Montauban", "82"),
    commune_entry("83137", "Toulon", "83"),
    commune_entry("84007", "Avignon", "84"),
    commune_entry("85191", "La Roche-sur-Yon", "85"),
    commune_entry("86194", "Poitiers", "86"),
    commune_entry("87085", "Limoges", "87"),
    commune_entry("88160", "Épinal", "88"),
    commune_entry("89024", "Auxerre", "89"),
    commune_entry("90010", "Belfort", "90"),
    commune_entry("91228", "Évry-Courcouronnes", "91"),
    commune_entry("92004", "Asnières-sur-Seine", "92"),
    commune_entry("92012", "Boulogne-Billancourt", "92"),
    commune_entry("92025", "Colombes", "92"),
    commune_entry("92026", "Courbevoie", "92"),
    commune_entry("92050", "Nanterre", "92"),
    commune_entry("93008", "Bobigny", "93"),
    commune_entry("93048", "Montreuil", "93"),
    commune_entry("93066", "Saint-Denis", "93"),
    commune_entry("94028", "Créteil", "94"),
    commune_entry("95018", "Argenteuil", "95"),
    commune_entry("95500", "Pontoise", "95"),
    commune_entry("97105", "Basse-Terre", "971"),
    commune_entry("97209", "Fort-de-France", "972"),
    commune_entry("97302", "Cayenne", "973"),
    commune_entry("97411", "Saint-Denis", "974"),
    commune_entry("97608", "Dzaoudzi", "976"),
];

/// Every country of the table, sorted by code; France first.
pub const COUNTRIES: &[Country] = &[
    country_entry(FRANCE, "France"),
    country_entry("99101", "Danemark"),
    country_entry("99104", "Suède"),
    country_entry("99109", "Allemagne"),
    country_entry("99110", "Autriche"),
    country_entry("99114", "Roumanie"),
    country_entry("99122", "Pologne"),
    country_entry("99123", "Russie"),
    country_entry("99126", "Grèce"),
    country_entry("99127", "Italie"),
    country_entry("99131", "Belgique"),
    country_entry("99132", "Royaume-Uni"),
    country_entry("99134", "Espagne"),
    country_entry("99135", "Pays-Bas"),
    country_entry("99136", "Irlande"),
    country_entry("99137", "Luxembourg"),
    country_entry("99139", "Portugal"),
    country_entry("99140", "Suisse"),
    country_entry("99155", "Ukraine"),
    country_entry("99205", "Liban"),
    country_entry("99208", "Turquie"),
    country_entry("99216", "Chine"),
    country_entry("99217", "Japon"),
    country_entry("99223", "Inde"),
    country_entry("99243", "Vietnam"),
    country_entry("99301", "Égypte"),
    country_entry("99312", "République démocratique du Congo"),
    country_entry("99322", "Cameroun"),
    country_entry("99326", "Côte d’Ivoire"),
    country_entry("99330", "Guinée"),
    country_entry("99333", "Madagascar"),
    country_entry("99335", "Mali"),
    country_entry("99341", "Sénégal"),
    country_entry("99350", "Maroc"),
    country_entry("99351", "Tunisie"),
    country_entry("99352", "Algérie"),
    country_entry("99390", "Maurice"),
    country_entry("99397", "Comores"),
    country_entry("99401", "Canada"),
    country_entry("99404", "États-Unis"),
    country_entry("99405", "Mexique"),
    country_entry("99410", "Haïti"),
    country_entry("99415", "Argentine"),
    country_entry("99416", "Brésil"),
];

/// Every département that has a commune in the table, in code order.
pub(crate) fn departments() -> Vec<&'static str> {
    let mut departments: Vec<&'static str> = COMMUNES.iter().map(|c| c.department).collect();
    departments.dedup();
    departments
}

const fn commune_entry(
    code: &'static str,
    name: &'static str,
    department: &'static str,
) -> Commune {
    Commune {
        code,
        name,
        department,
    }
}

const fn country_entry(code: &'static str, name: &'static str) -> Country {
    Country { code, name }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_commune_code_is_five_characters_starting_with_its_department() {
        for commune in COMMUNES {
            assert_eq!(commune.code.len(), 5, "{commune:?}");
            assert!(commune.code.starts_with(commune.department), "{commune:?}");
            let tail = &commune.code[2..];
            assert!(tail.bytes().all(|b| b.is_ascii_digit()), "{commune:?}");
        }
    }

    #[test]
    fn the_commune_table_is_sorted_without_duplicates() {
        assert!(COMMUNES.windows(2).all(|pair| pair[0].code < pair[1].code));
        assert!(COUNTRIES.windows(2).all(|pair| pair[0].code < pair[1].code));
    }

    #[test]
    fn the_tables_hold_about_150_communes_and_30_countries() {
        assert!(COMMUNES.len() >= 150);
        assert!(COUNTRIES.len() >= 30);
        assert!(departments().len() >= 100);
    }

    #[test]
    fn paris_lyon_and_marseille_births_use_arrondissement_codes() {
        for code in (75101..=75120).chain(69381..=69389).chain(13201..=13216) {
            assert!(commune(&code.to_string()).is_some(), "{code}");
        }
        for whole_city in ["75056", "69123", "13055"] {
            assert!(commune(whole_city).is_none(), "{whole_city}");
        }
    }

    #[test]
    fn corsican_and_overseas_communes_carry_their_departments() {
        assert_eq!(commune("2A004").unwrap().name, "Ajaccio");
        assert_eq!(commune("2A004").unwrap().department, "2A");
        assert_eq!(commune("2B033").unwrap().name, "Bastia");
        assert_eq!(commune("2B033").unwrap().department, "2B");
        assert_eq!(commune("97411").unwrap().name, "Saint-Denis");
        assert_eq!(commune("97411").unwrap().department, "974");
    }

    #[test]
    fn every_country_code_is_99_and_three_digits() {
        for country in COUNTRIES {
            assert_eq!(country.code.len(), 5);
            assert!(country.code.starts_with("99"));
            assert!(country.code.bytes().all(|b| b.is_ascii_digit()));
        }
        assert_eq!(country(FRANCE).unwrap().name, "France");
        assert_eq!(country("99132").unwrap().name, "Royaume-Uni");
        assert!(country("99999").is_none());
    }
}
