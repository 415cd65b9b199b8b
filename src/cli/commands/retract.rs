//! `pactum retract`: void an event recorded in error.

use clap::Args;

use super::print_written;
use crate::app::AppError;
use crate::cli::{Access, Context, WriteArgs};
use crate::domain::decide::Command;

/// Void an event that should never have been recorded (a duplicate, an
/// amendment filed on the wrong convention). The event stays in the log and
/// in `history`, marked void; it no longer counts in any view.
///
/// Example:
///   pactum retract '#42' --reason "filed on the wrong convention"
#[derive(Debug, Args)]
#[command(
    verbatim_doc_comment,
    about = "Void an event that should never have been recorded"
)]
pub struct RetractArgs {
    /// The event: its id, an 8+ digit id prefix, or its log position (#42)
    pub event: String,
    #[command(flatten)]
    pub write: WriteArgs,
}

/// Runs `retract`.
pub fn run(ctx: &Context, a: RetractArgs) -> Result<(), AppError> {
    let meta = ctx.write_meta(&a.write)?;
    let registry = ctx.open(Access::Write)?;
    let target = registry.resolve_event(&a.event)?;
    let command = Command::Retract {
        entity: target.entity,
        target: target.id,
    };
    let written = registry.execute(command, &meta)?;
    print_written(ctx, &registry, &written, "retracted an event of")
}
