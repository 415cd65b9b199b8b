//! `pactum correct`: fix the record of an event.

use clap::Args;

use super::{country, date, print_written, text, word};
use crate::app::AppError;
use crate::cli::{Access, Context, WriteArgs};
use crate::domain::decide::{Command, CorrectionFields};
use crate::domain::{
    AmendmentRef, CountryCode, Instrument, Objectives, OfficialRef, PartialDate, PartnerKind,
    PartnerName, ShortName, TerminationKind,
};

/// Fix the record: the world did not change, the registry was wrong.
///
/// By default the correction targets the entry's creating event (the
/// signing or the registration); name an amendment, rename or termination
/// with --event. Give the new values with the flags of the command that
/// recorded the target: --date, --objectives, --partner, --instrument,
/// --expires/--no-expiry, --official-ref for a signing; --name, --kind,
/// --short, --country for a partner; --effective and the amendment's or
/// rename's own flags for those; --successor and --effective for a
/// succession.
///
/// Examples:
///   pactum correct "Figuiç" --name "Figuig" --reason "typo in the 2009 list"
///   pactum correct C38 --event '#57' --effective 2012-04 --reason "wrong month"
///   pactum correct "Meknès-Tafilalet" --event '#240' --successor "Fès-Meknès" --successor "Drâa-Tafilalet" --reason "a successor was missing"
#[derive(Debug, Args)]
#[command(
    verbatim_doc_comment,
    about = "Fix the record of an event that was wrong"
)]
pub struct CorrectArgs {
    /// The entry whose record is fixed (C12, P7, an id, or a partner's name)
    pub entity: String,
    /// The event to fix: its id, an 8+ digit prefix, or #SEQ [default: the creating event]
    #[arg(long, value_name = "ID")]
    pub event: Option<String>,

    /// Corrected name (a partner's, or a rename's new name)
    #[arg(long, value_name = "NAME", visible_alias = "to", value_parser = text(PartnerName::new))]
    pub name: Option<PartnerName>,
    /// Corrected partner kind
    #[arg(long, value_parser = word::<PartnerKind>)]
    pub kind: Option<PartnerKind>,
    /// Corrected acronym
    #[arg(long, value_name = "TEXT", value_parser = text(ShortName::new))]
    pub short: Option<ShortName>,
    /// Corrected country code
    #[arg(long, value_name = "CC", value_parser = country)]
    pub country: Option<CountryCode>,
    /// Corrected instrument
    #[arg(long, value_parser = word::<Instrument>)]
    pub instrument: Option<Instrument>,
    /// Corrected parties of a signing (the whole list)
    #[arg(long = "partner", value_name = "P", num_args = 1..)]
    pub partners: Vec<String>,
    /// Corrected signing date
    #[arg(long, value_name = "DATE", value_parser = date)]
    pub date: Option<PartialDate>,
    /// Corrected date of an amendment, rename or termination
    #[arg(long, value_name = "DATE", value_parser = date)]
    pub effective: Option<PartialDate>,
    /// Corrected objectives
    #[arg(long, value_name = "TEXT", value_parser = text(Objectives::new))]
    pub objectives: Option<Objectives>,
    /// Corrected expiry date
    #[arg(long, value_name = "DATE", conflicts_with = "no_expiry", value_parser = date)]
    pub expires: Option<PartialDate>,
    /// Corrected: no expiry
    #[arg(long)]
    pub no_expiry: bool,
    /// Corrected official reference
    #[arg(long, value_name = "REF", value_parser = text(OfficialRef::new))]
    pub official_ref: Option<OfficialRef>,
    /// Corrected amendment reference
    #[arg(long, value_name = "REF", value_parser = text(AmendmentRef::new))]
    pub amendment_ref: Option<AmendmentRef>,
    /// Corrected partners joining in an amendment (the whole list)
    #[arg(long = "add-partner", value_name = "P")]
    pub add: Vec<String>,
    /// Corrected partners leaving in an amendment (the whole list)
    #[arg(long = "remove-partner", value_name = "P")]
    pub remove: Vec<String>,
    /// Corrected: the convention expired (rather than being terminated)
    #[arg(long, conflicts_with = "terminated")]
    pub expired: bool,
    /// Corrected: the convention was terminated (rather than expiring)
    #[arg(long)]
    pub terminated: bool,
    /// Corrected successors of a succession (the whole list)
    #[arg(long = "successor", value_name = "P")]
    pub successors: Vec<String>,

    #[command(flatten)]
    pub write: WriteArgs,
}

/// Runs `correct`.
pub fn run(ctx: &Context, a: CorrectArgs) -> Result<(), AppError> {
    let meta = ctx.write_meta(&a.write)?;
    let mut fields = CorrectionFields {
        name: a.name,
        kind: a.kind,
        short_name: a.short,
        country: a.country,
        instrument: a.instrument,
        signed_on: a.date,
        effective_on: a.effective,
        objectives: a.objectives,
        expires_on: match (a.expires, a.no_expiry) {
            (Some(d), _) => Some(Some(d)),
            (None, true) => Some(None),
            (None, false) => None,
        },
        official_ref: a.official_ref,
        amendment_ref: a.amendment_ref,
        termination_kind: match (a.expired, a.terminated) {
            (true, _) => Some(TerminationKind::Expired),
            (_, true) => Some(TerminationKind::Terminated),
            _ => None,
        },
        ..CorrectionFields::default()
    };
    let registry = ctx.open(Access::Write)?;
    let entity = registry.resolve_entity(&a.entity)?;
    let resolve_all = |list: &[String]| -> Result<Option<Vec<_>>, AppError> {
        if list.is_empty() {
            return Ok(None);
        }
        list.iter()
            .map(|p| registry.resolve_partner(p))
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    };
    fields.parties = resolve_all(&a.partners)?;
    fields.parties_added = resolve_all(&a.add)?;
    fields.parties_removed = resolve_all(&a.remove)?;
    fields.successors = resolve_all(&a.successors)?;
    let target = match &a.event {
        None => None,
        Some(text) => Some(registry.resolve_event(text)?.id),
    };
    let command = Command::Correct {
        entity,
        target,
        fields,
    };
    let written = registry.execute(command, &meta)?;
    print_written(ctx, &registry, &written, "corrected")
}
