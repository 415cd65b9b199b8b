//! `pactum report`: the published lists.

use clap::Args;
use serde_json::json;

use crate::app::AppError;
use crate::app::formats::{self as report, partner_cell};
use crate::cli::output::{self, Format, Report, Rows};
use crate::cli::{Access, Context, PointArgs};

/// The lists as the directorate publishes them: grouped by section with the
/// French headings and columns of the 2009 page, international partners
/// last, newest first within a section. Text (the default) is tab-separated
/// like the published page; Markdown for the web.
///
/// Examples:
///   pactum report --format markdown
///   pactum report --recorded-as-of '#86'   (the lists as first imported)
#[derive(Debug, Args)]
#[command(
    verbatim_doc_comment,
    about = "The published lists, grouped by section"
)]
pub struct ReportArgs {
    #[command(flatten)]
    pub point: PointArgs,
}

/// Runs `report`.
pub fn run(ctx: &Context, a: ReportArgs) -> Result<(), AppError> {
    let registry = ctx.open(Access::Read)?;
    let point = ctx.point(&registry, &a.point)?;
    let rows = registry.report_rows(point)?;
    let title = format!(
        "Conventions de partenariat de la Direction de l'aménagement du territoire — situation au {} (registre #{})",
        point.valid, point.recorded
    );
    match ctx.out.format {
        Format::Table | Format::Text => output::print_text(&report::text(&title, rows))?,
        Format::Markdown => output::print_text(&report::markdown(&title, rows))?,
        _ => {
            let grouped = report::grouped(rows);
            let json = grouped
                .iter()
                .flat_map(|(section, rows)| {
                    rows.iter().map(move |r| {
                        json!({
                            "section": section.as_str(),
                            "heading": report::headings(*section).0,
                            "partner": partner_cell(&r.parties, r.instrument),
                            "signed_on": r.signed_on.to_string(),
                            "objectives": r.objectives,
                        })
                    })
                })
                .collect();
            let rows = Rows {
                headers: vec!["section", "partner", "Date de signature", "Objectifs"],
                rows: grouped
                    .iter()
                    .flat_map(|(section, rows)| {
                        rows.iter().map(move |r| {
                            vec![
                                section.as_str().into(),
                                partner_cell(&r.parties, r.instrument).into(),
                                r.signed_on.to_string().into(),
                                r.objectives.clone().into(),
                            ]
                        })
                    })
                    .collect(),
            };
            output::print(
                &ctx.out,
                &Report {
                    json,
                    rows,
                    note: None,
                },
            )?;
        }
    }
    Ok(())
}
