//! `pactum rebuild`: recompute every projection and index.

use clap::Args;

use crate::app::AppError;
use crate::cli::output::{self, Format};
use crate::cli::{Access, Context};

/// Drop every projection and index and rebuild them from the event log.
/// A rebuild interrupted by a crash is finished by the next command.
///
/// Example:
///   pactum rebuild && pactum verify
#[derive(Debug, Args)]
#[command(
    verbatim_doc_comment,
    about = "Rebuild every projection and index from the log"
)]
pub struct RebuildArgs {}

/// Runs `rebuild`.
pub fn run(ctx: &Context, _a: RebuildArgs) -> Result<(), AppError> {
    let registry = ctx.open(Access::Read)?;
    let head = registry.head_seq()?;
    let bar = ctx.progress(head.0, "rebuilding");
    let rebuilt = registry.rebuild(&mut |seq| bar.set_position(seq));
    bar.finish_and_clear();
    let rebuilt = rebuilt?;
    let fixed: u64 = rebuilt.fixed.iter().map(|(_, n)| n).sum();
    let printed = if matches!(ctx.out.format, Format::Json | Format::Jsonl) {
        output::print_json(
            &serde_json::json!({
                "events": rebuilt.events,
                "partners": rebuilt.partners,
                "conventions": rebuilt.conventions,
                "fixed": rebuilt.fixed.iter().map(|(t, n)| serde_json::json!({"tree": t, "entries": n})).collect::<Vec<_>>(),
            }),
            false,
        )
    } else {
        output::outln!(
            "rebuilt from {} events: {} partners, {} conventions; {fixed} derived entries rewritten or removed",
            rebuilt.events,
            rebuilt.partners,
            rebuilt.conventions
        )
    };
    output::after_commit(printed, "the rebuild")
}
