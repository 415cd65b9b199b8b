//! `pactum info`: where the registry is and what it holds.

use clap::Args;
use serde_json::json;

use crate::cli::output::{self, Report, Rows};
use crate::cli::{Access, Context};
use pactum::app::AppError;
use pactum::domain::EntityKind;
use pactum::store::codec;

/// Where the registry is, its size on disk, its counts of partners,
/// conventions and events, its head (seq and hash) and its format.
///
/// Example:
///   pactum info
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct InfoArgs {}

/// Runs `info`.
pub fn run(ctx: &Context, _a: InfoArgs) -> Result<(), AppError> {
    let registry = ctx.open(Access::Read)?;
    let store = registry.store();
    let head = store.head()?;
    let size = store.size_on_disk()?;
    let partners = store.count(EntityKind::Partner)?;
    let conventions = store.count(EntityKind::Convention)?;
    let head_text = format!("{}:{}", head.seq, head.hash);
    let json = json!({
        "path": store.path().display().to_string(),
        "size_bytes": size,
        "partners": partners,
        "conventions": conventions,
        "events": head.seq.0,
        "head": head_text,
        "last_recorded_at": head.recorded_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        "registry_format": codec::REGISTRY_FORMAT,
        "format_version": codec::FORMAT_VERSION,
        "projection_version": codec::PROJECTION_VERSION,
    });
    let mut rows: Vec<Vec<output::Cellv>> = Vec::new();
    let mut add = |k: &str, v: String| rows.push(vec![k.into(), v.into()]);
    add("path", store.path().display().to_string());
    add("size on disk", format!("{size} bytes"));
    add("partners", partners.to_string());
    add("conventions", conventions.to_string());
    add("events", head.seq.to_string());
    add("head", head_text);
    add(
        "last recorded at",
        head.recorded_at
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
            .unwrap_or_default(),
    );
    add(
        "format",
        format!(
            "registry v{}, events v{}, projections v{}",
            codec::REGISTRY_FORMAT,
            codec::FORMAT_VERSION,
            codec::PROJECTION_VERSION
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
