//! `pactum check-proof`: check proofs against a signed checkpoint, offline,
//! without a registry.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::app::AppError;
use crate::cli::Context;
use crate::cli::output::Format;
use crate::transparency::{
    Checkpoint, ConsistencyProof, InclusionProof, TransparencyError, VerifierKey,
};

/// Check proofs made by `pactum prove` against a checkpoint, with no
/// registry and no network: first the checkpoint's signature by VKEY, then
/// each inclusion proof against the checkpoint's root (its tree size must be
/// the checkpoint's). A consistency proof (`prove --consistency M N`) is
/// checked between --old-checkpoint (size M) and --checkpoint (size N),
/// both signed by VKEY. Exits 0 when everything holds, 5 naming what failed.
///
/// Examples:
///   pactum check-proof --vkey "$(cat conventions.vkey)" --checkpoint checkpoint.txt C12.proof.json
///   pactum check-proof --vkey conventions.vkey --checkpoint new.txt --old-checkpoint old.txt consistency.json
#[derive(Debug, Args)]
#[command(
    verbatim_doc_comment,
    about = "Check proofs against a signed checkpoint, offline"
)]
pub struct CheckProofArgs {
    /// The verifier key (NAME+KEYID+KEY), or a file holding it
    #[arg(long, value_name = "VKEY")]
    pub vkey: String,
    /// The signed checkpoint file
    #[arg(long, value_name = "FILE")]
    pub checkpoint: PathBuf,
    /// The earlier signed checkpoint, for a consistency proof
    #[arg(long, value_name = "FILE")]
    pub old_checkpoint: Option<PathBuf>,
    /// The proof file (JSON from `pactum prove`), or - for stdin
    pub proof: PathBuf,
}

/// Reads a verifier key given as text or as a file holding it.
pub fn verifier_key(text: &str) -> Result<VerifierKey, AppError> {
    match VerifierKey::parse(text) {
        Ok(k) => Ok(k),
        Err(e) => {
            let path = Path::new(text);
            if path.is_file() {
                let content = super::read_small(path, super::SMALL_FILE)?;
                Ok(VerifierKey::parse(&content)?)
            } else {
                Err(e.into())
            }
        }
    }
}

fn read(path: &Path, max_bytes: u64) -> Result<String, AppError> {
    if path.as_os_str() == "-" {
        return super::read_capped(std::io::stdin(), "stdin", max_bytes);
    }
    super::read_small(path, max_bytes)
}

/// Reads a checkpoint file and checks its signature by `key`.
pub fn verified_checkpoint(path: &Path, key: &VerifierKey) -> Result<Checkpoint, AppError> {
    let text = read(path, super::SMALL_FILE)?;
    let checkpoint = Checkpoint::parse(&text).map_err(|e| in_file(path, e))?;
    checkpoint.verify(key).map_err(|e| in_file(path, e))?;
    Ok(checkpoint)
}

fn in_file(path: &Path, e: TransparencyError) -> AppError {
    let detail = match &e {
        TransparencyError::Malformed { .. } => "is not a signed checkpoint",
        _ => "is not a checkpoint signed by this key",
    };
    AppError::Transparency(TransparencyError::ProofFailed {
        what: format!("the checkpoint {}", path.display()),
        detail: format!("it {detail}: {e}"),
    })
}

/// What the proof file holds.
enum Proofs {
    Inclusion(Vec<InclusionProof>),
    Consistency(ConsistencyProof),
}

fn parse_proofs(text: &str) -> Result<Proofs, TransparencyError> {
    let bad = |e: serde_json::Error| TransparencyError::ProofFailed {
        what: "the proof file".into(),
        detail: format!(
            "it is not a proof made by `pactum prove`: {}",
            crate::domain::text::shown(&e.to_string())
        ),
    };
    let value: serde_json::Value = serde_json::from_str(text).map_err(bad)?;
    if value.get("first").is_some() {
        return serde_json::from_value(value)
            .map(Proofs::Consistency)
            .map_err(bad);
    }
    let list = if value.is_array() {
        serde_json::from_value(value)
    } else {
        serde_json::from_value(value).map(|p| vec![p])
    };
    let list: Vec<InclusionProof> = list.map_err(bad)?;
    if list.is_empty() {
        return Err(TransparencyError::ProofFailed {
            what: "the proof file".into(),
            detail: "it holds no proof".into(),
        });
    }
    Ok(Proofs::Inclusion(list))
}

/// Runs `check-proof`.
pub fn run(ctx: &Context, a: CheckProofArgs) -> Result<(), AppError> {
    let key = verifier_key(&a.vkey)?;
    let checkpoint = verified_checkpoint(&a.checkpoint, &key)?;
    let proofs = parse_proofs(&read(&a.proof, super::PROOF_FILE)?)?;
    let json = matches!(ctx.out.format, Format::Json | Format::Jsonl);
    match proofs {
        Proofs::Consistency(p) => {
            let old_path = a.old_checkpoint.as_deref().ok_or_else(|| {
                AppError::invalid_with(
                    "a consistency proof is checked between two checkpoints",
                    "give the earlier one with --old-checkpoint FILE",
                )
            })?;
            let old = verified_checkpoint(old_path, &key)?;
            p.check(&old, &checkpoint)?;
            if json {
                crate::cli::output::print_json(
                    &serde_json::json!({"ok": true, "first": p.first, "second": p.second, "origin": checkpoint.origin}),
                    false,
                )?;
            } else {
                crate::cli::output::print_text(&format!(
                    "ok: signed by {}; the tree of {} events extends the tree of {} events\n",
                    key.name(),
                    p.second,
                    p.first
                ))?;
            }
            Ok(())
        }
        Proofs::Inclusion(list) => {
            let results: Vec<(u64, Result<(), TransparencyError>)> =
                list.iter().map(|p| (p.seq, p.check(&checkpoint))).collect();
            if json {
                let items: Vec<_> = results
                    .iter()
                    .map(|(seq, r)| {
                        serde_json::json!({
                            "seq": seq,
                            "ok": r.is_ok(),
                            "problem": r.as_ref().err().map(ToString::to_string),
                        })
                    })
                    .collect();
                crate::cli::output::print_json(&items, true)?;
            } else {
                crate::cli::output::print_text(&format!(
                    "checkpoint: {} events, signed by {}\n",
                    checkpoint.size,
                    key.name()
                ))?;
                for (seq, r) in &results {
                    match r {
                        Ok(()) => crate::cli::output::print_text(&format!(
                            "ok: event #{seq} is in the log at that checkpoint\n"
                        ))?,
                        Err(e) => crate::cli::output::print_text(&format!("FAILED: {e}\n"))?,
                    }
                }
            }
            let failed = results.iter().filter(|(_, r)| r.is_err()).count();
            match results.into_iter().find_map(|(_, r)| r.err()) {
                None => Ok(()),
                Some(first) if failed == 1 => Err(first.into()),
                Some(first) => Err(AppError::Transparency(TransparencyError::ProofFailed {
                    what: format!("{failed} proofs"),
                    detail: format!("the first: {first}"),
                })),
            }
        }
    }
}
