//! `pactum show`: one convention at a point of view.

use clap::Args;

use crate::app::AppError;
use crate::cli::output::{self, Cellv, Report, Rows};
use crate::cli::{Access, Context, PointArgs};

/// Show one convention as it stood on a date, as recorded at a moment.
///
/// Examples:
///   pactum show C12
///   pactum show C12 --as-of 2010-06-30 --recorded-as-of 2009-09-30
#[derive(Debug, Args)]
#[command(verbatim_doc_comment, about = "Show one convention")]
pub struct ShowArgs {
    /// The convention (C12, its id, or an 8+ digit id prefix)
    pub convention: String,
    #[command(flatten)]
    pub point: PointArgs,
}

/// Runs `show`.
pub fn run(ctx: &Context, a: ShowArgs) -> Result<(), AppError> {
    let registry = ctx.open(Access::Read)?;
    let point = ctx.point(&registry, &a.point)?;
    let id = registry.resolve_convention(&a.convention)?;
    let view = registry.snapshot(point).convention(id)?.ok_or_else(|| AppError::NotFound {
        message: format!(
            "{} does not exist as of {} (recorded as of #{})",
            registry.label(id.into()),
            point.valid,
            point.recorded
        ),
        hint: Some(
            "it may be signed later, retracted, or recorded later: `pactum history` shows every event".into(),
        ),
    })?;
    let s = &view.state;
    let field = |name: &str, value: String| -> Vec<Cellv> { vec![name.into(), value.into()] };
    let mut rows = vec![
        field("handle", view.handle.to_string()),
        field("id", s.id.to_string()),
        field("instrument", s.instrument.to_string()),
        field("signed on", output::date_cell(s.signed_on, point.valid)),
        field("objectives", s.objectives.to_string()),
        field(
            "expires on",
            s.expires_on.map(|e| e.to_string()).unwrap_or_default(),
        ),
        field(
            "official ref",
            s.official_ref
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
        ),
        vec!["status".into(), output::status_cell(&view)],
        field("version", s.version.to_string()),
    ];
    for p in &view.parties {
        let by_succession = match p.since {
            Some(since) => format!(
                ", by succession to {} since {}",
                p.via
                    .iter()
                    .map(|q| format!("{} {}", q.handle, q.name))
                    .collect::<Vec<_>>()
                    .join(", "),
                output::date_cell(since, point.valid)
            ),
            None => String::new(),
        };
        rows.push(field(
            "party",
            format!(
                "{} {} ({}{by_succession})",
                p.handle,
                p.name,
                p.kind.map(|k| k.as_str()).unwrap_or("?")
            ),
        ));
    }
    let report = Report {
        json: output::convention_json(&view),
        rows: Rows {
            headers: vec!["field", "value"],
            rows,
        },
        note: Some(format!(
            "as of {}, recorded as of #{}{}",
            point.valid,
            point.recorded,
            if s.approximate {
                " (~: a date straddles the day asked for)"
            } else {
                ""
            }
        )),
    };
    output::print(&ctx.out, &report)
}
