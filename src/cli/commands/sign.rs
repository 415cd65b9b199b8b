//! `pactum sign`: record the signing of a convention.

use clap::Args;

use super::{date, print_written, text, word};
use crate::app::AppError;
use crate::cli::{Access, Context, WriteArgs};
use crate::domain::decide::Command;
use crate::domain::{
    ConventionId, ConventionSigned, Instrument, Objectives, OfficialRef, PartialDate,
};

/// Record the signing of a convention.
///
/// Example:
///   pactum sign --partner "Agadir" --date 2005 --instrument convention \
///     --objectives "La mise en œuvre et accompagnement du processus Agenda 21"
#[derive(Debug, Args)]
#[command(verbatim_doc_comment, about = "Record the signing of a convention")]
pub struct SignArgs {
    /// The parties (handles, ids or names); at least one
    #[arg(long = "partner", value_name = "P", required = true, num_args = 1..)]
    pub partners: Vec<String>,
    /// Date of signature: YYYY, YYYY-MM or YYYY-MM-DD
    #[arg(long, value_name = "DATE", value_parser = date)]
    pub date: PartialDate,
    /// What the convention is for
    #[arg(long, value_name = "TEXT", value_parser = text(Objectives::new))]
    pub objectives: Objectives,
    /// convention, memorandum, agreement or charter
    #[arg(long, value_parser = word::<Instrument>, default_value = "convention")]
    pub instrument: Instrument,
    /// When it expires
    #[arg(long, value_name = "DATE", value_parser = date)]
    pub expires: Option<PartialDate>,
    /// Its official reference
    #[arg(long, value_name = "REF", value_parser = text(OfficialRef::new))]
    pub official_ref: Option<OfficialRef>,
    #[command(flatten)]
    pub write: WriteArgs,
}

/// Runs `sign`.
pub fn run(ctx: &Context, a: SignArgs) -> Result<(), AppError> {
    let (signed_on, objectives, expires_on, official_ref) =
        (a.date, a.objectives, a.expires, a.official_ref);
    let meta = ctx.write_meta(&a.write)?;
    if meta.expect_version.is_some_and(|v| v != 0) {
        return Err(AppError::invalid(
            "--expect-version: a new convention is at version 0",
        ));
    }
    let registry = ctx.open(Access::Write)?;
    let parties = a
        .partners
        .iter()
        .map(|p| registry.resolve_partner(p))
        .collect::<Result<Vec<_>, _>>()?;
    let id = ConventionId(registry.new_id());
    let payload = ConventionSigned {
        instrument: a.instrument,
        parties,
        signed_on,
        objectives,
        expires_on,
        official_ref,
    };
    let written = registry.execute(Command::SignConvention(id, payload), &meta)?;
    print_written(ctx, &registry, &written, "signed")
}
