//! One file per command: its clap `Args` (the doc comments are the help
//! text) and its `run` function. Shared helpers live here.

pub mod amend;
pub mod blame;
pub mod check_proof;
pub mod checkpoint;
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
use pactum::app::{AppError, Registry, Written};
use pactum::domain::PartialDate;
use pactum::domain::text::TextError;

/// Parses one of the domain's vocabularies for clap (`--kind`, `--instrument`, …).
pub fn word<T: FromStr>(text: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    text.parse::<T>().map_err(|e| e.to_string())
}

/// Checks a text value given to `flag`.
pub fn text<T>(
    flag: &str,
    value: &str,
    make: impl Fn(String) -> Result<T, TextError>,
) -> Result<T, AppError> {
    make(value.trim().to_owned()).map_err(|e| AppError::invalid(format!("{flag}: {e}")))
}

/// Checks an optional text value given to `flag`.
pub fn opt_text<T>(
    flag: &str,
    value: Option<&str>,
    make: impl Fn(String) -> Result<T, TextError>,
) -> Result<Option<T>, AppError> {
    value.map(|v| text(flag, v, &make)).transpose()
}

/// Checks an optional country code given to `--country`.
pub fn country(value: Option<&str>) -> Result<Option<pactum::domain::CountryCode>, AppError> {
    value
        .map(|c| pactum::domain::CountryCode::new(c.trim()))
        .transpose()
        .map_err(|e| AppError::invalid(format!("--country: {e}")))
}

/// Parses a date given to `flag`.
pub fn date(flag: &str, value: &str) -> Result<PartialDate, AppError> {
    pactum::app::resolve::parse_date(flag, value)
}

/// Parses an optional date given to `flag`.
pub fn opt_date(flag: &str, value: Option<&str>) -> Result<Option<PartialDate>, AppError> {
    value.map(|v| date(flag, v)).transpose()
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
