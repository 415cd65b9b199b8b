//! `pactum publish`: the static transparency site.

use std::path::PathBuf;

use clap::Args;

use crate::app::AppError;
use crate::cli::output::{self, Format};
use crate::cli::{Access, Context, PointArgs};
use crate::site::{self, CheckpointInput};

/// Write the registry as a static web site, in French: the index grouped
/// by section as the 2009 lists were, a page per convention and per partner
/// with its whole audit trail, the 2009 list as recorded beside today's,
/// the global log, and the data (the JSON Lines log, the conventions CSV,
/// SHA256SUMS). With --checkpoint and --vkey, each event's inclusion proof
/// is published and checked in the reader's browser against the signed
/// checkpoint. The site needs no server and loads nothing from elsewhere:
/// open index.html from disk, or copy the folder to any static host.
///
/// The same registry and options give byte-identical files. --out must be
/// a new or empty folder, or a site pactum wrote earlier (it is replaced
/// whole); never a folder inside the registry.
///
/// Examples:
///   pactum publish --out site
///   pactum publish --out site --as-of 2009-12-31 --recorded-as-of '#86'
///   pactum publish --out site --checkpoint checkpoint.txt --vkey "$(cat dat.vkey)"
#[derive(Debug, Args)]
#[command(
    verbatim_doc_comment,
    about = "Write the registry as a static transparency web site"
)]
pub struct PublishArgs {
    /// The folder to write the site to
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// A signed checkpoint of this registry (from `pactum checkpoint`) to publish with its proofs
    #[arg(long, value_name = "FILE", requires = "vkey")]
    pub checkpoint: Option<PathBuf>,

    /// The verifier key the checkpoint is signed with (NAME+HASH+KEY, as `pactum key generate` prints it)
    #[arg(long, value_name = "VKEY", requires = "checkpoint")]
    pub vkey: Option<String>,

    #[command(flatten)]
    pub point: PointArgs,
}

/// Runs `publish`.
pub fn run(ctx: &Context, a: PublishArgs) -> Result<(), AppError> {
    let checkpoint = match (&a.checkpoint, &a.vkey) {
        (Some(path), Some(vkey)) => Some(CheckpointInput {
            text: super::read_small(path, super::SMALL_FILE)?,
            vkey: vkey.trim().to_owned(),
        }),
        _ => None,
    };
    let registry = ctx.open(Access::Read)?;
    let point = ctx.point(&registry, &a.point)?;
    let published = site::publish(&registry, point, checkpoint.as_ref(), &a.out)?;
    if ctx.out.format == Format::Json {
        output::print_json(
            &serde_json::json!({
                "out": published.out.display().to_string(),
                "index": published.out.join("index.html").display().to_string(),
                "files": published.files,
                "conventions": published.conventions,
                "proofs": published.proofs,
                "as_of": point.valid.to_string(),
                "recorded_as_of": point.recorded.0,
            }),
            false,
        )?;
    } else {
        output::outln!(
            "published {} conventions as of {} (log position #{}) in {} files{}",
            published.conventions,
            point.valid,
            point.recorded,
            published.files,
            if published.proofs > 0 {
                format!(", with {} inclusion proofs", published.proofs)
            } else {
                String::new()
            }
        )?;
        output::outln!("  {}", published.out.join("index.html").display())?;
    }
    Ok(())
}
