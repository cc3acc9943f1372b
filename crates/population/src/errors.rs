//! What can go wrong reading a population back.

/// Why a population text (or a date inside one) could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PopulationError {
    /// The first line is not the header [`crate::to_csv`] writes.
    #[error("line 1: the header must be `{expected}`")]
    Header {
        /// The header this crate writes and reads.
        expected: &'static str,
    },
    /// A row does not have one value per column.
    #[error("line {line}: expected {expected} fields separated by `;`, found {found}")]
    FieldCount {
        /// 1-based line number in the text.
        line: usize,
        /// Number of columns of the header.
        expected: usize,
        /// Number of values on the line.
        found: usize,
    },
    /// A value cannot be read as its column's type.
    #[error("line {line}, field {field}: {reason}")]
    Field {
        /// 1-based line number in the text.
        line: usize,
        /// The column's name, as in the header.
        field: &'static str,
        /// What is wrong with the value.
        reason: String,
    },
    /// A date is not a real `YYYY-MM-DD` calendar day.
    #[error("`{0}` is not a YYYY-MM-DD calendar date")]
    InvalidDate(String),
}
