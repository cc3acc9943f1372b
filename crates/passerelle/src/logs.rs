//! The process's logs, on standard error: text lines for a terminal, or
//! JSON lines for a collector (`--log-format json`). Every line written
//! while serving a request carries that request's `request` span: its id
//! (`oidc::request_id`), method and route.
//!
//! What goes in them is the code's choice, and the rule is the hub's: no
//! secret, no token, no personal data (docs/security.md; the `logs` test
//! greps a whole run for the citizens' names, numbers and passwords).

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One readable line per event.
    #[default]
    Text,
    /// One JSON object per event: `timestamp`, `level`, `target`, the
    /// event's fields, and the `span` it happened in.
    Json,
}

/// Installs the process's subscriber on standard error, filtered by
/// `RUST_LOG` (default `info`). Text lines are coloured only for a
/// terminal (and without `NO_COLOR`): a file or a collector gets plain
/// text, and no escape codes to format at each line. Fails when one is
/// already installed.
pub fn init(format: LogFormat) -> Result<(), String> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    install(format, filter, colour, std::io::stderr)
}

/// Installs the process's subscriber with this filter, writing to
/// `writer`; `colour` for ANSI colours in text lines.
pub fn install<W>(
    format: LogFormat,
    filter: EnvFilter,
    colour: bool,
    writer: W,
) -> Result<(), String>
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(writer);
    let installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
    installed.map_err(|error| error.to_string())
}
