//! `pactum verify`: prove the log whole and the projections true.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use clap::Args;
use serde_json::json;

use crate::app::AppError;
use crate::cli::output::{self, Report, Rows};
use crate::cli::{Access, Context};
use crate::domain::{Digest, Seq};

/// Walk the whole log: check the hash chain, seq and version continuity,
/// every index and every stored projection against a fresh rebuild, and the
/// stored Merkle tree against a recomputation. Prints the head (seq and
/// hash) and the Merkle tree's size and root; exits 5 on any problem. With
/// --checkpoint, the log must extend that signed checkpoint.
///
/// Examples:
///   pactum verify
///   pactum verify --head 120:5f0c…e1  (the log must still extend that head)
///   pactum verify --checkpoint checkpoint.txt --vkey conventions.vkey
///   pactum verify --checkpoint checkpoint.txt --vkey conventions.vkey --log registry.jsonl
#[derive(Debug, Args)]
#[command(
    verbatim_doc_comment,
    about = "Check the hash chain, the indexes and the projections"
)]
pub struct VerifyArgs {
    /// A head printed earlier (SEQ:HASH): the log must still extend it
    #[arg(long, value_name = "SEQ:HASH", value_parser = head)]
    pub head: Option<(Seq, Digest)>,
    /// A signed checkpoint published earlier: the log must extend it (its
    /// first N events hash to its root)
    #[arg(long, value_name = "FILE", requires = "vkey")]
    pub checkpoint: Option<std::path::PathBuf>,
    /// The verifier key that signed --checkpoint (NAME+KEYID+KEY, or a file)
    #[arg(long, value_name = "VKEY", requires = "checkpoint")]
    pub vkey: Option<String>,
    /// A copy of the JSON Lines log published with --checkpoint: when the
    /// log differs, the first event that differs is named
    #[arg(long, value_name = "FILE", requires = "checkpoint")]
    pub log: Option<std::path::PathBuf>,
}

fn head(text: &str) -> Result<(Seq, Digest), String> {
    let (seq, hash) = text
        .split_once(':')
        .ok_or_else(|| "expected SEQ:HASH, as `pactum verify` prints it".to_owned())?;
    let seq = seq
        .trim_start_matches('#')
        .parse()
        .map_err(|_| format!("'{seq}' is not a log position"))?;
    let hash = Digest::from_hex(hash).ok_or_else(|| "the hash must be 64 hex digits".to_owned())?;
    Ok((Seq(seq), hash))
}

/// Runs `verify`.
pub fn run(ctx: &Context, a: VerifyArgs) -> Result<(), AppError> {
    let checkpoint = match (&a.checkpoint, &a.vkey) {
        (Some(path), Some(vkey)) => {
            let key = super::check_proof::verifier_key(vkey)?;
            Some(super::check_proof::verified_checkpoint(path, &key)?)
        }
        _ => None,
    };
    let copy = match (&a.log, &checkpoint) {
        (Some(path), Some(c)) => {
            let file = std::fs::File::open(path)
                .map_err(|e| AppError::invalid(format!("cannot read {}: {e}", path.display())))?;
            let reader = std::io::BufReader::new(file);
            Some(crate::app::transparency::copy_leaves(reader, c)?)
        }
        _ => None,
    };
    let registry = ctx.open(Access::Inspect)?;
    let bar = ctx.progress(registry.head_seq()?.0, "verifying");
    let report = registry.verify_against(a.head, checkpoint.as_ref(), copy, &mut |seq| {
        bar.set_position(seq)
    });
    bar.finish_and_clear();
    let report = report?;
    let head = report.head.map_or_else(
        || "0:".to_owned() + &Digest::GENESIS.to_hex(),
        |(s, h)| format!("{s}:{h}"),
    );
    let json = json!({
        "ok": report.ok(),
        "events": report.events,
        "head": head,
        "tree": report.tree.map(|(size, root)| json!({"size": size, "root": B64.encode(root)})),
        "compared": report.compared.iter().map(|(t, n)| json!({"tree": t, "entries": n})).collect::<Vec<_>>(),
        "warnings": report.warnings,
        "problems": report.problems.iter().map(|p| json!({"tree": p.tree, "at": p.at, "problem": p.detail})).collect::<Vec<_>>(),
    });
    let rows = Rows {
        headers: vec!["tree", "at", "problem"],
        rows: report
            .problems
            .iter()
            .map(|p| vec![p.tree.into(), p.at.clone().into(), p.detail.clone().into()])
            .collect(),
    };
    if ctx.out.format == output::Format::Table {
        output::outln!(
            "checked {} events: hash chain, seq and version continuity, {} derived trees ({} entries)",
            report.events,
            report.compared.len(),
            report.compared.iter().map(|(_, n)| n).sum::<u64>()
        )?;
        output::outln!("head {head}")?;
        if let Some((size, root)) = report.tree {
            output::outln!("merkle tree {size} {}", B64.encode(root))?;
        }
        if report.ok() {
            output::outln!("ok: no problem found")?;
        } else {
            output::outln!("{}", output::table(&ctx.out, &rows))?;
        }
    } else {
        output::print(
            &ctx.out,
            &Report {
                json,
                rows,
                note: None,
            },
        )?;
    }
    for warning in &report.warnings {
        tracing::warn!("{warning}");
    }
    if report.ok() {
        Ok(())
    } else {
        Err(AppError::Store(crate::app::StoreError::Corrupt {
            tree: "registry",
            at: output::count(report.problems.len(), "place"),
            detail: "verify found problems (listed above)".into(),
        }))
    }
}
