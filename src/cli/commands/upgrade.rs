//! `pactum upgrade`: convert a registry of an earlier format.

use clap::Args;

use crate::app::AppError;
use crate::app::{DEFAULT_CACHE_BYTES, OpenOptions};
use crate::cli::Context;
use crate::cli::output::{self, Format};

/// Convert a registry written by an earlier pactum to the current format.
///
/// Every event is copied byte for byte (same seqs, ids, hashes and record
/// times), the caches are rebuilt, and the new registry is verified before
/// it takes the registry's place. The registry as it was is kept beside it,
/// as `NAME.format-1`: remove it when you no longer need it. Every other
/// command refuses a registry of an earlier format (exit 2).
///
/// Example:
///   pactum --db /srv/pactum upgrade && pactum --db /srv/pactum verify
#[derive(Debug, Args)]
#[command(
    verbatim_doc_comment,
    about = "Convert a registry written by an earlier pactum"
)]
pub struct UpgradeArgs {}

/// Runs `upgrade`.
pub fn run(ctx: &Context, _a: UpgradeArgs) -> Result<(), AppError> {
    let path = ctx.db_path()?;
    let options = OpenOptions {
        create: false,
        wait: ctx.global.wait,
        cache_bytes: DEFAULT_CACHE_BYTES,
        ..OpenOptions::default()
    };
    let bar = ctx.progress(0, "upgrading");
    let upgraded = crate::app::upgrade::upgrade(&path, &options, &mut |n| bar.set_position(n));
    bar.finish_and_clear();
    let upgraded = upgraded?;
    let head = upgraded
        .head
        .map_or_else(|| "0".to_owned(), |(seq, hash)| format!("{seq}:{hash}"));
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
