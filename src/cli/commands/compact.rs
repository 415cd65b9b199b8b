//! `pactum compact`: rewrite the registry's files, giving back the space
//! sled keeps.

use clap::Args;

use super::upgrade::{head_text, with_progress};
use crate::app::AppError;
use crate::cli::Context;
use crate::cli::output::{self, Format};

/// Rewrite the registry into fresh files, losslessly, and give back the
/// space its storage kept.
///
/// sled keeps the parts of its file that it has emptied (after a rebuild,
/// an upgrade, many amendments) and rewrites them on every opening. Every
/// entry is copied byte for byte into a new registry beside this one
/// (`NAME.compacting`), which is verified as `pactum verify` does before
/// the two are exchanged in one atomic rename; the old files are then
/// removed. Needs free disk space for the copy. Meanwhile other commands
/// find the registry in use (exit 4), or wait for it with --wait.
///
/// Example:
///   pactum --db /srv/pactum compact && pactum --db /srv/pactum verify
#[derive(Debug, Args)]
#[command(
    verbatim_doc_comment,
    about = "Rewrite the registry into fresh files, giving back the space sled keeps"
)]
pub struct CompactArgs {}

/// Runs `compact`.
pub fn run(ctx: &Context, _a: CompactArgs) -> Result<(), AppError> {
    let c = with_progress(ctx, "compacting", crate::app::compact::compact)?;
    let head = head_text(c.head);
    let printed = if matches!(ctx.out.format, Format::Json | Format::Jsonl) {
        output::print_json(
            &serde_json::json!({
                "entries": c.entries,
                "head": head,
                "bytes_before": c.bytes_before,
                "bytes_after": c.bytes_after,
                "left": c.left.as_ref().map(|p| p.display().to_string()),
            }),
            false,
        )
    } else {
        let mb = |b: u64| b as f64 / 1_000_000.0;
        let left = c.left.as_ref().map_or_else(String::new, |p| {
            format!(
                "; the old files could not be removed: remove {} yourself",
                p.display()
            )
        });
        output::outln!(
            "compacted {} entries (head {head}): {:.1} MB before, {:.1} MB after{left}",
            c.entries,
            mb(c.bytes_before),
            mb(c.bytes_after)
        )
    };
    output::after_commit(printed, "the compaction")
}
