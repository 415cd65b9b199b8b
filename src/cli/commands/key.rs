//! `pactum key generate`: a new Ed25519 key pair for signing checkpoints.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use crate::app::AppError;
use crate::app::outfile::OutputFile;
use crate::cli::Context;
use crate::cli::output::Format;
use crate::transparency::SignerKey;

/// Keys that sign checkpoints (Ed25519, in the C2SP signed-note forms).
///
/// Example:
///   pactum key generate amenagement.gov.ma/conventions --out conventions.key
#[derive(Debug, Subcommand)]
#[command(
    verbatim_doc_comment,
    about = "Make the key pair that signs checkpoints"
)]
pub enum KeyCommand {
    /// Make a new Ed25519 key pair for signing checkpoints
    ///
    /// The private key goes to a new file (mode 0600; an existing file is
    /// never overwritten), and the verifier key, to publish, is printed:
    /// NAME+KEYID+KEY (C2SP signed-note form).
    ///
    /// Keep the private key offline; publish the verifier key where citizens
    /// find it. The name should be a schema-less URL naming the log.
    ///
    /// Example:
    ///   pactum key generate amenagement.gov.ma/conventions --out conventions.key
    Generate(GenerateArgs),
}

/// `key generate`
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The key's name (no spaces, no '+'), normally the log's origin
    pub name: String,
    /// The new file for the private key
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// The longest key name (and so default checkpoint origin), in characters.
pub const MAX_NAME_CHARS: usize = 300;

/// Runs `key`.
pub fn run(ctx: &Context, command: KeyCommand) -> Result<(), AppError> {
    match command {
        KeyCommand::Generate(a) => generate(ctx, a),
    }
}

/// Creates `path` for a secret: a new file (never an existing one, nor
/// through a symbolic link, nor inside the registry folder), readable and writable by its owner only.
fn create_secret(ctx: &Context, path: &Path, text: &str) -> Result<(), AppError> {
    let registry = ctx.db_path().ok();
    let protected: Vec<&Path> = registry.iter().map(|p| p.as_path()).collect();
    let path = &OutputFile::outside(path, &protected)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                AppError::invalid_with(
                    format!("{} already exists", path.display()),
                    "a key file is never overwritten: choose another --out",
                )
            } else {
                AppError::invalid(format!("cannot create {}: {e}", path.display()))
            }
        })?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| AppError::Other(format!("writing {}: {e}", path.display())))
}

fn generate(ctx: &Context, a: GenerateArgs) -> Result<(), AppError> {
    crate::domain::text::check_plain_input("key name", &a.name, MAX_NAME_CHARS)
        .map_err(|e| AppError::invalid(e.to_string()))?;
    let key = SignerKey::generate(&a.name)?;
    create_secret(ctx, &a.out, &key.to_private_line())?;
    let vkey = key.verifier().to_string();
    if matches!(ctx.out.format, Format::Json | Format::Jsonl) {
        crate::cli::output::print_json(
            &serde_json::json!({"name": key.name(), "vkey": vkey, "private_key_file": a.out.display().to_string()}),
            false,
        )?;
    } else {
        crate::cli::output::print_text(&format!("{vkey}\n"))?;
    }
    Ok(())
}
