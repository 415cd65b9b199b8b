//! `pactum upgrade`: convert a registry of format 1.

use std::path::Path;

use clap::Args;

use crate::app::AppError;
use crate::app::{DEFAULT_CACHE_BYTES, OpenOptions};
use crate::cli::Context;
use crate::cli::output::{self, Format};
use crate::domain::{Digest, Seq};

/// Convert a registry of format 1 (one entry per event, written by an
/// earlier pactum) to the current format.
///
/// Every event is copied byte for byte (same seqs, ids, hashes and record
/// times), the caches are rebuilt, and the new registry is verified before
/// it takes the registry's place. The registry as it was is kept beside it,
/// as `NAME.format-1`: remove it when you no longer need it. Every other
/// command refuses a registry of format 1 (exit 2). A registry of format 2
/// needs no upgrade: it is read as it is, and its first write records it
/// as format 3.
///
/// Example:
///   pactum --db /srv/pactum upgrade && pactum --db /srv/pactum verify
#[derive(Debug, Args)]
#[command(
    verbatim_doc_comment,
    about = "Convert a registry of format 1, written by an earlier pactum"
)]
pub struct UpgradeArgs {}

/// A step on a whole registry: its path, how to open it, its progress.
pub(super) type WholeRegistryStep<T> =
    fn(&Path, &OpenOptions, &mut dyn FnMut(u64)) -> Result<T, AppError>;

/// Runs `step` (`upgrade` or `compact`) on the whole registry at the
/// command's path, with a progress bar labelled `label`.
pub(super) fn with_progress<T>(
    ctx: &Context,
    label: &'static str,
    step: WholeRegistryStep<T>,
) -> Result<T, AppError> {
    let path = ctx.db_path()?;
    let options = OpenOptions {
        create: false,
        wait: ctx.global.wait,
        cache_bytes: DEFAULT_CACHE_BYTES,
        ..OpenOptions::default()
    };
    let bar = ctx.progress(0, label);
    let done = step(&path, &options, &mut |n| bar.set_position(n));
    bar.finish_and_clear();
    done
}

/// A head as the command line prints it: `SEQ:HASH`, or `0`.
pub(super) fn head_text(head: Option<(Seq, Digest)>) -> String {
    head.map_or_else(|| "0".to_owned(), |(seq, hash)| format!("{seq}:{hash}"))
}

/// Runs `upgrade`.
pub fn run(ctx: &Context, _a: UpgradeArgs) -> Result<(), AppError> {
    let upgraded = with_progress(ctx, "upgrading", crate::app::upgrade::upgrade)?;
    let head = head_text(upgraded.head);
    let printed = if matches!(ctx.out.format, Format::Json | Format::Jsonl) {
        output::print_json(
            &serde_json::json!({
                "events": upgraded.events,
                "head": head,
                "kept": upgraded.kept.display().to_string(),
            }),
            false,
        )
    } else {
        output::outln!(
            "upgraded {} events (head {head}); the registry as it was is kept at {}: remove it when you no longer need it",
            upgraded.events,
            upgraded.kept.display()
        )
    };
    output::after_commit(printed, "the upgrade")
}
