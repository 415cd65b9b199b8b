//! `pactum blame`: which event last set each field.

use clap::Args;

use crate::app::AppError;
use crate::cli::output::{self, Report, Rows, colored};
use crate::cli::{Access, Context, PointArgs};

/// For each field of an entry as it stands, the event that last set it:
/// its seq, type, time, actor and reason.
///
/// Examples:
///   pactum blame C22
///   pactum blame "Laâyoune-Sakia El Hamra-Boujdour" --as-of 2010
#[derive(Debug, Args)]
#[command(
    verbatim_doc_comment,
    about = "Which event last set each field of an entry"
)]
pub struct BlameArgs {
    /// The entry (C12, P7, an id, or a partner's name)
    pub entity: String,
    #[command(flatten)]
    pub point: PointArgs,
}

/// Runs `blame`.
pub fn run(ctx: &Context, a: BlameArgs) -> Result<(), AppError> {
    let registry = ctx.open(Access::Read)?;
    let point = ctx.point(&registry, &a.point)?;
    let entity = registry.resolve_entity(&a.entity)?;
    let lines = registry.blame(entity, &point)?;
    let report = Report {
        json: lines
            .iter()
            .map(|b| output::blame_json(&registry, b))
            .collect(),
        rows: Rows {
            headers: vec![
                "field",
                "value",
                "seq",
                "type",
                "recorded at",
                "actor",
                "reason",
            ],
            rows: lines
                .iter()
                .map(|b| {
                    let r = &b.record;
                    vec![
                        b.field.into(),
                        output::value_text(&registry, &b.value).into(),
                        colored(format!("#{}", r.seq), comfy_table::Color::Cyan),
                        r.event.event_type().as_str().into(),
                        output::timestamp(r).into(),
                        r.actor.to_string().into(),
                        r.reason
                            .as_ref()
                            .map(ToString::to_string)
                            .unwrap_or_default()
                            .into(),
                    ]
                })
                .collect(),
        },
        note: Some(format!(
            "{} as of {}, recorded as of #{}",
            registry.label(entity),
            point.valid,
            point.recorded
        )),
    };
    output::print(&ctx.out, &report)
}
