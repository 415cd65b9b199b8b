//! Folding two ways: random histories (corrections, retractions, partial
//! dates, out-of-order effective dates) folded by the production code
//! (incremental `record`, with a replay where it asks for one, then
//! `state_at`) and by a naive reference written straight from `docs/model.md` §3–4
//! must give the same view at every (D, T). And what decide reads of a
//! correction's or retraction's target from the timeline is what the raw
//! stream says of it.
//!
//! Successions are events of partners' streams that change a convention's
//! parties: the histories also hold random successions of the partners
//! (with corrections of their successors and dates, and retractions),
//! interleaved in the log with the convention's events, and no rule is
//! enforced on them (a partner succeeded twice, by itself, in a cycle):
//! folding must cope, and both folds must agree.

use std::collections::HashSet;

use chrono::NaiveDate;
use proptest::prelude::*;

use pactum::domain::decide::{Directory, target_in_stream, target_in_timeline};
use pactum::domain::timeline::Timeline;
use pactum::domain::*;

use crate::support::*;

// ------------------------------------------------------------- histories

#[derive(Clone, Debug)]
enum Op {
    Amend {
        date: PartialDate,
        objectives: bool,
        add: Option<u64>,
        remove: Option<u64>,
        expiry: Option<Option<PartialDate>>,
    },
    Terminate {
        date: PartialDate,
        expired: bool,
    },
    CorrectBase {
        date: Option<PartialDate>,
        objectives: bool,
        expiry: Option<Option<PartialDate>>,
    },
    CorrectFact {
        pick: usize,
        date: Option<PartialDate>,
        objectives: bool,
    },
    Retract {
        pick: usize,
    },
}

fn date() -> impl Strategy<Value = PartialDate> {
    (1995u32..2030, 0u32..=12, 0u32..=28).prop_map(|(y, m, d)| {
        if m == 0 {
            PartialDate::year(y).unwrap()
        } else if d == 0 {
            PartialDate::month(y, m).unwrap()
        } else {
            PartialDate::day(y, m, d).unwrap()
        }
    })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (date(), any::<bool>(), proptest::option::of(0u64..4), proptest::option::of(0u64..4),
              proptest::option::of(proptest::option::of(date())))
            .prop_map(|(date, objectives, add, remove, expiry)| Op::Amend { date, objectives, add, remove, expiry }),
        1 => (date(), any::<bool>()).prop_map(|(date, expired)| Op::Terminate { date, expired }),
        1 => (proptest::option::of(date()), any::<bool>(), proptest::option::of(proptest::option::of(date())))
            .prop_map(|(date, objectives, expiry)| Op::CorrectBase { date, objectives, expiry }),
        2 => (any::<usize>(), proptest::option::of(date()), any::<bool>())
            .prop_map(|(pick, date, objectives)| Op::CorrectFact { pick, date, objectives }),
        2 => any::<usize>().prop_map(|pick| Op::Retract { pick }),
    ]
}

fn objectives(n: usize) -> Objectives {
    Objectives::new(format!("objectives {n}")).unwrap()
}

/// Builds a convention stream from a signing and the ops. Targets are
/// chosen among earlier events of the allowed types, so the history is
/// well formed, but no business rule is enforced: folding must cope.
fn convention_history(signed: PartialDate, expires: Option<PartialDate>, ops: &[Op]) -> Stream {
    let mut s = Stream::convention();
    let mut payload = signed_payload(signed);
    payload.expires_on = expires;
    let base = s.push(Event::ConventionSigned(payload));
    for (i, op) in ops.iter().enumerate() {
        let facts: Vec<EventId> = s
            .records
            .iter()
            .filter(|r| {
                matches!(
                    r.event,
                    Event::ConventionAmended(_) | Event::ConventionTerminated(_)
                )
            })
            .map(|r| r.id)
            .collect();
        let not_retractions: Vec<EventId> = s
            .records
            .iter()
            .filter(|r| !matches!(r.event, Event::Retracted(_)))
            .map(|r| r.id)
            .collect();
        match op {
            Op::Amend {
                date,
                objectives: with,
                add,
                remove,
                expiry,
            } => {
                let mut a = amended(&date.to_string());
                if *with {
                    a.objectives = Some(objectives(i));
                }
                a.parties_added = add.map(party).into_iter().collect();
                a.parties_removed = remove.map(party).into_iter().collect();
                a.expiry = expiry.map(|e| match e {
                    Some(d) => ExpiryChange::Set(d),
                    None => ExpiryChange::Cleared,
                });
                s.push(Event::ConventionAmended(a));
            }
            Op::Terminate { date, expired } => {
                s.push(Event::ConventionTerminated(ConventionTerminated {
                    effective_on: *date,
                    kind: if *expired {
                        TerminationKind::Expired
                    } else {
                        TerminationKind::Terminated
                    },
                }));
            }
            Op::CorrectBase {
                date,
                objectives: with,
                expiry,
            } => {
                s.push(Event::Corrected(Corrected {
                    target: base,
                    patch: Patch::ConventionSigned(ConventionSignedPatch {
                        signed_on: *date,
                        objectives: with.then(|| objectives(i)),
                        expires_on: *expiry,
                        ..Default::default()
                    }),
                }));
            }
            Op::CorrectFact {
                pick,
                date,
                objectives: with,
            } => {
                if facts.is_empty() {
                    continue;
                }
                let target = facts[pick % facts.len()];
                let is_end = s
                    .records
                    .iter()
                    .any(|r| r.id == target && matches!(r.event, Event::ConventionTerminated(_)));
                let patch = if is_end {
                    Patch::ConventionTerminated(ConventionTerminatedPatch {
                        effective_on: *date,
                        kind: with.then_some(TerminationKind::Expired),
                    })
                } else {
                    Patch::ConventionAmended(ConventionAmendedPatch {
                        effective_on: *date,
                        objectives: with.then(|| Some(objectives(i))),
                        ..Default::default()
                    })
                };
                s.push(Event::Corrected(Corrected { target, patch }));
            }
            Op::Retract { pick } => {
                let target = not_retractions[pick % not_retractions.len()];
                s.push(Event::Retracted(Retracted { target }));
            }
        }
    }
    s
}

fn signed_payload(date: PartialDate) -> ConventionSigned {
    ConventionSigned {
        instrument: Instrument::Convention,
        parties: vec![party(0), party(1)],
        signed_on: date,
        objectives: objectives(999),
        expires_on: None,
        official_ref: None,
    }
}

// ------------------------------------------------------ the naive fold

/// Design §4, step by step, with no cache and no incremental trick.
fn naive(
    records: &[EventRecord],
    id: ConventionId,
    d: NaiveDate,
    t: Seq,
) -> Option<ConventionState> {
    // 1. the events at or before T
    let events: Vec<&EventRecord> = records.iter().filter(|e| e.seq <= t).collect();
    let first = events.first()?;
    // 2. void: targeted by a retraction at or before T
    let void: HashSet<EventId> = events
        .iter()
        .filter_map(|e| match &e.event {
            Event::Retracted(r) => Some(r.target),
            _ => None,
        })
        .collect();
    // 3. corrected payloads: own fields, overwritten by every non-void
    //    correction of it, in seq order
    let corrected = |e: &EventRecord| -> Event {
        events
            .iter()
            .filter(|c| !void.contains(&c.id))
            .filter_map(|c| match &c.event {
                Event::Corrected(x) if x.target == e.id => Some(&x.patch),
                _ => None,
            })
            .fold(e.event.clone(), |ev, patch| ev.patched(patch))
    };
    // 4. the creating event
    if void.contains(&first.id) {
        return None;
    }
    let Event::ConventionSigned(base) = corrected(first) else {
        return None;
    };
    if base.signed_on.earliest() > d {
        return None;
    }
    let mut approximate = base.signed_on.latest() > d;
    let mut state = ConventionState {
        id,
        instrument: base.instrument,
        parties: base.parties.clone(),
        by_succession: Vec::new(),
        signed_on: base.signed_on,
        objectives: base.objectives.clone(),
        expires_on: base.expires_on,
        official_ref: base.official_ref.clone(),
        status: Status::InForce,
        ended_on: None,
        approximate: false,
        version: u64::try_from(events.len()).unwrap(),
    };
    // 5. dated facts, by (effective_on.earliest, seq)
    let mut facts: Vec<(NaiveDate, Seq, Event)> = events
        .iter()
        .skip(1)
        .filter(|e| !void.contains(&e.id))
        .filter(|e| {
            matches!(
                e.event,
                Event::ConventionAmended(_) | Event::ConventionTerminated(_)
            )
        })
        .map(|e| {
            let ev = corrected(e);
            (ev.effective_on().unwrap().earliest(), e.seq, ev)
        })
        .filter(|(earliest, _, _)| *earliest <= d)
        .collect();
    facts.sort_by_key(|(earliest, seq, _)| (*earliest, *seq));
    let mut ended = None;
    for (_, _, fact) in facts {
        // 6. approximate when a date used straddles D
        approximate |= fact.effective_on().unwrap().latest() > d;
        match fact {
            Event::ConventionAmended(a) => {
                if let Some(o) = a.objectives {
                    state.objectives = o;
                }
                for p in a.parties_added {
                    if !state.parties.contains(&p) {
                        state.parties.push(p);
                    }
                }
                state.parties.retain(|p| !a.parties_removed.contains(p));
                match a.expiry {
                    Some(ExpiryChange::Set(e)) => state.expires_on = Some(e),
                    Some(ExpiryChange::Cleared) => state.expires_on = None,
                    None => {}
                }
                if let Some(i) = a.instrument {
                    state.instrument = i;
                }
            }
            Event::ConventionTerminated(x) => ended = Some((x.kind, x.effective_on)),
            _ => unreachable!(),
        }
    }
    // status
    if let Some((kind, on)) = ended {
        state.status = kind.into();
        state.ended_on = Some(on);
    } else if let Some(e) = state.expires_on.filter(|e| e.earliest() <= d) {
        state.status = Status::Expired;
        state.ended_on = Some(e);
        approximate |= e.latest() > d;
    }
    state.approximate = approximate;
    Some(state)
}

/// The production way: fold one event at a time, replaying when asked.
fn incremental(records: &[EventRecord], id: ConventionId, t: Seq) -> Option<ConventionTimeline> {
    let upto: Vec<EventRecord> = records.iter().filter(|e| e.seq <= t).cloned().collect();
    if upto.is_empty() {
        return None;
    }
    let mut timeline: ConventionTimeline = Timeline::empty(id);
    for (i, r) in upto.iter().enumerate() {
        if timeline.record(r).is_err() {
            timeline = Timeline::replay(id, &upto[..=i], r.seq)?;
        }
    }
    Some(timeline)
}

fn points(records: &[EventRecord], days: &[NaiveDate]) -> Vec<(NaiveDate, Seq)> {
    let mut ts: Vec<Seq> = records.iter().map(|r| r.seq).collect();
    ts.push(Seq(0));
    ts.push(Seq::MAX);
    let mut out = Vec::new();
    for t in &ts {
        for d in days {
            out.push((*d, *t));
        }
    }
    out
}

/// Valid dates at and around every date the history mentions.
fn days(records: &[EventRecord], extra: &[NaiveDate]) -> Vec<NaiveDate> {
    let mut out: Vec<NaiveDate> = extra.to_vec();
    let mut add = |p: PartialDate| {
        for d in [p.earliest(), p.latest()] {
            out.push(d);
            out.extend(d.pred_opt());
            out.extend(d.succ_opt());
        }
    };
    for r in records {
        if let Some(e) = r.event.effective_on() {
            add(e);
        }
        match &r.event {
            Event::ConventionSigned(s) => s.expires_on.into_iter().for_each(&mut add),
            Event::ConventionAmended(a) => {
                if let Some(ExpiryChange::Set(e)) = a.expiry {
                    add(e);
                }
            }
            Event::Corrected(c) => {
                if let Patch::ConventionSigned(p) = &c.patch {
                    p.signed_on.into_iter().for_each(&mut add);
                    p.expires_on.flatten().into_iter().for_each(&mut add);
                }
                if let Patch::ConventionAmended(p) = &c.patch {
                    p.effective_on.into_iter().for_each(&mut add);
                }
                if let Patch::PartnerSucceeded(p) = &c.patch {
                    p.effective_on.into_iter().for_each(&mut add);
                }
            }
            _ => {}
        }
    }
    out.sort();
    out.dedup();
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn production_and_naive_folds_agree_everywhere(
        signed in date(),
        expires in proptest::option::of(date()),
        ops in proptest::collection::vec(op(), 0..14),
        extra in proptest::collection::vec((1990i32..2035, 1u32..=12, 1u32..=28), 0..4),
    ) {
        let s = convention_history(signed, expires, &ops);
        let id = s.convention_id();
        let extra: Vec<NaiveDate> = extra
            .into_iter()
            .filter_map(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d))
            .collect();
        for (d, t) in points(&s.records, &days(&s.records, &extra)) {
            let expected = naive(&s.records, id, d, t);
            let replayed = ConventionTimeline::replay(id, &s.records, t).and_then(|tl| tl.state_at(d));
            prop_assert_eq!(&replayed, &expected, "replay at ({}, {:?})", d, t);
            let folded = incremental(&s.records, id, t).and_then(|tl| tl.state_at(d));
            prop_assert_eq!(&folded, &expected, "incremental at ({}, {:?})", d, t);
        }
        // incremental and replayed timelines are the same cache
        prop_assert_eq!(
            incremental(&s.records, id, Seq::MAX),
            ConventionTimeline::replay(id, &s.records, Seq::MAX)
        );
    }
}

/// Decide's directory, for labels only.
struct Labels;

impl Directory for Labels {
    fn partner_exists(&self, _: PartnerId) -> bool {
        true
    }
    fn partners_named(&self, _: &str, _: Option<PartnerId>) -> Vec<PartnerId> {
        Vec::new()
    }
    fn conventions_naming(&self, _: PartnerId) -> Vec<ConventionId> {
        Vec::new()
    }
    fn successions_of(&self, _: PartnerId) -> Vec<Succession> {
        Vec::new()
    }
    fn predecessors_of(&self, _: PartnerId) -> Vec<PartnerId> {
        Vec::new()
    }
    fn event_owner(&self, _: EventId) -> Option<(Seq, EntityId)> {
        None
    }
    fn label(&self, entity: EntityId) -> String {
        entity.to_string()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Decide looks a target up in the timeline and reads the stream only
    /// when the timeline does not show it: wherever the timeline finds a
    /// target, the stream must say the same of it.
    #[test]
    fn the_timeline_shows_a_target_as_the_stream_does(
        signed in date(),
        ops in proptest::collection::vec(op(), 0..14),
    ) {
        let s = convention_history(signed, None, &ops);
        let id = s.convention_id();
        let unknown = EventId(uuid(9_999));
        for upto in 1..=s.records.len() {
            let stream = &s.records[..upto];
            let timeline = AnyTimeline::Convention(
                incremental(stream, id, Seq::MAX).expect("a signing"),
            );
            let targets = std::iter::once(None)
                .chain(stream.iter().map(|r| Some(r.id)))
                .chain(std::iter::once(Some(unknown)));
            let mut shown = 0;
            for target in targets {
                if let Some(found) = target_in_timeline(&timeline, target) {
                    shown += 1;
                    let read = target_in_stream(id.into(), target, stream, &Labels);
                    prop_assert_eq!(read, Ok(found), "target {:?} after {} events", target, upto);
                }
            }
            // the signing is shown unless it was retracted
            let signing_void = stream
                .iter()
                .any(|r| matches!(&r.event, Event::Retracted(x) if x.target == stream[0].id));
            prop_assert!(signing_void || shown >= 2, "after {} events", upto);
        }
    }
}

// ------------------------------------------------------------ successions

/// Partners that successions may name: the convention's possible parties
/// (0..4) and a few more.
const PARTNERS: u64 = 7;

#[derive(Clone, Debug)]
enum SuccessionOp {
    Succeed {
        partner: u64,
        successors: Vec<u64>,
        date: PartialDate,
    },
    Correct {
        pick: usize,
        successors: Option<Vec<u64>>,
        date: Option<PartialDate>,
    },
    Retract {
        pick: usize,
    },
}

fn succession_op() -> impl Strategy<Value = SuccessionOp> {
    let successors = proptest::collection::vec(0..PARTNERS, 1..4);
    prop_oneof![
        4 => (0..PARTNERS, successors.clone(), date())
            .prop_map(|(partner, successors, date)| SuccessionOp::Succeed { partner, successors, date }),
        2 => (any::<usize>(), proptest::option::of(successors), proptest::option::of(date()))
            .prop_map(|(pick, successors, date)| SuccessionOp::Correct { pick, successors, date }),
        1 => any::<usize>().prop_map(|pick| SuccessionOp::Retract { pick }),
    ]
}

/// The partners' streams: a registration of each (seqs 1..=PARTNERS,
/// before the convention's first event at 10), then the ops at seqs
/// 15, 25, 35, … so that they interleave with the convention's events.
fn partner_history(ops: &[SuccessionOp]) -> Vec<EventRecord> {
    let mut out: Vec<EventRecord> = Vec::new();
    let mut versions = std::collections::HashMap::new();
    let mut push = |out: &mut Vec<EventRecord>, seq: u64, partner: u64, event: Event| -> EventId {
        let version = versions.entry(partner).or_insert(0u64);
        *version += 1;
        let id = EventId(uuid(50_000 + seq));
        out.push(EventRecord {
            seq: Seq(seq),
            id,
            entity: EntityId::Partner(party(partner)),
            version: *version,
            recorded_at: t0() + chrono::Duration::seconds(i64::try_from(seq).unwrap()),
            actor: Actor::new("tester").unwrap(),
            reason: None,
            source: None,
            prev_hash: Digest::GENESIS,
            hash: Digest::GENESIS,
            event,
        });
        id
    };
    for n in 0..PARTNERS {
        push(
            &mut out,
            n + 1,
            n,
            Event::PartnerRegistered(PartnerRegistered {
                name: PartnerName::new(format!("Partner {n}")).unwrap(),
                kind: PartnerKind::Region,
                short_name: None,
                country: None,
            }),
        );
    }
    // (event id, partner) of the successions and of everything retractable
    let mut successions: Vec<(EventId, u64)> = Vec::new();
    let mut retractable: Vec<(EventId, u64)> = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        let seq = 10 * (u64::try_from(i).unwrap() + 1) + 5;
        match op {
            SuccessionOp::Succeed {
                partner,
                successors,
                date,
            } => {
                let id = push(
                    &mut out,
                    seq,
                    *partner,
                    Event::PartnerSucceeded(PartnerSucceeded {
                        successors: successors.iter().copied().map(party).collect(),
                        effective_on: *date,
                    }),
                );
                successions.push((id, *partner));
                retractable.push((id, *partner));
            }
            SuccessionOp::Correct {
                pick,
                successors,
                date,
            } => {
                if successions.is_empty() {
                    continue;
                }
                let (target, partner) = successions[pick % successions.len()];
                let id = push(
                    &mut out,
                    seq,
                    partner,
                    Event::Corrected(Corrected {
                        target,
                        patch: Patch::PartnerSucceeded(PartnerSucceededPatch {
                            successors: successors
                                .as_ref()
                                .map(|s| s.iter().copied().map(party).collect()),
                            effective_on: *date,
                        }),
                    }),
                );
                retractable.push((id, partner));
            }
            SuccessionOp::Retract { pick } => {
                if retractable.is_empty() {
                    continue;
                }
                let (target, partner) = retractable[pick % retractable.len()];
                push(
                    &mut out,
                    seq,
                    partner,
                    Event::Retracted(Retracted { target }),
                );
            }
        }
    }
    out
}

/// Design §4 for one partner's successions at T, naively: its surviving
/// (non-void, corrected) successions, unless its registration is void,
/// with their seqs.
fn naive_successions(records: &[EventRecord], t: Seq) -> Vec<(PartnerId, Seq, PartnerSucceeded)> {
    let events: Vec<&EventRecord> = records.iter().filter(|e| e.seq <= t).collect();
    let void: HashSet<EventId> = events
        .iter()
        .filter_map(|e| match &e.event {
            Event::Retracted(r) => Some(r.target),
            _ => None,
        })
        .collect();
    let mut out = Vec::new();
    for e in &events {
        let EntityId::Partner(p) = e.entity else {
            continue;
        };
        let registration_void = events
            .iter()
            .any(|r| r.entity == e.entity && r.version == 1 && void.contains(&r.id));
        if registration_void || void.contains(&e.id) {
            continue;
        }
        if let Event::PartnerSucceeded(_) = &e.event {
            let corrected = events
                .iter()
                .filter(|c| !void.contains(&c.id))
                .filter_map(|c| match &c.event {
                    Event::Corrected(x) if x.target == e.id => Some(&x.patch),
                    _ => None,
                })
                .fold(e.event.clone(), |ev, patch| ev.patched(patch));
            if let Event::PartnerSucceeded(s) = corrected {
                out.push((p, e.seq, s));
            }
        }
    }
    out
}

/// Design §4 "Succession", naively: the convention's own view (the naive
/// fold above, which knows no succession) is recomputed in one pass over
/// its dated facts and every surviving succession, in order of
/// (effective_on.earliest, seq).
fn naive_with_successions(
    convention: &[EventRecord],
    partners: &[EventRecord],
    id: ConventionId,
    d: NaiveDate,
    t: Seq,
) -> Option<ConventionState> {
    let own = naive(convention, id, d, t)?;
    let events: Vec<&EventRecord> = convention.iter().filter(|e| e.seq <= t).collect();
    let void: HashSet<EventId> = events
        .iter()
        .filter_map(|e| match &e.event {
            Event::Retracted(r) => Some(r.target),
            _ => None,
        })
        .collect();
    let corrected = |e: &EventRecord| -> Event {
        events
            .iter()
            .filter(|c| !void.contains(&c.id))
            .filter_map(|c| match &c.event {
                Event::Corrected(x) if x.target == e.id => Some(&x.patch),
                _ => None,
            })
            .fold(e.event.clone(), |ev, patch| ev.patched(patch))
    };
    let Event::ConventionSigned(base) = corrected(events[0]) else {
        return None;
    };
    enum Fact {
        Own(Event),
        Succession(PartnerId, PartnerSucceeded),
    }
    let mut facts: Vec<(NaiveDate, Seq, Fact)> = events
        .iter()
        .skip(1)
        .filter(|e| !void.contains(&e.id))
        .filter(|e| matches!(e.event, Event::ConventionAmended(_)))
        .map(|e| {
            let ev = corrected(e);
            (ev.effective_on().unwrap().earliest(), e.seq, Fact::Own(ev))
        })
        .chain(
            naive_successions(partners, t)
                .into_iter()
                .map(|(p, seq, s)| (s.effective_on.earliest(), seq, Fact::Succession(p, s))),
        )
        .filter(|(earliest, _, _)| *earliest <= d)
        .collect();
    facts.sort_by_key(|(earliest, seq, _)| (*earliest, *seq));
    let mut parties: Vec<PartnerId> = base.parties.clone();
    let mut by: Vec<BySuccession> = Vec::new();
    let mut approximate = own.approximate;
    for (_, _, fact) in facts {
        match fact {
            Fact::Own(Event::ConventionAmended(a)) => {
                for p in a.parties_added {
                    if !parties.contains(&p) {
                        parties.push(p);
                    }
                }
                parties.retain(|p| !a.parties_removed.contains(p));
                by.retain(|b| !a.parties_removed.contains(&b.party));
            }
            Fact::Own(_) => unreachable!(),
            Fact::Succession(p, s) => {
                let Some(at) = parties.iter().position(|x| *x == p) else {
                    continue;
                };
                approximate |= s.effective_on.latest() > d;
                parties.remove(at);
                let mut via = by
                    .iter()
                    .find(|b| b.party == p)
                    .map(|b| b.via.clone())
                    .unwrap_or_default();
                by.retain(|b| b.party != p);
                via.push(p);
                let mut at = at;
                for q in s.successors {
                    if q == p {
                        continue;
                    }
                    if parties.contains(&q) {
                        if let Some(b) = by.iter_mut().find(|b| b.party == q) {
                            for x in &via {
                                if !b.via.contains(x) {
                                    b.via.push(*x);
                                }
                            }
                        }
                        continue;
                    }
                    parties.insert(at, q);
                    at += 1;
                    by.push(BySuccession {
                        party: q,
                        via: via.clone(),
                        since: s.effective_on,
                    });
                }
            }
        }
    }
    Some(ConventionState {
        parties,
        by_succession: by,
        approximate,
        ..own
    })
}

/// A partner's status at (D, T), naively: succeeded from its first
/// surviving succession (in order of date, then seq) that has begun by D.
fn naive_partner_status(
    partners: &[EventRecord],
    p: PartnerId,
    d: NaiveDate,
    t: Seq,
) -> (PartnerStatus, Vec<PartnerId>, bool) {
    let mut mine: Vec<(Seq, PartnerSucceeded)> = naive_successions(partners, t)
        .into_iter()
        .filter(|(x, _, s)| *x == p && s.effective_on.earliest() <= d)
        .map(|(_, seq, s)| (seq, s))
        .collect();
    mine.sort_by_key(|(seq, s)| (s.effective_on.earliest(), *seq));
    match mine.first() {
        Some((_, s)) => (
            PartnerStatus::Succeeded,
            s.successors.clone(),
            s.effective_on.latest() > d,
        ),
        None => (PartnerStatus::Active, Vec::new(), false),
    }
}

/// The production way: each partner's timeline folded one event at a
/// time, the successions gathered down the chains from the convention's
/// partners, then the one-pass fold.
fn production_with_successions(
    convention: &[EventRecord],
    partners: &[EventRecord],
    id: ConventionId,
    d: NaiveDate,
    t: Seq,
) -> Option<ConventionState> {
    let timeline = incremental(convention, id, t)?;
    let successions = successions_concerning(timeline.partners_ever(), |p| {
        partner_timeline(partners, p, t)
            .map(|tl| tl.successions())
            .unwrap_or_default()
    });
    timeline.state_at_with(d, &successions)
}

fn partner_timeline(partners: &[EventRecord], p: PartnerId, t: Seq) -> Option<PartnerTimeline> {
    let stream: Vec<EventRecord> = partners
        .iter()
        .filter(|r| r.entity == EntityId::Partner(p) && r.seq <= t)
        .cloned()
        .collect();
    if stream.is_empty() {
        return None;
    }
    let mut timeline: PartnerTimeline = Timeline::empty(p);
    for (i, r) in stream.iter().enumerate() {
        if timeline.record(r).is_err() {
            timeline = Timeline::replay(p, &stream[..=i], r.seq)?;
        }
    }
    Some(timeline)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn production_and_naive_folds_agree_with_successions(
        signed in date(),
        ops in proptest::collection::vec(op(), 0..10),
        succession_ops in proptest::collection::vec(succession_op(), 1..10),
    ) {
        let s = convention_history(signed, None, &ops);
        let partners = partner_history(&succession_ops);
        let id = s.convention_id();
        let mut all: Vec<EventRecord> = s.records.iter().chain(&partners).cloned().collect();
        all.sort_by_key(|r| r.seq);
        for (d, t) in points(&all, &days(&all, &[])) {
            let expected = naive_with_successions(&s.records, &partners, id, d, t);
            let produced = production_with_successions(&s.records, &partners, id, d, t);
            prop_assert_eq!(&produced, &expected, "convention at ({}, {:?})", d, t);
            for n in 0..PARTNERS {
                let p = party(n);
                let (status, successors, approximate) = naive_partner_status(&partners, p, d, t);
                let state = partner_timeline(&partners, p, t).and_then(|tl| tl.state_at(d));
                if let Some(state) = state {
                    prop_assert_eq!(state.status, status, "status of {} at ({}, {:?})", n, d, t);
                    prop_assert_eq!(&state.successors, &successors, "successors of {}", n);
                    prop_assert_eq!(state.approximate, approximate, "approximate {}", n);
                }
                // the replayed partner timeline is the cache the incremental one is
                prop_assert_eq!(
                    partner_timeline(&partners, p, t),
                    {
                        let stream: Vec<&EventRecord> =
                            partners.iter().filter(|r| r.entity == EntityId::Partner(p)).collect();
                        PartnerTimeline::replay(p, stream, t)
                    }
                );
            }
        }
    }
}
