//! Audit and integrity: history with field changes, blame, the log and its
//! filters, diff on both axes; verify catching altered bytes, missing index
//! entries and a truncated tail; rebuild repairing projections.

use pactum::app::audit::{DiffKind, LogFilter};
use pactum::domain::audit::Value;
use pactum::domain::decide::{Command, CorrectionFields};
use pactum::domain::*;

use crate::support::*;

/// #1 P1 · #2 P2 · #3 C1 signed 2005 with P1, objectives "A" ·
/// #4 amended 2010 objectives "B" · #5 #4's date corrected to 2008 ·
/// #6 amended 2012 adds P2 · #7 #6 retracted · #8 terminated 2015.
fn history_case() -> (Reg, ConventionId, PartnerId, PartnerId) {
    let reg = Reg::new();
    let p1 = reg.partner("Agadir", PartnerKind::Commune);
    let p2 = reg.partner("Meknès", PartnerKind::Commune);
    let c = reg.sign(&[p1], "2005", "A");
    let mut a = amended("2010");
    a.objectives = Some(Objectives::new("B").unwrap());
    let amendment = reg.exec(Command::AmendConvention(c, a), None).unwrap();
    reg.exec(
        Command::Correct {
            entity: c.into(),
            target: Some(amendment.event_id),
            fields: CorrectionFields {
                effective_on: Some(pd("2008")),
                ..Default::default()
            },
        },
        Some("the avenant is dated 2008"),
    )
    .unwrap();
    let mut add = amended("2012");
    add.parties_added = vec![p2];
    let wrong = reg.exec(Command::AmendConvention(c, add), None).unwrap();
    reg.exec(
        Command::Retract {
            entity: c.into(),
            target: wrong.event_id,
        },
        Some("Meknès never joined"),
    )
    .unwrap();
    reg.exec(
        Command::TerminateConvention(
            c,
            ConventionTerminated {
                effective_on: pd("2015"),
                kind: TerminationKind::Terminated,
            },
        ),
        Some("ended"),
    )
    .unwrap();
    (reg, c, p1, p2)
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

fn changes_of(entry: &pactum::app::audit::HistoryEntry) -> Vec<(&'static str, Value, Value)> {
    entry
        .changes
        .iter()
        .map(|c| (c.field, c.before.clone(), c.after.clone()))
        .collect()
}

#[test]
fn history_lists_every_event_with_the_fields_it_changed() {
    let (reg, c, p1, p2) = history_case();
    let point = reg.registry.point(None, None).unwrap();
    let h = reg.registry.history(c.into(), &point).unwrap();
    let seqs: Vec<u64> = h.iter().map(|e| e.record.seq.0).collect();
    assert_eq!(seqs, [3, 4, 5, 6, 7, 8]);
    assert_eq!(
        changes_of(&h[0]),
        [
            ("instrument", Value::Null, text("convention")),
            ("parties", Value::Null, Value::Parties(vec![p1])),
            ("signed_on", Value::Null, text("2005")),
            ("objectives", Value::Null, text("A")),
            ("status", Value::Null, text("in-force")),
        ]
    );
    assert_eq!(changes_of(&h[1]), [("objectives", text("A"), text("B"))]);
    assert!(
        h[2].changes.is_empty(),
        "every dated fact applied, moving the amendment's date changes no field"
    );
    assert_eq!(
        changes_of(&h[3]),
        [(
            "parties",
            Value::Parties(vec![p1]),
            Value::Parties(vec![p1, p2])
        )]
    );
    assert_eq!(h[3].voided_by.map(|(s, _)| s), Some(Seq(7)));
    assert_eq!(
        changes_of(&h[4]),
        [(
            "parties",
            Value::Parties(vec![p1, p2]),
            Value::Parties(vec![p1])
        )]
    );
    assert_eq!(
        changes_of(&h[5]),
        [("status", text("in-force"), text("terminated"))]
    );
    assert_eq!(h[2].record.event.target(), Some(h[1].record.id));
    // at a valid date between the old and the corrected date, the
    // correction of the amendment's date is what brings "B"
    let in_2009 = reg
        .registry
        .point(Some("2009".parse().unwrap()), None)
        .unwrap();
    let h = reg.registry.history(c.into(), &in_2009).unwrap();
    assert!(
        h[1].changes.is_empty(),
        "the amendment did not apply in 2009 as first recorded"
    );
    assert_eq!(changes_of(&h[2]), [("objectives", text("A"), text("B"))]);
    // as recorded at #6, nothing is void yet
    let at_6 = reg.registry.point(None, Some("#6")).unwrap();
    let h = reg.registry.history(c.into(), &at_6).unwrap();
    assert_eq!(h.len(), 4);
    assert!(h.iter().all(|e| e.voided_by.is_none()));
}

#[test]
fn blame_names_the_event_that_last_set_each_field() {
    let (reg, c, _, _) = history_case();
    let point = reg.registry.point(None, None).unwrap();
    let blame = reg.registry.blame(c.into(), &point).unwrap();
    let lines: Vec<(&str, u64)> = blame.iter().map(|b| (b.field, b.record.seq.0)).collect();
    assert_eq!(
        lines,
        [
            ("instrument", 3),
            ("parties", 7),
            ("signed_on", 3),
            ("objectives", 4),
            ("expires_on", 3),
            ("official_ref", 3),
            ("status", 8),
        ]
    );
    // in 2009 the objectives were set by the correction of the amendment's date
    let in_2009 = reg
        .registry
        .point(Some("2009".parse().unwrap()), None)
        .unwrap();
    let blame = reg.registry.blame(c.into(), &in_2009).unwrap();
    let objectives = blame.iter().find(|b| b.field == "objectives").unwrap();
    assert_eq!(objectives.record.seq, Seq(5));
    assert_eq!(
        objectives.record.reason.as_ref().unwrap().as_str(),
        "the avenant is dated 2008"
    );
    // before it existed, there is nothing to blame
    let in_2000 = reg
        .registry
        .point(Some("2000".parse().unwrap()), None)
        .unwrap();
    assert!(reg.registry.blame(c.into(), &in_2000).is_err());
}

#[test]
fn the_log_filters_by_time_actor_type_entity_and_limit() {
    let (reg, c, _, p2) = history_case();
    let point = reg.registry.point(None, None).unwrap();
    let seqs = |filter: LogFilter| -> Vec<u64> {
        reg.registry
            .log(&filter, &point)
            .unwrap()
            .iter()
            .map(|e| e.record.seq.0)
            .collect()
    };
    assert_eq!(seqs(LogFilter::default()), (1..=8).collect::<Vec<_>>());
    assert_eq!(
        seqs(LogFilter {
            types: vec![EventType::Corrected, EventType::Retracted],
            ..Default::default()
        }),
        [5, 7]
    );
    assert_eq!(
        seqs(LogFilter {
            entity: Some(p2.into()),
            ..Default::default()
        }),
        [2]
    );
    assert_eq!(
        seqs(LogFilter {
            limit: Some(2),
            ..Default::default()
        }),
        [7, 8]
    );
    let since = reg.registry.resolve_since("#4").unwrap();
    let until = reg.registry.resolve_when("#6").unwrap();
    assert_eq!(
        seqs(LogFilter {
            since: Some(since),
            until: Some(until),
            entity: Some(c.into()),
            ..Default::default()
        }),
        [4, 5, 6]
    );
    assert_eq!(
        seqs(LogFilter {
            actor: Some("someone else".into()),
            ..Default::default()
        }),
        Vec::<u64>::new()
    );
    // the clock advances one second per reading: time filters find the seqs
    let fourth = reg
        .registry
        .store()
        .event(Seq(4))
        .unwrap()
        .unwrap()
        .recorded_at;
    let since = reg.registry.resolve_since(&fourth.to_rfc3339()).unwrap();
    assert_eq!(since, Seq(4));
    let entries = reg.registry.log(&LogFilter::default(), &point).unwrap();
    assert_eq!(entries[5].voided_by.map(|(s, _)| s), Some(Seq(7)));
}

#[test]
fn diff_compares_two_record_times_or_two_valid_dates() {
    let (reg, c, _, _) = history_case();
    // record time: before and after the correction of the amendment's date,
    // looking at 2009
    let before = reg
        .registry
        .point(Some("2009".parse().unwrap()), Some("#4"))
        .unwrap();
    let after = reg
        .registry
        .point(Some("2009".parse().unwrap()), Some("#5"))
        .unwrap();
    let d = reg.registry.diff(&before, &after).unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].entity, EntityId::Convention(c));
    assert_eq!(d[0].kind, DiffKind::Changed);
    assert_eq!(d[0].changes[0].field, "objectives");
    assert_eq!(d[0].changes[0].after, text("B"));
    // valid time: 2004 (before the signing) against 2016 (after the end)
    let from = reg
        .registry
        .point(Some("2004".parse().unwrap()), None)
        .unwrap();
    let to = reg
        .registry
        .point(Some("2016".parse().unwrap()), None)
        .unwrap();
    let d = reg.registry.diff(&from, &to).unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].kind, DiffKind::Added);
    let to_2006 = reg
        .registry
        .point(Some("2006".parse().unwrap()), None)
        .unwrap();
    let d = reg.registry.diff(&to_2006, &to).unwrap();
    let fields: Vec<&str> = d[0].changes.iter().map(|c| c.field).collect();
    assert_eq!(fields, ["objectives", "status"]);
    // a record-time diff from the empty log adds everything
    let empty = reg.registry.point(None, Some("#0")).unwrap();
    let now = reg.registry.point(None, None).unwrap();
    let d = reg.registry.diff(&empty, &now).unwrap();
    assert_eq!(d.len(), 3);
    assert!(d.iter().all(|x| x.kind == DiffKind::Added));
}

// ------------------------------------------------------------ integrity

fn built() -> Cli {
    let cli = Cli::new();
    cli.run(&["partner", "add", "Agadir", "--kind", "commune"])
        .ok();
    cli.run(&["partner", "add", "Meknès", "--kind", "commune"])
        .ok();
    cli.run(&[
        "sign",
        "--partner",
        "P1",
        "P2",
        "--date",
        "2005",
        "--objectives",
        "Agenda 21",
    ])
    .ok();
    cli.run(&[
        "amend",
        "C1",
        "--effective",
        "2010",
        "--objectives",
        "Agenda 21 étendu",
    ])
    .ok();
    cli.run(&["correct", "P1", "--short", "AGA", "--reason", "acronym"])
        .ok();
    cli
}

fn verify(cli: &Cli, extra: &[&str]) -> Run {
    let mut args = vec!["--format", "json", "verify"];
    args.extend_from_slice(extra);
    cli.run(&args)
}

#[test]
fn verify_passes_on_an_intact_log_and_prints_its_head() {
    let cli = built();
    let r = verify(&cli, &[]).ok();
    let report = r.json();
    assert_eq!(report["ok"], true);
    assert_eq!(report["events"], 5);
    let head = report["head"].as_str().unwrap().to_owned();
    assert!(head.starts_with("5:"), "{head}");
    verify(&cli, &["--head", &head]).ok();
    // later appends still extend the published head
    cli.run(&["partner", "add", "Fès", "--kind", "commune"])
        .ok();
    verify(&cli, &["--head", &head]).ok();
}

#[test]
fn verify_reports_altered_event_bytes_with_their_seq() {
    let cli = built();
    with_sled(&cli, |db| {
        edit_event(db, 3, |stored| {
            let mut bytes = stored.to_vec();
            // change one byte of the objectives text, keeping it decodable
            let at = bytes.windows(6).position(|w| w == b"Agenda").unwrap();
            bytes[at] = b'X';
            bytes
        });
    });
    let r = verify(&cli, &[]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    let problems = r.json()["problems"].to_string();
    assert!(problems.contains("seq 3"), "{problems}");
    assert!(problems.contains("hash mismatch"), "{problems}");
}

#[test]
fn verify_reports_undecodable_bytes_without_panicking() {
    let cli = built();
    with_sled(&cli, |db| edit_event(db, 2, |_| vec![1u8, 2, 3]));
    let r = verify(&cli, &[]);
    assert_eq!(r.code, 5);
    assert!(r.json()["problems"].to_string().contains("seq 2"));
    // a read that meets the damage is an integrity error too, not a panic
    let r = cli.run(&["partner", "show", "P2", "--recorded-as-of", "#4"]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(r.stderr.contains("seq 2"), "{}", r.stderr);
}

#[test]
fn verify_reports_a_deleted_index_entry_and_rebuild_repairs_it() {
    let cli = built();
    with_sled(&cli, |db| {
        let cache = db.open_tree("cache").unwrap();
        for prefix in [&b"h"[..], b"n"] {
            let (key, _) = cache.scan_prefix(prefix).next().unwrap().unwrap();
            cache.remove(key).unwrap();
        }
    });
    let r = verify(&cli, &[]);
    assert_eq!(r.code, 5);
    let problems = r.json()["problems"].to_string();
    assert!(
        problems.contains("handles") && problems.contains("missing entry"),
        "{problems}"
    );
    assert!(problems.contains("names"), "{problems}");
    cli.run(&["rebuild"]).ok();
    verify(&cli, &[]).ok();
}

#[test]
fn verify_reports_a_truncated_tail_against_the_published_head() {
    let cli = built();
    let head = verify(&cli, &[]).ok().json()["head"]
        .as_str()
        .unwrap()
        .to_owned();
    with_sled(&cli, remove_last_event);
    let r = verify(&cli, &["--head", &head]);
    assert_eq!(r.code, 5);
    let problems = r.json()["problems"].to_string();
    assert!(problems.contains("truncated"), "{problems}");
    assert!(problems.contains("head"), "{problems}");
}

#[test]
fn verify_reports_a_rewritten_event_against_the_published_head() {
    let cli = built();
    let head = verify(&cli, &[]).ok().json()["head"]
        .as_str()
        .unwrap()
        .to_owned();
    // rewrite the tail consistently (as a forger with the code would):
    // drop #5 and record something else in its place
    with_sled(&cli, remove_last_event);
    // the forger also replaces the head recorded beside the store
    std::fs::remove_file(cli.db().join("pactum.head")).unwrap();
    cli.run(&["rebuild"]).ok();
    cli.run(&["correct", "P1", "--short", "AGD", "--reason", "forged"])
        .ok();
    verify(&cli, &[]).ok();
    let r = verify(&cli, &["--head", &head]);
    assert_eq!(r.code, 5);
    assert!(r.json()["problems"].to_string().contains("rewritten"));
}

#[test]
fn verify_reports_a_projection_that_differs_from_a_rebuild() {
    let cli = built();
    let reg_path = cli.db();
    with_sled(&cli, |db| {
        let cache = db.open_tree("cache").unwrap();
        let (k, v) = cache.scan_prefix(b"d").next().unwrap().unwrap();
        let mut v = v.to_vec();
        let last = v.len() - 1;
        v[last] ^= 1;
        cache.insert(k, v).unwrap();
    });
    let r = verify(&cli, &[]);
    assert_eq!(r.code, 5);
    assert!(r.json()["problems"].to_string().contains("docs"));
    cli.run(&["rebuild"]).ok();
    verify(&cli, &[]).ok();
    assert!(reg_path.exists());
}
