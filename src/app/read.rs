//! The read side: the registry at a point of view (valid date D, log
//! position T), as conventions and partners with their parties named.
//!
//! At the head of the log, views are folded from the cached timelines; at
//! an earlier T, from timelines replayed out of the log up to T. Both go
//! through the same `state_at`, so they cannot disagree on the rules.
//!
//! A convention's parties also depend on the successions of its partners,
//! which are events of the partners' streams: they are read at the point
//! from the partners' timelines (few, and read once per snapshot) and
//! folded with the convention's own facts by
//! `ConventionTimeline::state_at_with`. No cache keeps a convention's
//! parties at a date, so a succession needs no write to any convention.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::NaiveDate;

use super::{AppError, Registry};
use crate::domain::text::fold_words;
use crate::domain::timeline::NeedsReplay;
use crate::domain::{
    AnyTimeline, ConventionId, ConventionState, ConventionTimeline, EntityId, EntityKind, Handle,
    Instrument, PartialDate, PartnerId, PartnerKind, PartnerState, PartnerTimeline, Seq, Status,
    Succession, fold_key, successions_concerning,
};
use crate::projection::{empty_timeline, replay};
use crate::store::workers;

/// A point of view: valid date D and log position T.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Point {
    /// valid time D (a given partial date means its last day)
    pub valid: NaiveDate,
    /// true when D was asked for (`--as-of`), false when it is today
    pub valid_given: bool,
    /// record time T
    pub recorded: Seq,
    /// the head of the log when the point was taken
    pub head: Seq,
}

impl Point {
    /// True when T is the head: cached projections answer.
    pub fn at_head(&self) -> bool {
        self.recorded >= self.head
    }
}

/// A party of a convention, named as of D.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Party {
    /// its id
    pub id: PartnerId,
    /// its handle
    pub handle: Handle,
    /// its name on D (its registered name if it does not exist at the point)
    pub name: Arc<str>,
    /// its kind
    pub kind: Option<PartnerKind>,
    /// when it is a party by succession: the predecessors it replaced,
    /// oldest first, named as of D (else empty)
    pub via: Vec<Party>,
    /// when it is a party by succession: that succession's date
    pub since: Option<PartialDate>,
}

impl Party {
    /// The name with its predecessors, as the published lists would put
    /// it: "Fès-Meknès (anciennement Meknès-Tafilalet)".
    pub fn name_with_predecessors(&self) -> String {
        if self.via.is_empty() {
            return self.name.to_string();
        }
        let names: Vec<&str> = self.via.iter().map(|p| &*p.name).collect();
        let list = match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} et {last}", rest.join(", ")),
            _ => names.join(""),
        };
        format!("{} (anciennement {list})", self.name)
    }
}

/// A convention at a point, ready to print.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConventionView {
    /// its handle
    pub handle: Handle,
    /// its folded state
    pub state: ConventionState,
    /// its parties, named as of D
    pub parties: Vec<Party>,
}

/// A partner at a point, ready to print.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartnerView {
    /// its handle
    pub handle: Handle,
    /// its folded state
    pub state: PartnerState,
    /// the partners that took over from it on D, named as of D
    pub successors: Vec<Party>,
    /// the partners it took over from by D, named as of D
    pub predecessors: Vec<Party>,
}

/// Which conventions `list` shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConventionFilter {
    /// only those with this party on D
    pub partner: Option<PartnerId>,
    /// only those with a party of this kind on D
    pub partner_kind: Option<PartnerKind>,
    /// only this instrument
    pub instrument: Option<Instrument>,
    /// only this status on D
    pub status: Option<Status>,
    /// only those whose signing period reaches this date or later
    pub signed_from: Option<PartialDate>,
    /// only those whose signing period starts on or before this date
    pub signed_to: Option<PartialDate>,
    /// only those whose objectives or party names (a party by succession
    /// also by its predecessors' names) contain every word
    pub search: Option<String>,
}

impl ConventionFilter {
    fn accepts(&self, view: &ConventionView) -> bool {
        let s = &view.state;
        if self.partner.is_some_and(|p| !s.parties.contains(&p))
            || self
                .partner_kind
                .is_some_and(|k| !view.parties.iter().any(|p| p.kind == Some(k)))
            || self.instrument.is_some_and(|i| s.instrument != i)
            || self.status.is_some_and(|st| s.status != st)
            || self
                .signed_from
                .is_some_and(|from| s.signed_on.latest() < from.earliest())
            || self
                .signed_to
                .is_some_and(|to| s.signed_on.earliest() > to.latest())
        {
            return false;
        }
        match &self.search {
            None => true,
            Some(query) => {
                let mut haystack = fold_key(s.objectives.as_str());
                // a party by succession is also found by its predecessors' names
                for p in view
                    .parties
                    .iter()
                    .flat_map(|p| std::iter::once(p).chain(&p.via))
                {
                    haystack.push('|');
                    haystack.push_str(&fold_key(&p.name));
                }
                fold_words(query)
                    .iter()
                    .all(|w| haystack.contains(w.as_str()))
            }
        }
    }
}

/// A convention of a list, folded on a scan's worker: named there, or left
/// for the list's thread to name.
enum Folded {
    /// named and accepted by the filter
    Named(ConventionView),
    /// a party is not a partner the list loaded
    Unnamed(Handle, ConventionState),
}

/// A partner of the registry named as of `d`: its name on `d`, else the
/// name it was registered under, else its handle.
fn named_at(id: PartnerId, handle: Handle, t: &PartnerTimeline, d: NaiveDate) -> Party {
    match t.state_at(d) {
        Some(s) => Party {
            id,
            handle,
            name: s.name.as_str().into(),
            kind: Some(s.kind),
            via: Vec::new(),
            since: None,
        },
        None => Party {
            id,
            handle,
            name: t.base.as_ref().map_or_else(
                || handle.to_string().into(),
                |b| b.payload.name.as_str().into(),
            ),
            kind: t.base.as_ref().map(|b| b.payload.kind),
            via: Vec::new(),
            since: None,
        },
    }
}

/// A convention's parties at its state, and the predecessors of those
/// there by succession, named by `name`.
fn parties_named<E>(
    state: &ConventionState,
    name: &mut dyn FnMut(PartnerId) -> Result<Party, E>,
) -> Result<Vec<Party>, E> {
    state
        .parties
        .iter()
        .map(|p| {
            let mut party = name(*p)?;
            if let Some(by) = state.via(*p) {
                party.via = by.via.iter().map(|q| name(*q)).collect::<Result<_, _>>()?;
                party.since = Some(by.since);
            }
            Ok(party)
        })
        .collect()
}

/// The registry at one point of view.
pub struct Snapshot<'r> {
    registry: &'r Registry,
    point: Point,
    /// timelines replayed up to T (only when T is not the head)
    replayed: RefCell<Option<HashMap<EntityId, (Handle, AnyTimeline)>>>,
    /// partners looked up so far
    partners: RefCell<HashMap<PartnerId, Option<(Handle, PartnerTimeline)>>>,
    /// parties named so far (a list names the same partners many times)
    parties: RefCell<HashMap<PartnerId, Party>>,
    /// every partner's successions at T, once all partners are loaded
    successions: RefCell<Option<HashMap<PartnerId, Vec<Succession>>>>,
}

impl Registry {
    /// The registry at `point`.
    pub fn snapshot(&self, point: Point) -> Snapshot<'_> {
        Snapshot {
            registry: self,
            point,
            replayed: RefCell::new(None),
            partners: RefCell::new(HashMap::new()),
            parties: RefCell::new(HashMap::new()),
            successions: RefCell::new(None),
        }
    }
}

impl<'r> Snapshot<'r> {
    /// The point of view.
    pub fn point(&self) -> Point {
        self.point
    }

    /// The registry.
    pub fn registry(&self) -> &'r Registry {
        self.registry
    }

    /// Replays every timeline up to T, once.
    fn ensure_replayed(&self) -> Result<(), AppError> {
        if self.replayed.borrow().is_some() {
            return Ok(());
        }
        let store = self.registry.store();
        let mut timelines: HashMap<EntityId, (Handle, AnyTimeline)> = HashMap::new();
        let mut dirty = Vec::new();
        for record in store.events_from(Seq(1)) {
            let record = record?;
            if record.seq > self.point.recorded {
                break;
            }
            let entity = record.entity;
            if let std::collections::hash_map::Entry::Vacant(slot) = timelines.entry(entity) {
                slot.insert((self.registry.handle(entity)?, empty_timeline(entity)));
            }
            if let Some((_, t)) = timelines.get_mut(&entity)
                && t.record(&record) == Err(NeedsReplay)
            {
                dirty.push(entity);
            }
        }
        for entity in dirty {
            let stream = store.stream(entity)?;
            if let (Some(fresh), Some((_, t))) = (
                replay(entity, &stream, self.point.recorded),
                timelines.get_mut(&entity),
            ) {
                *t = fresh;
            }
        }
        *self.replayed.borrow_mut() = Some(timelines);
        Ok(())
    }

    /// An entity's timeline at T, with its handle.
    pub fn timeline(&self, entity: EntityId) -> Result<Option<(Handle, AnyTimeline)>, AppError> {
        if self.point.at_head() {
            return Ok(self.registry.store().timeline(entity)?);
        }
        if let Some(map) = self.replayed.borrow().as_ref() {
            return Ok(map.get(&entity).cloned());
        }
        let stream = self.registry.store().stream(entity)?;
        match replay(entity, &stream, self.point.recorded) {
            None => Ok(None),
            Some(t) => Ok(Some((self.registry.handle(entity)?, t))),
        }
    }

    /// Applies `f` to a partner's timeline at T (`None` if there is no such
    /// partner), reading it once per snapshot.
    fn with_partner<R>(
        &self,
        id: PartnerId,
        f: impl FnOnce(Option<&(Handle, PartnerTimeline)>) -> R,
    ) -> Result<R, AppError> {
        if !self.partners.borrow().contains_key(&id) {
            let found = match self.timeline(id.into())? {
                Some((h, AnyTimeline::Partner(t))) => Some((h, t)),
                _ => None,
            };
            self.partners.borrow_mut().insert(id, found);
        }
        Ok(f(self.partners.borrow().get(&id).and_then(Option::as_ref)))
    }

    /// Loads every partner at T into the cache (before naming many parties).
    fn preload_partners(&self) -> Result<(), AppError> {
        let all = self.timelines_of(EntityKind::Partner)?;
        let mut cache = self.partners.borrow_mut();
        for (handle, t) in all {
            if let AnyTimeline::Partner(p) = t {
                cache.insert(p.id, Some((handle, p)));
            }
        }
        Ok(())
    }

    /// Every timeline of a kind at T, in handle order.
    pub fn timelines_of(&self, kind: EntityKind) -> Result<Vec<(Handle, AnyTimeline)>, AppError> {
        let mut out: Vec<(Handle, AnyTimeline)> = if self.point.at_head() {
            self.registry.store().timelines_all(kind, workers())?
        } else {
            self.ensure_replayed()?;
            self.replayed
                .borrow()
                .as_ref()
                .map(|m| {
                    m.iter()
                        .filter(|(e, _)| e.kind() == kind)
                        .map(|(_, v)| v.clone())
                        .collect()
                })
                .unwrap_or_default()
        };
        out.sort_by_key(|(h, _)| h.number);
        Ok(out)
    }

    /// A party, named as of D.
    pub fn party(&self, id: PartnerId) -> Result<Party, AppError> {
        if let Some(named) = self.parties.borrow().get(&id) {
            return Ok(named.clone());
        }
        let known = self.with_partner(id, |found| {
            found.map(|(handle, t)| named_at(id, *handle, t, self.point.valid))
        })?;
        let party = match known {
            Some(party) => party,
            None => Party {
                id,
                handle: self.registry.handle(id.into())?,
                name: id.to_string().into(),
                kind: None,
                via: Vec::new(),
                since: None,
            },
        };
        self.parties.borrow_mut().insert(id, party.clone());
        Ok(party)
    }

    /// Every partner loaded so far, named as of D (a list's workers name
    /// the parties from it).
    fn loaded_parties(&self) -> HashMap<PartnerId, Party> {
        let d = self.point.valid;
        self.partners
            .borrow()
            .iter()
            .filter_map(|(id, found)| {
                let (handle, t) = found.as_ref()?;
                Some((*id, named_at(*id, *handle, t, d)))
            })
            .collect()
    }

    /// A partner's surviving successions at T (read through the partner
    /// cache).
    fn successions_of(&self, id: PartnerId) -> Result<Vec<Succession>, AppError> {
        if let Some(all) = self.successions.borrow().as_ref() {
            return Ok(all.get(&id).cloned().unwrap_or_default());
        }
        self.with_partner(id, |found| {
            found.map(|(_, t)| t.successions()).unwrap_or_default()
        })
    }

    /// The successions a convention's parties can meet at T: those of its
    /// partners, and of their successors down every chain.
    pub fn successions_for(&self, t: &ConventionTimeline) -> Result<Vec<Succession>, AppError> {
        let mut failed = None;
        let out = successions_concerning(t.partners_ever(), |p| {
            self.successions_of(p).unwrap_or_else(|e| {
                failed.get_or_insert(e);
                Vec::new()
            })
        });
        match failed {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    /// Every partner's successions at T (every partner read once).
    fn all_successions(&self) -> Result<HashMap<PartnerId, Vec<Succession>>, AppError> {
        if let Some(all) = self.successions.borrow().as_ref() {
            return Ok(all.clone());
        }
        self.preload_partners()?;
        let all: HashMap<PartnerId, Vec<Succession>> = self
            .partners
            .borrow()
            .iter()
            .filter_map(|(id, found)| {
                let successions = found.as_ref()?.1.successions();
                (!successions.is_empty()).then_some((*id, successions))
            })
            .collect();
        *self.successions.borrow_mut() = Some(all.clone());
        Ok(all)
    }

    /// The partners `id` took over from, directly or down a chain, by D:
    /// those whose succession, begun by D, names it or one of them.
    fn predecessors_by_d(&self, id: PartnerId) -> Result<Vec<PartnerId>, AppError> {
        let d = self.point.valid;
        let all = self.all_successions()?;
        let mut found: Vec<PartnerId> = Vec::new();
        let mut seen: HashSet<PartnerId> = HashSet::from([id]);
        let mut frontier = vec![id];
        while let Some(q) = frontier.pop() {
            let mut direct: Vec<(&Succession, PartnerId)> = all
                .iter()
                .flat_map(|(p, ss)| ss.iter().map(move |s| (s, *p)))
                .filter(|(s, _)| {
                    s.succeeded.effective_on.begun_by(d) && s.succeeded.successors.contains(&q)
                })
                .collect();
            direct.sort_by_key(|(s, _)| (s.succeeded.effective_on.earliest(), s.seq));
            for (_, p) in direct {
                if seen.insert(p) {
                    found.push(p);
                    frontier.push(p);
                }
            }
        }
        Ok(found)
    }

    fn convention_view(
        &self,
        handle: Handle,
        t: &ConventionTimeline,
    ) -> Result<Option<ConventionView>, AppError> {
        let successions = self.successions_for(t)?;
        match t.state_at_with(self.point.valid, &successions) {
            Some(state) => self.view_of(handle, state).map(Some),
            None => Ok(None),
        }
    }

    /// A convention's state with its parties named as of D.
    fn view_of(&self, handle: Handle, state: ConventionState) -> Result<ConventionView, AppError> {
        let parties = parties_named(&state, &mut |p| self.party(p))?;
        Ok(ConventionView {
            handle,
            state,
            parties,
        })
    }

    /// One convention at the point; `None` when it does not exist there.
    pub fn convention(&self, id: ConventionId) -> Result<Option<ConventionView>, AppError> {
        match self.timeline(id.into())? {
            Some((handle, AnyTimeline::Convention(t))) => self.convention_view(handle, &t),
            _ => Ok(None),
        }
    }

    /// Every convention that exists at the point and passes the filter, in
    /// handle order.
    pub fn conventions(&self, filter: &ConventionFilter) -> Result<Vec<ConventionView>, AppError> {
        let all = self.all_successions()?;
        let d = self.point.valid;
        // A convention's state at D, the successions of its partners applied.
        let fold = |t: &ConventionTimeline| {
            if all.is_empty() {
                return t.state_at(d);
            }
            let successions = successions_concerning(t.partners_ever(), |p| {
                all.get(&p).cloned().unwrap_or_default()
            });
            t.state_at_with(d, &successions)
        };
        // At the head, each timeline is folded where it is decoded, its
        // parties named there from the partners `all_successions` loaded
        // and the filter applied; a party none of them is (a partner the
        // log never registered) is named on this thread, as is every
        // convention at another T.
        let mut folded: Vec<Folded> = if self.point.at_head() {
            let named = self.loaded_parties();
            self.registry.store().fold_timelines(
                EntityKind::Convention,
                workers(),
                &|handle, timeline| {
                    let AnyTimeline::Convention(t) = timeline else {
                        return None;
                    };
                    let state = fold(&t)?;
                    match parties_named(&state, &mut |p| named.get(&p).cloned().ok_or(())) {
                        Ok(parties) => {
                            let view = ConventionView {
                                handle,
                                state,
                                parties,
                            };
                            filter.accepts(&view).then_some(Folded::Named(view))
                        }
                        Err(()) => Some(Folded::Unnamed(handle, state)),
                    }
                },
            )?
        } else {
            self.timelines_of(EntityKind::Convention)?
                .into_iter()
                .filter_map(|(handle, timeline)| match timeline {
                    AnyTimeline::Convention(t) => fold(&t).map(|s| Folded::Unnamed(handle, s)),
                    AnyTimeline::Partner(_) => None,
                })
                .collect()
        };
        folded.sort_by_key(|f| match f {
            Folded::Named(view) => view.handle.number,
            Folded::Unnamed(handle, _) => handle.number,
        });
        let mut out = Vec::with_capacity(folded.len());
        for f in folded {
            match f {
                Folded::Named(view) => out.push(view),
                Folded::Unnamed(handle, state) => {
                    let view = self.view_of(handle, state)?;
                    if filter.accepts(&view) {
                        out.push(view);
                    }
                }
            }
        }
        Ok(out)
    }

    /// One partner at the point, with its successors and predecessors;
    /// `None` when it does not exist there.
    pub fn partner(&self, id: PartnerId) -> Result<Option<PartnerView>, AppError> {
        let found = self.with_partner(id, |found| {
            found.and_then(|(handle, t)| t.state_at(self.point.valid).map(|state| (*handle, state)))
        })?;
        match found {
            Some((handle, state)) => self.partner_view(handle, state).map(Some),
            None => Ok(None),
        }
    }

    fn partner_view(&self, handle: Handle, state: PartnerState) -> Result<PartnerView, AppError> {
        let successors = state
            .successors
            .iter()
            .map(|p| self.party(*p))
            .collect::<Result<_, _>>()?;
        let predecessors = self
            .predecessors_by_d(state.id)?
            .into_iter()
            .map(|p| self.party(p))
            .collect::<Result<_, _>>()?;
        Ok(PartnerView {
            handle,
            state,
            successors,
            predecessors,
        })
    }

    /// Every partner that exists at the point, in handle order, optionally
    /// of one kind and matching a search.
    pub fn partners(
        &self,
        kind: Option<PartnerKind>,
        search: Option<&str>,
    ) -> Result<Vec<PartnerView>, AppError> {
        let words = search.map(fold_words).unwrap_or_default();
        let mut out = Vec::new();
        for (handle, t) in self.timelines_of(EntityKind::Partner)? {
            if let AnyTimeline::Partner(t) = t
                && let Some(state) = t.state_at(self.point.valid)
                && kind.is_none_or(|k| state.kind == k)
            {
                let mut haystack = fold_key(state.name.as_str());
                if let Some(short) = &state.short_name {
                    haystack.push('|');
                    haystack.push_str(&fold_key(short.as_str()));
                }
                if words.iter().all(|w| haystack.contains(w.as_str())) {
                    out.push(self.partner_view(handle, state)?);
                }
            }
        }
        Ok(out)
    }

    /// The conventions a partner is a party of at the point, directly or
    /// by succession.
    pub fn conventions_of(&self, partner: PartnerId) -> Result<Vec<ConventionView>, AppError> {
        if self.point.at_head() {
            let mut out = Vec::new();
            let mut seen = HashSet::new();
            let mut named = self.registry.store().conventions_naming(partner)?;
            for p in self.predecessors_by_d(partner)? {
                named.extend(self.registry.store().conventions_naming(p)?);
            }
            for c in named {
                if seen.insert(c)
                    && let Some(view) = self.convention(c)?
                    && view.state.parties.contains(&partner)
                {
                    out.push(view);
                }
            }
            out.sort_by_key(|v| v.handle.number);
            return Ok(out);
        }
        self.conventions(&ConventionFilter {
            partner: Some(partner),
            ..ConventionFilter::default()
        })
    }
}
