//! A population as a `;`-separated text, to export it and read it back.
//!
//! One header row, then one row per citizen; given names are joined by a space, absent
//! values are empty. `;` was chosen because it never occurs in a name, an address or a code,
//! so no quoting is needed (and French spreadsheets open `;`-separated files directly).

use crate::nir::nir_key;
use crate::{Citizen, Date, Gender, PopulationError};

/// The columns, in order.
const COLUMNS: [&str; 17] = [
    "id",
    "given_names",
    "family_name",
    "usage_name",
    "gender",
    "birthdate",
    "birthplace",
    "birthcountry",
    "email",
    "phone",
    "deceased_on",
    "nir",
    "nir_key",
    "tax_number",
    "online_access_number",
    "reference_income",
    "residence_department",
];

/// The header row.
const HEADER: &str = "id;given_names;family_name;usage_name;gender;birthdate;birthplace;birthcountry;email;phone;deceased_on;nir;nir_key;tax_number;online_access_number;reference_income;residence_department";

/// The population as text: the header, then one `;`-separated row per citizen, each line
/// ending with `\n`.
pub fn to_csv(citizens: &[Citizen]) -> String {
    let mut text = String::with_capacity(64 + citizens.len() * 200);
    text.push_str(HEADER);
    text.push('\n');
    for citizen in citizens {
        let row = [
            citizen.id.to_string(),
            citizen.given_name(),
            citizen.family_name.clone(),
            citizen.usage_name.clone().unwrap_or_default(),
            citizen.gender.as_str().to_owned(),
            citizen.birthdate.to_string(),
            citizen.birthplace.clone().unwrap_or_default(),
            citizen.birthcountry.clone(),
            citizen.email.clone(),
            citizen.phone.clone(),
            citizen
                .deceased_on
                .map(|date| date.to_string())
                .unwrap_or_default(),
            citizen.nir.clone(),
            citizen.nir_key.clone(),
            citizen.tax_number.clone(),
            citizen.online_access_number.clone(),
            citizen.reference_income.to_string(),
            citizen.residence_department.clone(),
        ];
        text.push_str(&row.join(";"));
        text.push('\n');
    }
    text
}

/// Reads a population written by [`to_csv`] (either line ending). Every value is checked; the
/// first bad one gives an error naming its line and column.
pub fn parse_csv(text: &str) -> Result<Vec<Citizen>, PopulationError> {
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, header)) if header.trim_end_matches('\r') == HEADER => {}
        _ => return Err(PopulationError::Header { expected: HEADER }),
    }
    lines
        .map(|(at, line)| (at + 1, line.trim_end_matches('\r')))
        .filter(|(_, line)| !line.is_empty())
        .map(|(line_number, line)| parse_row(line_number, line))
        .collect()
}

fn parse_row(line: usize, text: &str) -> Result<Citizen, PopulationError> {
    let values: Vec<&str> = text.split(';').collect();
    let [
        id,
        given_names,
        family_name,
        usage_name,
        gender,
        birthdate,
        birthplace,
        birthcountry,
        email,
        phone,
        deceased_on,
        nir,
        key,
        tax_number,
        online_access_number,
        reference_income,
        residence_department,
    ] = values.as_slice()
    else {
        return Err(PopulationError::FieldCount {
            line,
            expected: COLUMNS.len(),
            found: values.len(),
        });
    };
    let row = Row { line };

    let id = id
        .parse::<u32>()
        .map_err(|_| row.error("id", "not a whole number"))?;
    let given_names: Vec<String> = given_names.split(' ').map(str::to_owned).collect();
    if given_names.iter().any(String::is_empty) {
        return Err(row.error(
            "given_names",
            "must be first names separated by single spaces",
        ));
    }
    let family_name = row.non_empty("family_name", family_name)?;
    let usage_name = (!usage_name.is_empty()).then(|| (*usage_name).to_owned());
    let gender = Gender::parse(gender).ok_or_else(|| row.error("gender", "not female or male"))?;
    let birthdate = row.date("birthdate", birthdate)?;
    let birthplace = if birthplace.is_empty() {
        None
    } else if birthplace.chars().count() == 5 {
        Some((*birthplace).to_owned())
    } else {
        return Err(row.error("birthplace", "not a 5-character COG code"));
    };
    if !is_country_code(birthcountry) {
        return Err(row.error("birthcountry", "not a 99xxx COG country code"));
    }
    if !email.contains('@') {
        return Err(row.error("email", "not an e-mail address"));
    }
    row.digits("phone", phone, 10)?;
    let deceased_on = if deceased_on.is_empty() {
        None
    } else {
        Some(row.date("deceased_on", deceased_on)?)
    };
    let expected_key = nir_key(nir).ok_or_else(|| row.error("nir", "not a 13-character NIR"))?;
    if *key != expected_key {
        return Err(row.error(
            "nir_key",
            &format!("does not match the NIR (expected {expected_key})"),
        ));
    }
    row.digits("tax_number", tax_number, 13)?;
    row.digits("online_access_number", online_access_number, 7)?;
    let reference_income = reference_income
        .parse::<u32>()
        .map_err(|_| row.error("reference_income", "not a whole number of euros"))?;
    let residence_department = row.non_empty("residence_department", residence_department)?;

    Ok(Citizen {
        id,
        given_names,
        family_name,
        usage_name,
        gender,
        birthdate,
        birthplace,
        birthcountry: (*birthcountry).to_owned(),
        email: (*email).to_owned(),
        phone: (*phone).to_owned(),
        deceased_on,
        nir: (*nir).to_owned(),
        nir_key: expected_key,
        tax_number: (*tax_number).to_owned(),
        online_access_number: (*online_access_number).to_owned(),
        reference_income,
        residence_department,
    })
}

/// The line being read, to name it in errors.
struct Row {
    line: usize,
}

impl Row {
    fn error(&self, field: &'static str, reason: &str) -> PopulationError {
        PopulationError::Field {
            line: self.line,
            field,
            reason: reason.to_owned(),
        }
    }

    fn non_empty(&self, field: &'static str, value: &str) -> Result<String, PopulationError> {
        if value.is_empty() {
            Err(self.error(field, "must not be empty"))
        } else {
            Ok(value.to_owned())
        }
    }

    fn date(&self, field: &'static str, value: &str) -> Result<Date, PopulationError> {
        Date::parse(value).ok_or_else(|| self.error(field, "not a YYYY-MM-DD calendar date"))
    }

    fn digits(
        &self,
        field: &'static str,
        value: &str,
        count: usize,
    ) -> Result<(), PopulationError> {
        if value.len() == count && value.bytes().all(|b| b.is_ascii_digit()) {
            Ok(())
        } else {
            Err(self.error(field, &format!("must be {count} digits")))
        }
    }
}

/// A COG country code: `99` and three digits.
fn is_country_code(code: &str) -> bool {
    code.len() == 5 && code.starts_with("99") && code.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate;

    #[test]
    fn the_header_names_every_column_in_order() {
        assert_eq!(HEADER, COLUMNS.join(";"));
    }

    #[test]
    fn a_population_round_trips_through_csv() {
        let citizens = generate(11, 400);
        let text = to_csv(&citizens);
        assert_eq!(text.lines().count(), 401);
        assert_eq!(parse_csv(&text).unwrap(), citizens);
    }

    #[test]
    fn windows_line_endings_and_a_trailing_blank_line_are_accepted() {
        let citizens = generate(11, 10);
        let text = to_csv(&citizens).replace('\n', "\r\n") + "\r\n";
        assert_eq!(parse_csv(&text).unwrap(), citizens);
    }

    #[test]
    fn a_row_of_notable_one_reads_as_expected() {
        let text = to_csv(&generate(1, 1));
        let row = text.lines().nth(1).unwrap();
        assert!(row.starts_with("1;Marie;DUPONT;;female;1985-03-14;75115;99100;"));
    }

    #[test]
    fn a_missing_header_is_refused() {
        let error = parse_csv("1;Marie;DUPONT").unwrap_err();
        assert!(matches!(error, PopulationError::Header { .. }));
        assert!(parse_csv("").is_err());
    }

    fn with_row_changed(column: usize, value: &str) -> String {
        let text = to_csv(&generate(5, 3));
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        let mut values: Vec<String> = lines[3].split(';').map(str::to_owned).collect();
        values[column] = value.to_owned();
        lines[3] = values.join(";");
        lines.join("\n")
    }

    #[test]
    fn a_bad_value_is_reported_with_its_line_and_field() {
        let cases = [
            (0, "x", "id"),
            (1, "Marie  Claire", "given_names"),
            (2, "", "family_name"),
            (4, "Female", "gender"),
            (5, "1990-02-30", "birthdate"),
            (6, "750", "birthplace"),
            (7, "12345", "birthcountry"),
            (8, "nobody", "email"),
            (9, "06123", "phone"),
            (10, "yesterday", "deceased_on"),
            (11, "2850375115", "nir"),
            (12, "00", "nir_key"),
            (13, "12", "tax_number"),
            (14, "abcdefg", "online_access_number"),
            (15, "-4", "reference_income"),
            (16, "", "residence_department"),
        ];
        for (column, value, field) in cases {
            let error = parse_csv(&with_row_changed(column, value)).unwrap_err();
            match &error {
                PopulationError::Field {
                    line, field: got, ..
                } => {
                    assert_eq!(*line, 4, "{error}");
                    assert_eq!(*got, field, "{error}");
                }
                other => panic!("{other:?}"),
            }
            assert!(
                error
                    .to_string()
                    .starts_with(&format!("line 4, field {field}:"))
            );
        }
    }

    #[test]
    fn a_row_with_too_few_fields_is_refused() {
        let text = format!("{HEADER}\n1;Marie;DUPONT\n");
        assert_eq!(
            parse_csv(&text).unwrap_err(),
            PopulationError::FieldCount {
                line: 2,
                expected: 17,
                found: 3
            }
        );
    }
}
