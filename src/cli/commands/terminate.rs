//! `pactum terminate`: record the end of a convention.

use clap::Args;

use super::{date, print_written};
use crate::app::AppError;
use crate::cli::{Access, Context, WriteArgs};
use crate::domain::decide::Command;
use crate::domain::{ConventionTerminated, PartialDate, TerminationKind};

/// Record the end of a convention: terminated by the parties, or expired.
///
/// Example:
///   pactum terminate C9 --effective 2014-12-31 --expired --reason "reached its term"
#[derive(Debug, Args)]
#[command(verbatim_doc_comment, about = "Record the end of a convention")]
pub struct TerminateArgs {
    /// The convention (C12 or its id)
    pub convention: String,
    /// When it ended
    #[arg(long, value_name = "DATE", value_parser = date)]
    pub effective: PartialDate,
    /// It reached its term (default: terminated by the parties)
    #[arg(long)]
    pub expired: bool,
    #[command(flatten)]
    pub write: WriteArgs,
}

/// Runs `terminate`.
pub fn run(ctx: &Context, a: TerminateArgs) -> Result<(), AppError> {
    let effective_on = a.effective;
    let meta = ctx.write_meta(&a.write)?;
    let registry = ctx.open(Access::Write)?;
    let convention = registry.resolve_convention(&a.convention)?;
    let payload = ConventionTerminated {
        effective_on,
        kind: if a.expired {
            TerminationKind::Expired
        } else {
            TerminationKind::Terminated
        },
    };
    let written = registry.execute(Command::TerminateConvention(convention, payload), &meta)?;
    print_written(ctx, &registry, &written, "ended")
}
