//! `pactum log`: the global event log.

use clap::Args;

use super::history::print_history;
use crate::app::AppError;
use crate::app::audit::LogFilter;
use crate::cli::{Access, Context, PointArgs, output};
use crate::domain::EventType;

/// The global event log, oldest first (the newest last), each event with
/// the fields it changed.
///
/// Examples:
///   pactum log --limit 20
///   pactum log --type corrected --since 2024-01-01 --actor clerk
#[derive(Debug, Args)]
#[command(verbatim_doc_comment, about = "The global event log")]
pub struct LogArgs {
    /// Only events recorded at or after WHEN (timestamp, date, or #N)
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Only events recorded at or before WHEN (timestamp, date meaning its end, or #N)
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// Only events recorded by this actor
    #[arg(long, value_name = "NAME")]
    pub actor: Option<String>,
    /// Only events of this type (repeatable): partner-registered, partner-renamed, convention-signed, convention-amended, convention-terminated, corrected, retracted
    #[arg(long = "type", value_name = "TYPE", value_parser = event_type)]
    pub types: Vec<EventType>,
    /// Only events of this entry (C12, P7, an id, or a partner's name)
    #[arg(long, value_name = "ENTITY")]
    pub entity: Option<String>,
    /// Only the last N events that pass the filters
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    #[command(flatten)]
    pub point: PointArgs,
}

fn event_type(text: &str) -> Result<EventType, String> {
    EventType::parse(text).ok_or_else(|| {
        format!(
            "unknown event type '{text}' (accepted: {})",
            EventType::ALL
                .iter()
                .map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// Runs `log`.
pub fn run(ctx: &Context, a: LogArgs) -> Result<(), AppError> {
    let registry = ctx.open(Access::Read)?;
    let point = ctx.point(&registry, &a.point)?;
    let filter = LogFilter {
        since: a
            .since
            .as_deref()
            .map(|s| registry.resolve_since(s))
            .transpose()?,
        until: a
            .until
            .as_deref()
            .map(|s| registry.resolve_when(s))
            .transpose()?,
        actor: a.actor,
        types: a.types,
        entity: a
            .entity
            .as_deref()
            .map(|e| registry.resolve_entity(e))
            .transpose()?,
        limit: a.limit,
    };
    let entries = registry.log(&filter, &point)?;
    let note = output::count(entries.len(), "event");
    print_history(ctx, &registry, &entries, note)
}
