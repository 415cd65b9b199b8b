//! The pure core of pactum: vocabulary, events, folding and deciding.
//!
//! **Invariant:** nothing here touches sled, the file system, the clock or
//! the command line. Time and ids are passed in; results are values.

pub mod audit;
pub mod correction;
pub mod date;
pub mod decide;
pub mod event;
pub mod id;
pub mod kind;
pub mod logcheck;
pub mod state;
pub mod text;
pub mod timeline;

pub use date::{DateError, PartialDate, end_of_time};
pub use event::{
    ConventionAmended, ConventionAmendedPatch, ConventionSigned, ConventionSignedPatch,
    ConventionTerminated, ConventionTerminatedPatch, Corrected, Event, EventRecord, EventType,
    ExpiryChange, PartnerRegistered, PartnerRegisteredPatch, PartnerRenamed, PartnerRenamedPatch,
    PartnerSucceeded, PartnerSucceededPatch, Patch, PendingEvent, Retracted,
};
pub use id::{
    ConventionId, Digest, EntityId, EntityKind, EventId, Handle, HandleCounters, PartnerId, Seq,
};
pub use kind::{Instrument, PartnerKind, PartnerStatus, Status, TerminationKind};
pub use state::{BySuccession, ConventionState, PartnerState};
pub use text::{
    Actor, AmendmentRef, CountryCode, Objectives, OfficialRef, PartnerName, Reason, ShortName,
    Source, TextError, fold_key,
};
pub use timeline::{
    AnyTimeline, ConventionChange, ConventionTimeline, PartnerChange, PartnerTimeline, Succession,
    successions_concerning,
};
