//! One file per command: its clap `Args` (the doc comments are the help
//! text) and its `run` function. Shared helpers live here.

pub mod amend;
pub mod blame;
pub mod check_proof;
pub mod checkpoint;
pub mod compact;
pub mod completions;
pub mod correct;
pub mod demo;
pub mod diff;
pub mod due;
pub mod export;
pub mod history;
pub mod import;
pub mod info;
pub mod key;
pub mod list;
pub mod log;
pub mod partner;
pub mod prove;
pub mod publish;
pub mod rebuild;
pub mod report;
pub mod retract;
pub mod show;
pub mod sign;
pub mod terminate;
pub mod upgrade;
pub mod verify;

use std::str::FromStr;

use super::Context;
use super::output::{self, Format, Report, Rows};
use crate::app::{AppError, Registry, Written};
use crate::domain::text::TextError;
use crate::domain::{CountryCode, PartialDate};

/// Parses one of the domain's vocabularies for clap (`--kind`, `--instrument`, …).
pub fn word<T: FromStr>(text: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    text.parse::<T>().map_err(|e| e.to_string())
}

/// What is wrong with a value clap was given. The command line says it
/// after the flag's name, which clap knows (see [`crate::cli::parse`]), so
/// that a flag's name is written once, in its `#[arg]`.
#[derive(Debug, thiserror::Error)]
#[error("{detail}")]
pub struct BadValue {
    /// what is wrong
    pub detail: String,
    /// what to give instead, where it helps
    pub hint: Option<&'static str>,
}

/// A value parser for one of the domain's text types (`--objectives`,
/// `--reason`, …): the text, trimmed, checked by `make`.
pub fn text<T: 'static>(
    make: fn(String) -> Result<T, TextError>,
) -> impl Fn(&str) -> Result<T, BadValue> + Clone + Send + Sync + 'static {
    move |value: &str| {
        make(value.trim().to_owned()).map_err(|e| BadValue {
            detail: e.to_string(),
            hint: None,
        })
    }
}

/// A value parser for a country code (`--country`).
pub fn country(value: &str) -> Result<CountryCode, BadValue> {
    CountryCode::new(value.trim()).map_err(|e| BadValue {
        detail: e.to_string(),
        hint: None,
    })
}

/// A value parser for a date (`--date`, `--effective`, …).
pub fn date(value: &str) -> Result<PartialDate, BadValue> {
    crate::app::read_date(value).map_err(|detail| BadValue {
        detail,
        hint: Some(crate::app::DATE_FORMS),
    })
}

/// Prints what a write recorded.
pub fn print_written(
    ctx: &Context,
    registry: &Registry,
    written: &Written,
    what: &str,
) -> Result<(), AppError> {
    let report = Report {
        json: output::written_json(written),
        rows: Rows {
            headers: vec!["seq", "event", "entity", "version"],
            rows: vec![vec![
                format!("#{}", written.seq).into(),
                written.event_id.to_string().into(),
                written.handle.to_string().into(),
                written.version.to_string().into(),
            ]],
        },
        note: None,
    };
    let printed = if ctx.out.format == Format::Table {
        output::outln!(
            "{what} {} as #{} (version {}, event {})",
            output::show(&registry.label(written.entity)),
            written.seq,
            written.version,
            written.event_id
        )
    } else {
        output::print(&ctx.out, &report)
    };
    output::after_commit(printed, &format!("event #{}", written.seq))
}

/// The most bytes read from a key, verifier key or checkpoint file.
pub const SMALL_FILE: u64 = 64 * 1024;
/// The most bytes read from a proof file (a proof of every event of a large log).
pub const PROOF_FILE: u64 = 64 * 1024 * 1024;

/// Reads a text file that should be small, refusing (exit 2) one larger than
/// `max_bytes` without reading past the limit: a file such as `/dev/zero`
/// given by mistake ends the command, not the machine's memory.
pub fn read_small(path: &std::path::Path, max_bytes: u64) -> Result<String, AppError> {
    let shown = path.display();
    let file = std::fs::File::open(path)
        .map_err(|e| AppError::invalid(format!("cannot read {shown}: {e}")))?;
    read_capped(file, &shown.to_string(), max_bytes)
}

/// Reads at most `max_bytes` of text from `source` (named `shown` in messages).
pub fn read_capped(
    source: impl std::io::Read,
    shown: &str,
    max_bytes: u64,
) -> Result<String, AppError> {
    use std::io::Read;
    let mut bytes = Vec::new();
    source
        .take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| AppError::invalid(format!("cannot read {shown}: {e}")))?;
    if !u64::try_from(bytes.len()).is_ok_and(|n| n <= max_bytes) {
        return Err(AppError::invalid(format!(
            "{shown} is larger than {max_bytes} bytes"
        )));
    }
    String::from_utf8(bytes)
        .map_err(|_| AppError::invalid(format!("cannot read {shown}: it is not UTF-8 text")))
}
