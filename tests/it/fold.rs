//! Folding, rule by rule (`docs/model.md` §3–4): each test gives a small stream,
//! folds it at a point (D, T), and checks the view.

use pactum::domain::*;

use crate::support::*;

fn sign(s: &mut Stream, date: &str, objectives: &str) -> EventId {
    s.push(Event::ConventionSigned(signed(
        &[party(1)],
        date,
        objectives,
    )))
}

fn objectives(v: &Option<ConventionState>) -> Option<&str> {
    v.as_ref().map(|s| s.objectives.as_str())
}

#[test]
fn a_year_counts_from_its_first_day_and_is_approximate_until_its_last() {
    let mut s = Stream::convention();
    sign(&mut s, "2009", "o");
    let cases = [
        ("2008-12-31", None),
        ("2009-01-01", Some(true)),
        ("2009-06-01", Some(true)),
        ("2009-12-31", Some(false)),
        ("2030-01-01", Some(false)),
    ];
    for (d, expect) in cases {
        let view = s.convention_at(d, Seq::MAX);
        assert_eq!(view.map(|v| v.approximate), expect, "as of {d}");
    }
}

#[test]
fn events_recorded_after_t_play_no_part() {
    let mut s = Stream::convention();
    sign(&mut s, "2005", "first");
    let mut a = amended("2006");
    a.objectives = Some(Objectives::new("second").unwrap());
    let amendment = s.push(Event::ConventionAmended(a));
    let before = Seq(s.seq_of(amendment).0 - 1);
    assert_eq!(
        objectives(&s.convention_at("2010-01-01", before)),
        Some("first")
    );
    assert_eq!(
        objectives(&s.convention_at("2010-01-01", Seq::MAX)),
        Some("second")
    );
    // nothing at all exists before the signing was recorded
    assert!(s.convention_at("2010-01-01", Seq(0)).is_none());
}

#[test]
fn amendments_apply_from_their_effective_date_only() {
    let mut s = Stream::convention();
    sign(&mut s, "2005", "first");
    let mut a = amended("2008-03");
    a.objectives = Some(Objectives::new("second").unwrap());
    s.push(Event::ConventionAmended(a));
    assert_eq!(
        objectives(&s.convention_at("2008-02-29", Seq::MAX)),
        Some("first")
    );
    let during = s.convention_at("2008-03-10", Seq::MAX).unwrap();
    assert_eq!(during.objectives.as_str(), "second");
    assert!(
        during.approximate,
        "the amendment's month straddles the day"
    );
    assert!(!s.convention_at("2008-03-31", Seq::MAX).unwrap().approximate);
}

#[test]
fn amendments_apply_in_effective_date_order_then_seq_order() {
    let mut s = Stream::convention();
    sign(&mut s, "2000", "v0");
    // recorded first, effective later
    let mut late = amended("2010");
    late.objectives = Some(Objectives::new("late").unwrap());
    s.push(Event::ConventionAmended(late));
    // recorded second, effective earlier
    let mut early = amended("2005");
    early.objectives = Some(Objectives::new("early").unwrap());
    s.push(Event::ConventionAmended(early));
    // same date as `late`, recorded after it: wins on that date
    let mut same = amended("2010");
    same.objectives = Some(Objectives::new("same-date, later seq").unwrap());
    s.push(Event::ConventionAmended(same));
    assert_eq!(
        objectives(&s.convention_at("2006-01-01", Seq::MAX)),
        Some("early")
    );
    assert_eq!(
        objectives(&s.convention_at("2011-01-01", Seq::MAX)),
        Some("same-date, later seq")
    );
}

#[test]
fn a_retracted_event_plays_no_part_from_the_retraction_on() {
    let mut s = Stream::convention();
    sign(&mut s, "2005", "first");
    let mut a = amended("2006");
    a.objectives = Some(Objectives::new("filed on the wrong convention").unwrap());
    let amendment = s.push(Event::ConventionAmended(a));
    let retraction = s.push(Event::Retracted(Retracted { target: amendment }));
    let before = Seq(s.seq_of(retraction).0 - 1);
    assert_eq!(
        objectives(&s.convention_at("2010-01-01", before)),
        Some("filed on the wrong convention")
    );
    assert_eq!(
        objectives(&s.convention_at("2010-01-01", Seq::MAX)),
        Some("first")
    );
}

#[test]
fn a_retracted_signing_means_the_convention_exists_nowhere() {
    let mut s = Stream::convention();
    let signing = sign(&mut s, "2005", "duplicate");
    s.push(Event::Retracted(Retracted { target: signing }));
    for d in ["2004-01-01", "2005-06-01", "2099-01-01"] {
        assert!(s.convention_at(d, Seq::MAX).is_none(), "{d}");
    }
}

#[test]
fn corrections_overwrite_field_by_field_and_the_later_wins() {
    let mut s = Stream::convention();
    let signing = sign(&mut s, "2005", "La mise place");
    s.push(Event::Corrected(Corrected {
        target: signing,
        patch: Patch::ConventionSigned(ConventionSignedPatch {
            objectives: Some(Objectives::new("La mise en plac").unwrap()),
            signed_on: Some(pd("2006")),
            ..Default::default()
        }),
    }));
    s.push(Event::Corrected(Corrected {
        target: signing,
        patch: Patch::ConventionSigned(ConventionSignedPatch {
            objectives: Some(Objectives::new("La mise en place").unwrap()),
            ..Default::default()
        }),
    }));
    let now = s.convention_at("2010-01-01", Seq::MAX).unwrap();
    assert_eq!(now.objectives.as_str(), "La mise en place");
    assert_eq!(
        now.signed_on,
        pd("2006"),
        "the first correction's other field stays"
    );
    assert_eq!(now.parties, vec![party(1)], "untouched fields stay");
    // the corrected date decides existence
    assert!(s.convention_at("2005-06-01", Seq::MAX).is_none());
}

#[test]
fn a_retracted_correction_plays_no_part() {
    let mut s = Stream::convention();
    let signing = sign(&mut s, "2005", "right");
    let correction = s.push(Event::Corrected(Corrected {
        target: signing,
        patch: Patch::ConventionSigned(ConventionSignedPatch {
            objectives: Some(Objectives::new("wrong fix").unwrap()),
            ..Default::default()
        }),
    }));
    s.push(Event::Retracted(Retracted { target: correction }));
    assert_eq!(
        objectives(&s.convention_at("2010-01-01", Seq::MAX)),
        Some("right")
    );
}

#[test]
fn correcting_an_amendments_date_moves_it() {
    let mut s = Stream::convention();
    sign(&mut s, "2005", "first");
    let mut a = amended("2012");
    a.objectives = Some(Objectives::new("second").unwrap());
    let amendment = s.push(Event::ConventionAmended(a));
    s.push(Event::Corrected(Corrected {
        target: amendment,
        patch: Patch::ConventionAmended(ConventionAmendedPatch {
            effective_on: Some(pd("2008-07-01")),
            ..Default::default()
        }),
    }));
    let mid = s.convention_at("2010-01-01", Seq::MAX).unwrap();
    assert_eq!(mid.objectives.as_str(), "second");
    assert!(!mid.approximate);
}

#[test]
fn a_correction_of_a_void_event_plays_no_part() {
    let mut s = Stream::convention();
    sign(&mut s, "2005", "first");
    let mut a = amended("2006");
    a.objectives = Some(Objectives::new("second").unwrap());
    let amendment = s.push(Event::ConventionAmended(a));
    s.push(Event::Retracted(Retracted { target: amendment }));
    s.push(Event::Corrected(Corrected {
        target: amendment,
        patch: Patch::ConventionAmended(ConventionAmendedPatch {
            objectives: Some(Some(Objectives::new("third").unwrap())),
            ..Default::default()
        }),
    }));
    assert_eq!(
        objectives(&s.convention_at("2010-01-01", Seq::MAX)),
        Some("first")
    );
}

#[test]
fn a_termination_sets_the_status_from_its_date() {
    let mut s = Stream::convention();
    sign(&mut s, "2005", "o");
    s.push(Event::ConventionTerminated(ConventionTerminated {
        effective_on: pd("2012-06"),
        kind: TerminationKind::Terminated,
    }));
    let status = |d| {
        s.convention_at(d, Seq::MAX)
            .map(|v| (v.status, v.approximate))
    };
    assert_eq!(status("2012-05-31"), Some((Status::InForce, false)));
    assert_eq!(status("2012-06-15"), Some((Status::Terminated, true)));
    assert_eq!(status("2013-01-01"), Some((Status::Terminated, false)));
}

#[test]
fn an_expiry_date_expires_the_convention_and_straddling_is_approximate() {
    let mut s = Stream::convention();
    let mut payload = signed(&[party(1)], "2005", "o");
    payload.expires_on = Some(pd("2010"));
    s.push(Event::ConventionSigned(payload));
    let status = |d| {
        s.convention_at(d, Seq::MAX)
            .map(|v| (v.status, v.approximate))
    };
    assert_eq!(status("2009-12-31"), Some((Status::InForce, false)));
    assert_eq!(status("2010-03-01"), Some((Status::Expired, true)));
    assert_eq!(status("2011-01-01"), Some((Status::Expired, false)));
}

#[test]
fn an_amendment_can_clear_the_expiry_and_change_the_parties() {
    let mut s = Stream::convention();
    let mut payload = signed(&[party(1), party(2)], "2005", "o");
    payload.expires_on = Some(pd("2010"));
    s.push(Event::ConventionSigned(payload));
    let mut a = amended("2009");
    a.expiry = Some(ExpiryChange::Cleared);
    a.parties_added = vec![party(3)];
    a.parties_removed = vec![party(1)];
    a.instrument = Some(Instrument::Agreement);
    s.push(Event::ConventionAmended(a));
    let later = s.convention_at("2015-01-01", Seq::MAX).unwrap();
    assert_eq!(later.status, Status::InForce);
    assert_eq!(later.expires_on, None);
    assert_eq!(later.parties, vec![party(2), party(3)]);
    assert_eq!(later.instrument, Instrument::Agreement);
    let before = s.convention_at("2008-01-01", Seq::MAX).unwrap();
    assert_eq!(before.parties, vec![party(1), party(2)]);
}

#[test]
fn a_termination_of_kind_expired_reads_as_expired() {
    let mut s = Stream::convention();
    sign(&mut s, "2005", "o");
    s.push(Event::ConventionTerminated(ConventionTerminated {
        effective_on: pd("2011-12-31"),
        kind: TerminationKind::Expired,
    }));
    let v = s.convention_at("2012-01-01", Seq::MAX).unwrap();
    assert_eq!(
        (v.status, v.ended_on),
        (Status::Expired, Some(pd("2011-12-31")))
    );
}

#[test]
fn a_partner_exists_at_every_date_and_renames_apply_from_their_date() {
    let mut s = Stream::partner();
    s.push(Event::PartnerRegistered(PartnerRegistered {
        name: PartnerName::new("Tanger-Tétouan").unwrap(),
        kind: PartnerKind::Region,
        short_name: None,
        country: None,
    }));
    s.push(Event::PartnerRenamed(PartnerRenamed {
        new_name: PartnerName::new("Tanger-Tétouan-Al Hoceïma").unwrap(),
        short_name: None,
        effective_on: pd("2015-09"),
    }));
    let name = |d| {
        s.partner_at(d, Seq::MAX)
            .map(|p| (p.name.to_string(), p.approximate))
    };
    assert_eq!(name("1900-01-01"), Some(("Tanger-Tétouan".into(), false)));
    assert_eq!(
        name("2015-09-10"),
        Some(("Tanger-Tétouan-Al Hoceïma".into(), true))
    );
    assert_eq!(
        name("2016-01-01"),
        Some(("Tanger-Tétouan-Al Hoceïma".into(), false))
    );
    assert_eq!(s.partner_at("2016-01-01", Seq::MAX).unwrap().version, 2);
}

#[test]
fn the_version_counts_every_event_at_or_before_t_void_ones_included() {
    let mut s = Stream::convention();
    sign(&mut s, "2005", "o");
    let a = s.push(Event::ConventionAmended({
        let mut a = amended("2006");
        a.objectives = Some(Objectives::new("x").unwrap());
        a
    }));
    s.push(Event::Retracted(Retracted { target: a }));
    assert_eq!(s.convention_at("2010-01-01", Seq::MAX).unwrap().version, 3);
    assert_eq!(
        s.convention_at("2010-01-01", s.seq_of(a)).unwrap().version,
        2
    );
}

#[test]
fn incremental_folding_agrees_with_replay_even_after_a_retracted_correction() {
    let mut s = Stream::convention();
    let signing = sign(&mut s, "2005", "right");
    let correction = s.push(Event::Corrected(Corrected {
        target: signing,
        patch: Patch::ConventionSigned(ConventionSignedPatch {
            objectives: Some(Objectives::new("wrong fix").unwrap()),
            ..Default::default()
        }),
    }));
    s.push(Event::Retracted(Retracted { target: correction }));
    let mut incremental = ConventionTimeline::empty(s.convention_id());
    let mut needed_replay = false;
    for r in &s.records {
        if incremental.record(r).is_err() {
            needed_replay = true;
            incremental = ConventionTimeline::replay(s.convention_id(), &s.records, r.seq).unwrap();
        }
    }
    assert!(
        needed_replay,
        "retracting an applied correction asks for a replay"
    );
    assert_eq!(
        incremental,
        ConventionTimeline::replay(s.convention_id(), &s.records, Seq::MAX).unwrap()
    );
}

#[test]
fn a_timeline_forgets_corrections_of_events_retracted_later() {
    // Regression: incremental folding kept such a correction listed, so the
    // cached timeline depended on how it was built and `verify` could find
    // a sound projection different from a rebuild.
    let mut s = Stream::convention();
    sign(&mut s, "2005", "o");
    let mut a = amended("2006");
    a.objectives = Some(Objectives::new("x").unwrap());
    let amendment = s.push(Event::ConventionAmended(a));
    s.push(Event::Corrected(Corrected {
        target: amendment,
        patch: Patch::ConventionAmended(ConventionAmendedPatch {
            effective_on: Some(pd("2007")),
            ..Default::default()
        }),
    }));
    s.push(Event::Retracted(Retracted { target: amendment }));
    let mut incremental = ConventionTimeline::empty(s.convention_id());
    for r in &s.records {
        incremental.record(r).unwrap();
    }
    let replayed = ConventionTimeline::replay(s.convention_id(), &s.records, Seq::MAX).unwrap();
    assert!(replayed.corrections.is_empty());
    assert_eq!(incremental, replayed);
}
