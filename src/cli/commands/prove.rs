//! `pactum prove`: inclusion proofs of an entry's events, or a consistency
//! proof between two tree sizes.

use clap::Args;

use crate::app::AppError;
use crate::cli::{Access, Context};
use crate::domain::Seq;

/// Print RFC 9162 proofs as JSON. For an entry (a handle, id or name), the
/// inclusion proofs of all its events in the tree (those recorded in the
/// first N events, with --size N); for #SEQ (or an event id), of that
/// one event: `[{seq, leaf_index, tree_size, leaf, hashes}]`, where `leaf`
/// is the event's JSON line in RFC 8785 canonical form and `hashes` the
/// audit path (base64). With --consistency M N, the proof that the tree of
/// M events is a prefix of the tree of N: `{first, second, hashes}`.
///
/// Check them with `pactum check-proof` against a checkpoint of the same
/// size (--size N, default the whole log).
///
/// Examples:
///   pactum prove C12 > C12.proof.json
///   pactum prove '#40' --size 120
///   pactum prove --consistency 120 180
#[derive(Debug, Args)]
#[command(
    verbatim_doc_comment,
    about = "Inclusion and consistency proofs (RFC 9162)"
)]
pub struct ProveArgs {
    /// The entry (C12, P7, an id, a partner's name), #SEQ, or an event id
    #[arg(required_unless_present = "consistency")]
    pub target: Option<String>,
    /// The tree size: the first N events [default: the whole log]
    #[arg(long, value_name = "N", conflicts_with = "consistency")]
    pub size: Option<u64>,
    /// A consistency proof from the tree of M events to the tree of N
    #[arg(long, num_args = 2, value_names = ["M", "N"], conflicts_with = "target")]
    pub consistency: Option<Vec<u64>>,
}

fn seqs(registry: &crate::app::Registry, target: &str) -> Result<Vec<Seq>, AppError> {
    if let Some(n) = target.strip_prefix('#') {
        let n: u64 = n
            .parse()
            .map_err(|_| AppError::invalid(format!("'{target}' is not a log position")))?;
        return Ok(vec![Seq(n)]);
    }
    match registry.resolve_entity(target) {
        Ok(entity) => Ok(registry.stream_seqs(entity)?),
        Err(AppError::NotFound { .. }) if registry.resolve_event(target).is_ok() => {
            Ok(vec![registry.resolve_event(target)?.seq])
        }
        Err(e) => Err(e),
    }
}

/// Runs `prove`.
pub fn run(ctx: &Context, a: ProveArgs) -> Result<(), AppError> {
    let registry = ctx.open(Access::Read)?;
    let json = if let Some(sizes) = &a.consistency {
        let [first, second] = sizes.as_slice() else {
            return Err(AppError::invalid("--consistency takes two sizes, M and N"));
        };
        let proof = registry.consistency_proof(*first, *second)?;
        crate::cli::output::json_text(&proof, true)
    } else {
        let target = a
            .target
            .as_deref()
            .ok_or_else(|| AppError::invalid("name an entry, #SEQ or --consistency M N"))?;
        let mut seqs = seqs(&registry, target)?;
        let size = match a.size {
            Some(n) => n,
            None => registry.tree_head()?.0,
        };
        if seqs.is_empty() {
            return Err(AppError::NotFound {
                message: format!("no event of {target} is in the log"),
                hint: Some("run `pactum verify`: the indexes may be damaged".into()),
            });
        }
        if !target.starts_with('#') {
            // an entry: its events that the tree of `size` holds
            seqs.retain(|s| s.0 <= size);
            if seqs.is_empty() {
                return Err(AppError::invalid(format!(
                    "{target} has no event in the first {size} events"
                )));
            }
        }
        let proofs = registry.inclusion_proofs(&seqs, size)?;
        crate::cli::output::json_text(&proofs, true)
    }?;
    crate::cli::output::print_bytes(format!("{json}\n").as_bytes())?;
    Ok(())
}
