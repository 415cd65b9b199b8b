//! The folded views of an entity at a point (D, T): what a partner or a
//! convention looked like on valid date D, as the log said at position T.

use super::date::PartialDate;
use super::id::{ConventionId, PartnerId};
use super::kind::{Instrument, PartnerKind, PartnerStatus, Status};
use super::text::{CountryCode, Objectives, OfficialRef, PartnerName, ShortName};

/// A partner as of (D, T).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartnerState {
    /// its id
    pub id: PartnerId,
    /// its name on D
    pub name: PartnerName,
    /// its acronym on D
    pub short_name: Option<ShortName>,
    /// kind of institution
    pub kind: PartnerKind,
    /// country, for foreign states
    pub country: Option<CountryCode>,
    /// active, or succeeded on D
    pub status: PartnerStatus,
    /// the partners that took over its conventions (when succeeded)
    pub successors: Vec<PartnerId>,
    /// the date of its succession (when succeeded)
    pub succeeded_on: Option<PartialDate>,
    /// true when a rename or succession that decided this view straddles D
    pub approximate: bool,
    /// the stream's version at T
    pub version: u64,
}

/// A convention as of (D, T).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConventionState {
    /// its id
    pub id: ConventionId,
    /// kind of instrument on D
    pub instrument: Instrument,
    /// parties on D, in the order they joined (a successor takes its
    /// predecessor's place)
    pub parties: Vec<PartnerId>,
    /// the parties that are there by succession, with how they came
    pub by_succession: Vec<BySuccession>,
    /// date of signature
    pub signed_on: PartialDate,
    /// objectives on D
    pub objectives: Objectives,
    /// expiry on D, if any
    pub expires_on: Option<PartialDate>,
    /// official reference
    pub official_ref: Option<OfficialRef>,
    /// in force, terminated or expired on D
    pub status: Status,
    /// the date it ended, when `status` is not in force
    pub ended_on: Option<PartialDate>,
    /// true when some date that decided this view straddles D
    pub approximate: bool,
    /// the stream's version at T
    pub version: u64,
}

/// A party of a convention that is there because of a succession.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BySuccession {
    /// the party
    pub party: PartnerId,
    /// the predecessors it replaced, oldest first
    pub via: Vec<PartnerId>,
    /// the date of the succession that brought it in
    pub since: PartialDate,
}

impl ConventionState {
    /// How `party` came to be a party, when it is there by succession.
    pub fn via(&self, party: PartnerId) -> Option<&BySuccession> {
        self.by_succession.iter().find(|b| b.party == party)
    }
}
