//! `pactum checkpoint`: the signed head of the log's Merkle tree.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::app::AppError;
use crate::cli::{Access, Context};
use crate::transparency::SignerKey;

/// The origin of a checkpoint made without a key or --origin.
pub const DEFAULT_ORIGIN: &str = "pactum";

/// Print a checkpoint of the log: the C2SP tlog-checkpoint
/// `ORIGIN\nSIZE\nbase64(ROOT)\n`, where ROOT is the RFC 6962 Merkle tree
/// head of the first SIZE events, signed with --key as a C2SP signed note.
/// Without --key, the unsigned text alone is printed (to sign elsewhere, or
/// to compare with a published checkpoint).
///
/// The origin defaults to the key's name (without a key: "pactum").
///
/// Examples:
///   pactum checkpoint --key conventions.key > checkpoint.txt
///   pactum checkpoint --size 120
#[derive(Debug, Args)]
#[command(
    verbatim_doc_comment,
    about = "The signed head of the log's Merkle tree"
)]
pub struct CheckpointArgs {
    /// The private key file (from `pactum key generate`)
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// The log's name, the checkpoint's first line [default: the key's name]
    #[arg(long, value_name = "ORIGIN")]
    pub origin: Option<String>,
    /// The tree size: the first N events [default: the whole log]
    #[arg(long, value_name = "N")]
    pub size: Option<u64>,
}

/// Reads a private key file.
pub fn read_key(path: &Path) -> Result<SignerKey, AppError> {
    use std::os::unix::fs::MetadataExt;
    let text = super::read_small(path, super::SMALL_FILE)?;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.mode() & 0o077 != 0
    {
        tracing::warn!(
            file = %path.display(),
            "the private key file can be read by others: chmod 600 it"
        );
    }
    let text = zeroize::Zeroizing::new(text);
    Ok(SignerKey::parse(&text)?)
}

/// Runs `checkpoint`.
pub fn run(ctx: &Context, a: CheckpointArgs) -> Result<(), AppError> {
    let key = a.key.as_deref().map(read_key).transpose()?;
    let origin = match (&a.origin, &key) {
        (Some(o), _) => {
            crate::domain::text::check_plain_input("--origin", o, super::key::MAX_NAME_CHARS)
                .map_err(|e| AppError::invalid(e.to_string()))?;
            o.clone()
        }
        (None, Some(k)) => k.name().to_owned(),
        (None, None) => DEFAULT_ORIGIN.to_owned(),
    };
    let registry = ctx.open(Access::Read)?;
    let body = registry.checkpoint_body(&origin, a.size)?;
    let text = match &key {
        Some(k) => k.sign(&body)?,
        None => body,
    };
    crate::cli::output::print_text(&text)?;
    Ok(())
}
