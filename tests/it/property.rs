//! Folding two ways: random histories (corrections, retractions, partial
//! dates, out-of-order effective dates) folded by the production code
//! (incremental `record`, with a replay where it asks for one, then
//! `state_at`) and by a naive reference written straight from design §4
//! must give the same view at every (D, T). And what decide reads of a
//! correction's or retraction's target from the timeline is what the raw
//! stream says of it.

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
