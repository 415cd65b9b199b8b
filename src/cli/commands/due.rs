//! `pactum due`: conventions to renew.

use clap::Args;

use super::list::convention_rows;
use crate::app::{AppError, ConventionFilter};
use crate::cli::output::{self, Report};
use crate::cli::{Access, Context, PointArgs};
use crate::domain::Status;

/// Conventions in force whose expiry falls within the next DAYS days (from
/// today, or from --as-of), soonest first: the ones a clerk must renew.
///
/// Example:
///   pactum due --within 180
#[derive(Debug, Args)]
#[command(
    verbatim_doc_comment,
    about = "Conventions whose expiry falls in the next days"
)]
pub struct DueArgs {
    /// How many days ahead to look (at most 36600, a century)
    #[arg(long, value_name = "DAYS", default_value_t = 90, value_parser = clap::value_parser!(u32).range(0..=36_600))]
    pub within: u32,
    #[command(flatten)]
    pub point: PointArgs,
}

/// Runs `due`.
pub fn run(ctx: &Context, a: DueArgs) -> Result<(), AppError> {
    let registry = ctx.open(Access::Read)?;
    let point = ctx.point(&registry, &a.point)?;
    let horizon = point
        .valid
        .checked_add_days(chrono::Days::new(u64::from(a.within)))
        .unwrap_or(chrono::NaiveDate::MAX);
    let mut views: Vec<_> = registry
        .snapshot(point)
        .conventions(&ConventionFilter {
            status: Some(Status::InForce),
            ..ConventionFilter::default()
        })?
        .into_iter()
        .filter(|v| {
            v.state
                .expires_on
                .is_some_and(|e| e.latest() > point.valid && e.earliest() <= horizon)
        })
        .collect();
    views.sort_by_key(|v| (v.state.expires_on.map(|e| e.earliest()), v.handle.number));
    let mut rows = convention_rows(&views, point.valid);
    rows.headers.push("expires");
    for (row, v) in rows.rows.iter_mut().zip(&views) {
        row.push(
            v.state
                .expires_on
                .map(|e| e.to_string())
                .unwrap_or_default()
                .into(),
        );
    }
    let report = Report {
        json: views.iter().map(output::convention_json).collect(),
        rows,
        note: Some(format!(
            "{} between {} and {horizon}",
            match views.len() {
                1 => "1 convention expires".to_owned(),
                n => format!("{n} conventions expire"),
            },
            point.valid
        )),
    };
    output::print(&ctx.out, &report)
}
