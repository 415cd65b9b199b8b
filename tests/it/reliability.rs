//! Reliability: kill -9 during writes, two processes and two writers racing,
//! damaged bytes in every tree. Figures and long settings are in
//! `docs/reliability.md`.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

fn pactum(db: &std::path::Path, args: &[&str]) -> Child {
    pactum_crashing_at(db, args, None)
}

/// A `pactum` process that ends itself at a named point of the write path
/// (`PACTUM_CRASH_AT`), as kill -9 would.
fn pactum_crashing_at(db: &std::path::Path, args: &[&str], at: Option<&str>) -> Child {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("pactum"));
    if let Some(at) = at {
        command.env("PACTUM_CRASH_AT", at);
    }
    command
        .env("PACTUM_DB", db)
        .env("PACTUM_ACTOR", "crash-test")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// What a killed (or finished) child said on stdout, if it finished.
fn finish(mut child: Child, kill_after: Duration) -> (Option<i32>, String) {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut out = String::new();
            child
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut out)
                .unwrap();
            return (status.code(), out);
        }
        if started.elapsed() >= kill_after {
            child.kill().unwrap(); // SIGKILL on Unix
            child.wait().unwrap();
            return (None, String::new());
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

fn batch_csv(dir: &std::path::Path, batch: u32, rows: u32) -> std::path::PathBuf {
    let mut text = String::from("section,partners,partner_kind,instrument,signed_on,objectives\n");
    for r in 0..rows {
        text.push_str(&format!(
            "communes,Commune {batch} rangée {r},commune,convention,20{:02},Lot {batch} rangée {r}\n",
            r % 25
        ));
    }
    let path = dir.join(format!("batch-{batch}.csv"));
    std::fs::write(&path, text).unwrap();
    path
}

/// Rounds of the crash test: `PACTUM_CRASH_ROUNDS`, 24 by default.
fn rounds() -> u32 {
    std::env::var("PACTUM_CRASH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(24)
}

#[test]
fn no_acknowledged_event_is_lost_and_none_is_half_written_across_kill_9() {
    let cli = Cli::new();
    let db = cli.db();
    let mut rng = fastrand::Rng::with_seed(
        std::env::var("PACTUM_CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(5),
    );
    const ROWS: u32 = 200;
    let mut acked_partners: Vec<String> = Vec::new();
    let mut acked_events = 0u64;
    let mut acked_batches: Vec<u32> = Vec::new();
    let mut tried_batches: Vec<u32> = Vec::new();
    let mut kills = 0;
    for round in 0..rounds() {
        let single = round % 3 != 2;
        // one round in four ends between the durable log write and the
        // cache write; the others are killed at a random moment
        let at = (rng.u32(0..4) == 0).then_some("after-log");
        let (child, max_ms) = if single {
            let name = format!("Partenaire {round}");
            (
                pactum_crashing_at(
                    &db,
                    &["--format", "json", "partner", "add", &name, "--kind", "ngo"],
                    at,
                ),
                60,
            )
        } else {
            tried_batches.push(round);
            let file = batch_csv(cli.dir.path(), round, ROWS);
            (
                pactum_crashing_at(
                    &db,
                    &["--format", "json", "import", file.to_str().unwrap()],
                    at,
                ),
                400,
            )
        };
        let (code, out) = finish(child, Duration::from_millis(rng.u64(0..max_ms)));
        match code {
            None => kills += 1,
            Some(0) => {
                let ack: serde_json::Value = serde_json::from_str(&out).unwrap();
                if single {
                    assert!(ack["seq"].as_u64().unwrap() > 0);
                    acked_partners.push(format!("Partenaire {round}"));
                    acked_events += 1;
                } else {
                    assert_eq!(ack["conventions_created"], ROWS);
                    acked_batches.push(round);
                    acked_events += ack["events"].as_u64().unwrap();
                }
            }
            Some(other) => panic!("round {round}: the child exited {other}: {out}"),
        }
        // After every round: the log verifies, nothing acknowledged is lost,
        // and every import is there whole or not at all. (A first round
        // killed before the registry existed leaves none.)
        if !pactum::store::exists(&db) {
            assert!(
                acked_events == 0,
                "round {round}: acknowledged, yet no registry"
            );
            continue;
        }
        let report = cli.run(&["--format", "json", "verify"]);
        assert_eq!(
            report.code, 0,
            "round {round}: verify failed: {}",
            report.stdout
        );
        let report = report.json();
        let partners = cli.json(&["partner", "list"]);
        let names: Vec<&str> = partners
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        for name in &acked_partners {
            assert!(
                names.contains(&name.as_str()),
                "round {round}: acknowledged {name} is lost"
            );
        }
        let conventions = cli.json(&["list"]);
        for batch in &tried_batches {
            let prefix = format!("Lot {batch} rangée ");
            let count = conventions
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| c["objectives"].as_str().unwrap().starts_with(&prefix))
                .count();
            if acked_batches.contains(batch) {
                assert_eq!(
                    count, ROWS as usize,
                    "round {round}: acknowledged batch {batch} is not whole"
                );
            } else {
                assert!(
                    count == 0 || count == ROWS as usize,
                    "round {round}: batch {batch} is half there ({count} rows)"
                );
            }
        }
        let events = report["events"].as_u64().unwrap();
        assert!(
            events >= acked_events,
            "round {round}: {events} events < {acked_events} acknowledged"
        );
    }
    eprintln!(
        "crash test: {} rounds, {kills} kills survived, {} single and {} batch appends acknowledged",
        rounds(),
        acked_partners.len(),
        acked_batches.len()
    );
    assert!(kills > 0, "no round was killed: the test proves nothing");
}

#[test]
fn a_crash_between_the_log_write_and_the_cache_write_loses_nothing() {
    let cli = Cli::with_convention("Agenda 21");
    let db = cli.db();
    let (code, _) = finish(
        pactum_crashing_at(
            &db,
            &["partner", "add", "Meknès", "--kind", "commune"],
            Some("after-log"),
        ),
        Duration::from_secs(30),
    );
    assert_eq!(code, None, "the process was to end itself");
    // the event is in the log; the caches were not written, and every
    // command catches them up from their watermark
    let partners = cli.json(&["partner", "list"]);
    assert!(partners.to_string().contains("Meknès"), "{partners}");
    cli.run(&["verify"]).ok();
    cli.run(&["partner", "add", "Fès", "--kind", "commune"])
        .ok();
    let report = cli.run(&["--format", "json", "verify"]).ok().json();
    assert_eq!(report["ok"], true);
}

/// A JSON Lines import writes the log first and derives the caches at its
/// end: killed in between, the log holds the events, the next command
/// catches the caches up, and running the import again adds nothing.
#[test]
fn an_import_killed_after_its_log_write_and_before_its_caches_loses_nothing() {
    let source = Cli::new();
    source.run(&["demo"]).ok();
    let export = source.dir.path().join("demo.jsonl");
    source
        .run(&[
            "export",
            "--format",
            "jsonl",
            "-o",
            export.to_str().unwrap(),
        ])
        .ok();
    let events = source.json(&["info"])["events"].as_u64().unwrap();
    let cli = Cli::new();
    let (code, _) = finish(
        pactum_crashing_at(
            &cli.db(),
            &["import", export.to_str().unwrap()],
            Some("after-log"),
        ),
        Duration::from_secs(60),
    );
    assert_eq!(code, None, "the process was to end itself");
    let info = cli.json(&["info"]);
    assert_eq!(info["events"].as_u64(), Some(events), "{info}");
    // the views come from caches caught up from the log
    assert_eq!(cli.json(&["list"]), source.json(&["list"]));
    let again = cli.json(&["import", export.to_str().unwrap()]);
    assert_eq!(again["events"], 0, "{again}");
    let report = cli.run(&["--format", "json", "verify"]).ok().json();
    assert_eq!(report["ok"], true);
}

#[test]
fn a_crash_during_a_tail_merge_loses_nothing_and_the_merge_is_done_again() {
    let cli = Cli::new();
    let db = cli.db();
    let segments = |cli: &Cli| {
        let raw = raw_sled(&cli.db());
        let n = raw.open_tree("log").unwrap().len();
        drop(raw);
        cli.wait_until_released();
        n
    };
    // one segment per command, until the next write merges the tail
    add_communes(&cli, pactum::store::log::MERGE_AFTER);
    assert_eq!(segments(&cli), pactum::store::log::MERGE_AFTER);
    let (code, _) = finish(
        pactum_crashing_at(
            &db,
            &["partner", "add", "Oujda", "--kind", "commune"],
            Some("after-merge"),
        ),
        Duration::from_secs(30),
    );
    assert_eq!(code, None, "the process was to end itself in the merge");
    let report = cli.run(&["--format", "json", "verify"]).ok().json();
    assert_eq!(report["events"], pactum::store::log::MERGE_AFTER);
    cli.run(&["partner", "add", "Oujda", "--kind", "commune"])
        .ok();
    let report = cli.run(&["--format", "json", "verify"]).ok().json();
    assert_eq!(report["events"], pactum::store::log::MERGE_AFTER + 1);
    let merged = pactum::store::log::MERGE_AFTER.div_ceil(pactum::store::log::SEGMENT_EVENTS);
    assert_eq!(
        segments(&cli),
        merged + 1,
        "the merged tail and the new append"
    );
    let names = cli.json(&["partner", "list"]).to_string();
    for i in 0..pactum::store::log::MERGE_AFTER {
        assert!(names.contains(&format!("Commune {i}\"")), "{names}");
    }
}

#[test]
fn two_processes_racing_on_one_registry_lose_nothing() {
    let cli = Cli::new();
    cli.run(&["partner", "add", "Agadir", "--kind", "commune"])
        .ok();
    let mut successes = 1;
    let mut busy = 0;
    for round in 0..6 {
        let a = pactum(
            &cli.db(),
            &["partner", "add", &format!("A{round}"), "--kind", "ngo"],
        );
        let b = pactum(
            &cli.db(),
            &["partner", "add", &format!("B{round}"), "--kind", "ngo"],
        );
        for child in [a, b] {
            let output = child.wait_with_output().unwrap();
            match output.status.code() {
                Some(0) => successes += 1,
                Some(4) => {
                    busy += 1;
                    assert!(String::from_utf8_lossy(&output.stderr).contains("registry in use"));
                }
                other => panic!(
                    "unexpected exit {other:?}: {}",
                    String::from_utf8_lossy(&output.stderr)
                ),
            }
        }
    }
    let partners = cli.json(&["partner", "list"]).as_array().unwrap().len();
    assert_eq!(
        partners, successes,
        "every success is recorded, nothing else ({busy} refused as busy)"
    );
    // asked to wait, both always get through
    for round in 0..4 {
        let a = pactum(
            &cli.db(),
            &[
                "--wait",
                "30",
                "partner",
                "add",
                &format!("C{round}"),
                "--kind",
                "ngo",
            ],
        );
        let b = pactum(
            &cli.db(),
            &[
                "--wait",
                "30",
                "partner",
                "add",
                &format!("D{round}"),
                "--kind",
                "ngo",
            ],
        );
        for child in [a, b] {
            let output = child.wait_with_output().unwrap();
            assert_eq!(
                output.status.code(),
                Some(0),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
    let after = cli.json(&["partner", "list"]).as_array().unwrap().len();
    assert_eq!(after, partners + 8);
    cli.run(&["verify"]).ok();
}

#[test]
fn two_writers_deciding_on_the_same_version_give_one_commit_and_one_conflict() {
    use pactum::domain::decide::Command as Cmd;
    use pactum::domain::*;
    let reg = Reg::new();
    let p = reg.partner("Agadir", PartnerKind::Commune);
    let c = reg.sign(&[p], "2009", "o");
    let point = reg.registry.point(None, None).unwrap();
    let seen = reg
        .registry
        .snapshot(point)
        .convention(c)
        .unwrap()
        .unwrap()
        .state
        .version;
    let barrier = std::sync::Barrier::new(2);
    let results: Vec<Result<pactum::app::Written, pactum::app::AppError>> =
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..2)
                .map(|i| {
                    let (reg, barrier) = (&reg, &barrier);
                    s.spawn(move || {
                        let mut a = amended("2010");
                        a.objectives = Some(Objectives::new(format!("writer {i}")).unwrap());
                        let mut m = meta(None);
                        m.expect_version = Some(seen);
                        barrier.wait();
                        reg.registry.execute(Cmd::AmendConvention(c, a), &m)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let conflicts = results
        .iter()
        .filter(|r| matches!(r, Err(e) if e.exit_code() == 4))
        .count();
    assert_eq!((ok, conflicts), (1, 1), "{results:?}");
    let now = reg
        .registry
        .snapshot(reg.registry.point(None, None).unwrap())
        .convention(c)
        .unwrap()
        .unwrap();
    assert_eq!(now.state.version, seen + 1);
}

/// Damages the first entry under `prefix` of a tree through sled.
fn damage(cli: &Cli, tree: &str, prefix: &[u8], how: fn(&[u8]) -> Vec<u8>) {
    let db = raw_sled(&cli.db());
    let t = db.open_tree(tree).unwrap();
    let (k, v) = t
        .scan_prefix(prefix)
        .next()
        .expect("the tree has an entry")
        .unwrap();
    if v.is_empty() {
        // a tree of keys alone: damage the key
        t.remove(&k).unwrap();
        let damaged = how(&k);
        t.insert(if damaged.is_empty() { vec![0] } else { damaged }, &[][..])
            .unwrap();
    } else {
        t.insert(k, how(&v)).unwrap();
    }
    db.flush().unwrap();
    drop(t);
    drop(db);
    cli.wait_until_released();
}

#[test]
fn damaged_bytes_in_any_tree_are_reported_never_panicked_on() {
    type Damage = fn(&[u8]) -> Vec<u8>;
    let hows: [(&str, Damage); 4] = [
        ("truncated", |v| v[..v.len() / 2].to_vec()),
        ("emptied", |_| Vec::new()),
        ("garbage", |v| v.iter().map(|b| b ^ 0xa5).collect()),
        ("huge length", |v| {
            let mut out = v.to_vec();
            out.extend_from_slice(&[0xfc, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
            out
        }),
    ];
    // the log's segments, each cache (by its key prefix), the meta tree,
    // and the Merkle tree
    let trees: [(&str, &[u8]); 9] = [
        ("log", b""),
        ("cache", b"d"),
        ("cache", b"h"),
        ("cache", b"n"),
        ("cache", b"p"),
        ("cache", b"w"),
        ("cache", b"v"),
        ("meta", b""),
        ("merkle", b""),
    ];
    for (tree, prefix) in trees {
        let tree_name = format!("{tree}/{}", String::from_utf8_lossy(prefix));
        let tree = tree_name.as_str();
        for (how, f) in hows {
            let cli = Cli::with_convention("Agenda 21");
            damage(&cli, tree.split('/').next().unwrap(), prefix, f);
            let r = cli.run(&["--format", "json", "verify"]);
            assert_ne!(r.code, 101, "{tree}/{how}: verify panicked: {}", r.stderr);
            assert_eq!(r.code, 5, "{tree}/{how}: verify did not fail: {}", r.stdout);
            // every read meets the damage with an error or a sound answer
            for args in [
                &["show", "C1"][..],
                &["list"],
                &["history", "C1"],
                &["partner", "show", "P1"],
                &["log"],
                &["report"],
                &["export"],
                &["info"],
                &["prove", "C1"],
                &["checkpoint"],
            ] {
                let r = cli.run(args);
                assert_ne!(r.code, 101, "{tree}/{how}: {args:?} panicked: {}", r.stderr);
                assert!(
                    [0, 3, 5].contains(&r.code),
                    "{tree}/{how}: {args:?} exited {}: {}",
                    r.code,
                    r.stderr
                );
                if r.code == 5 {
                    assert!(r.stderr.contains("integrity failure"), "{}", r.stderr);
                }
            }
        }
    }
}

#[test]
fn a_decision_whose_reads_fail_is_an_integrity_failure_and_appends_nothing() {
    // What a decision checks (does the partner exist, is the name taken)
    // is read from the caches; a read that fails must not pass for "no
    // such partner" or "no such name".
    type Case<'a> = (&'a [u8], &'a [&'a str]);
    let cases: [Case; 2] = [
        // P1's document: the new convention's party cannot be checked
        (
            b"dP",
            &[
                "sign",
                "--partner",
                "P1",
                "--date",
                "2010",
                "--objectives",
                "Bis",
            ],
        ),
        // the name index: a second 'Agadir' would have been registered
        (b"n", &["partner", "add", "Agadir", "--kind", "commune"]),
    ];
    for (prefix, args) in cases {
        let cli = Cli::with_convention("Agenda 21");
        damage(&cli, "cache", prefix, |v| {
            v.iter().map(|b| b ^ 0xa5).collect()
        });
        let before = cli.log_fingerprint();
        let r = cli.run(args);
        assert_eq!(r.code, 5, "{args:?}: {}{}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains("integrity failure"),
            "{args:?}: {}",
            r.stderr
        );
        assert_eq!(cli.log_fingerprint(), before, "{args:?} appended");
    }
}

#[test]
fn a_damaged_store_file_is_an_integrity_failure_not_an_empty_registry() {
    // sled reads a damaged stretch of its log as the torn end of a crash
    // and drops what follows; the head recorded beside it makes that loud.
    for damage in ["truncate", "overwrite"] {
        let cli = Cli::with_convention("x");
        let file = cli.db().join("db");
        match damage {
            "truncate" => {
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&file)
                    .unwrap()
                    .set_len(100)
                    .unwrap();
            }
            _ => {
                use std::io::{Seek, SeekFrom, Write};
                let mut f = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
                f.seek(SeekFrom::Start(60)).unwrap();
                f.write_all(&[0x5a; 300]).unwrap();
            }
        }
        let lost = |r: &Run| {
            let said = format!("{}{}", r.stdout, r.stderr);
            said.contains("was acknowledged") || said.contains("sled found damaged data")
        };
        for args in [
            &["list"][..],
            &["partner", "add", "Meknès", "--kind", "commune"],
        ] {
            let r = cli.run(args);
            assert_eq!(r.code, 5, "{damage}: {args:?}: {}", r.stderr);
            assert!(lost(&r), "{damage}: {}", r.stderr);
        }
        let r = cli.run(&["--format", "json", "verify"]);
        assert_eq!(r.code, 5, "{damage}: {}{}", r.stdout, r.stderr);
        assert!(lost(&r), "{damage}: {}{}", r.stdout, r.stderr);
    }
}

#[test]
fn a_torn_head_record_is_no_record_not_a_false_alarm() {
    let cli = Cli::new();
    cli.run(&["partner", "add", "Agadir", "--kind", "commune"])
        .ok();
    let file = cli.db().join("pactum.head");
    let record = std::fs::read_to_string(&file).unwrap();
    assert!(record.starts_with("00000000000000000001 "), "{record}");
    // a write torn halfway, then a record whose checksum does not match
    std::fs::write(&file, &record[..40]).unwrap();
    cli.run(&["partner", "list"]).ok();
    cli.run(&["verify"]).ok();
    let forged = record.replacen("00000000000000000001", "00000000000000000009", 1);
    std::fs::write(&file, forged).unwrap();
    cli.run(&["partner", "list"]).ok();
    // the next append writes a sound record again, and it is checked
    cli.run(&["partner", "add", "Meknès", "--kind", "commune"])
        .ok();
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .starts_with("00000000000000000002 ")
    );
}

/// A process that appended many times and ended before its caches' writes,
/// held in memory, reached sled (`PACTUM_CRASH_AT=before-write-out`) loses
/// no event, and the next command catches the caches up: the registry ends
/// equal to one built without the crash.
#[test]
fn a_crash_with_the_caches_still_in_memory_loses_nothing() {
    let whole = Cli::new();
    whole
        .run(&["demo", "--db", whole.db().to_str().unwrap()])
        .ok();
    let crashed = Cli::new();
    let db = crashed.db();
    let (code, _) = finish(
        pactum_crashing_at(
            &db,
            &["demo", "--db", db.to_str().unwrap()],
            Some("before-write-out"),
        ),
        Duration::from_secs(120),
    );
    assert_eq!(code, None, "the process was to end itself");
    let report = crashed.run(&["--format", "json", "verify"]).ok().json();
    assert_eq!(report["ok"], true, "{report}");
    let events = |cli: &Cli| cli.json(&["log"]).as_array().map(Vec::len);
    assert_eq!(events(&crashed), events(&whole));
    assert!(events(&whole).is_some_and(|n| n > 100));
    assert_eq!(
        crashed.json(&["list"]).as_array().map(Vec::len),
        whole.json(&["list"]).as_array().map(Vec::len)
    );
}

/// Handles are packed 256 to a page and a partner's conventions 512 to a
/// chunk. Writes one batch at a time, conventions arriving out of UUID
/// order and leaving from the first chunk, must give what a rebuild gives,
/// and every read must see across the pages' edges.
#[test]
fn packed_handles_and_party_chunks_written_batch_by_batch_agree_with_a_rebuild() {
    use pactum::domain::decide::{Command, CorrectionFields};
    use pactum::domain::{ConventionId, EntityId, EntityKind, Handle, PartnerId};
    use pactum::domain::{PartnerKind, PartnerName, PartnerRegistered};
    let r = Reg::new();
    let partners: Vec<PartnerId> = (0..300u64)
        .map(|i| PartnerId(uuid(1_000_000 + i)))
        .collect();
    let register = partners
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let registered = PartnerRegistered {
                name: PartnerName::new(format!("Partner {i}")).unwrap(),
                kind: PartnerKind::Commune,
                short_name: None,
                country: None,
            };
            (Command::RegisterPartner(*p, registered), meta(None))
        })
        .collect();
    r.registry.execute_batch(register).unwrap();
    let (a, b) = (partners[0], partners[299]);
    // 600 conventions naming A (and B), their UUIDs in no order, in three
    // batches: chunks fill, split and take UUIDs in the middle
    let scrambled = |i: u64| ConventionId(uuid(i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 8));
    let conventions: Vec<ConventionId> = (1..=600).map(scrambled).collect();
    for part in conventions.chunks(200) {
        let batch = part
            .iter()
            .map(|c| {
                let command = Command::SignConvention(*c, signed(&[a, b], "2001", "Objectives"));
                (command, meta(None))
            })
            .collect();
        r.registry.execute_batch(batch).unwrap();
    }
    let naming = |p: PartnerId| r.registry.store().conventions_naming(p).unwrap();
    let mut sorted = conventions.clone();
    sorted.sort();
    // (compared with `assert!`: a failure would print 600 UUIDs twice)
    let names = |p: PartnerId, want: &[ConventionId], when: &str| {
        let got = naming(p);
        assert!(
            got == want,
            "{when}: {} conventions, {} wanted",
            got.len(),
            want.len()
        );
    };
    names(a, &sorted, "A after the signings");
    names(b, &sorted, "B after the signings");
    let store = r.registry.store();
    assert_eq!(store.count(EntityKind::Partner).unwrap(), 300);
    assert_eq!(store.count(EntityKind::Convention).unwrap(), 600);
    for n in [1, 256, 257, 300] {
        let handle = Handle {
            kind: EntityKind::Partner,
            number: n,
        };
        let want = EntityId::Partner(partners[n as usize - 1]);
        assert_eq!(store.by_handle(handle).unwrap(), Some(want), "P{n}");
    }
    for n in [0, 301, 512, 1_000_000] {
        let handle = Handle {
            kind: EntityKind::Partner,
            number: n,
        };
        assert_eq!(store.by_handle(handle).unwrap(), None, "P{n}");
    }
    let clean = |when: &str| {
        let report = r.registry.verify(None, &mut |_| {}).unwrap();
        assert!(report.problems.is_empty(), "{when}: {:?}", report.problems);
    };
    clean("after the signings");
    // A is corrected out of the 100 signings of lowest UUID (an amendment
    // would keep A in the index, as a party of the signing): every chunk
    // of A moves
    let batch = sorted[..100]
        .iter()
        .map(|c| {
            let fields = CorrectionFields {
                parties: Some(vec![b]),
                ..Default::default()
            };
            let command = Command::Correct {
                entity: EntityId::Convention(*c),
                target: None,
                fields,
            };
            (command, meta(Some("A was never a party")))
        })
        .collect();
    r.registry.execute_batch(batch).unwrap();
    names(a, &sorted[100..], "A after the corrections");
    names(b, &sorted, "B after the corrections");
    clean("after the corrections");
    r.registry.rebuild(&mut |_| {}).unwrap();
    names(a, &sorted[100..], "A after a rebuild");
    clean("after a rebuild");
}

/// `verify` brings caches that are far behind the log to the head event
/// by event, as it brings any caches, and reports what they hold wrong; it
/// does not rebuild them, which would repair unseen what it is to report.
/// Here the watermark says the caches are at the first event when they are
/// at the head (damage): folding the rest onto them again must show.
#[test]
fn verify_does_not_rebuild_caches_that_are_far_behind_and_reports_them() {
    let cli = Cli::new();
    let file = batch_csv(cli.dir.path(), 1, 2_600);
    cli.run(&["import", file.to_str().unwrap()]).ok();
    let export = cli.run(&["export"]).ok().stdout;
    let events = export.lines().count();
    assert!(events > 5_000, "{events} events");
    let first: serde_json::Value = serde_json::from_str(export.lines().next().unwrap()).unwrap();
    let first = first["hash"].as_str().unwrap().to_owned();
    let hash: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&first[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    {
        let db = raw_sled(&cli.db());
        let cache = db.open_tree("cache").unwrap();
        let mut watermark = 1u64.to_be_bytes().to_vec();
        watermark.extend_from_slice(&hash);
        cache.insert(b"w", watermark).unwrap();
        db.flush().unwrap();
    }
    cli.wait_until_released();
    let r = cli.run(&["--format", "json", "verify"]);
    assert_eq!(r.code, 5, "verify did not report the caches: {}", r.stdout);
}

/// A log longer than a part (`OpenOptions::part_events`) is folded a part
/// of the documents at a time, one pass over the log each: the caches a
/// rebuild writes that way are those the appends wrote, byte for byte
/// (streams that need a replay among them), and
/// `verify` folding by parts compares every document once and finds a
/// damaged or stray one whatever part holds it.
#[test]
fn caches_folded_part_by_part_are_those_of_a_fold_at_once_and_verify_finds_damage_in_any_part() {
    use pactum::app::{RandomIds, Registry, Repair, SystemClock};
    use pactum::projection::{self, Derived};
    use pactum::store::OpenOptions;
    use std::sync::Arc;
    type Entries = Vec<(Vec<u8>, Vec<u8>)>;
    let cli = Cli::new();
    let db = cli.db();
    cli.run(&["demo", "--db", db.to_str().unwrap()]).ok();
    // corrections retracted, of a partner and of two conventions: folding
    // their streams needs a replay, in a part as at once
    let log = cli.json(&["log"]);
    let corrected = |kind: char| {
        log.as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "corrected")
            .filter(move |e| e["entity"].as_str().unwrap().starts_with(kind))
            .map(|e| format!("#{}", e["seq"]))
    };
    let retracted: Vec<String> = corrected('P')
        .take(1)
        .chain(corrected('C').take(2))
        .collect();
    assert_eq!(retracted.len(), 3, "the demo's corrections: {retracted:?}");
    for event in &retracted {
        cli.run(&["retract", event, "--reason", "recorded by mistake"])
            .ok();
    }
    cli.wait_until_released();
    // read through sled directly, then closed and released before the
    // registry is opened again (sled lets go of its lock a moment after
    // the last handle is dropped)
    let cache = || -> Entries {
        cli.wait_until_released();
        with_sled(&cli, |sled| {
            let tree = sled.open_tree("cache").unwrap();
            tree.iter()
                .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
                .collect()
        })
    };
    let open = |part_events| {
        let options = OpenOptions {
            part_events,
            ..OpenOptions::default()
        };
        let (clock, ids) = (Arc::new(SystemClock), Arc::new(RandomIds));
        Registry::open(&db, &options, Repair::Leave, clock, ids).unwrap()
    };
    let at_once = cache();
    let docs: Vec<Vec<u8>> = at_once
        .iter()
        .map(|(k, _)| k.clone())
        .filter(|k| k.first() == Some(&b'd'))
        .collect();
    assert!(docs.len() > 20, "{} documents", docs.len());
    {
        let registry = open(16);
        let store = registry.store();
        projection::clear(store, &Derived::ALL).unwrap();
        let rebuilt = projection::rebuild_trees(store, &Derived::ALL, &mut |_| {}).unwrap();
        assert!(rebuilt.parts > 3, "{} parts", rebuilt.parts);
    }
    assert!(cache() == at_once, "a rebuild by parts wrote other caches");
    // three documents altered (the first, one inside, the last) and a
    // stray key among the documents
    let middle = docs[docs.len() / 2].clone();
    let mut stray = middle.clone();
    stray.push(0);
    with_sled(&cli, |sled| {
        let tree = sled.open_tree("cache").unwrap();
        for key in [&docs[0], &middle, &docs[docs.len() - 1]] {
            let mut value = tree.get(key).unwrap().unwrap().to_vec();
            value.push(0);
            tree.insert(key, value).unwrap();
        }
        tree.insert(&stray, b"x".to_vec()).unwrap();
    });
    for part_events in [16, u64::MAX] {
        let registry = open(part_events);
        let report = registry.verify(None, &mut |_| {}).unwrap();
        let in_docs: Vec<&str> = report
            .problems
            .iter()
            .filter(|p| p.tree == "docs")
            .map(|p| p.detail.as_str())
            .collect();
        assert_eq!(
            in_docs,
            [
                "differs from a rebuild",
                "differs from a rebuild",
                "entry a rebuild would not make",
                "differs from a rebuild"
            ],
            "parts of {part_events}: {:?}",
            report.problems
        );
        assert_eq!(report.problems.len(), 4, "{:?}", report.problems);
        let compared = report.compared.iter().find(|(t, _)| *t == "docs");
        assert_eq!(compared, Some(&("docs", docs.len() as u64 + 1)));
    }
    open(16).rebuild(&mut |_| {}).unwrap();
    assert!(cache() == at_once, "a rebuild by parts left damage");
}

/// A batch large enough to read its documents on every core before
/// deciding still decides each command against the entity as the batch so
/// far leaves it: signing, amending and amending again the same
/// conventions in one batch, and amending conventions stored before it,
/// gives the views of one append at a time, and caches `verify` accepts.
#[test]
fn a_large_batch_that_signs_and_amends_the_same_conventions_is_one_append_at_a_time() {
    use pactum::domain::decide::Command;
    use pactum::domain::{ConventionId, Objectives, PartnerKind};
    let (batched, single) = (Reg::new(), Reg::new());
    let partners: Vec<_> = [&batched, &single]
        .iter()
        .map(|r| {
            let a = r.partner("Commune A", PartnerKind::Commune);
            let b = r.partner("Région B", PartnerKind::Region);
            (a, b)
        })
        .collect();
    assert_eq!(partners[0], partners[1], "ids are sequential in both");
    let (a, b) = partners[0];
    let stored: Vec<ConventionId> = (0..5u64).map(|i| ConventionId(uuid(500 + i))).collect();
    let new: Vec<ConventionId> = (0..40u64).map(|i| ConventionId(uuid(900 - i))).collect();
    let amend = |c: ConventionId, objectives: &str, added: &[_]| {
        let mut payload = amended("2003");
        payload.objectives = Some(Objectives::new(objectives).unwrap());
        payload.parties_added = added.to_vec();
        Command::AmendConvention(c, payload)
    };
    let mut commands: Vec<Command> = new
        .iter()
        .map(|c| Command::SignConvention(*c, signed(&[a], "2002", "Signée")))
        .collect();
    commands.extend(new.iter().map(|c| amend(*c, "Modifiée", &[b])));
    commands.extend(stored.iter().map(|c| amend(*c, "Modifiée ensuite", &[b])));
    // B is a party since the amendment before, in this batch: adding it
    // again would be refused
    commands.extend(
        new[..5]
            .iter()
            .map(|c| amend(*c, "Modifiée deux fois", &[])),
    );
    assert!(commands.len() >= 64, "{} commands", commands.len());
    for r in [&batched, &single] {
        for c in &stored {
            r.exec(
                Command::SignConvention(*c, signed(&[a], "2001", "Avant")),
                None,
            )
            .unwrap();
        }
    }
    batched
        .registry
        .execute_batch(commands.iter().map(|c| (c.clone(), meta(None))).collect())
        .unwrap();
    for c in &commands {
        single.exec(c.clone(), None).unwrap();
    }
    let views = |r: &Reg| {
        let point = r.registry.point(None, None).unwrap();
        r.registry
            .snapshot(point)
            .conventions(&Default::default())
            .unwrap()
    };
    let (got, want) = (views(&batched), views(&single));
    assert_eq!(got.len(), 45);
    assert!(got == want, "the batch's views differ from single appends'");
    let twice = got.iter().find(|v| v.state.id == new[0]).unwrap();
    assert_eq!(twice.state.objectives.as_str(), "Modifiée deux fois");
    assert_eq!(twice.state.parties, vec![a, b]);
    for r in [&batched, &single] {
        let report = r.registry.verify(None, &mut |_| {}).unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
    }
}

/// A large batch reads its documents first, on every core; a document that
/// cannot be read there is read again by its own command, which reports
/// the failure at its position, and nothing is appended.
#[test]
fn a_document_a_large_batch_cannot_read_is_reported_at_its_command() {
    use pactum::app::AppError;
    use pactum::domain::decide::Command;
    use pactum::domain::{ConventionId, EntityId, Objectives, PartnerKind};
    let r = Reg::new();
    let a = r.partner("Commune A", PartnerKind::Commune);
    let conventions: Vec<ConventionId> = (0..70u64).map(|i| ConventionId(uuid(700 + i))).collect();
    let signings = conventions
        .iter()
        .map(|c| {
            (
                Command::SignConvention(*c, signed(&[a], "2001", "Avant")),
                meta(None),
            )
        })
        .collect();
    r.registry.execute_batch(signings).unwrap();
    let head = r.head();
    let path = r.path();
    let Reg {
        dir,
        registry,
        clock,
    } = r;
    drop(registry);
    {
        let tree = raw_sled(&path).open_tree("cache").unwrap();
        let key = pactum::store::keys::doc(EntityId::Convention(conventions[37]));
        let damaged: Vec<u8> = tree
            .get(key)
            .unwrap()
            .unwrap()
            .iter()
            .map(|b| b ^ 0xa5)
            .collect();
        tree.insert(key, damaged).unwrap();
        tree.flush().unwrap();
    }
    let registry = Reg::open_at(&path, clock);
    let amendments = conventions
        .iter()
        .map(|c| {
            let mut payload = amended("2003");
            payload.objectives = Some(Objectives::new("Après").unwrap());
            (Command::AmendConvention(*c, payload), meta(None))
        })
        .collect();
    let errors = registry.execute_batch(amendments).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].0, 37, "{errors:?}");
    assert!(matches!(errors[0].1, AppError::Store(_)), "{errors:?}");
    assert_eq!(registry.head_seq().unwrap(), head, "the batch appended");
    drop((registry, dir));
}
