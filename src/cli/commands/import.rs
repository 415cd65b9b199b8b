//! `pactum import`: a conventions CSV, or a JSON Lines event log.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use serde_json::json;

use crate::app::exchange::{ImportSummary, JsonlLog};
use crate::app::{AppError, Registry, WriteMeta};
use crate::cli::output::{self, Format, count};
use crate::cli::{Access, Context, WriteArgs};
use crate::store::Head;

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
#[command(
    verbatim_doc_comment,
    about = "Import a CSV list or a JSON Lines event log"
)]
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
    if kind == FileKind::Jsonl {
        return import_log(ctx, &path, bytes, a.dry_run);
    }
    // Into a registry that does not exist yet, the file is first checked
    // against an empty one in a throwaway folder: a refused import (or a
    // dry run) creates nothing at the real path.
    if !crate::app::registry_exists(&path) {
        let scratch = tempfile::tempdir().map_err(|e| AppError::Other(e.to_string()))?;
        let empty = ctx
            .at(scratch.path().join("registry"))
            .open(Access::Create)?;
        let checked = import_csv(ctx, &empty, &bytes, &meta, true)?;
        if a.dry_run {
            return report(ctx, &checked, true);
        }
    }
    let registry = ctx.open(Access::Create)?;
    let done = import_csv(ctx, &registry, &bytes, &meta, a.dry_run)?;
    let printed = report(ctx, &done, a.dry_run);
    if a.dry_run {
        printed
    } else {
        output::after_commit(printed, "the import")
    }
}

/// A JSON Lines event log: checked once against the registry's head (an
/// empty head when there is no registry yet, which a refused import or a
/// dry run then does not create), the file's bytes dropped, then appended.
fn import_log(ctx: &Context, path: &Path, bytes: Vec<u8>, dry_run: bool) -> Result<(), AppError> {
    let existing = if crate::app::registry_exists(path) {
        Some(ctx.open(Access::Create)?)
    } else {
        None
    };
    let head = match &existing {
        Some(registry) => registry.head()?,
        None => Head::EMPTY,
    };
    let bar = ctx.progress(0, "checking");
    let log = if dry_run {
        JsonlLog::dry_check(&bytes, &head)
    } else {
        JsonlLog::check(&bytes, &head)
    };
    bar.finish_and_clear();
    let log = log?;
    drop(bytes);
    if dry_run {
        return report(ctx, &Imported::Jsonl(log.appended()), true);
    }
    let registry = match existing {
        Some(registry) => registry,
        None => ctx.open(Access::Create)?,
    };
    let bar = ctx.progress(0, "importing");
    let appended = registry.import_checked(log);
    bar.finish_and_clear();
    output::after_commit(
        report(ctx, &Imported::Jsonl(appended?), false),
        "the import",
    )
}

/// What an import did, or would do.
enum Imported {
    Csv(ImportSummary),
    Jsonl(usize),
}

fn import_csv(
    ctx: &Context,
    registry: &Registry,
    bytes: &[u8],
    meta: &WriteMeta,
    dry_run: bool,
) -> Result<Imported, AppError> {
    let bar = ctx.progress(0, "importing");
    let done = registry.import_csv(bytes, meta, dry_run).map(Imported::Csv);
    bar.finish_and_clear();
    done
}

fn report(ctx: &Context, done: &Imported, dry_run: bool) -> Result<(), AppError> {
    let json = matches!(ctx.out.format, Format::Json | Format::Jsonl);
    let verb = if dry_run { "would import" } else { "imported" };
    match done {
        Imported::Csv(summary) if json => output::print_json(
            &json!({
                "dry_run": dry_run,
                "rows": summary.rows,
                "conventions_created": summary.conventions_created,
                "rows_already_present": summary.rows_matched,
                "partners_created": summary.partners_created,
                "events": summary.events,
            }),
            false,
        )?,
        Imported::Csv(summary) => output::outln!(
            "{verb} {}: {} and {} recorded ({}), {} already present",
            count(summary.rows, "row"),
            count(summary.conventions_created, "convention"),
            count(summary.partners_created, "partner"),
            count(summary.events, "event"),
            count(summary.rows_matched, "row"),
        )?,
        Imported::Jsonl(events) if json => {
            output::print_json(&json!({"dry_run": dry_run, "events": events}), false)?;
        }
        Imported::Jsonl(events) => {
            output::outln!("{verb} {} (hash chain checked)", count(*events, "event"))?;
        }
    }
    Ok(())
}
