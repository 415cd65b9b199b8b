//! `pactum export`: the lossless event log, or a view as CSV.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use crate::cli::output::Format;
use crate::cli::{Access, Context, PointArgs};
use pactum::app::AppError;

/// Export the event log as JSON Lines (`--format jsonl`, the default:
/// lossless, `import` reproduces it exactly), or the conventions of a view
/// in the import CSV format (`--format csv`, any --as-of/--recorded-as-of).
///
/// Examples:
///   pactum export --output registry.jsonl
///   pactum export --format csv --as-of 2009-12-31 --output conventions-2009.csv
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ExportArgs {
    /// Write to this file instead of stdout
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub point: PointArgs,
}

/// Runs `export`.
pub fn run(ctx: &Context, a: ExportArgs) -> Result<(), AppError> {
    let registry = ctx.open(Access::Read)?;
    let point = ctx.point(&registry, &a.point)?;
    let mut sink: Box<dyn Write> = match &a.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .map_err(|e| AppError::invalid(format!("cannot create {}: {e}", path.display())))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    match ctx.out.format {
        Format::Table | Format::Jsonl => {
            if a.point.as_of.is_some() {
                return Err(AppError::invalid_with(
                    "--as-of does not apply to the event log",
                    "the log is record time only: use --recorded-as-of, or --format csv for a view",
                ));
            }
            let bar = ctx.progress(point.recorded.0, "exporting");
            let n =
                registry.export_jsonl(point.recorded, &mut sink, &mut |n| bar.set_position(n))?;
            bar.finish_and_clear();
            tracing::info!(events = n, "exported");
        }
        Format::Csv => {
            let rows = registry.export_rows(point)?;
            pactum::transfer::csv::write(&rows, &mut sink)
                .map_err(|e| AppError::Other(format!("writing the export: {e}")))?;
        }
        other => {
            return Err(AppError::invalid_with(
                format!("export writes jsonl or csv, not {other:?}").to_lowercase(),
                "use --format jsonl (the event log) or --format csv (the conventions of a view)",
            ));
        }
    }
    sink.flush()
        .map_err(|e| AppError::Other(format!("writing the export: {e}")))?;
    Ok(())
}
