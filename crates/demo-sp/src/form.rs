//! The démarches' forms: each démarche is a list of steps, each step a list
//! of fields, declared as data; one engine checks them, one template draws
//! them. What a field accepts is a [`Check`], so every rule is written once
//! and tested once.

use std::collections::{BTreeMap, BTreeSet};

use mail::{civil_from_days, days_from_civil};
use serde::{Deserialize, Serialize};

/// How a field is typed in.
#[derive(Clone, Copy, Debug)]
pub enum Input {
    /// One line; `mode` picks the phone keyboard, `autocomplete` the
    /// browser's suggestion.
    Line {
        /// `inputmode`.
        mode: &'static str,
        /// `autocomplete`.
        autocomplete: &'static str,
    },
    /// A date (`AAAA-MM-JJ` on the wire).
    Date,
    /// A choice among (value, label) pairs.
    Select(&'static [(&'static str, &'static str)]),
    /// Several lines.
    Area,
    /// A box to tick.
    Tick,
}

/// What a field accepts. Each check trims the value and returns it in its
/// stored form, or says what is wrong in a sentence naming the field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// Up to `n` characters of text.
    Text(usize),
    /// A person's or a town's name.
    Name,
    /// An email address.
    Email,
    /// A French postcode: 5 digits.
    PostalCode,
    /// A French phone number: 10 digits starting with 0.
    Phone,
    /// The photo code of an approved photo booth: 22 letters and digits.
    PhotoCode,
    /// A registration plate of the SIV: AA-123-AA.
    Plate,
    /// A vehicle identification number: 17 letters and digits, no I, O or Q.
    Vin,
    /// A date in the past (a birth date).
    PastDate,
    /// A date after today, at most this many days ahead.
    FutureDate(i64),
    /// A whole number of euros.
    Euros,
    /// A count from 0 to this.
    Count(u32),
    /// A height in centimetres.
    Height,
    /// A département of residence, or 99 abroad.
    Departement,
    /// A national voter number: 1 to 9 digits.
    VoterNumber,
    /// A box that must be ticked.
    Ticked,
}

/// One field of a step.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    /// Its `name` and `id`.
    pub name: &'static str,
    /// Its label.
    pub label: &'static str,
    /// A hint under the label.
    pub hint: Option<&'static str>,
    /// How it is typed in.
    pub input: Input,
    /// What it accepts.
    pub check: Check,
    /// Whether it may stay empty.
    pub optional: bool,
    /// The identity claim that fills it in; such a field is shown, not
    /// typed, when the identity carried the claim.
    pub claim: Option<&'static str>,
}

impl Field {
    /// A required one-line text field.
    pub const fn line(name: &'static str, label: &'static str, check: Check) -> Self {
        Self {
            name,
            label,
            hint: None,
            input: Input::Line {
                mode: "text",
                autocomplete: "off",
            },
            check,
            optional: false,
            claim: None,
        }
    }

    /// The same with a hint.
    pub const fn hint(self, hint: &'static str) -> Self {
        Self {
            hint: Some(hint),
            ..self
        }
    }

    /// The same, optional.
    pub const fn optional(self) -> Self {
        Self {
            optional: true,
            ..self
        }
    }

    /// The same, typed with this keyboard and suggestion.
    pub const fn typed(self, mode: &'static str, autocomplete: &'static str) -> Self {
        Self {
            input: Input::Line { mode, autocomplete },
            ..self
        }
    }

    /// The same, filled in from an identity claim.
    pub const fn filled_by(self, claim: &'static str) -> Self {
        Self {
            claim: Some(claim),
            ..self
        }
    }

    /// A date field.
    pub const fn date(name: &'static str, label: &'static str, check: Check) -> Self {
        Self {
            input: Input::Date,
            ..Self::line(name, label, check)
        }
    }

    /// A list of choices.
    pub const fn select(
        name: &'static str,
        label: &'static str,
        options: &'static [(&'static str, &'static str)],
    ) -> Self {
        Self {
            input: Input::Select(options),
            ..Self::line(name, label, Check::Text(40))
        }
    }

    /// Several lines of text, up to `max` characters.
    pub const fn area(name: &'static str, label: &'static str, max: usize) -> Self {
        Self {
            input: Input::Area,
            ..Self::line(name, label, Check::Text(max))
        }
    }

    /// A box that must be ticked.
    pub const fn tick(name: &'static str, label: &'static str) -> Self {
        Self {
            input: Input::Tick,
            ..Self::line(name, label, Check::Ticked)
        }
    }

    /// The value as a reader sees it: a choice's label, a ticked box's yes.
    pub fn shown(&self, value: &str) -> String {
        match self.input {
            Input::Select(options) => options
                .iter()
                .find(|(key, _)| *key == value)
                .map_or(value, |(_, label)| label)
                .to_owned(),
            Input::Tick if value == "oui" => "Oui".to_owned(),
            Input::Date => shown_date(value),
            _ => value.to_owned(),
        }
    }

    /// Checks a value typed in; `today` is the day count of the current
    /// date. Returns the value to keep, or what is wrong.
    pub fn accept(&self, typed: &str, today: i64) -> Result<String, String> {
        let value = typed.trim();
        if value.is_empty() {
            return if self.optional {
                Ok(String::new())
            } else if self.check == Check::Ticked {
                Err(format!("Cochez la case « {} ».", self.label))
            } else {
                Err(format!("Le champ « {} » est obligatoire.", self.label))
            };
        }
        if let Input::Select(options) = self.input {
            return if options.iter().any(|(key, _)| *key == value) {
                Ok(value.to_owned())
            } else {
                Err(format!(
                    "Choisissez une réponse de la liste « {} ».",
                    self.label
                ))
            };
        }
        let wrong = |why: &str| Err(format!("{} : {why}", self.label));
        match self.check {
            Check::Text(max) => {
                if value.chars().count() > max {
                    wrong(&format!("{max} caractères au plus."))
                } else {
                    Ok(value.to_owned())
                }
            }
            Check::Name => {
                let fine = value.chars().count() <= 80
                    && value
                        .chars()
                        .all(|c| c.is_alphabetic() || matches!(c, ' ' | '-' | '\'' | '’'));
                if fine {
                    Ok(value.to_owned())
                } else {
                    wrong("lettres, espaces, tirets et apostrophes seulement.")
                }
            }
            Check::Email => {
                let fine = value.len() <= 254
                    && !value.contains(char::is_whitespace)
                    && value.split_once('@').is_some_and(|(local, domain)| {
                        !local.is_empty()
                            && domain.contains('.')
                            && !domain.starts_with('.')
                            && !domain.ends_with('.')
                            && !domain.contains('@')
                    });
                if fine {
                    Ok(value.to_owned())
                } else {
                    wrong("l'adresse n'est pas valide (exemple : nom@domaine.fr).")
                }
            }
            Check::PostalCode => {
                let digits = compact(value);
                if digits.len() == 5 && digits.bytes().all(|b| b.is_ascii_digit()) {
                    Ok(digits)
                } else {
                    wrong("5 chiffres.")
                }
            }
            Check::Phone => {
                let digits: String = value
                    .chars()
                    .filter(|c| !matches!(c, ' ' | '.' | '-'))
                    .collect();
                if digits.len() == 10
                    && digits.starts_with('0')
                    && digits.bytes().all(|b| b.is_ascii_digit())
                {
                    Ok(digits)
                } else {
                    wrong("10 chiffres commençant par 0.")
                }
            }
            Check::PhotoCode => {
                let code = compact(value).to_ascii_uppercase();
                let fine = code.len() == 22
                    && code.bytes().all(|b| b.is_ascii_alphanumeric())
                    && code.bytes().any(|b| b.is_ascii_digit())
                    && code.bytes().any(|b| b.is_ascii_alphabetic());
                if fine {
                    Ok(code)
                } else {
                    wrong(
                        "22 lettres et chiffres, tels qu'imprimés sur la planche de photos d'identité.",
                    )
                }
            }
            Check::Plate => {
                let plate: String = compact(value)
                    .chars()
                    .filter(|c| *c != '-')
                    .collect::<String>()
                    .to_ascii_uppercase();
                let bytes = plate.as_bytes();
                let letter = |b: &u8| b.is_ascii_uppercase() && !matches!(b, b'I' | b'O' | b'U');
                let fine = bytes.len() == 7
                    && bytes.iter().take(2).all(letter)
                    && bytes.iter().skip(2).take(3).all(u8::is_ascii_digit)
                    && bytes.iter().skip(5).all(letter);
                match (fine, plate.get(..2), plate.get(2..5), plate.get(5..)) {
                    (true, Some(a), Some(b), Some(c)) => Ok(format!("{a}-{b}-{c}")),
                    _ => wrong("au format AA-123-AA (sans I, O ni U)."),
                }
            }
            Check::Vin => {
                let vin = compact(value).to_ascii_uppercase();
                let fine = vin.len() == 17
                    && vin
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() && !matches!(b, b'I' | b'O' | b'Q'));
                if fine {
                    Ok(vin)
                } else {
                    wrong("17 lettres et chiffres (sans I, O ni Q), repère E du certificat.")
                }
            }
            Check::PastDate => match parse_date(value) {
                Some(day) if day < today && day > days_from_civil(1900, 1, 1) => {
                    Ok(value.to_owned())
                }
                Some(_) => wrong("la date doit être passée."),
                None => wrong("une date au format JJ/MM/AAAA."),
            },
            Check::FutureDate(max_days) => match parse_date(value) {
                Some(day) if day > today && day <= today + max_days => Ok(value.to_owned()),
                Some(_) => wrong(&format!(
                    "une date à venir, dans les {max_days} jours au plus."
                )),
                None => wrong("une date au format JJ/MM/AAAA."),
            },
            Check::Euros => {
                let digits: String = value
                    .chars()
                    .filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}' | '€'))
                    .collect();
                if !digits.is_empty()
                    && digits.len() <= 9
                    && digits.bytes().all(|b| b.is_ascii_digit())
                {
                    let kept = digits.trim_start_matches('0');
                    Ok(if kept.is_empty() { "0" } else { kept }.to_owned())
                } else {
                    wrong("un montant en euros, sans centimes (exemple : 23500).")
                }
            }
            Check::Count(max) => match value.parse::<u32>() {
                Ok(count) if count <= max => Ok(count.to_string()),
                _ => wrong(&format!("un nombre de 0 à {max}.")),
            },
            Check::Height => match value.parse::<u32>() {
                Ok(height) if (50..=250).contains(&height) => Ok(height.to_string()),
                _ => wrong("en centimètres, de 50 à 250."),
            },
            Check::Departement => {
                let code = value.to_ascii_uppercase();
                let fine = match code.as_str() {
                    "2A" | "2B" | "99" => true,
                    _ => code.parse::<u32>().is_ok_and(|number| {
                        code.len() == 2 && (1..=95).contains(&number) && number != 20
                            || code.len() == 3 && (971..=976).contains(&number)
                    }),
                };
                if fine {
                    Ok(code)
                } else {
                    wrong(
                        "un numéro de département (01 à 95, 2A, 2B, 971 à 976) ou 99 hors de France.",
                    )
                }
            }
            Check::VoterNumber => {
                let digits = compact(value);
                if (1..=9).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
                    Ok(digits)
                } else {
                    wrong("de 1 à 9 chiffres, tel qu'il figure sur la carte électorale.")
                }
            }
            Check::Ticked => {
                if value == "oui" {
                    Ok(value.to_owned())
                } else {
                    Err(format!("Cochez la case « {} ».", self.label))
                }
            }
        }
    }
}

fn compact(value: &str) -> String {
    value.chars().filter(|c| !c.is_whitespace()).collect()
}

/// A day count since 1970-01-01 from `AAAA-MM-JJ` (what date inputs send)
/// or `JJ/MM/AAAA` (what people type).
pub fn parse_date(text: &str) -> Option<i64> {
    let (year, month, day) = match text.split_once('-') {
        Some(_) => {
            let mut parts = text.splitn(3, '-');
            (parts.next()?, parts.next()?, parts.next()?)
        }
        None => {
            let mut parts = text.splitn(3, '/');
            let (day, month, year) = (parts.next()?, parts.next()?, parts.next()?);
            (year, month, day)
        }
    };
    let number = |text: &str, len: usize| {
        (text.len() == len && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| text.parse::<i64>().ok())
            .flatten()
    };
    let (year, month, day) = (number(year, 4)?, number(month, 2)?, number(day, 2)?);
    let days = days_from_civil(year, month, day);
    // A day that does not exist (31 April) does not come back the same.
    (civil_from_days(days) == (year, month, day)).then_some(days)
}

/// `AAAA-MM-JJ` as `JJ/MM/AAAA`.
pub fn shown_date(value: &str) -> String {
    match parse_date(value) {
        Some(days) => {
            let (year, month, day) = civil_from_days(days);
            format!("{day:02}/{month:02}/{year:04}")
        }
        None => value.to_owned(),
    }
}

/// One page of a démarche's form.
#[derive(Debug)]
pub struct Step {
    /// Its name in the list of steps.
    pub title: &'static str,
    /// What it asks, in a sentence.
    pub intro: &'static str,
    /// Its fields.
    pub fields: &'static [Field],
}

/// A démarche a service offers: its steps, the last one showing everything
/// before it is sent.
#[derive(Debug)]
pub struct Procedure {
    /// The dossier kind (`permis`…), in paths and in the store.
    pub kind: &'static str,
    /// Its name (« Demande de permis de conduire »).
    pub title: &'static str,
    /// Its steps; the last one is the summary.
    pub steps: &'static [Step],
    /// The button that sends it.
    pub submit: &'static str,
    /// The name of the step shown once it is sent, when it counts as one
    /// (the tax return's « Fin de déclaration »).
    pub done_step: Option<&'static str>,
    /// One dossier per year (the tax return): the kind carries the year.
    pub yearly: bool,
}

impl Procedure {
    /// Every field, with the step it is on.
    pub fn fields(&self) -> impl Iterator<Item = (usize, &Field)> {
        self.steps
            .iter()
            .enumerate()
            .flat_map(|(index, step)| step.fields.iter().map(move |field| (index, field)))
    }

    /// A field by name.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields()
            .map(|(_, field)| field)
            .find(|field| field.name == name)
    }

    /// How many steps the citizen sees, the done step included.
    pub fn step_names(&self) -> Vec<&'static str> {
        self.steps
            .iter()
            .map(|step| step.title)
            .chain(self.done_step)
            .collect()
    }
}

/// Something that happened to a dossier, and when.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Event {
    /// Unix time.
    pub at: i64,
    /// What, in a sentence.
    pub what: String,
}

/// What a dossier holds, as the service stores it (JSON).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Content {
    /// The answers, by field name, as kept after their check.
    #[serde(default)]
    pub answers: BTreeMap<String, String>,
    /// The fields filled in from the identity: shown, never typed.
    #[serde(default)]
    pub locked: BTreeSet<String>,
    /// The step the citizen is at (0 for the first).
    #[serde(default)]
    pub step: usize,
    /// What happened, oldest first.
    #[serde(default)]
    pub events: Vec<Event>,
    /// The service's own facts (a letter's key, its recipient…).
    #[serde(default)]
    pub facts: BTreeMap<String, String>,
}

impl Content {
    /// The content as its dossier stores it. Content that cannot be
    /// encoded is a storage error, never an empty dossier written in its
    /// place.
    pub fn stored(&self) -> Result<Vec<u8>, store::StoreError> {
        serde_json::to_vec(self).map_err(|error| store::StoreError::Backend(Box::new(error)))
    }

    /// A new dossier's content: the fields the identity fills in.
    pub fn prefilled(
        procedure: &Procedure,
        claim: impl Fn(&str) -> Option<String>,
        now: i64,
    ) -> Self {
        let mut content = Self::default();
        for (_, field) in procedure.fields() {
            if let Some(value) = field.claim.and_then(&claim).filter(|v| !v.is_empty()) {
                content.answers.insert(field.name.to_owned(), value);
                content.locked.insert(field.name.to_owned());
            }
        }
        content.events.push(Event {
            at: now,
            what: "Démarche commencée".into(),
        });
        content
    }

    /// An answer, or nothing.
    pub fn answer(&self, name: &str) -> &str {
        self.answers.get(name).map_or("", String::as_str)
    }

    /// A fact, or nothing.
    pub fn fact(&self, name: &str) -> &str {
        self.facts.get(name).map_or("", String::as_str)
    }

    /// Notes an event.
    pub fn record(&mut self, at: i64, what: impl Into<String>) {
        self.events.push(Event {
            at,
            what: what.into(),
        });
    }

    /// Keeps what was typed on a step, unchecked (a draft may be saved
    /// half-filled); fields filled from the identity are not typed over.
    pub fn keep_typed(&mut self, step: &Step, form: &BTreeMap<String, String>) {
        for field in step.fields {
            if self.locked.contains(field.name) {
                continue;
            }
            let typed = form.get(field.name).map_or("", String::as_str).trim();
            let max = match field.check {
                Check::Text(max) => max,
                _ => 200,
            };
            let kept: String = typed.chars().take(max).collect();
            self.answers.insert(field.name.to_owned(), kept);
        }
    }

    /// Checks a step's answers as typed in `form` (or, with `None`, as
    /// stored); keeps the checked values. Returns the errors, by field.
    pub fn check_step(
        &mut self,
        step: &Step,
        form: Option<&BTreeMap<String, String>>,
        today: i64,
    ) -> Vec<(&'static str, String)> {
        let mut errors = Vec::new();
        for field in step.fields {
            if self.locked.contains(field.name) {
                continue;
            }
            let typed = match form {
                Some(form) => form.get(field.name).cloned().unwrap_or_default(),
                None => self.answer(field.name).to_owned(),
            };
            match field.accept(&typed, today) {
                Ok(value) => {
                    self.answers.insert(field.name.to_owned(), value);
                }
                Err(message) => {
                    let kept: String = typed.trim().chars().take(5000).collect();
                    self.answers.insert(field.name.to_owned(), kept);
                    errors.push((field.name, message));
                }
            }
        }
        errors
    }
}

/// A form body, each name once (the last value wins), up to the route's
/// body limit.
pub fn parse_body(body: &[u8]) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(body)
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TODAY: i64 = 20_000; // 2024-10-04

    fn check(check: Check, typed: &str) -> Result<String, String> {
        Field::line("f", "Champ", check).accept(typed, TODAY)
    }

    #[test]
    fn a_photo_code_is_22_letters_and_digits() {
        assert_eq!(
            check(Check::PhotoCode, "ab12 cd34 ef56 gh78 ij90 kl"),
            Ok("AB12CD34EF56GH78IJ90KL".into())
        );
        for wrong in [
            "AB12CD34EF56GH78IJ90K",
            "AB12CD34EF56GH78IJ90KLM",
            "ABCDEFGHIJKLMNOPQRSTUV",
            "1234567890123456789012",
            "AB12CD34EF56GH78IJ90K-",
        ] {
            assert!(check(Check::PhotoCode, wrong).is_err(), "{wrong}");
        }
    }

    #[test]
    fn plates_vins_postcodes_and_phones_are_kept_in_their_usual_form() {
        assert_eq!(check(Check::Plate, "ab 123 cd"), Ok("AB-123-CD".into()));
        assert_eq!(check(Check::Plate, "AB-123-CD"), Ok("AB-123-CD".into()));
        assert!(check(Check::Plate, "AI-123-CD").is_err());
        assert!(check(Check::Plate, "AB-12-CD").is_err());
        assert!(check(Check::Plate, "ÀB-123-CD").is_err());
        assert_eq!(
            check(Check::Vin, "vf1 abc12345678901"),
            Ok("VF1ABC12345678901".into())
        );
        assert!(check(Check::Vin, "VF1ABC1234567890O").is_err());
        assert_eq!(check(Check::PostalCode, "75 015"), Ok("75015".into()));
        assert!(check(Check::PostalCode, "7501").is_err());
        assert_eq!(
            check(Check::Phone, "06 12 34 56 78"),
            Ok("0612345678".into())
        );
        assert!(check(Check::Phone, "6123456789").is_err());
    }

    #[test]
    fn dates_amounts_and_departements() {
        assert_eq!(parse_date("2024-10-04"), Some(TODAY));
        assert_eq!(parse_date("04/10/2024"), Some(TODAY));
        assert_eq!(parse_date("2024-02-30"), None);
        assert_eq!(parse_date("2024-1-04"), None);
        assert_eq!(shown_date("1990-03-07"), "07/03/1990");
        assert!(check(Check::PastDate, "1990-03-07").is_ok());
        assert!(check(Check::PastDate, "2024-10-05").is_err());
        assert!(check(Check::FutureDate(365), "2024-10-05").is_ok());
        assert!(check(Check::FutureDate(365), "2024-10-04").is_err());
        assert!(check(Check::FutureDate(365), "2026-10-04").is_err());
        assert_eq!(check(Check::Euros, "23 500 €"), Ok("23500".into()));
        assert_eq!(check(Check::Euros, "000"), Ok("0".into()));
        assert!(check(Check::Euros, "12,50").is_err());
        assert!(check(Check::Euros, "-3").is_err());
        for fine in ["01", "19", "2A", "2b", "54", "95", "971", "976", "99"] {
            assert!(check(Check::Departement, fine).is_ok(), "{fine}");
        }
        for wrong in ["1", "20", "00", "96", "970", "977", "100"] {
            assert!(check(Check::Departement, wrong).is_err(), "{wrong}");
        }
    }

    #[test]
    fn an_empty_field_is_named_and_an_optional_one_is_not() {
        let field = Field::line("nom", "Nom de naissance", Check::Name);
        assert_eq!(
            field.accept("  ", TODAY),
            Err("Le champ « Nom de naissance » est obligatoire.".into())
        );
        assert_eq!(field.optional().accept("", TODAY), Ok(String::new()));
        let address = Field::line("adresse", "Adresse", Check::Text(10));
        assert!(address.accept("12345678901", TODAY).is_err());
        let tick = Field::tick("certifie", "Je certifie");
        assert_eq!(
            tick.accept("", TODAY),
            Err("Cochez la case « Je certifie ».".into())
        );
        let choice = Field::select("motif", "Motif", &[("vol", "Vol")]);
        assert_eq!(choice.accept("vol", TODAY), Ok("vol".into()));
        assert!(choice.accept("autre", TODAY).is_err());
        assert_eq!(choice.shown("vol"), "Vol");
    }

    #[test]
    fn a_step_keeps_what_was_typed_and_names_what_is_wrong() {
        static FIELDS: [Field; 2] = [
            Field::line("nom", "Nom", Check::Name).filled_by("family_name"),
            Field::line("cp", "Code postal", Check::PostalCode),
        ];
        static STEPS: [Step; 1] = [Step {
            title: "Vous",
            intro: "",
            fields: &FIELDS,
        }];
        let procedure = Procedure {
            kind: "essai",
            title: "Essai",
            steps: &STEPS,
            submit: "Envoyer",
            done_step: None,
            yearly: false,
        };
        let mut content = Content::prefilled(
            &procedure,
            |claim| (claim == "family_name").then(|| "DUPONT".to_owned()),
            5,
        );
        assert!(content.locked.contains("nom"));
        let form: BTreeMap<String, String> = [("nom", "Intrus"), ("cp", "123")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let errors = content.check_step(&STEPS[0], Some(&form), TODAY);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].0, "cp");
        // The identity's name is never typed over.
        assert_eq!(content.answer("nom"), "DUPONT");
        assert_eq!(content.answer("cp"), "123");
    }
}
