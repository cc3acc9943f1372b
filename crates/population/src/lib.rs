//! A deterministic population of fictional French citizens, for the demo and the tests.
//!
//! [`generate`] draws `size` citizens from a `seed` with the crate's own SplitMix64 generator,
//! so the same seed and size give the same people forever, whatever happens to dependencies.
//! Each [`Citizen`] carries the identity pivot of FranceConnect (franceconnect.md §3: given
//! names, birth name in capitals, `YYYY-MM-DD` birthdate, `female`/`male`, INSEE COG birthplace
//! and birth country) and what the federation's data providers ask about: NIR and its key,
//! tax number and online access number, reference tax income, e-mail, phone, death date.
//!
//! The first six citizens are fixed notable cases (see [`generate`]). Places come from a
//! small embedded excerpt of the COG ([`cog`]). A population can be exported with [`to_csv`]
//! and read back with [`parse_csv`].
//!
//! ```
//! let people = population::generate(population::DEFAULT_SEED, 10);
//! let marie = &people[0];
//! assert_eq!(marie.given_name(), "Marie");
//! assert_eq!(marie.pivot().birthplace, "75115");
//! assert_eq!(population::nir_key(&marie.nir).as_deref(), Some(marie.nir_key.as_str()));
//! ```
//!
//! No I/O, no clock: everything is a pure function of its arguments.

pub mod cog;

mod citizen;
mod csv;
mod date;
mod errors;
mod generation;
mod licence;
mod names;
mod nir;
mod notables;
mod random;

pub use citizen::{Citizen, Gender, Pivot};
pub use csv::{parse_csv, to_csv};
pub use date::Date;
pub use errors::PopulationError;
pub use generation::{DEFAULT_SEED, DEFAULT_SIZE, generate};
pub use licence::{
    Category, DrivingLicence, LicenceFormat, LicenceStatus, PAPER_LICENCES_END, driving_licence,
};
pub use nir::nir_key;
