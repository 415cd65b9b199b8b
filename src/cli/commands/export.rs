//! `pactum export`: the lossless event log, or a view as CSV.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use crate::app::AppError;
use crate::app::outfile::OutputFile;
use crate::cli::output::Format;
use crate::cli::{Access, Context, PointArgs};

/// Export the event log as JSON Lines (`--format jsonl`, the default:
/// lossless, `import` reproduces it exactly), or the conventions of a view
/// in the import CSV format (`--format csv`, any --as-of/--recorded-as-of).
///
/// Examples:
///   pactum export --output registry.jsonl
///   pactum export --format csv --as-of 2009-12-31 --output conventions-2009.csv
#[derive(Debug, Args)]
#[command(
    verbatim_doc_comment,
    about = "Export the event log (JSON Lines) or a view (CSV)"
)]
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
    // The file is checked (never inside the registry folder) and written
    // beside its target, then renamed into place only once the export has
    // succeeded: a failed export leaves any old file whole.
    let mut file = match &a.output {
        Some(path) => Some(OutputFile::create(path, &[registry.path()])?),
        None => None,
    };
    let mut stdout = None;
    let sink: &mut dyn Write = match &mut file {
        Some(f) => f,
        None => stdout.insert(crate::cli::output::stdout()),
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
            let n = registry.export_jsonl(point.recorded, sink, &mut |n| bar.set_position(n))?;
            bar.finish_and_clear();
            tracing::info!(events = n, "exported");
        }
        Format::Csv => {
            registry.export_csv(point, &mut *sink)?;
        }
        other => {
            return Err(AppError::invalid_with(
                format!("export writes jsonl or csv, not {other:?}").to_lowercase(),
                "use --format jsonl (the event log) or --format csv (the conventions of a view)",
            ));
        }
    }
    sink.flush().map_err(crate::cli::output::io_error)?;
    match file {
        Some(f) => f.commit(),
        None => Ok(()),
    }
}
