//! Succession, rule by rule: given a registry of partners and conventions,
//! when a partner is succeeded (split, merger, chain), amended, corrected or
//! retracted, then exactly these parties at these points, these refusals,
//! and these views. Library-level through `Registry` (decide, fold, reads),
//! then a few runs of the binary.

use pactum::app::{AppError, Point, Written};
use pactum::domain::decide::{Command, CorrectionFields, Refusal};
use pactum::domain::*;

use crate::support::*;

/// Records that `partner` ceased on `date` and `successors` took over.
fn succeed(
    r: &Reg,
    partner: PartnerId,
    successors: &[PartnerId],
    date: &str,
) -> Result<Written, AppError> {
    r.exec(
        Command::SucceedPartner(
            partner,
            PartnerSucceeded {
                successors: successors.to_vec(),
                effective_on: pd(date),
            },
        ),
        Some("regional reform"),
    )
}

fn refusal(result: Result<Written, AppError>) -> Refusal {
    match result {
        Err(AppError::Refused { refusal, .. }) => refusal,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn point(r: &Reg, as_of: &str, recorded: Option<Seq>) -> Point {
    let recorded = recorded.map(|s| format!("#{}", s.0));
    r.registry
        .point(Some(as_of.parse().unwrap()), recorded.as_deref())
        .unwrap()
}

/// The parties as of `as_of`, each with its via and since.
fn parties(
    r: &Reg,
    c: ConventionId,
    as_of: &str,
) -> Vec<(PartnerId, Vec<PartnerId>, Option<PartialDate>)> {
    parties_recorded(r, c, as_of, None)
}

fn parties_recorded(
    r: &Reg,
    c: ConventionId,
    as_of: &str,
    recorded: Option<Seq>,
) -> Vec<(PartnerId, Vec<PartnerId>, Option<PartialDate>)> {
    let view = r
        .registry
        .snapshot(point(r, as_of, recorded))
        .convention(c)
        .unwrap()
        .expect("the convention exists");
    view.parties
        .iter()
        .map(|p| (p.id, p.via.iter().map(|q| q.id).collect(), p.since))
        .collect()
}

fn direct(p: PartnerId) -> (PartnerId, Vec<PartnerId>, Option<PartialDate>) {
    (p, Vec::new(), None)
}

fn by(
    p: PartnerId,
    via: &[PartnerId],
    since: &str,
) -> (PartnerId, Vec<PartnerId>, Option<PartialDate>) {
    (p, via.to_vec(), Some(pd(since)))
}

fn regions(r: &Reg, names: &[&str]) -> Vec<PartnerId> {
    names
        .iter()
        .map(|n| r.partner(n, PartnerKind::Region))
        .collect()
}

fn succession_event(r: &Reg, partner: PartnerId) -> EventId {
    r.registry
        .store()
        .stream(partner.into())
        .unwrap()
        .iter()
        .rev()
        .find(|e| matches!(e.event, Event::PartnerSucceeded(_)))
        .expect("a succession")
        .id
}

#[test]
fn a_split_puts_every_successor_in_the_predecessors_place_from_its_date() {
    let r = Reg::new();
    let [mt, fm, dt, other] = regions(
        &r,
        &[
            "Meknès-Tafilalet",
            "Fès-Meknès",
            "Drâa-Tafilalet",
            "Oriental",
        ],
    )[..] else {
        unreachable!()
    };
    let c = r.sign(&[other, mt], "2005", "objectives");
    succeed(&r, mt, &[fm, dt], "2015-09-04").unwrap();
    assert_eq!(
        parties(&r, c, "2015-09-03"),
        vec![direct(other), direct(mt)]
    );
    assert_eq!(
        parties(&r, c, "2015-09-04"),
        vec![
            direct(other),
            by(fm, &[mt], "2015-09-04"),
            by(dt, &[mt], "2015-09-04")
        ]
    );
    // the partner's own view
    let snapshot = r.registry.snapshot(point(&r, "2016", None));
    let view = snapshot.partner(mt).unwrap().unwrap();
    assert_eq!(view.state.status, PartnerStatus::Succeeded);
    assert_eq!(view.state.successors, vec![fm, dt]);
    assert_eq!(view.state.succeeded_on, Some(pd("2015-09-04")));
    let successor = snapshot.partner(fm).unwrap().unwrap();
    assert_eq!(successor.state.status, PartnerStatus::Active);
    assert_eq!(
        successor
            .predecessors
            .iter()
            .map(|p| p.id)
            .collect::<Vec<_>>(),
        vec![mt]
    );
    // the successor has the convention by succession; the predecessor no longer
    let of = |p| {
        snapshot
            .conventions_of(p)
            .unwrap()
            .iter()
            .map(|v| v.state.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(of(fm), vec![c]);
    assert_eq!(of(dt), vec![c]);
    assert!(of(mt).is_empty());
    let before = r.registry.snapshot(point(&r, "2014", None));
    assert_eq!(
        before.partner(mt).unwrap().unwrap().state.status,
        PartnerStatus::Active
    );
    assert!(before.partner(fm).unwrap().unwrap().predecessors.is_empty());
    assert_eq!(
        before
            .conventions_of(mt)
            .unwrap()
            .iter()
            .map(|v| v.state.id)
            .collect::<Vec<_>>(),
        vec![c]
    );
}

#[test]
fn a_merger_names_the_successor_once_with_every_predecessor() {
    let r = Reg::new();
    let [fb, mt, fm] = regions(&r, &["Fès-Boulemane", "Meknès-Tafilalet", "Fès-Meknès"])[..]
    else {
        unreachable!()
    };
    let c = r.sign(&[fb, mt], "2006", "charte");
    succeed(&r, fb, &[fm], "2015-09-04").unwrap();
    succeed(&r, mt, &[fm], "2015-09-04").unwrap();
    assert_eq!(
        parties(&r, c, "2016"),
        vec![by(fm, &[fb, mt], "2015-09-04")]
    );
    // a successor that was already a party directly stays direct
    let c2 = r.sign(&[fm, mt], "2016", "later");
    assert_eq!(parties(&r, c2, "2016"), vec![direct(fm)]);
}

#[test]
fn successions_chain_and_each_step_applies_from_its_own_date() {
    let r = Reg::new();
    let [p, q, s] = regions(&r, &["Old", "Middle", "New"])[..] else {
        unreachable!()
    };
    let c = r.sign(&[p], "2005", "objectives");
    succeed(&r, p, &[q], "2010").unwrap();
    succeed(&r, q, &[s], "2020").unwrap();
    assert_eq!(parties(&r, c, "2009"), vec![direct(p)]);
    assert_eq!(parties(&r, c, "2015"), vec![by(q, &[p], "2010")]);
    assert_eq!(parties(&r, c, "2021"), vec![by(s, &[p, q], "2020")]);
    let snapshot = r.registry.snapshot(point(&r, "2021", None));
    let view = snapshot.partner(s).unwrap().unwrap();
    assert_eq!(
        view.predecessors.iter().map(|x| x.id).collect::<Vec<_>>(),
        vec![q, p]
    );
    let list = snapshot
        .conventions(&pactum::app::ConventionFilter {
            partner: Some(s),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(snapshot.conventions_of(s).unwrap().len(), 1);
}

#[test]
fn a_convention_signed_with_a_partner_after_its_succession_has_the_successors_from_its_signing() {
    let r = Reg::new();
    let [p, q] = regions(&r, &["Old", "New"])[..] else {
        unreachable!()
    };
    succeed(&r, p, &[q], "2015").unwrap();
    let c = r.sign(&[p], "2016-03-01", "recorded late");
    assert!(r.convention_at(c, "2016-02-28", None).is_none());
    assert_eq!(parties(&r, c, "2016-03-01"), vec![by(q, &[p], "2015")]);
    // the parties as signed stay in the record
    let history = r
        .registry
        .history(c.into(), &point(&r, "2030", None))
        .unwrap();
    assert!(matches!(
        &history[0].record.event,
        Event::ConventionSigned(s) if s.parties == vec![p]
    ));
}

#[test]
fn an_amendment_may_remove_a_party_that_is_there_by_succession() {
    let r = Reg::new();
    let [p, q1, q2] = regions(&r, &["Old", "North", "South"])[..] else {
        unreachable!()
    };
    let c = r.sign(&[p], "2005", "objectives");
    succeed(&r, p, &[q1, q2], "2015").unwrap();
    // the predecessor is no longer a party after the succession
    let mut gone = amended("2017");
    gone.parties_removed = vec![p];
    assert!(matches!(
        refusal(r.exec(Command::AmendConvention(c, gone), None)),
        Refusal::NotAParty(_)
    ));
    // nor can a successor be added again
    let mut again = amended("2017");
    again.parties_added = vec![q1];
    assert!(matches!(
        refusal(r.exec(Command::AmendConvention(c, again), None)),
        Refusal::AlreadyParty(_)
    ));
    let mut a = amended("2017");
    a.parties_removed = vec![q2];
    r.exec(Command::AmendConvention(c, a), None).unwrap();
    assert_eq!(
        parties(&r, c, "2016"),
        vec![by(q1, &[p], "2015"), by(q2, &[p], "2015")]
    );
    assert_eq!(parties(&r, c, "2018"), vec![by(q1, &[p], "2015")]);
    // before the succession, removing the predecessor is still an amendment
    let mut early = amended("2010");
    early.parties_added = vec![q2];
    r.exec(Command::AmendConvention(c, early), None).unwrap();
    assert_eq!(parties(&r, c, "2011"), vec![direct(p), direct(q2)]);
    // q2 was there directly when p's succession came: not doubled, stays
    // direct; q1 takes p's place
    assert_eq!(
        parties(&r, c, "2016"),
        vec![by(q1, &[p], "2015"), direct(q2)]
    );
}

#[test]
fn correcting_a_successions_date_moves_it_across_d_and_the_past_record_keeps_it() {
    let r = Reg::new();
    let [p, q] = regions(&r, &["Old", "New"])[..] else {
        unreachable!()
    };
    let c = r.sign(&[p], "2005", "objectives");
    succeed(&r, p, &[q], "2015").unwrap();
    let before_fix = r.head();
    let fields = CorrectionFields {
        effective_on: Some(pd("2017")),
        ..Default::default()
    };
    r.exec(
        Command::Correct {
            entity: p.into(),
            target: Some(succession_event(&r, p)),
            fields,
        },
        Some("the reform took effect later"),
    )
    .unwrap();
    assert_eq!(parties(&r, c, "2016"), vec![direct(p)]);
    assert_eq!(parties(&r, c, "2017"), vec![by(q, &[p], "2017")]);
    // as recorded before the correction, 2016 had the successor
    assert_eq!(
        parties_recorded(&r, c, "2016", Some(before_fix)),
        vec![by(q, &[p], "2015")]
    );
    // correcting the successors replaces the whole list
    let [s] = regions(&r, &["Other"])[..] else {
        unreachable!()
    };
    let fields = CorrectionFields {
        successors: Some(vec![s]),
        ..Default::default()
    };
    r.exec(
        Command::Correct {
            entity: p.into(),
            target: Some(succession_event(&r, p)),
            fields,
        },
        Some("wrong successor"),
    )
    .unwrap();
    assert_eq!(parties(&r, c, "2018"), vec![by(s, &[p], "2017")]);
}

#[test]
fn a_retracted_succession_plays_no_part_and_the_partner_may_be_succeeded_again() {
    let r = Reg::new();
    let [p, q, s] = regions(&r, &["Old", "New", "Other"])[..] else {
        unreachable!()
    };
    let c = r.sign(&[p], "2005", "objectives");
    succeed(&r, p, &[q], "2015").unwrap();
    assert!(matches!(
        refusal(succeed(&r, p, &[s], "2016")),
        Refusal::AlreadySucceeded { .. }
    ));
    r.exec(
        Command::Retract {
            entity: p.into(),
            target: succession_event(&r, p),
        },
        Some("recorded on the wrong partner"),
    )
    .unwrap();
    assert_eq!(parties(&r, c, "2020"), vec![direct(p)]);
    let snapshot = r.registry.snapshot(point(&r, "2020", None));
    assert_eq!(
        snapshot.partner(p).unwrap().unwrap().state.status,
        PartnerStatus::Active
    );
    succeed(&r, p, &[s], "2016").unwrap();
    assert_eq!(parties(&r, c, "2020"), vec![by(s, &[p], "2016")]);
}

#[test]
fn a_partial_succession_date_that_straddles_d_makes_the_view_approximate() {
    let r = Reg::new();
    let [p, q] = regions(&r, &["Old", "New"])[..] else {
        unreachable!()
    };
    let c = r.sign(&[p], "2005-03-01", "objectives");
    succeed(&r, p, &[q], "2015").unwrap();
    let at = |d: &str| r.convention_at(c, d, None).unwrap();
    assert!(!at("2014-12-31").approximate);
    assert_eq!(at("2014-12-31").parties, vec![p]);
    assert!(at("2015-06-30").approximate);
    assert_eq!(at("2015-06-30").parties, vec![q]);
    assert!(!at("2015-12-31").approximate);
    let snapshot = r.registry.snapshot(point(&r, "2015-06-30", None));
    assert!(snapshot.partner(p).unwrap().unwrap().state.approximate);
}

#[test]
fn decide_refuses_what_a_succession_cannot_be() {
    let r = Reg::new();
    let [p, q, s] = regions(&r, &["Old", "New", "Other"])[..] else {
        unreachable!()
    };
    // the partner itself
    assert!(matches!(
        refusal(succeed(&r, p, &[q, p], "2015")),
        Refusal::SelfSuccession(_)
    ));
    // no successor
    assert_eq!(refusal(succeed(&r, p, &[], "2015")), Refusal::NoSuccessor);
    // an unknown successor (exit 3) or partner
    let ghost = PartnerId(r.registry.new_id());
    let unknown = refusal(succeed(&r, p, &[ghost], "2015"));
    assert!(matches!(unknown, Refusal::UnknownPartner(_)));
    assert_eq!(
        AppError::from(unknown).exit_code(),
        3,
        "an unknown successor is a reference to nothing"
    );
    assert!(matches!(
        refusal(succeed(&r, ghost, &[q], "2015")),
        Refusal::NoSuchEntity(_)
    ));
    // a reason is required
    assert!(matches!(
        refusal(r.exec(
            Command::SucceedPartner(
                p,
                PartnerSucceeded {
                    successors: vec![q],
                    effective_on: pd("2015"),
                },
            ),
            None,
        )),
        Refusal::ReasonRequired(EventType::PartnerSucceeded)
    ));
    // a cycle, directly and through a chain
    succeed(&r, p, &[q], "2015").unwrap();
    assert!(matches!(
        refusal(succeed(&r, q, &[p], "2016")),
        Refusal::SuccessionCycle { .. }
    ));
    succeed(&r, q, &[s], "2016").unwrap();
    assert!(matches!(
        refusal(succeed(&r, s, &[p], "2017")),
        Refusal::SuccessionCycle { .. }
    ));
    // a correction cannot make a cycle either
    let fields = CorrectionFields {
        successors: Some(vec![p]),
        ..Default::default()
    };
    assert!(matches!(
        refusal(r.exec(
            Command::Correct {
                entity: q.into(),
                target: Some(succession_event(&r, q)),
                fields,
            },
            Some("fix"),
        )),
        Refusal::SelfSuccession(_) | Refusal::SuccessionCycle { .. }
    ));
    // a successor's registration cannot be retracted while a succession names it
    let registration = r.registry.store().stream(s.into()).unwrap()[0].id;
    assert!(matches!(
        refusal(r.exec(
            Command::Retract {
                entity: s.into(),
                target: registration,
            },
            Some("duplicate"),
        )),
        Refusal::SuccessorInUse { .. }
    ));
}

#[test]
fn a_conventions_history_and_blame_show_the_succession_that_changed_its_parties() {
    let r = Reg::new();
    let [p, q, unrelated] = regions(&r, &["Old", "New", "Elsewhere"])[..] else {
        unreachable!()
    };
    let c = r.sign(&[p], "2005", "objectives");
    let w = succeed(&r, p, &[q], "2015-09-04").unwrap();
    // a succession of a partner that is no party of the convention is not in its history
    let x = r.partner("Far away", PartnerKind::Region);
    succeed(&r, unrelated, &[x], "2015-09-04").unwrap();
    let history = r
        .registry
        .history(c.into(), &point(&r, "2030", Some(r.head())))
        .unwrap();
    assert_eq!(history.len(), 2, "the signing and the succession");
    let last = &history[1];
    assert_eq!(last.record.seq, w.seq);
    assert_eq!(last.record.entity, EntityId::Partner(p));
    assert_eq!(last.changes.len(), 1);
    assert_eq!(last.changes[0].field, "parties");
    assert_eq!(last.changes[0].before, audit::Value::Parties(vec![p]));
    assert_eq!(last.changes[0].after, audit::Value::Parties(vec![q]));
    let blame = r
        .registry
        .blame(c.into(), &point(&r, "2030", None))
        .unwrap();
    let parties = blame.iter().find(|b| b.field == "parties").unwrap();
    assert_eq!(
        parties.record.event.event_type(),
        EventType::PartnerSucceeded
    );
    let objectives = blame.iter().find(|b| b.field == "objectives").unwrap();
    assert_eq!(
        objectives.record.event.event_type(),
        EventType::ConventionSigned
    );
    // the partner's own history shows its status change
    let own = r
        .registry
        .history(p.into(), &point(&r, "2030", None))
        .unwrap();
    let fields: Vec<&str> = own[1].changes.iter().map(|c| c.field).collect();
    assert_eq!(fields, vec!["status", "successors"]);
}

#[test]
fn the_caches_follow_a_succession_and_verify_and_rebuild_agree() {
    let r = Reg::new();
    let [p, q] = regions(&r, &["Old", "New"])[..] else {
        unreachable!()
    };
    let c = r.sign(&[p], "2005", "objectives");
    succeed(&r, p, &[q], "2015").unwrap();
    let report = r.registry.verify(None, &mut |_| {}).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let before = parties(&r, c, "2016");
    r.registry.rebuild(&mut |_| {}).unwrap();
    assert_eq!(parties(&r, c, "2016"), before);
    let report = r.registry.verify(None, &mut |_| {}).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

#[test]
fn the_partners_whose_stream_names_successors_are_kept_through_a_retraction_and_a_rebuild() {
    let r = Reg::new();
    let [p, q, other] = regions(&r, &["Old", "New", "Other"])[..] else {
        unreachable!()
    };
    let c = r.sign(&[p, other], "2005", "objectives");
    succeed(&r, p, &[q], "2015-09-04").unwrap();
    let at = point(&r, "2030", Some(r.head()));
    let with_succession = r.registry.history(c.into(), &at).unwrap();
    assert_eq!(with_succession.len(), 2, "the signing and the succession");
    let store = r.registry.store();
    assert!(store.names_successors(p).unwrap());
    assert!(!store.names_successors(q).unwrap());
    assert!(!store.names_successors(other).unwrap());
    // a retracted succession stays in the stream, and so in the mark
    retract(&r, p.into(), succession_event(&r, p)).unwrap();
    assert!(r.registry.store().names_successors(p).unwrap());
    let at = point(&r, "2030", Some(r.head()));
    let history = |r: &Reg| -> Vec<(Seq, Option<Seq>, usize)> {
        r.registry
            .history(c.into(), &at)
            .unwrap()
            .iter()
            .map(|h| (h.record.seq, h.voided_by.map(|v| v.0), h.changes.len()))
            .collect()
    };
    let before = history(&r);
    r.registry.rebuild(&mut |_| {}).unwrap();
    assert!(r.registry.store().names_successors(p).unwrap());
    assert!(!r.registry.store().names_successors(other).unwrap());
    assert_eq!(history(&r), before);
    let report = r.registry.verify(None, &mut |_| {}).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

// ----------------------------------------------------------- the binary

#[test]
fn partner_succeed_through_the_binary_marks_parties_in_every_view() {
    let cli = Cli::new();
    for (name, kind) in [
        ("Meknès-Tafilalet", "region"),
        ("Fès-Meknès", "region"),
        ("Drâa-Tafilalet", "region"),
    ] {
        cli.run(&["partner", "add", name, "--kind", kind]).ok();
    }
    cli.run(&[
        "sign",
        "--partner",
        "Meknès-Tafilalet",
        "--date",
        "2005",
        "--objectives",
        "Convention régionale",
    ])
    .ok();
    // without a reason: exit 2, nothing appended
    let head = cli.log_fingerprint();
    let r = cli.run(&[
        "partner",
        "succeed",
        "P1",
        "--successor",
        "P2",
        "--effective",
        "2015-09-04",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("reason"), "{}", r.stderr);
    // itself: exit 2; unknown successor: exit 3
    let r = cli.run(&[
        "partner",
        "succeed",
        "P1",
        "--successor",
        "P1",
        "--effective",
        "2015",
        "--reason",
        "x",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = cli.run(&[
        "partner",
        "succeed",
        "P1",
        "--successor",
        "P99",
        "--effective",
        "2015",
        "--reason",
        "x",
    ]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert_eq!(
        cli.log_fingerprint(),
        head,
        "a refused command appends nothing"
    );
    let written = cli.json(&[
        "partner",
        "succeed",
        "meknes tafilalet",
        "--successor",
        "Fès-Meknès",
        "--successor",
        "P3",
        "--effective",
        "2015-09-04",
        "--reason",
        "réforme régionale de 2015",
        "--source",
        "décret n° 2-15-40",
    ]);
    assert_eq!(written["entity"]["handle"], "P1");
    // list --partner finds the convention through the successor, marked
    let list = cli.json(&["list", "--as-of", "2016", "--partner", "Fès-Meknès"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let party = &list[0]["parties"][0];
    assert_eq!(party["handle"], "P2");
    assert_eq!(party["since"], "2015-09-04");
    assert_eq!(party["via"][0]["handle"], "P1");
    assert_eq!(party["via"][0]["name"], "Meknès-Tafilalet");
    let list = cli.json(&["list", "--as-of", "2014", "--partner", "Fès-Meknès"]);
    assert!(list.as_array().unwrap().is_empty());
    let list = cli.json(&["list", "--as-of", "2014"]);
    assert_eq!(list[0]["parties"][0]["name"], "Meknès-Tafilalet");
    assert!(list[0]["parties"][0].get("via").is_none());
    // the table marks it too
    let table = cli.run(&["list", "--as-of", "2016"]).ok().stdout;
    assert!(
        table.contains("P2 Fès-Meknès (via P1 Meknès-Tafilalet, 2015-09-04)"),
        "{table}"
    );
    // partner show: status, successors, predecessors
    let shown = cli.json(&["partner", "show", "P1", "--as-of", "2016"]);
    assert_eq!(shown["status"], "succeeded");
    let successors: Vec<&str> = shown["successors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["handle"].as_str().unwrap())
        .collect();
    assert_eq!(successors, vec!["P2", "P3"]);
    let shown = cli.json(&["partner", "show", "P2", "--as-of", "2016"]);
    assert_eq!(shown["status"], "active");
    assert_eq!(shown["predecessors"][0]["handle"], "P1");
    assert_eq!(shown["conventions"][0]["handle"], "C1");
    let table = cli
        .run(&["partner", "show", "P2", "--as-of", "2016"])
        .ok()
        .stdout;
    assert!(
        table.contains("by succession to P1 Meknès-Tafilalet since 2015-09-04"),
        "{table}"
    );
    // partner list: a status column
    let table = cli.run(&["partner", "list", "--as-of", "2016"]).ok().stdout;
    assert!(table.contains("succeeded 2015-09-04 by P2, P3"), "{table}");
    assert!(table.contains("status"), "{table}");
    // history of the convention shows the succession, with its source
    let history = cli.json(&["history", "C1"]);
    let last = history.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["type"], "partner-succeeded");
    assert_eq!(last["entity"], "P1");
    assert_eq!(last["source"], "décret n° 2-15-40");
    assert_eq!(last["effective_on"], "2015-09-04");
    assert_eq!(last["changes"][0]["field"], "parties");
    // the report names the predecessor
    let report = cli.run(&["report", "--as-of", "2016"]).ok().stdout;
    assert!(
        report.contains("Fès-Meknès (anciennement Meknès-Tafilalet)"),
        "{report}"
    );
    // diff shows the party change
    let diff = cli.json(&["diff", "--as-of-from", "2014", "--as-of-to", "2016"]);
    let text = diff.to_string();
    assert!(text.contains("parties"), "{text}");
    // correct the succession's successors through the binary
    let events = cli.json(&["history", "P1"]);
    let id = events[1]["event_id"].as_str().unwrap().to_owned();
    cli.run(&[
        "correct",
        "P1",
        "--event",
        &id,
        "--successor",
        "P2",
        "--reason",
        "one successor only",
    ])
    .ok();
    let list = cli.json(&["list", "--as-of", "2016"]);
    assert_eq!(list[0]["parties"].as_array().unwrap().len(), 1);
    // verify passes, and the export round-trips the new event
    cli.run(&["verify"]).ok();
    let export = cli.run(&["export"]).ok().stdout;
    assert!(export.contains("\"partner-succeeded\""), "{export}");
}

/// The last correction recorded in `partner`'s stream.
fn last_correction(r: &Reg, partner: PartnerId) -> EventId {
    r.registry
        .store()
        .stream(partner.into())
        .unwrap()
        .iter()
        .rev()
        .find(|e| matches!(e.event, Event::Corrected(_)))
        .expect("a correction")
        .id
}

fn correct_successors(r: &Reg, partner: PartnerId, successors: &[PartnerId]) {
    let fields = CorrectionFields {
        successors: Some(successors.to_vec()),
        ..Default::default()
    };
    r.exec(
        Command::Correct {
            entity: partner.into(),
            target: Some(succession_event(r, partner)),
            fields,
        },
        Some("wrong successor"),
    )
    .unwrap();
}

fn retract(r: &Reg, entity: EntityId, target: EventId) -> Result<Written, AppError> {
    r.exec(
        Command::Retract { entity, target },
        Some("recorded in error"),
    )
}

#[test]
fn retracting_a_succession_correction_that_would_revive_a_cycle_is_refused() {
    let r = Reg::new();
    let [a, b, c] = regions(&r, &["A", "B", "C"])[..] else {
        unreachable!()
    };
    succeed(&r, a, &[b], "2015").unwrap();
    correct_successors(&r, a, &[c]);
    // B may now be succeeded by A: A no longer names B
    succeed(&r, b, &[a], "2010").unwrap();
    let fix = last_correction(&r, a);
    assert!(matches!(
        refusal(retract(&r, a.into(), fix)),
        Refusal::SuccessionCycle { .. }
    ));
    // nothing was recorded: A is still succeeded by C
    assert_eq!(
        r.registry
            .store()
            .stream(a.into())
            .unwrap()
            .last()
            .unwrap()
            .id,
        fix
    );
}

#[test]
fn retracting_a_succession_correction_that_would_revive_a_retracted_successor_is_refused() {
    let r = Reg::new();
    let [a, x, y] = regions(&r, &["A", "X", "Y"])[..] else {
        unreachable!()
    };
    succeed(&r, a, &[x], "2015").unwrap();
    correct_successors(&r, a, &[y]);
    let registration = r.registry.store().stream(x.into()).unwrap()[0].id;
    retract(&r, x.into(), registration).unwrap();
    let fix = last_correction(&r, a);
    assert!(matches!(
        refusal(retract(&r, a.into(), fix)),
        Refusal::UnknownPartner(_) | Refusal::Retracted(_)
    ));
    // a correction whose revived payload is sound may still be retracted
    let [z] = regions(&r, &["Z"])[..] else {
        unreachable!()
    };
    correct_successors(&r, a, &[z]);
    retract(&r, a.into(), last_correction(&r, a)).unwrap();
}

#[test]
fn a_successor_that_has_itself_ceased_is_refused_naming_its_successors() {
    let r = Reg::new();
    let [p1, p3, p4] = regions(&r, &["P1", "P3", "P4"])[..] else {
        unreachable!()
    };
    succeed(&r, p3, &[p4], "2015").unwrap();
    // on or after P3's own succession: refused, naming P4
    for date in ["2015", "2016"] {
        let refused = refusal(succeed(&r, p1, &[p3], date));
        assert!(
            matches!(refused, Refusal::SuccessorCeased { .. }),
            "{date}: {refused:?}"
        );
        let message = refused.to_string();
        assert!(message.contains("ceased on 2015"), "{message}");
        assert!(message.contains("name its successors instead"), "{message}");
        assert!(message.contains("P4"), "{message}");
    }
    // before it: P3 was still there
    succeed(&r, p1, &[p3], "2014").unwrap();
    // and a correction cannot move it past P3's end
    let fields = CorrectionFields {
        effective_on: Some(pd("2016")),
        ..Default::default()
    };
    assert!(matches!(
        refusal(r.exec(
            Command::Correct {
                entity: p1.into(),
                target: Some(succession_event(&r, p1)),
                fields,
            },
            Some("fix"),
        )),
        Refusal::SuccessorCeased { .. }
    ));
}

#[test]
fn a_partner_cannot_cease_on_or_before_it_received_conventions_by_succession() {
    let r = Reg::new();
    let [p, q, s] = regions(&r, &["P", "Q", "S"])[..] else {
        unreachable!()
    };
    succeed(&r, p, &[q], "2015").unwrap();
    for date in ["2015", "2014"] {
        let refused = refusal(succeed(&r, q, &[s], date));
        assert!(
            matches!(refused, Refusal::CeasesBeforeReceiving { .. }),
            "{date}: {refused:?}"
        );
    }
    succeed(&r, q, &[s], "2016").unwrap();
}

#[test]
fn a_batch_sees_the_successions_it_recorded_before_deciding_the_next_command() {
    let r = Reg::new();
    let [p, q] = regions(&r, &["Old", "New"])[..] else {
        unreachable!()
    };
    let cmd = |from: PartnerId, to: PartnerId, date: &str| {
        (
            Command::SucceedPartner(
                from,
                PartnerSucceeded {
                    successors: vec![to],
                    effective_on: pd(date),
                },
            ),
            meta(Some("regional reform")),
        )
    };
    let errors = r
        .registry
        .decide_batch(vec![cmd(p, q, "2015"), cmd(q, p, "2016")])
        .expect_err("a cycle within one batch is refused");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].0, 1);
    assert!(
        matches!(
            &errors[0].1,
            AppError::Refused {
                refusal: Refusal::SuccessionCycle { .. },
                ..
            }
        ),
        "{:?}",
        errors[0].1
    );
}
