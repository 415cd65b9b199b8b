//! `pactum history`: every event of an entry, with what it changed.

use clap::Args;

use crate::app::AppError;
use crate::app::Registry;
use crate::app::audit::HistoryEntry;
use crate::cli::output::{self, Cellv, Report, Rows, colored};
use crate::cli::{Access, Context, PointArgs};

/// Every event of an entry, oldest first, void ones included: who recorded
/// it, when, why, and the fields it changed (compared with every dated fact
/// applied; --as-of compares at that date instead).
///
/// Examples:
///   pactum history C38
///   pactum history "Figuig" --format json
#[derive(Debug, Args)]
#[command(
    verbatim_doc_comment,
    about = "Every event of an entry, with the fields it changed"
)]
pub struct HistoryArgs {
    /// The entry (C12, P7, an id, or a partner's name)
    pub entity: String,
    #[command(flatten)]
    pub point: PointArgs,
}

/// Runs `history`.
pub fn run(ctx: &Context, a: HistoryArgs) -> Result<(), AppError> {
    let registry = ctx.open(Access::Read)?;
    let point = ctx.point(&registry, &a.point)?;
    let entity = registry.resolve_entity(&a.entity)?;
    let entries = registry.history(entity, &point)?;
    let note = format!(
        "{} of {}",
        output::count(entries.len(), "event"),
        registry.label(entity)
    );
    print_history(ctx, &registry, &entries, note)
}

/// Prints history entries (of one entry, or of the log).
pub fn print_history(
    ctx: &Context,
    registry: &Registry,
    entries: &[HistoryEntry],
    note: String,
) -> Result<(), AppError> {
    let report = Report::for_format(
        &ctx.out,
        || {
            entries
                .iter()
                .map(|e| output::history_json(registry, e))
                .collect()
        },
        || history_rows(registry, entries),
        Some(note),
    );
    output::print(&ctx.out, &report)
}

/// The rows of a history or log: one per event, its changes in one cell.
pub fn history_rows(registry: &Registry, entries: &[HistoryEntry]) -> Rows {
    Rows {
        headers: vec![
            "seq",
            "entity",
            "event",
            "recorded at",
            "actor",
            "reason",
            "changes",
        ],
        rows: entries
            .iter()
            .map(|e| {
                let r = &e.record;
                let mut event = format!(
                    "{}\n{}",
                    r.event.event_type(),
                    output::event_summary(registry, r)
                );
                if let Some((seq, _)) = e.voided_by {
                    event.push_str(&format!("\nVOID: retracted by #{seq}"));
                }
                let changes = e
                    .changes
                    .iter()
                    .map(|c| {
                        format!(
                            "{}: {} → {}",
                            c.field,
                            output::value_text(registry, &c.before),
                            output::value_text(registry, &c.after)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n");
                let seq: Cellv = if e.voided_by.is_some() {
                    colored(format!("#{}", r.seq), comfy_table::Color::Red)
                } else {
                    colored(format!("#{}", r.seq), comfy_table::Color::Cyan)
                };
                vec![
                    seq,
                    registry
                        .handle(r.entity)
                        .map_or_else(|_| r.entity.to_string(), |h| h.to_string())
                        .into(),
                    event.into(),
                    output::timestamp(r).into(),
                    r.actor.to_string().into(),
                    r.reason
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default()
                        .into(),
                    changes.into(),
                ]
            })
            .collect(),
    }
}
