//! The folded views of an entity at a point (D, T): what a partner or a
//! convention looked like on valid date D, as the log said at position T.

use super::date::PartialDate;
use super::id::{ConventionId, PartnerId};
use super::kind::{Instrument, PartnerKind, Status};
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
    /// true when a rename that decided the name straddles D
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
    /// parties on D, in the order they joined
    pub parties: Vec<PartnerId>,
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
