//! What the command line says of an error: the message and the hint that
//! `main` prints, in the command line's own words (its flags and commands).
//!
//! The layers below return typed errors ([`AppError`], [`Refusal`]) that
//! name no flag and no command; this module alone turns them into advice
//! such as "pass --wait SECONDS" or "`pactum history C12` shows its event".

use crate::app::{Advice, AppError, DATE_FORMS, FolderProblem, Hint, StoreError};
use crate::domain::decide::{CorrectionField, Refusal};

/// The `correct` flag that gives a correction field.
pub fn flag(field: CorrectionField) -> &'static str {
    match field {
        CorrectionField::Name => "--name",
        CorrectionField::Kind => "--kind",
        CorrectionField::ShortName => "--short",
        CorrectionField::Country => "--country",
        CorrectionField::Instrument => "--instrument",
        CorrectionField::Parties => "--partner",
        CorrectionField::SignedOn => "--date",
        CorrectionField::EffectiveOn => "--effective",
        CorrectionField::Objectives => "--objectives",
        CorrectionField::Expiry => "--expires/--no-expiry",
        CorrectionField::OfficialRef => "--official-ref",
        CorrectionField::AmendmentRef => "--amendment-ref",
        CorrectionField::PartiesAdded => "--add-partner",
        CorrectionField::PartiesRemoved => "--remove-partner",
        CorrectionField::TerminationKind => "--expired/--terminated",
        CorrectionField::Successors => "--successor",
    }
}

/// Correction fields as the flags that give them, separated by commas.
fn flags(fields: &[CorrectionField]) -> String {
    fields
        .iter()
        .map(|f| flag(*f))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The message of an error, as the command line says it.
pub fn message(error: &AppError) -> String {
    match error {
        AppError::Refused { refusal, .. } => match refusal {
            Refusal::FieldsOfAnotherType {
                target,
                fields,
                accepted,
            } => format!(
                "{} has no field for {} (it takes {})",
                target.in_words(),
                flags(fields),
                flags(accepted)
            ),
            Refusal::NoCorrectionGiven { accepted } => format!(
                "give at least one new value to correct ({})",
                flags(accepted)
            ),
            Refusal::ReasonRequired(_) => format!("{refusal} (--reason)"),
            Refusal::NoSuccessor => format!("{refusal} (--successor)"),
            other => other.to_string(),
        },
        other => other.to_string(),
    }
}

/// What the user could do about an error, when there is something.
pub fn hint(error: &AppError) -> Option<String> {
    match error {
        AppError::Invalid { hint, .. }
        | AppError::NotFound { hint, .. }
        | AppError::Conflict { hint, .. } => hint.as_ref().map(say),
        AppError::Refused { hint, refusal } => {
            hint.as_ref().map(say).or_else(|| refusal_hint(refusal))
        }
        AppError::Ambiguous { candidates, .. } => Some(format!(
            "it matches {}; name one by its handle",
            candidates.join(", ")
        )),
        AppError::Store(e) => store_hint(e),
        _ => None,
    }
}

/// A hint in the command line's words.
fn say(hint: &Hint) -> String {
    match hint {
        Hint::Text(text) => text.clone(),
        Hint::Advice(advice) => advise(advice),
    }
}

/// What to run, for advice the layers below name.
fn advise(advice: &Advice) -> String {
    match advice {
        Advice::NameConventions => "conventions are named C1, C2, …; `pactum list` shows them".into(),
        Advice::NamePartners => {
            "partners are named P1, P2, … or by name; `pactum partner list` shows them".into()
        }
        Advice::ListPartners => "`pactum partner list` shows every partner".into(),
        Advice::ListEvents => LIST_EVENTS.into(),
        Advice::SeeEveryEvent => "`pactum history` shows every event, whatever the date".into(),
        Advice::LookAgain { handle, version } => format!(
            "someone recorded a change since you looked: check it (`pactum history {handle}`) and retry with --expect-version {version}"
        ),
        Advice::DemoInNewFolder => {
            "run `pactum demo` without --db (it makes a new folder), or give a new folder".into()
        }
        Advice::LogIntoEmptyRegistry => "an event log is imported into an empty registry (or into one holding an earlier part of the same log); use --db PATH for a new folder".into(),
        Advice::SizeUpToHead => "give a --size no larger than the head (pactum info)".into(),
    }
}

/// How to find an event's id.
const LIST_EVENTS: &str = "`pactum history ENTITY` lists an entity's events with their ids";

/// The first word of an entity's label: its handle (`P7 'Agence du Nord'`
/// gives `P7`).
fn handle_of(label: &str) -> &str {
    label.split(' ').next().unwrap_or(label)
}

/// A hint for a refusal, where one helps.
fn refusal_hint(refusal: &Refusal) -> Option<String> {
    Some(match refusal {
        Refusal::DuplicateName { holder, .. } => {
            format!("that partner is already registered as {holder}: name it in --partner, or choose another name")
        }
        Refusal::ReasonRequired(_) => "say why with --reason TEXT".into(),
        Refusal::UnknownPartner(_) => "register it first with `pactum partner add NAME --kind KIND`".into(),
        Refusal::BeforeSigning { .. } => DATE_FORMS.to_string(),
        Refusal::AfterEnd { convention, .. } | Refusal::AlreadyEnded { convention, .. } => format!(
            "if the end was recorded in error, retract or correct it first (`pactum history {}` shows its event)",
            handle_of(convention)
        ),
        Refusal::FieldsOfAnotherType { accepted, .. } => {
            format!("this event takes {}", flags(accepted))
        }
        Refusal::NoCorrectionGiven { .. } => {
            "to correct an amendment, rename or termination, name it with --event ID".into()
        }
        Refusal::AlreadyVoid { .. } => "`pactum history ENTITY` shows which events are void".into(),
        Refusal::NoSuchEvent(_) => LIST_EVENTS.into(),
        Refusal::EventOfAnotherEntity { owner, .. } => {
            format!("correct it through {}", handle_of(owner))
        }
        Refusal::Retracted(_) => "`pactum history` still shows its events".into(),
        Refusal::AlreadySucceeded { partner, .. } => format!(
            "if that succession was recorded in error, retract or correct it (`pactum history {}` shows its event)",
            handle_of(partner)
        ),
        Refusal::SuccessorInUse { .. } => {
            "`pactum partner show` lists a partner's predecessors".into()
        }
        Refusal::EmptyAmendment => {
            "give --objectives, --add-partner, --remove-partner, --expires, --no-expiry or --instrument".into()
        }
        _ => return None,
    })
}

/// A hint for a store error, where one helps.
fn store_hint(error: &StoreError) -> Option<String> {
    Some(match error {
        StoreError::InUse { holder, .. } => match holder {
            Some(h) => format!("it is held by {h}; wait for it to finish, or pass --wait SECONDS"),
            None => "another pactum process holds it; pass --wait SECONDS to wait".into(),
        },
        StoreError::Conflict { actual, .. } => format!(
            "the stream is at version {actual}: look again (pactum history) and retry with --expect-version {actual}"
        ),
        StoreError::Missing(path) => format!(
            "create it with `pactum --db {} partner add …`, `pactum --db {} import FILE`, or `pactum demo --db {}`",
            path.display(),
            path.display(),
            path.display()
        ),
        StoreError::Folder { problem, .. } => folder_hint(problem).into(),
        StoreError::DiskFull { .. } => "nothing was recorded by this command; free some space on that disk and run it again (the registry needs no repair)".into(),
        StoreError::Permission { .. } => "pactum needs to read and write the registry folder and every file in it, even for a read command (sled opens its files for writing and locks them): run as the user who owns the registry, or give --db a registry of your own".into(),
        StoreError::Upgrade { path, .. } => format!(
            "convert it with `pactum --db {} upgrade` (the registry as it is now is kept beside the new one)",
            path.display()
        ),
        StoreError::Corrupt { .. } => "run `pactum verify` for a full report; `pactum rebuild` repairs damaged projections, not damaged events".into(),
        _ => return None,
    })
}

/// What to do about a folder pactum refuses as a registry.
fn folder_hint(problem: &FolderProblem) -> &'static str {
    const RESTORE: &str = "restore the registry from a backup or an export";
    const NO_LINK: &str =
        "nothing in a registry folder is a link: remove it, or restore the file it replaced";
    match problem {
        FolderProblem::NotAFolder => "give --db the path of a registry folder, or of one to create",
        FolderProblem::ForeignFiles(_) | FolderProblem::ForeignDatabase => {
            "a registry folder holds only the registry: give --db a new or empty folder"
        }
        FolderProblem::HalfDatabase { .. }
        | FolderProblem::BlobsNotAFolder
        | FolderProblem::NotAFile => RESTORE,
        FolderProblem::SymbolicLink | FolderProblem::BlobNotAFile => NO_LINK,
        FolderProblem::HardLink => "remove it: pactum writes it again",
    }
}
