//! `pactum import`: a conventions CSV, or a JSON Lines event log.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde_json::json;

use crate::cli::output::Format;
use crate::cli::{Access, Context, WriteArgs};
use pactum::app::AppError;

/// Import a conventions CSV (one row per convention; rows already in the
/// registry are skipped) or a JSON Lines event log written by `export`
/// (into an empty registry only: it reproduces the log exactly). An import
/// is all or nothing: if any row is bad, nothing is imported and every bad
/// row is reported with its line.
///
/// Examples:
///   pactum import fixtures/seed-2009/conventions.csv --source "liste de septembre 2009"
///   pactum --db copy import registry.jsonl
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ImportArgs {
    /// The file to import
    pub file: PathBuf,
    /// Check everything and report what would be imported, writing nothing
    #[arg(long)]
    pub dry_run: bool,
    /// What the file is [default: from its extension, else its first byte]
    #[arg(long = "as", value_enum, value_name = "KIND")]
    pub kind: Option<FileKind>,
    #[command(flatten)]
    pub write: WriteArgs,
}

/// The two importable formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FileKind {
    /// a conventions CSV
    Csv,
    /// a JSON Lines event log
    Jsonl,
}

/// Runs `import`.
pub fn run(ctx: &Context, a: ImportArgs) -> Result<(), AppError> {
    let bytes = std::fs::read(&a.file).map_err(|e| {
        AppError::invalid_with(
            format!("cannot read {}: {e}", a.file.display()),
            "give the path of a CSV or JSON Lines file",
        )
    })?;
    let kind = a.kind.unwrap_or_else(|| {
        let ext = a.file.extension().and_then(|e| e.to_str()).unwrap_or("");
        if ext.eq_ignore_ascii_case("jsonl") || ext.eq_ignore_ascii_case("ndjson") {
            FileKind::Jsonl
        } else if ext.eq_ignore_ascii_case("csv") {
            FileKind::Csv
        } else if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
            FileKind::Jsonl
        } else {
            FileKind::Csv
        }
    });
    let meta = ctx.write_meta(&a.write)?;
    let path = ctx.db_path()?;
    // A dry run against a registry that does not exist yet runs against an
    // empty one in a throwaway folder: nothing is created at the real path.
    let scratch;
    let registry = if a.dry_run && !pactum::store::exists(&path) {
        scratch = tempfile::tempdir().map_err(|e| AppError::Other(e.to_string()))?;
        let mut inner = Context {
            global: crate::cli::Global {
                db: Some(scratch.path().join("registry")),
                ..ctx.global.clone()
            },
            out: crate::cli::output::Out::new(ctx.out.format),
        };
        inner.out.color = ctx.out.color;
        inner.open(Access::Write)?
    } else {
        ctx.open(Access::Write)?
    };
    let bar = ctx.progress(0, "importing");
    let verb = if a.dry_run {
        "would import"
    } else {
        "imported"
    };
    match kind {
        FileKind::Csv => {
            let summary = registry.import_csv(&bytes, &meta, a.dry_run);
            bar.finish_and_clear();
            let summary = summary?;
            let json = json!({
                "dry_run": a.dry_run,
                "rows": summary.rows,
                "conventions_created": summary.conventions_created,
                "rows_already_present": summary.rows_matched,
                "partners_created": summary.partners_created,
                "events": summary.events,
            });
            if matches!(ctx.out.format, Format::Json | Format::Jsonl) {
                println!("{json}");
            } else {
                println!(
                    "{verb} {} rows: {} conventions and {} partners recorded ({} events), {} rows already present",
                    summary.rows,
                    summary.conventions_created,
                    summary.partners_created,
                    summary.events,
                    summary.rows_matched
                );
            }
        }
        FileKind::Jsonl => {
            let count = registry.import_jsonl(&bytes, a.dry_run);
            bar.finish_and_clear();
            let count = count?;
            if matches!(ctx.out.format, Format::Json | Format::Jsonl) {
                println!("{}", json!({"dry_run": a.dry_run, "events": count}));
            } else {
                println!("{verb} {count} events (hash chain checked)");
            }
        }
    }
    Ok(())
}
