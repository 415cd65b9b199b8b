//! `pactum rebuild`: recompute every projection and index.

use clap::Args;

use crate::cli::{Access, Context};
use pactum::app::AppError;

/// Drop every projection and index and rebuild them from the event log.
/// A rebuild interrupted by a crash is finished by the next command.
///
/// Example:
///   pactum rebuild && pactum verify
#[derive(Debug, Args)]
pub struct RebuildArgs {}

/// Runs `rebuild`.
pub fn run(ctx: &Context, _a: RebuildArgs) -> Result<(), AppError> {
    let registry = ctx.open(Access::Read)?;
    let derivation = registry.rebuild(&mut |_| {})?;
    if ctx.out.format == crate::cli::output::Format::Json {
        println!(
            "{}",
            serde_json::json!({"events": derivation.events, "partners": derivation.partners, "conventions": derivation.conventions})
        );
    } else {
        println!(
            "rebuilt from {} events: {} partners, {} conventions",
            derivation.events, derivation.partners, derivation.conventions
        );
    }
    Ok(())
}
