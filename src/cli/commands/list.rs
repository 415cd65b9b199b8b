//! `pactum list`: conventions at a point of view.

use clap::Args;

use super::{date, word};
use crate::app::{AppError, ConventionFilter, ConventionView};
use crate::cli::output::{self, Report, Rows, colored};
use crate::cli::{Access, Context, PointArgs};
use crate::domain::{Instrument, PartialDate, PartnerKind, Status};

/// List conventions that exist at a point of view, whatever their status.
///
/// Examples:
///   pactum list --as-of 2005
///   pactum list --kind region --status in-force
///   pactum list --search "agenda 21" --recorded-as-of 2009-09-30
#[derive(Debug, Default, Args)]
#[command(
    verbatim_doc_comment,
    about = "List conventions, as of a date, with filters"
)]
pub struct ListArgs {
    /// Only conventions with this party on the date (P7, an id, or a name), directly or by succession
    #[arg(long, value_name = "P")]
    pub partner: Option<String>,
    /// Only conventions with a party of this kind
    #[arg(long, value_parser = word::<PartnerKind>)]
    pub kind: Option<PartnerKind>,
    /// Only this instrument
    #[arg(long, value_parser = word::<Instrument>)]
    pub instrument: Option<Instrument>,
    /// Only this status: in-force, terminated, expired
    #[arg(long, value_parser = word::<Status>)]
    pub status: Option<Status>,
    /// Only conventions signed on or after this date
    #[arg(long, value_name = "DATE", value_parser = date)]
    pub signed_from: Option<PartialDate>,
    /// Only conventions signed on or before this date
    #[arg(long, value_name = "DATE", value_parser = date)]
    pub signed_to: Option<PartialDate>,
    /// Only conventions whose objectives or party names (or, for a party by succession, its predecessors' names) contain every word (accents, case and punctuation ignored)
    #[arg(long, value_name = "TEXT")]
    pub search: Option<String>,
    #[command(flatten)]
    pub point: PointArgs,
}

/// Runs `list`.
pub fn run(ctx: &Context, a: ListArgs) -> Result<(), AppError> {
    let (signed_from, signed_to) = (a.signed_from, a.signed_to);
    let registry = ctx.open(Access::Read)?;
    let point = ctx.point(&registry, &a.point)?;
    let filter = ConventionFilter {
        partner: a
            .partner
            .as_deref()
            .map(|p| registry.resolve_partner(p))
            .transpose()?,
        partner_kind: a.kind,
        instrument: a.instrument,
        status: a.status,
        signed_from,
        signed_to,
        search: a.search,
    };
    let views = registry.snapshot(point).conventions(&filter)?;
    let report = Report::for_format(
        &ctx.out,
        || views.iter().map(output::convention_json).collect(),
        || convention_rows(&views, point.valid),
        Some(format!(
            "{} as of {}, recorded as of #{}",
            output::count(views.len(), "convention"),
            point.valid,
            point.recorded
        )),
    );
    output::print(&ctx.out, &report)
}

/// The rows of a convention list.
pub fn convention_rows(views: &[ConventionView], valid: chrono::NaiveDate) -> Rows {
    Rows {
        headers: vec![
            "handle",
            "signed",
            "instrument",
            "parties",
            "objectives",
            "status",
        ],
        rows: views
            .iter()
            .map(|v| {
                vec![
                    colored(v.handle.to_string(), comfy_table::Color::Cyan),
                    output::date_cell(v.state.signed_on, valid).into(),
                    v.state.instrument.as_str().into(),
                    output::parties_cell(&v.parties).into(),
                    v.state.objectives.to_string().into(),
                    output::status_cell(v),
                ]
            })
            .collect(),
    }
}
