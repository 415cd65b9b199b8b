//! `pactum info`: where the registry is and what it holds.

use clap::Args;
use serde_json::json;

use crate::app::AppError;
use crate::cli::output::{self, Report, Rows};
use crate::cli::{Access, Context};

/// Where the registry is, its size on disk, its counts of partners,
/// conventions and events, its head (seq and hash) and its format. The
/// free space is the segments of sled's file that no data lives in: sled
/// reuses them for later writes but never gives them back to the disk;
/// `pactum compact` does, and `info` suggests it once they are 64 MiB or
/// more and a quarter of the file.
///
/// Example:
///   pactum info
#[derive(Debug, Args)]
#[command(
    verbatim_doc_comment,
    about = "Where the registry is, its size and its head"
)]
pub struct InfoArgs {}

/// Runs `info`.
pub fn run(ctx: &Context, _a: InfoArgs) -> Result<(), AppError> {
    let registry = ctx.open(Access::Read)?;
    let info = registry.info()?;
    let path = info.path.display().to_string();
    let head_text = format!("{}:{}", info.head_seq, info.head_hash);
    let recorded_at = info
        .last_recorded_at
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
    let segment = crate::store::durable::SEGMENT_SIZE as u64;
    let free_bytes = info.segments.free.saturating_mul(segment);
    let json = json!({
        "path": path,
        "size_bytes": info.size_bytes,
        "sled_segments": info.segments.total,
        "free_segments": info.segments.free,
        "free_bytes": free_bytes,
        "partners": info.partners,
        "conventions": info.conventions,
        "events": info.head_seq.0,
        "head": head_text,
        "last_recorded_at": recorded_at,
        "registry_format": info.registry_format,
        "format_version": info.format_version,
        "projection_version": info.projection_version,
    });
    let mut rows: Vec<Vec<output::Cellv>> = Vec::new();
    let mut add = |k: &str, v: String| rows.push(vec![k.into(), v.into()]);
    add("path", path);
    add("size on disk", format!("{} bytes", info.size_bytes));
    add(
        "free space",
        if info.segments.free == 0 {
            "none".to_string()
        } else {
            format!(
                "{free_bytes} bytes: {} of sled's {} segments of {} MiB{}",
                info.segments.free,
                info.segments.total,
                segment >> 20,
                if crate::app::info::compaction_advised(&info.segments) {
                    " (pactum compact gives them back)"
                } else {
                    ""
                }
            )
        },
    );
    add("partners", info.partners.to_string());
    add("conventions", info.conventions.to_string());
    add("events", info.head_seq.to_string());
    add("head", head_text);
    add("last recorded at", recorded_at.unwrap_or_default());
    add(
        "format",
        format!(
            "registry v{}, events v{}, projections v{}",
            info.registry_format, info.format_version, info.projection_version
        ),
    );
    output::print(
        &ctx.out,
        &Report {
            json,
            rows: Rows {
                headers: vec!["field", "value"],
                rows,
            },
            note: None,
        },
    )
}
