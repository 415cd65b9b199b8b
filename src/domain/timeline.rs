//! Folding (`docs/model.md` §3–4), in two steps.
//!
//! 1. *Record time*: an entity's events up to log position T are resolved
//!    into a [`Timeline`]: void events dropped, every surviving event's
//!    payload corrected field by field, and the dated facts (renames,
//!    successions, amendments, terminations) sorted by
//!    `(effective_on.earliest, seq)`.
//! 2. *Valid time*: [`PartnerTimeline::state_at`] and
//!    [`ConventionTimeline::state_at_with`] apply the facts that have begun
//!    by D. A convention's parties also depend on the successions of its
//!    partners (events of other streams): the caller gathers them
//!    ([`successions_concerning`]) and the fold takes them with the
//!    convention's own facts in one pass.
//!
//! A timeline at the head of the log is what the projections cache; the
//! timeline at any other T is replayed from the stream. Neither step can
//! fail: folding never refuses an event, it only ignores what plays no part.

use std::collections::{HashSet, VecDeque};

use chrono::NaiveDate;

use super::date::PartialDate;
use super::event::{
    ConventionAmended, ConventionSigned, ConventionTerminated, Event, EventRecord, ExpiryChange,
    PartnerRegistered, PartnerRenamed, PartnerSucceeded,
};
use super::id::{ConventionId, EventId, PartnerId, Seq};
use super::kind::{PartnerStatus, Status};
use super::state::{BySuccession, ConventionState, PartnerState};

/// One surviving event of a timeline, with its corrected payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry<P> {
    /// where the event is in the log
    pub seq: Seq,
    /// the event's id (corrections and retractions point at it)
    pub id: EventId,
    /// the payload, with every correction applied
    pub payload: P,
}

/// A dated change to a convention.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConventionChange {
    /// an amendment
    Amended(ConventionAmended),
    /// a termination
    Terminated(ConventionTerminated),
}

/// A dated change to a partner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PartnerChange {
    /// a rename
    Renamed(PartnerRenamed),
    /// a succession
    Succeeded(PartnerSucceeded),
}

/// A payload a timeline keeps: convertible to and from an [`Event`] so that
/// corrections can patch it.
pub trait Payload: Sized + Clone {
    /// The payload, if the event is of this kind.
    fn from_event(event: &Event) -> Option<Self>;
    /// The payload as an event.
    fn to_event(&self) -> Event;
}

/// A payload that takes effect on a date.
pub trait Dated {
    /// When it takes effect.
    fn effective_on(&self) -> PartialDate;
}

impl Payload for PartnerRegistered {
    fn from_event(event: &Event) -> Option<Self> {
        match event {
            Event::PartnerRegistered(e) => Some(e.clone()),
            _ => None,
        }
    }
    fn to_event(&self) -> Event {
        Event::PartnerRegistered(self.clone())
    }
}

impl Payload for PartnerChange {
    fn from_event(event: &Event) -> Option<Self> {
        match event {
            Event::PartnerRenamed(e) => Some(PartnerChange::Renamed(e.clone())),
            Event::PartnerSucceeded(e) => Some(PartnerChange::Succeeded(e.clone())),
            _ => None,
        }
    }
    fn to_event(&self) -> Event {
        match self {
            PartnerChange::Renamed(e) => Event::PartnerRenamed(e.clone()),
            PartnerChange::Succeeded(e) => Event::PartnerSucceeded(e.clone()),
        }
    }
}

impl Payload for ConventionSigned {
    fn from_event(event: &Event) -> Option<Self> {
        match event {
            Event::ConventionSigned(e) => Some(e.clone()),
            _ => None,
        }
    }
    fn to_event(&self) -> Event {
        Event::ConventionSigned(self.clone())
    }
}

impl Payload for ConventionChange {
    fn from_event(event: &Event) -> Option<Self> {
        match event {
            Event::ConventionAmended(e) => Some(ConventionChange::Amended(e.clone())),
            Event::ConventionTerminated(e) => Some(ConventionChange::Terminated(e.clone())),
            _ => None,
        }
    }
    fn to_event(&self) -> Event {
        match self {
            ConventionChange::Amended(e) => Event::ConventionAmended(e.clone()),
            ConventionChange::Terminated(e) => Event::ConventionTerminated(e.clone()),
        }
    }
}

impl Dated for PartnerChange {
    fn effective_on(&self) -> PartialDate {
        match self {
            PartnerChange::Renamed(e) => e.effective_on,
            PartnerChange::Succeeded(e) => e.effective_on,
        }
    }
}

impl Dated for ConventionChange {
    fn effective_on(&self) -> PartialDate {
        match self {
            ConventionChange::Amended(e) => e.effective_on,
            ConventionChange::Terminated(e) => e.effective_on,
        }
    }
}

/// Incremental folding met a retraction of a correction: the corrected
/// payloads cannot be undone in place, so the stream must be replayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeedsReplay;

/// An entity's events resolved at some log position T.
///
/// **Invariant:** `facts` is sorted by `(effective_on.earliest, seq)` and
/// holds no void event; `base` is `None` exactly when the creating event is
/// void (or missing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeline<I, B, F> {
    /// the entity
    pub id: I,
    /// how many events of the stream are at or before T
    pub version: u64,
    /// the last of those events' seq
    pub last_seq: Seq,
    /// the corrected creating event, unless it is void
    pub base: Option<Entry<B>>,
    /// the corrected dated facts that are not void, in application order
    pub facts: Vec<Entry<F>>,
    /// the corrections applied, each with its target, in seq order (to know
    /// when a retraction needs a replay)
    ///
    /// **Invariant:** a function of the events alone: a correction is listed
    /// exactly while its target survives, however the timeline was built.
    pub corrections: Vec<(EventId, EventId)>,
}

/// A partner's timeline.
pub type PartnerTimeline = Timeline<PartnerId, PartnerRegistered, PartnerChange>;
/// A convention's timeline.
pub type ConventionTimeline = Timeline<ConventionId, ConventionSigned, ConventionChange>;

impl<I: Copy, B: Payload, F: Payload + Dated> Timeline<I, B, F> {
    /// An entity with no event yet.
    pub fn empty(id: I) -> Self {
        Self {
            id,
            version: 0,
            last_seq: Seq::ZERO,
            base: None,
            facts: Vec::new(),
            corrections: Vec::new(),
        }
    }

    /// Resolves a stream (oldest first) at log position `t`: the folding of
    /// `docs/model.md` §3 steps 1–3. `None` when no event of the stream is at or
    /// before `t`.
    pub fn replay<'a>(
        id: I,
        events: impl IntoIterator<Item = &'a EventRecord>,
        t: Seq,
    ) -> Option<Self> {
        let events: Vec<&EventRecord> = events.into_iter().filter(|e| e.seq <= t).collect();
        if events.is_empty() {
            return None;
        }
        let void: HashSet<EventId> = events
            .iter()
            .filter_map(|e| match &e.event {
                Event::Retracted(r) => Some(r.target),
                _ => None,
            })
            .collect();
        let mut timeline = Self::empty(id);
        for record in events {
            timeline.version += 1;
            timeline.last_seq = record.seq;
            if void.contains(&record.id) {
                continue;
            }
            timeline.absorb(record);
        }
        Some(timeline)
    }

    /// Folds one more event (the next of the stream) into the timeline.
    /// Fails only when a retraction voids a correction already applied:
    /// then the caller must [`Timeline::replay`] the stream.
    pub fn record(&mut self, record: &EventRecord) -> Result<(), NeedsReplay> {
        self.version += 1;
        self.last_seq = record.seq;
        if let Event::Retracted(r) = &record.event {
            if self.corrections.iter().any(|(c, _)| *c == r.target) {
                return Err(NeedsReplay);
            }
            if self.base.as_ref().is_some_and(|b| b.id == r.target) {
                self.base = None;
            } else if let Some(i) = self.facts.iter().position(|f| f.id == r.target) {
                self.facts.remove(i);
            }
            // corrections of a void event play no part
            self.corrections.retain(|(_, target)| *target != r.target);
            return Ok(());
        }
        self.absorb(record);
        Ok(())
    }

    /// Folds a non-void, non-retraction event.
    fn absorb(&mut self, record: &EventRecord) {
        fn entry<P>(record: &EventRecord, payload: P) -> Entry<P> {
            Entry {
                seq: record.seq,
                id: record.id,
                payload,
            }
        }
        if let Some(base) = B::from_event(&record.event) {
            if record.version == 1 {
                self.base = Some(entry(record, base));
            }
        } else if let Some(fact) = F::from_event(&record.event) {
            self.insert_fact(entry(record, fact));
        } else if let Event::Corrected(c) = &record.event {
            if let Some(base) = self.base.as_mut().filter(|b| b.id == c.target) {
                if let Some(p) = B::from_event(&base.payload.to_event().patched(&c.patch)) {
                    base.payload = p;
                    self.corrections.push((record.id, c.target));
                }
            } else if let Some(i) = self.facts.iter().position(|f| f.id == c.target) {
                let mut fact = self.facts.remove(i);
                if let Some(p) = F::from_event(&fact.payload.to_event().patched(&c.patch)) {
                    fact.payload = p;
                    self.corrections.push((record.id, c.target));
                }
                self.insert_fact(fact);
            }
        }
    }

    fn insert_fact(&mut self, fact: Entry<F>) {
        let key = |f: &Entry<F>| (f.payload.effective_on().earliest(), f.seq);
        let at = self.facts.partition_point(|f| key(f) <= key(&fact));
        self.facts.insert(at, fact);
    }

    /// The facts that have begun by `d`, in application order.
    fn facts_begun_by(&self, d: NaiveDate) -> impl Iterator<Item = &Entry<F>> {
        self.facts
            .iter()
            .take_while(move |f| f.payload.effective_on().begun_by(d))
    }
}

impl PartnerTimeline {
    /// The partner at valid date `d` (`docs/model.md` §3 steps 4–6). Partners have no
    /// valid-time start: a registered, non-void partner exists at every D.
    /// It is succeeded from the first surviving succession that has begun
    /// by D (decide allows one; a later one plays no part).
    pub fn state_at(&self, d: NaiveDate) -> Option<PartnerState> {
        let base = &self.base.as_ref()?.payload;
        let mut state = PartnerState {
            id: self.id,
            name: base.name.clone(),
            short_name: base.short_name.clone(),
            kind: base.kind,
            country: base.country,
            status: PartnerStatus::Active,
            successors: Vec::new(),
            succeeded_on: None,
            approximate: false,
            version: self.version,
        };
        for change in self.facts_begun_by(d) {
            match &change.payload {
                PartnerChange::Renamed(rename) => {
                    state.approximate |= rename.effective_on.straddles(d);
                    state.name = rename.new_name.clone();
                    if let Some(short) = &rename.short_name {
                        state.short_name = Some(short.clone());
                    }
                }
                PartnerChange::Succeeded(s) if state.status == PartnerStatus::Active => {
                    state.approximate |= s.effective_on.straddles(d);
                    state.status = PartnerStatus::Succeeded;
                    state.successors = s.successors.clone();
                    state.succeeded_on = Some(s.effective_on);
                }
                PartnerChange::Succeeded(_) => {}
            }
        }
        Some(state)
    }

    /// The partner's surviving successions, corrected, in application order
    /// (whatever their date). Empty when the registration is void.
    pub fn successions(&self) -> Vec<Succession> {
        if self.base.is_none() {
            return Vec::new();
        }
        self.facts
            .iter()
            .filter_map(|f| match &f.payload {
                PartnerChange::Succeeded(s) => Some(Succession {
                    partner: self.id,
                    seq: f.seq,
                    id: f.id,
                    succeeded: s.clone(),
                }),
                PartnerChange::Renamed(_) => None,
            })
            .collect()
    }
}

/// A surviving succession of a partner, as the fold of a convention takes
/// it: whose it is, where it is in the log, its corrected payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Succession {
    /// the predecessor
    pub partner: PartnerId,
    /// the succession's seq (orders successions of the same date)
    pub seq: Seq,
    /// the succession's event id
    pub id: EventId,
    /// its payload, with every correction applied
    pub succeeded: PartnerSucceeded,
}

/// The successions a convention's parties can meet: those of the partners
/// in `start`, then of their successors, and so on down every chain.
/// `lookup` gives one partner's surviving successions. Each partner is
/// looked up once, so a cycle in the record ends the walk.
pub fn successions_concerning(
    start: impl IntoIterator<Item = PartnerId>,
    mut lookup: impl FnMut(PartnerId) -> Vec<Succession>,
) -> Vec<Succession> {
    let mut seen: HashSet<PartnerId> = HashSet::new();
    let mut queue: VecDeque<PartnerId> = VecDeque::new();
    for p in start {
        if seen.insert(p) {
            queue.push_back(p);
        }
    }
    let mut out = Vec::new();
    while let Some(p) = queue.pop_front() {
        for s in lookup(p) {
            for q in &s.succeeded.successors {
                if seen.insert(*q) {
                    queue.push_back(*q);
                }
            }
            out.push(s);
        }
    }
    out
}

/// One step of a convention's fold over valid time.
enum Step<'a> {
    Change(&'a ConventionChange),
    Succession(&'a Succession),
}

impl ConventionTimeline {
    /// The convention at valid date `d`, as its own events tell it, with no
    /// succession of any partner applied.
    pub fn state_at(&self, d: NaiveDate) -> Option<ConventionState> {
        self.state_at_with(d, &[])
    }

    /// The convention at valid date `d` (`docs/model.md` §3 steps 4–6, status and
    /// succession): the signing gives the first set of parties; then, in
    /// one pass in order of `(effective_on.earliest, seq)`, its amendments
    /// and terminations and the `successions` of partners (those that do
    /// not concern a party at their turn change nothing). A succession of
    /// a party puts its successors in its place, except those already
    /// parties; each carries `via` (the predecessors replaced, oldest
    /// first) and `since` (the succession's date). A successor already there
    /// by succession adds the new predecessors to its `via`.
    pub fn state_at_with(
        &self,
        d: NaiveDate,
        successions: &[Succession],
    ) -> Option<ConventionState> {
        let base = &self.base.as_ref()?.payload;
        if !base.signed_on.begun_by(d) {
            return None;
        }
        let mut ended = None;
        let mut steps: Vec<(NaiveDate, Seq, Step<'_>)> = self
            .facts_begun_by(d)
            .map(|f| {
                (
                    f.payload.effective_on().earliest(),
                    f.seq,
                    Step::Change(&f.payload),
                )
            })
            .chain(
                successions
                    .iter()
                    .filter(|s| s.succeeded.effective_on.begun_by(d))
                    .map(|s| {
                        (
                            s.succeeded.effective_on.earliest(),
                            s.seq,
                            Step::Succession(s),
                        )
                    }),
            )
            .collect();
        steps.sort_by_key(|(on, seq, _)| (*on, *seq));
        // the objectives of the last amendment that sets them (else the
        // signing's), copied once
        let objectives = steps
            .iter()
            .rev()
            .find_map(|(_, _, step)| match step {
                Step::Change(ConventionChange::Amended(a)) => a.objectives.as_ref(),
                _ => None,
            })
            .unwrap_or(&base.objectives);
        let mut state = ConventionState {
            id: self.id,
            instrument: base.instrument,
            parties: base.parties.clone(),
            by_succession: Vec::new(),
            signed_on: base.signed_on,
            objectives: objectives.clone(),
            expires_on: base.expires_on,
            official_ref: base.official_ref.clone(),
            status: Status::InForce,
            ended_on: None,
            approximate: base.signed_on.straddles(d),
            version: self.version,
        };
        for (_, _, step) in steps {
            let change = match step {
                Step::Change(change) => change,
                Step::Succession(s) => {
                    apply_succession(&mut state, s, d);
                    continue;
                }
            };
            match change {
                ConventionChange::Amended(a) => {
                    state.approximate |= a.effective_on.straddles(d);
                    for p in &a.parties_added {
                        if !state.parties.contains(p) {
                            state.parties.push(*p);
                        }
                    }
                    state.parties.retain(|p| !a.parties_removed.contains(p));
                    state
                        .by_succession
                        .retain(|b| !a.parties_removed.contains(&b.party));
                    match a.expiry {
                        Some(ExpiryChange::Set(date)) => state.expires_on = Some(date),
                        Some(ExpiryChange::Cleared) => state.expires_on = None,
                        None => {}
                    }
                    if let Some(instrument) = a.instrument {
                        state.instrument = instrument;
                    }
                }
                ConventionChange::Terminated(t) => {
                    state.approximate |= t.effective_on.straddles(d);
                    ended = Some((t.kind, t.effective_on));
                }
            }
        }
        if let Some((kind, on)) = ended {
            state.status = kind.into();
            state.ended_on = Some(on);
        } else if let Some(expiry) = state.expires_on.filter(|e| e.begun_by(d)) {
            state.status = Status::Expired;
            state.ended_on = Some(expiry);
            state.approximate |= expiry.straddles(d);
        }
        Some(state)
    }

    /// Every partner the convention names in a surviving fact: its parties
    /// at any valid date, before successions (none when the signing is
    /// void).
    pub fn partners_ever(&self) -> Vec<PartnerId> {
        let mut out: Vec<PartnerId> = Vec::new();
        let mut push = |p: &PartnerId| {
            if !out.contains(p) {
                out.push(*p);
            }
        };
        let Some(base) = &self.base else {
            return out;
        };
        base.payload.parties.iter().for_each(&mut push);
        for f in &self.facts {
            if let ConventionChange::Amended(a) = &f.payload {
                a.parties_added.iter().for_each(&mut push);
            }
        }
        out
    }

    /// The surviving termination, if any.
    pub fn termination(&self) -> Option<&Entry<ConventionChange>> {
        self.facts
            .iter()
            .rev()
            .find(|f| matches!(f.payload, ConventionChange::Terminated(_)))
    }
}

/// A succession's turn in a convention's fold: when the predecessor is a
/// party, its successors take its place.
fn apply_succession(state: &mut ConventionState, s: &Succession, d: NaiveDate) {
    let Some(at) = state.parties.iter().position(|p| *p == s.partner) else {
        return;
    };
    state.approximate |= s.succeeded.effective_on.straddles(d);
    state.parties.remove(at);
    let mut via: Vec<PartnerId> = match state
        .by_succession
        .iter()
        .position(|b| b.party == s.partner)
    {
        Some(i) => state.by_succession.remove(i).via,
        None => Vec::new(),
    };
    via.push(s.partner);
    let mut at = at;
    for q in &s.succeeded.successors {
        if *q == s.partner {
            continue;
        }
        if state.parties.contains(q) {
            if let Some(b) = state.by_succession.iter_mut().find(|b| b.party == *q) {
                for p in &via {
                    if !b.via.contains(p) {
                        b.via.push(*p);
                    }
                }
            }
            continue;
        }
        state.parties.insert(at, *q);
        at += 1;
        state.by_succession.push(BySuccession {
            party: *q,
            via: via.clone(),
            since: s.succeeded.effective_on,
        });
    }
}

/// Every name a partner's stream records in an event that is not void: its
/// registered name as first written, names given by renames, and names
/// given by corrections (so a misspelling that was corrected away still
/// finds the partner).
pub fn recorded_names(stream: &[EventRecord]) -> Vec<super::text::PartnerName> {
    use super::event::Patch;
    let void: HashSet<EventId> = stream
        .iter()
        .filter_map(|e| match &e.event {
            Event::Retracted(r) => Some(r.target),
            _ => None,
        })
        .collect();
    let mut out = Vec::new();
    for record in stream.iter().filter(|e| !void.contains(&e.id)) {
        match &record.event {
            Event::PartnerRegistered(e) => out.push(e.name.clone()),
            Event::PartnerRenamed(e) => out.push(e.new_name.clone()),
            Event::Corrected(c) => match &c.patch {
                Patch::PartnerRegistered(p) => out.extend(p.name.clone()),
                Patch::PartnerRenamed(p) => out.extend(p.new_name.clone()),
                _ => {}
            },
            _ => {}
        }
    }
    out
}

/// Either kind of timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnyTimeline {
    /// a partner's
    Partner(PartnerTimeline),
    /// a convention's
    Convention(ConventionTimeline),
}

impl AnyTimeline {
    /// The version at T.
    pub fn version(&self) -> u64 {
        match self {
            AnyTimeline::Partner(t) => t.version,
            AnyTimeline::Convention(t) => t.version,
        }
    }

    /// True when the creating event is void.
    pub fn is_void(&self) -> bool {
        match self {
            AnyTimeline::Partner(t) => t.base.is_none(),
            AnyTimeline::Convention(t) => t.base.is_none(),
        }
    }

    /// Folds the next event; see [`Timeline::record`].
    pub fn record(&mut self, record: &EventRecord) -> Result<(), NeedsReplay> {
        match self {
            AnyTimeline::Partner(t) => t.record(record),
            AnyTimeline::Convention(t) => t.record(record),
        }
    }
}
