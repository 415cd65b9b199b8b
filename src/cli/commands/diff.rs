//! `pactum diff`: what changed between two points of view.

use clap::Args;

use super::date;
use crate::app::AppError;
use crate::app::audit::DiffKind;
use crate::cli::output::{self, Report, Rows, colored};
use crate::cli::{Access, Context};
use crate::domain::PartialDate;
use serde_json::json;

/// What changed between two points of view: entries added, removed and
/// changed, with their field changes. Compare two moments of record time
/// (the registry as published on one day with today) at one valid date, or
/// two valid dates as recorded at one moment.
///
/// Examples:
///   pactum diff --recorded-from 2009-09-30 --recorded-to '#120'
///   pactum diff --as-of-from 2005 --as-of-to 2009
#[derive(Debug, Args)]
#[command(
    about = "What changed between two points of view",
    group(clap::ArgGroup::new("axis").required(true).multiple(true)
    .args(["recorded_from", "recorded_to", "as_of_from", "as_of_to"])))]
pub struct DiffArgs {
    /// Record time of the first view (timestamp, date, or #N)
    #[arg(long, value_name = "WHEN", requires = "recorded_to", conflicts_with_all = ["as_of_from", "as_of_to"])]
    pub recorded_from: Option<String>,
    /// Record time of the second view [default with --recorded-from: now]
    #[arg(long, value_name = "WHEN")]
    pub recorded_to: Option<String>,
    /// Valid date shared by both record-time views [default: today]
    #[arg(long, value_name = "DATE", conflicts_with_all = ["as_of_from", "as_of_to"], value_parser = date)]
    pub as_of: Option<PartialDate>,
    /// Valid date of the first view
    #[arg(long, value_name = "DATE", requires = "as_of_to", value_parser = date)]
    pub as_of_from: Option<PartialDate>,
    /// Valid date of the second view
    #[arg(long, value_name = "DATE", requires = "as_of_from", value_parser = date)]
    pub as_of_to: Option<PartialDate>,
    /// Record time shared by both valid-time views [default: now]
    #[arg(long, value_name = "WHEN", conflicts_with_all = ["recorded_from", "recorded_to"])]
    pub recorded_as_of: Option<String>,
}

/// Runs `diff`.
pub fn run(ctx: &Context, a: DiffArgs) -> Result<(), AppError> {
    let registry = ctx.open(Access::Read)?;
    let (from, to) = if a.recorded_from.is_some() || a.recorded_to.is_some() {
        (
            registry.point(a.as_of, a.recorded_from.as_deref())?,
            registry.point(a.as_of, a.recorded_to.as_deref())?,
        )
    } else {
        (
            registry.point(a.as_of_from, a.recorded_as_of.as_deref())?,
            registry.point(a.as_of_to, a.recorded_as_of.as_deref())?,
        )
    };
    let diffs = registry.diff(&from, &to)?;
    let json = diffs
        .iter()
        .map(|d| {
            json!({
                "entity": {"id": d.entity.to_string(), "handle": d.handle.to_string()},
                "change": d.kind.as_str(),
                "changes": output::changes_json(&registry, &d.changes),
            })
        })
        .collect();
    let mut rows = Vec::new();
    for d in &diffs {
        let color = match d.kind {
            DiffKind::Added => comfy_table::Color::Green,
            DiffKind::Removed => comfy_table::Color::Red,
            DiffKind::Changed => comfy_table::Color::Yellow,
        };
        for c in &d.changes {
            rows.push(vec![
                d.handle.to_string().into(),
                colored(d.kind.as_str(), color),
                c.field.into(),
                output::value_text(&registry, &c.before).into(),
                output::value_text(&registry, &c.after).into(),
            ]);
        }
    }
    let report = Report {
        json,
        rows: Rows {
            headers: vec!["entity", "change", "field", "before", "after"],
            rows,
        },
        note: Some(format!(
            "from (as of {}, recorded #{}) to (as of {}, recorded #{}): {} entries differ",
            from.valid,
            from.recorded,
            to.valid,
            to.recorded,
            diffs.len()
        )),
    };
    output::print(&ctx.out, &report)
}
