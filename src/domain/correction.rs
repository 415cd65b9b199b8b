//! The new values of a correction (`correct`), before it is known which
//! event they correct, and the fields each event type accepts.
//!
//! The domain names the fields ([`CorrectionField`]); how a user gives them
//! (a command-line flag, a column of a corrections file) is for the layer
//! that reads them to say.

use std::fmt;

use super::date::PartialDate;
use super::decide::Refusal;
use super::event::{
    ConventionAmendedPatch, ConventionSignedPatch, ConventionTerminatedPatch, EventType,
    ExpiryChange, PartnerRegisteredPatch, PartnerRenamedPatch, PartnerSucceededPatch, Patch,
};
use super::id::PartnerId;
use super::kind::{Instrument, PartnerKind, TerminationKind};
use super::text::{AmendmentRef, CountryCode, Objectives, OfficialRef, PartnerName, ShortName};

/// One field a correction can set: a field of [`CorrectionFields`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CorrectionField {
    /// a registration's name, or a rename's new name
    Name,
    /// a registration's partner kind
    Kind,
    /// a registration's or rename's acronym
    ShortName,
    /// a registration's country
    Country,
    /// a signing's or amendment's instrument
    Instrument,
    /// a signing's whole list of parties
    Parties,
    /// a signing's date
    SignedOn,
    /// the date an amendment, rename, termination or succession takes effect
    EffectiveOn,
    /// a signing's or amendment's objectives
    Objectives,
    /// a signing's or amendment's expiry (set or none)
    Expiry,
    /// a signing's official reference
    OfficialRef,
    /// an amendment's reference
    AmendmentRef,
    /// an amendment's partners joining
    PartiesAdded,
    /// an amendment's partners leaving
    PartiesRemoved,
    /// whether a convention expired or was terminated
    TerminationKind,
    /// a succession's whole list of successors
    Successors,
}

impl CorrectionField {
    /// Every field, in the order they are listed.
    pub const ALL: [CorrectionField; 16] = [
        CorrectionField::Name,
        CorrectionField::Kind,
        CorrectionField::ShortName,
        CorrectionField::Country,
        CorrectionField::Instrument,
        CorrectionField::Parties,
        CorrectionField::SignedOn,
        CorrectionField::EffectiveOn,
        CorrectionField::Objectives,
        CorrectionField::Expiry,
        CorrectionField::OfficialRef,
        CorrectionField::AmendmentRef,
        CorrectionField::PartiesAdded,
        CorrectionField::PartiesRemoved,
        CorrectionField::TerminationKind,
        CorrectionField::Successors,
    ];

    /// The fields that a correction of an event of type `target` accepts,
    /// in the order they are listed.
    pub fn accepted_by(target: EventType) -> &'static [CorrectionField] {
        use CorrectionField as F;
        match target {
            EventType::PartnerRegistered => &[F::Name, F::Kind, F::ShortName, F::Country],
            EventType::PartnerRenamed => &[F::Name, F::ShortName, F::EffectiveOn],
            EventType::ConventionSigned => &[
                F::Instrument,
                F::Parties,
                F::SignedOn,
                F::Objectives,
                F::Expiry,
                F::OfficialRef,
            ],
            EventType::ConventionAmended => &[
                F::EffectiveOn,
                F::AmendmentRef,
                F::Objectives,
                F::PartiesAdded,
                F::PartiesRemoved,
                F::Expiry,
                F::Instrument,
            ],
            EventType::ConventionTerminated => &[F::EffectiveOn, F::TerminationKind],
            EventType::PartnerSucceeded => &[F::Successors, F::EffectiveOn],
            EventType::Corrected | EventType::Retracted => &[],
        }
    }

    /// The field in words.
    pub fn in_words(self) -> &'static str {
        match self {
            CorrectionField::Name => "name",
            CorrectionField::Kind => "kind",
            CorrectionField::ShortName => "acronym",
            CorrectionField::Country => "country",
            CorrectionField::Instrument => "instrument",
            CorrectionField::Parties => "parties",
            CorrectionField::SignedOn => "signing date",
            CorrectionField::EffectiveOn => "effective date",
            CorrectionField::Objectives => "objectives",
            CorrectionField::Expiry => "expiry",
            CorrectionField::OfficialRef => "official reference",
            CorrectionField::AmendmentRef => "amendment reference",
            CorrectionField::PartiesAdded => "partners joining",
            CorrectionField::PartiesRemoved => "partners leaving",
            CorrectionField::TerminationKind => "kind of end",
            CorrectionField::Successors => "successors",
        }
    }
}

impl fmt::Display for CorrectionField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.in_words())
    }
}

/// A list of fields, in words, separated by commas.
pub fn list_in_words(fields: &[CorrectionField]) -> String {
    fields
        .iter()
        .map(|f| f.in_words())
        .collect::<Vec<_>>()
        .join(", ")
}

/// New values given to `correct`, before it is known what they correct.
/// Each is a [`CorrectionField`] of one or more event types (see
/// [`CorrectionFields::patch_for`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CorrectionFields {
    /// a registration's name; a rename's new name
    pub name: Option<PartnerName>,
    /// a registration's partner kind
    pub kind: Option<PartnerKind>,
    /// an acronym
    pub short_name: Option<ShortName>,
    /// a registration's country
    pub country: Option<CountryCode>,
    /// the instrument
    pub instrument: Option<Instrument>,
    /// the signing's whole list of parties
    pub parties: Option<Vec<PartnerId>>,
    /// the signing date
    pub signed_on: Option<PartialDate>,
    /// the date a change takes effect
    pub effective_on: Option<PartialDate>,
    /// the objectives
    pub objectives: Option<Objectives>,
    /// an expiry (`Some(Some)`) or none (`Some(None)`)
    pub expires_on: Option<Option<PartialDate>>,
    /// the official reference
    pub official_ref: Option<OfficialRef>,
    /// the amendment's reference
    pub amendment_ref: Option<AmendmentRef>,
    /// an amendment's partners joining (the whole list)
    pub parties_added: Option<Vec<PartnerId>>,
    /// an amendment's partners leaving (the whole list)
    pub parties_removed: Option<Vec<PartnerId>>,
    /// expired or terminated
    pub termination_kind: Option<TerminationKind>,
    /// a succession's whole list of successors
    pub successors: Option<Vec<PartnerId>>,
}

impl CorrectionFields {
    /// The fields given, in the order they are listed.
    pub fn given(&self) -> Vec<CorrectionField> {
        use CorrectionField as F;
        CorrectionField::ALL
            .into_iter()
            .filter(|field| match field {
                F::Name => self.name.is_some(),
                F::Kind => self.kind.is_some(),
                F::ShortName => self.short_name.is_some(),
                F::Country => self.country.is_some(),
                F::Instrument => self.instrument.is_some(),
                F::Parties => self.parties.is_some(),
                F::SignedOn => self.signed_on.is_some(),
                F::EffectiveOn => self.effective_on.is_some(),
                F::Objectives => self.objectives.is_some(),
                F::Expiry => self.expires_on.is_some(),
                F::OfficialRef => self.official_ref.is_some(),
                F::AmendmentRef => self.amendment_ref.is_some(),
                F::PartiesAdded => self.parties_added.is_some(),
                F::PartiesRemoved => self.parties_removed.is_some(),
                F::TerminationKind => self.termination_kind.is_some(),
                F::Successors => self.successors.is_some(),
            })
            .collect()
    }

    /// The patch these values make for an event of type `target`; refused
    /// when a value has no field there, or when no value is given.
    pub fn patch_for(&self, target: EventType) -> Result<Patch, Refusal> {
        let accepted = CorrectionField::accepted_by(target);
        let given = self.given();
        let foreign: Vec<CorrectionField> = given
            .iter()
            .copied()
            .filter(|f| !accepted.contains(f))
            .collect();
        if !foreign.is_empty() {
            return Err(Refusal::FieldsOfAnotherType {
                target,
                fields: foreign,
                accepted: accepted.to_vec(),
            });
        }
        if given.is_empty() {
            return Err(Refusal::NoCorrectionGiven {
                accepted: accepted.to_vec(),
            });
        }
        let patch = match target {
            EventType::PartnerRegistered => Patch::PartnerRegistered(PartnerRegisteredPatch {
                name: self.name.clone(),
                kind: self.kind,
                short_name: self.short_name.clone().map(Some),
                country: self.country.map(Some),
            }),
            EventType::PartnerRenamed => Patch::PartnerRenamed(PartnerRenamedPatch {
                new_name: self.name.clone(),
                short_name: self.short_name.clone().map(Some),
                effective_on: self.effective_on,
            }),
            EventType::ConventionSigned => Patch::ConventionSigned(ConventionSignedPatch {
                instrument: self.instrument,
                parties: self.parties.clone(),
                signed_on: self.signed_on,
                objectives: self.objectives.clone(),
                expires_on: self.expires_on,
                official_ref: self.official_ref.clone().map(Some),
            }),
            EventType::ConventionAmended => Patch::ConventionAmended(ConventionAmendedPatch {
                effective_on: self.effective_on,
                amendment_ref: self.amendment_ref.clone().map(Some),
                objectives: self.objectives.clone().map(Some),
                parties_added: self.parties_added.clone(),
                parties_removed: self.parties_removed.clone(),
                expiry: self.expires_on.map(|e| {
                    Some(match e {
                        Some(date) => ExpiryChange::Set(date),
                        None => ExpiryChange::Cleared,
                    })
                }),
                instrument: self.instrument.map(Some),
            }),
            EventType::ConventionTerminated => {
                Patch::ConventionTerminated(ConventionTerminatedPatch {
                    effective_on: self.effective_on,
                    kind: self.termination_kind,
                })
            }
            EventType::PartnerSucceeded => Patch::PartnerSucceeded(PartnerSucceededPatch {
                successors: self.successors.clone(),
                effective_on: self.effective_on,
            }),
            EventType::Corrected | EventType::Retracted => {
                return Err(Refusal::NotTargetable {
                    event_type: target,
                    action: "corrected",
                });
            }
        };
        Ok(patch)
    }
}
