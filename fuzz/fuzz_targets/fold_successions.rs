//! Folding on arbitrary histories: bytes are read as a script of events
//! over a few partners and one convention (signings, amendments, renames,
//! successions, corrections of any of them, retractions), with no rule
//! enforced (a partner succeeded twice, by itself, in a cycle). Folding
//! never panics, the incremental fold equals the replay, and a
//! convention's parties at any date are never doubled.
#![no_main]

use std::collections::HashSet;

use chrono::{NaiveDate, TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use pactum::domain::timeline::Timeline;
use pactum::domain::*;
use uuid::Uuid;

const PARTNERS: u8 = 5;

fn partner(n: u8) -> PartnerId {
    PartnerId(Uuid::from_u64_pair(1, u64::from(n % PARTNERS)))
}

fn date(b: u8, c: u8) -> PartialDate {
    let year = 2000 + u16::from(b % 30);
    match c % 3 {
        0 => PartialDate::year(year.into()),
        1 => PartialDate::month(year.into(), u32::from(c % 12) + 1),
        _ => PartialDate::day(year.into(), u32::from(c % 12) + 1, u32::from(b % 28) + 1),
    }
    .expect("a valid date")
}

fn record(seq: u64, entity: EntityId, event: Event) -> EventRecord {
    EventRecord {
        seq: Seq(seq),
        id: EventId(Uuid::from_u64_pair(2, seq)),
        entity,
        version: 0,
        recorded_at: Utc.timestamp_opt(1_700_000_000, 0).single().expect("a time"),
        actor: Actor::new("fuzz").expect("an actor"),
        reason: None,
        source: None,
        prev_hash: Digest::GENESIS,
        hash: Digest::GENESIS,
        event,
    }
}

fuzz_target!(|data: &[u8]| {
    let convention = EntityId::Convention(ConventionId(Uuid::from_u64_pair(3, 0)));
    let mut log: Vec<EventRecord> = Vec::new();
    for n in 0..PARTNERS {
        let seq = log.len() as u64 + 1;
        log.push(record(
            seq,
            EntityId::Partner(partner(n)),
            Event::PartnerRegistered(PartnerRegistered {
                name: PartnerName::new(format!("P{n}")).expect("a name"),
                kind: PartnerKind::Region,
                short_name: None,
                country: None,
            }),
        ));
    }
    let seq = log.len() as u64 + 1;
    log.push(record(
        seq,
        convention,
        Event::ConventionSigned(ConventionSigned {
            instrument: Instrument::Convention,
            parties: vec![partner(0), partner(1)],
            signed_on: date(data.first().copied().unwrap_or(5), 0),
            objectives: Objectives::new("o").expect("objectives"),
            expires_on: None,
            official_ref: None,
        }),
    ));
    for chunk in data.chunks_exact(4) {
        let [op, a, b, c] = [chunk[0], chunk[1], chunk[2], chunk[3]];
        let seq = log.len() as u64 + 1;
        let pick = |filter: &dyn Fn(&EventRecord) -> bool| {
            let found: Vec<&EventRecord> = log.iter().filter(|r| filter(r)).collect();
            (!found.is_empty()).then(|| found[usize::from(a) % found.len()].clone())
        };
        let next = match op % 6 {
            0 => record(
                seq,
                EntityId::Partner(partner(a)),
                Event::PartnerSucceeded(PartnerSucceeded {
                    successors: (0..=(c % 3)).map(|i| partner(b.wrapping_add(i))).collect(),
                    effective_on: date(b, c),
                }),
            ),
            1 => {
                let mut amendment = ConventionAmended {
                    effective_on: date(b, c),
                    amendment_ref: None,
                    objectives: None,
                    parties_added: Vec::new(),
                    parties_removed: Vec::new(),
                    expiry: None,
                    instrument: None,
                };
                if c % 2 == 0 {
                    amendment.parties_added.push(partner(a));
                } else {
                    amendment.parties_removed.push(partner(a));
                }
                record(seq, convention, Event::ConventionAmended(amendment))
            }
            2 => match pick(&|r| matches!(r.event, Event::PartnerSucceeded(_))) {
                Some(target) => record(
                    seq,
                    target.entity,
                    Event::Corrected(Corrected {
                        target: target.id,
                        patch: Patch::PartnerSucceeded(PartnerSucceededPatch {
                            successors: (c % 2 == 0).then(|| vec![partner(b)]),
                            effective_on: (c % 3 != 0).then(|| date(c, b)),
                        }),
                    }),
                ),
                None => continue,
            },
            3 => match pick(&|r| !matches!(r.event, Event::Retracted(_))) {
                Some(target) => record(
                    seq,
                    target.entity,
                    Event::Retracted(Retracted { target: target.id }),
                ),
                None => continue,
            },
            4 => record(
                seq,
                EntityId::Partner(partner(a)),
                Event::PartnerRenamed(PartnerRenamed {
                    new_name: PartnerName::new(format!("R{b}")).expect("a name"),
                    short_name: None,
                    effective_on: date(b, c),
                }),
            ),
            _ => match pick(&|r| matches!(r.event, Event::ConventionAmended(_))) {
                Some(target) => record(
                    seq,
                    convention,
                    Event::Corrected(Corrected {
                        target: target.id,
                        patch: Patch::ConventionAmended(ConventionAmendedPatch {
                            effective_on: Some(date(c, b)),
                            ..Default::default()
                        }),
                    }),
                ),
                None => continue,
            },
        };
        log.push(next);
    }
    // versions per stream, as the store would number them
    let mut versions = std::collections::HashMap::new();
    for r in &mut log {
        let v = versions.entry(r.entity).or_insert(0u64);
        *v += 1;
        r.version = *v;
    }
    let head = Seq(log.len() as u64);
    let timeline_of = |p: PartnerId| -> Option<PartnerTimeline> {
        let stream: Vec<&EventRecord> = log.iter().filter(|r| r.entity == EntityId::Partner(p)).collect();
        let replayed = PartnerTimeline::replay(p, stream.iter().copied(), head);
        let mut incremental: PartnerTimeline = Timeline::empty(p);
        for (i, r) in stream.iter().enumerate() {
            if incremental.record(r).is_err() {
                incremental = PartnerTimeline::replay(p, stream[..=i].iter().copied(), r.seq)?;
            }
        }
        assert_eq!(replayed.as_ref(), Some(&incremental), "partner timelines differ");
        replayed
    };
    let EntityId::Convention(cid) = convention else {
        return;
    };
    let stream: Vec<&EventRecord> = log.iter().filter(|r| r.entity == convention).collect();
    let Some(timeline) = ConventionTimeline::replay(cid, stream.iter().copied(), head) else {
        return;
    };
    let successions = successions_concerning(timeline.partners_ever(), |p| {
        timeline_of(p).map(|t| t.successions()).unwrap_or_default()
    });
    for year in [2000, 2010, 2015, 2020, 2031] {
        let d = NaiveDate::from_ymd_opt(year, 6, 30).expect("a day");
        if let Some(state) = timeline.state_at_with(d, &successions) {
            let unique: HashSet<&PartnerId> = state.parties.iter().collect();
            assert_eq!(unique.len(), state.parties.len(), "a party is doubled");
            for b in &state.by_succession {
                assert!(state.parties.contains(&b.party), "a via without its party");
            }
        }
        for n in 0..PARTNERS {
            let _ = timeline_of(partner(n)).and_then(|t| t.state_at(d));
        }
    }
});
