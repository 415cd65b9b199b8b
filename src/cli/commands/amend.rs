//! `pactum amend`: record an amendment (avenant).

use clap::Args;

use super::{date, print_written, text, word};
use crate::app::AppError;
use crate::cli::{Access, Context, WriteArgs};
use crate::domain::decide::Command;
use crate::domain::{
    AmendmentRef, ConventionAmended, ExpiryChange, Instrument, Objectives, PartialDate,
};

/// Record an amendment (avenant) that changes a convention from a date on.
///
/// Example:
///   pactum amend C34 --effective 2012-03 --add-partner "Agadir" \
///     --amendment-ref "Avenant n°1" --reason "extension to a second commune"
#[derive(Debug, Args)]
#[command(
    verbatim_doc_comment,
    about = "Record an amendment (avenant) that takes effect on a date"
)]
pub struct AmendArgs {
    /// The convention (C12 or its id)
    pub convention: String,
    /// When the amendment takes effect
    #[arg(long, value_name = "DATE", value_parser = date)]
    pub effective: PartialDate,
    /// New objectives
    #[arg(long, value_name = "TEXT", value_parser = text(Objectives::new))]
    pub objectives: Option<Objectives>,
    /// A partner joining (repeatable)
    #[arg(long = "add-partner", value_name = "P")]
    pub add: Vec<String>,
    /// A partner leaving (repeatable)
    #[arg(long = "remove-partner", value_name = "P")]
    pub remove: Vec<String>,
    /// A new expiry date
    #[arg(long, value_name = "DATE", conflicts_with = "no_expiry", value_parser = date)]
    pub expires: Option<PartialDate>,
    /// The convention no longer expires
    #[arg(long)]
    pub no_expiry: bool,
    /// A new kind of instrument
    #[arg(long, value_parser = word::<Instrument>)]
    pub instrument: Option<Instrument>,
    /// The amendment's reference
    #[arg(long, value_name = "REF", value_parser = text(AmendmentRef::new))]
    pub amendment_ref: Option<AmendmentRef>,
    #[command(flatten)]
    pub write: WriteArgs,
}

/// Runs `amend`.
pub fn run(ctx: &Context, a: AmendArgs) -> Result<(), AppError> {
    let (effective_on, objectives, amendment_ref) = (a.effective, a.objectives, a.amendment_ref);
    let expiry = match (a.expires, a.no_expiry) {
        (Some(d), _) => Some(ExpiryChange::Set(d)),
        (None, true) => Some(ExpiryChange::Cleared),
        (None, false) => None,
    };
    let meta = ctx.write_meta(&a.write)?;
    let registry = ctx.open(Access::Write)?;
    let convention = registry.resolve_convention(&a.convention)?;
    let resolve_all = |list: &[String]| {
        list.iter()
            .map(|p| registry.resolve_partner(p))
            .collect::<Result<Vec<_>, _>>()
    };
    let payload = ConventionAmended {
        effective_on,
        amendment_ref,
        objectives,
        parties_added: resolve_all(&a.add)?,
        parties_removed: resolve_all(&a.remove)?,
        expiry,
        instrument: a.instrument,
    };
    let written = registry.execute(Command::AmendConvention(convention, payload), &meta)?;
    print_written(ctx, &registry, &written, "amended")
}
