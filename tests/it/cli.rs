//! End-to-end tests of the binary: a small history recorded through the
//! command line and read back at several points of view; every bad input
//! answered with its exit code and nothing appended; two processes.

use serde_json::Value;

use expect_test::expect_file;

use crate::support::*;

/// Records the scenario; returns the CLI.
///
/// #1 P1 Agadir · #2 P2 Tanger-Tétouan · #3 C1 signed 2009 ·
/// #4 amended 2011-06 · #5 P2 renamed 2015-09 · #6 C1 date corrected to 2008 ·
/// #7 amended 2012 (removes P1) · #8 #7 retracted · #9 terminated 2016-06-30
fn scenario() -> Cli {
    let cli = Cli::new();
    cli.run(&["partner", "add", "Agadir", "--kind", "commune"])
        .ok();
    cli.run(&["partner", "add", "Tanger-Tétouan", "--kind", "region"])
        .ok();
    cli.run(&[
        "sign",
        "--partner",
        "P1",
        "tanger tetouan",
        "--date",
        "2009",
        "--objectives",
        "Agenda 21",
    ])
    .ok();
    cli.run(&[
        "amend",
        "C1",
        "--effective",
        "2011-06",
        "--objectives",
        "Agenda 21 étendu",
    ])
    .ok();
    cli.run(&[
        "partner",
        "rename",
        "P2",
        "--to",
        "Tanger-Tétouan-Al Hoceïma",
        "--effective",
        "2015-09",
    ])
    .ok();
    cli.run(&[
        "correct",
        "C1",
        "--date",
        "2008",
        "--reason",
        "signed in 2008, not 2009",
    ])
    .ok();
    cli.run(&[
        "amend",
        "C1",
        "--effective",
        "2012",
        "--remove-partner",
        "Agadir",
    ])
    .ok();
    cli.run(&["retract", "#7", "--reason", "Agadir never left"])
        .ok();
    cli.run(&[
        "terminate",
        "C1",
        "--effective",
        "2016-06-30",
        "--reason",
        "ended by the parties",
    ])
    .ok();
    cli
}

fn names(convention: &Value) -> Vec<String> {
    convention["parties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_history_reads_back_at_every_point_of_view() {
    let cli = scenario();
    // as recorded before the correction, as of mid-2009: signed "2009", approximate
    let c = cli.json(&[
        "show",
        "C1",
        "--as-of",
        "2009-06-01",
        "--recorded-as-of",
        "#5",
    ]);
    assert_eq!(c["signed_on"], "2009");
    assert_eq!(c["approximate"], true);
    assert_eq!(c["objectives"], "Agenda 21");
    assert_eq!(c["status"], "in-force");
    assert_eq!(c["version"], 2);
    assert_eq!(names(&c), ["Agadir", "Tanger-Tétouan"]);
    // as recorded then, it did not exist in 2008 …
    let r = cli.run(&[
        "show",
        "C1",
        "--as-of",
        "2008-06-01",
        "--recorded-as-of",
        "#5",
    ]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    // … but the correction says it did
    let c = cli.json(&["show", "C1", "--as-of", "2008-06-01"]);
    assert_eq!(c["signed_on"], "2008");
    assert_eq!(c["approximate"], true);
    assert_eq!(c["objectives"], "Agenda 21");
    // the amendment applies from its date; the retracted one never applies now
    let c = cli.json(&["show", "C1", "--as-of", "2012-06-01"]);
    assert_eq!(c["objectives"], "Agenda 21 étendu");
    assert_eq!(names(&c), ["Agadir", "Tanger-Tétouan"]);
    assert_eq!(c["approximate"], false);
    // … but it did as recorded before the retraction
    let c = cli.json(&[
        "show",
        "C1",
        "--as-of",
        "2012-06-01",
        "--recorded-as-of",
        "#7",
    ]);
    assert_eq!(names(&c), ["Tanger-Tétouan"]);
    // the rename shows from its date; the termination sets the status
    let c = cli.json(&["show", "C1", "--as-of", "2016-07-01"]);
    assert_eq!(c["status"], "terminated");
    assert_eq!(names(&c), ["Agadir", "Tanger-Tétouan-Al Hoceïma"]);
    assert_eq!(c["version"], 6);
    let c = cli.json(&["show", "C1", "--as-of", "2016-06-01"]);
    assert_eq!(c["status"], "in-force");
}

#[test]
fn lists_follow_both_axes_and_filters() {
    let cli = scenario();
    let count = |args: &[&str]| cli.json(args).as_array().unwrap().len();
    assert_eq!(count(&["list", "--as-of", "2007"]), 0);
    assert_eq!(count(&["list", "--as-of", "2008-12-31"]), 1);
    assert_eq!(
        count(&["list", "--as-of", "2008-12-31", "--recorded-as-of", "#5"]),
        0
    );
    assert_eq!(count(&["list", "--recorded-as-of", "#2"]), 0);
    assert_eq!(
        count(&["list", "--status", "terminated", "--as-of", "2017"]),
        1
    );
    assert_eq!(
        count(&["list", "--status", "in-force", "--as-of", "2017"]),
        0
    );
    assert_eq!(count(&["list", "--partner", "agadir"]), 1);
    assert_eq!(count(&["list", "--kind", "ministry"]), 0);
    assert_eq!(count(&["list", "--instrument", "charter"]), 0);
    assert_eq!(count(&["list", "--signed-from", "2009"]), 0);
    assert_eq!(count(&["list", "--signed-to", "2008"]), 1);
    assert_eq!(count(&["list", "--search", "ETENDU", "--as-of", "2012"]), 1);
    assert_eq!(
        count(&["list", "--search", "al hoceima", "--as-of", "2016"]),
        1
    );
    assert_eq!(
        count(&["list", "--search", "al hoceima", "--as-of", "2014"]),
        0
    );
    let list = cli.json(&["list", "--as-of", "2008-12-31"]);
    let c = &list[0];
    for key in [
        "id",
        "handle",
        "instrument",
        "parties",
        "signed_on",
        "objectives",
        "expires_on",
        "official_ref",
        "status",
        "approximate",
        "version",
    ] {
        assert!(c.get(key).is_some(), "missing {key} in {c}");
    }
    assert_eq!(c["handle"], "C1");
    let party = &c["parties"][0];
    for key in ["id", "handle", "name", "kind"] {
        assert!(party.get(key).is_some(), "missing {key} in {party}");
    }
}

#[test]
fn record_time_takes_timestamps_dates_and_positions() {
    let cli = scenario();
    let history = cli.json(&["history", "C1"]);
    let at_4 = history
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["seq"] == 4)
        .unwrap()["recorded_at"]
        .as_str()
        .unwrap()
        .to_owned();
    let by_time = cli.json(&["show", "C1", "--as-of", "2012", "--recorded-as-of", &at_4]);
    let by_seq = cli.json(&["show", "C1", "--as-of", "2012", "--recorded-as-of", "#4"]);
    assert_eq!(by_time, by_seq);
    let r = cli.run(&["show", "C1", "--recorded-as-of", "2000-01-01"]);
    assert_eq!(r.code, 3);
    let today = chrono::Utc::now().date_naive().to_string();
    assert_eq!(
        cli.json(&["show", "C1", "--as-of", "2017", "--recorded-as-of", &today]),
        cli.json(&["show", "C1", "--as-of", "2017"])
    );
}

#[test]
fn partners_show_their_name_as_of_a_date() {
    let cli = scenario();
    let p = cli.json(&["partner", "show", "P2", "--as-of", "2014"]);
    assert_eq!(p["name"], "Tanger-Tétouan");
    assert_eq!(p["kind"], "region");
    assert_eq!(p["conventions"].as_array().unwrap().len(), 1);
    let p = cli.json(&[
        "partner",
        "show",
        "tanger tetouan al hoceima",
        "--as-of",
        "2015-09-15",
    ]);
    assert_eq!(p["name"], "Tanger-Tétouan-Al Hoceïma");
    assert_eq!(p["approximate"], true);
    let all = cli.json(&["partner", "list"]);
    assert_eq!(all.as_array().unwrap().len(), 2);
    for key in [
        "id",
        "handle",
        "name",
        "short_name",
        "kind",
        "country",
        "approximate",
        "version",
    ] {
        assert!(all[0].get(key).is_some(), "missing {key}");
    }
}

#[test]
fn writes_print_what_they_recorded() {
    let cli = Cli::new();
    let w = cli.json(&["partner", "add", "Agadir", "--kind", "commune"]);
    assert_eq!(w["seq"], 1);
    assert_eq!(w["version"], 1);
    assert_eq!(w["entity"]["handle"], "P1");
    assert!(w["event_id"].as_str().unwrap().len() == 36);
    let w = cli.json(&[
        "partner",
        "rename",
        "P1",
        "--to",
        "Agadir Ida-Outanane",
        "--effective",
        "2020",
        "--expect-version",
        "1",
        "--by",
        "clerk",
        "--source",
        "arrêté n° 12",
    ]);
    assert_eq!(w["version"], 2);
    let h = cli.json(&["history", "P1"]);
    assert_eq!(h[1]["actor"], "clerk");
    assert_eq!(h[1]["source"], "arrêté n° 12");
    assert_eq!(h[1]["effective_on"], "2020");
    assert_eq!(h[0]["actor"], "tester", "PACTUM_ACTOR is the default actor");
}

/// A case of the bad-input table: arguments, exit code, words the message
/// must contain.
struct Bad {
    args: &'static [&'static str],
    code: i32,
    says: &'static str,
}

const BAD: &[Bad] = &[
    Bad {
        args: &[
            "sign",
            "--partner",
            "P1",
            "--date",
            "2009-02-30",
            "--objectives",
            "x",
        ],
        code: 2,
        says: "does not exist",
    },
    Bad {
        args: &[
            "sign",
            "--partner",
            "P1",
            "--date",
            "09",
            "--objectives",
            "x",
        ],
        code: 2,
        says: "YYYY",
    },
    Bad {
        args: &[
            "sign",
            "--partner",
            "P1",
            "--date",
            "2009",
            "--objectives",
            "  ",
        ],
        code: 2,
        says: "objectives is empty",
    },
    Bad {
        args: &[
            "sign",
            "--partner",
            "P1",
            "--date",
            "2009",
            "--objectives",
            "a\u{7}b",
        ],
        code: 2,
        says: "control character",
    },
    Bad {
        args: &[
            "sign",
            "--partner",
            "P9",
            "--date",
            "2009",
            "--objectives",
            "x",
        ],
        code: 3,
        says: "no partner P9",
    },
    Bad {
        args: &[
            "sign",
            "--partner",
            "Agadirr",
            "--date",
            "2009",
            "--objectives",
            "x",
        ],
        code: 3,
        says: "did you mean P1",
    },
    Bad {
        args: &[
            "sign",
            "--partner",
            "C1",
            "--date",
            "2009",
            "--objectives",
            "x",
        ],
        code: 3,
        says: "error: C1 is a convention, not a partner",
    },
    Bad {
        args: &[
            "sign",
            "--partner",
            "P1",
            "P1",
            "--date",
            "2009",
            "--objectives",
            "x",
        ],
        code: 2,
        says: "named twice",
    },
    Bad {
        args: &[
            "sign",
            "--partner",
            "P1",
            "--date",
            "2009",
            "--objectives",
            "x",
            "--expires",
            "2008",
        ],
        code: 2,
        says: "before the signing",
    },
    Bad {
        args: &[
            "sign",
            "--partner",
            "P1",
            "--date",
            "2009",
            "--objectives",
            "x",
            "--instrument",
            "treaty",
        ],
        code: 2,
        says: "treaty",
    },
    Bad {
        args: &["sign", "--date", "2009", "--objectives", "x"],
        code: 2,
        says: "--partner",
    },
    Bad {
        args: &["partner", "add", "AGADIR", "--kind", "commune"],
        code: 2,
        says: "already named",
    },
    Bad {
        args: &["partner", "add", "X", "--kind", "town"],
        code: 2,
        says: "town",
    },
    Bad {
        args: &[
            "partner",
            "add",
            "France",
            "--kind",
            "foreign-state",
            "--country",
            "XX",
        ],
        code: 2,
        says: "ISO 3166",
    },
    Bad {
        args: &[
            "partner",
            "rename",
            "P1",
            "--to",
            "Agadir",
            "--effective",
            "2020",
        ],
        code: 2,
        says: "already named",
    },
    Bad {
        args: &["amend", "C1", "--effective", "2010"],
        code: 2,
        says: "changes nothing",
    },
    Bad {
        args: &["amend", "C1", "--effective", "2008", "--objectives", "y"],
        code: 2,
        says: "before the signing",
    },
    Bad {
        args: &["amend", "C9", "--effective", "2010", "--objectives", "y"],
        code: 3,
        says: "no convention C9",
    },
    Bad {
        args: &["amend", "P1", "--effective", "2010", "--objectives", "y"],
        code: 3,
        says: "error: P1 'Agadir' is a partner, not a convention",
    },
    Bad {
        args: &["amend", "C1", "--effective", "2010", "--add-partner", "P1"],
        code: 2,
        says: "already a party",
    },
    Bad {
        args: &[
            "amend",
            "C1",
            "--effective",
            "2010",
            "--remove-partner",
            "P1",
        ],
        code: 2,
        says: "no party",
    },
    Bad {
        args: &[
            "amend",
            "C1",
            "--effective",
            "2010",
            "--objectives",
            "y",
            "--expect-version",
            "7",
        ],
        code: 4,
        says: "version 1, not 7",
    },
    Bad {
        args: &["terminate", "C1", "--effective", "2010"],
        code: 2,
        says: "a termination needs a reason",
    },
    Bad {
        args: &["terminate", "C1", "--effective", "2008", "--reason", "r"],
        code: 2,
        says: "before the signing",
    },
    Bad {
        args: &["correct", "C1", "--objectives", "x"],
        code: 2,
        says: "a correction needs a reason",
    },
    Bad {
        args: &["correct", "C1", "--name", "x", "--reason", "r"],
        code: 2,
        says: "a signing has no field for --name",
    },
    Bad {
        args: &["correct", "C1", "--reason", "r"],
        code: 2,
        says: "at least one new value",
    },
    Bad {
        args: &[
            "correct",
            "C1",
            "--objectives",
            "objectives",
            "--reason",
            "r",
        ],
        code: 2,
        says: "changes nothing",
    },
    Bad {
        args: &[
            "correct",
            "C1",
            "--event",
            "#1",
            "--objectives",
            "x",
            "--reason",
            "r",
        ],
        code: 2,
        says: "belongs to",
    },
    Bad {
        args: &[
            "correct",
            "C1",
            "--event",
            "#99",
            "--objectives",
            "x",
            "--reason",
            "r",
        ],
        code: 3,
        says: "no event",
    },
    Bad {
        args: &["retract", "#2"],
        code: 2,
        says: "a retraction needs a reason",
    },
    Bad {
        args: &["retract", "#99", "--reason", "r"],
        code: 3,
        says: "no event",
    },
    Bad {
        args: &["retract", "nonsense", "--reason", "r"],
        code: 2,
        says: "not an event reference",
    },
    Bad {
        args: &["retract", "#1", "--reason", "r"],
        code: 2,
        says: "is a party of",
    },
    Bad {
        args: &["show", "C1", "--as-of", "2009-13"],
        code: 2,
        says: "--as-of",
    },
    Bad {
        args: &["show", "C1", "--recorded-as-of", "#99"],
        code: 2,
        says: "past the end",
    },
    Bad {
        args: &["show", "C1", "--recorded-as-of", "yesterday"],
        code: 2,
        says: "record time",
    },
    Bad {
        args: &["show", "C1", "--as-of", "2008"],
        code: 3,
        says: "does not exist",
    },
    Bad {
        args: &["show", "0190"],
        code: 3,
        says: "no convention",
    },
    Bad {
        args: &["history", "nobody"],
        code: 3,
        says: "no partner named",
    },
    Bad {
        args: &["list", "--status", "dormant"],
        code: 2,
        says: "dormant",
    },
    Bad {
        args: &["frobnicate"],
        code: 2,
        says: "unrecognized",
    },
    // values parsed by clap, said as the command line says every error
    Bad {
        args: &["retract", "#2", "--reason", "  "],
        code: 2,
        says: "--reason: ",
    },
    Bad {
        args: &[
            "partner",
            "add",
            "Rabat",
            "--kind",
            "commune",
            "--country",
            "ZZZ",
        ],
        code: 2,
        says: "--country: ",
    },
    Bad {
        args: &["list", "--as-of", "2009-13"],
        code: 2,
        says: "--as-of: ",
    },
    Bad {
        args: &["correct", "C1", "--to", "a\u{1b}b", "--reason", "r"],
        code: 2,
        says: "--name: ",
    },
    Bad {
        args: &["diff", "--as-of-from", "2009", "--as-of-to", "soon"],
        code: 2,
        says: "--as-of-to: ",
    },
    Bad {
        args: &[
            "amend",
            "C1",
            "--effective",
            "2010",
            "--source",
            "\u{202e}x",
        ],
        code: 2,
        says: "--source: ",
    },
];

/// One command line as a shell shows it, its arguments quoted where needed.
fn shown(args: &[&str]) -> String {
    let quoted: Vec<String> = args
        .iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./:=@".contains(c))
            {
                (*a).to_owned()
            } else {
                format!("{a:?}")
            }
        })
        .collect();
    format!("$ pactum {}", quoted.join(" "))
}

#[test]
fn every_bad_input_is_refused_with_its_code_and_appends_nothing() {
    let cli = Cli::with_convention("objectives");
    let before = cli.log_fingerprint();
    let db = cli.db().display().to_string();
    let mut transcript = String::new();
    for case in BAD {
        let r = cli.run(case.args);
        assert_eq!(r.code, case.code, "{:?}\nstderr: {}", case.args, r.stderr);
        assert!(
            r.stderr.contains(case.says),
            "{:?}: stderr does not say {:?}:\n{}",
            case.args,
            case.says,
            r.stderr
        );
        assert!(
            r.stderr.starts_with("error:"),
            "{:?}: {}",
            case.args,
            r.stderr
        );
        assert!(r.stdout.is_empty(), "{:?}: {}", case.args, r.stdout);
        assert_eq!(cli.log_fingerprint(), before, "{:?} appended", case.args);
        transcript.push_str(&format!(
            "{}\nexit {}\n{}\n",
            shown(case.args),
            r.code,
            r.stderr.replace(&db, "<db>")
        ));
    }
    // the whole of what the user reads, case by case
    expect_file!["snapshots/bad-input.txt"].assert_eq(&transcript);
}

#[test]
fn reads_of_a_missing_registry_say_so_and_create_nothing() {
    let cli = Cli::new();
    let r = cli.run(&["list"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("no registry at"), "{}", r.stderr);
    assert!(r.stderr.contains("hint:"), "{}", r.stderr);
    assert!(!cli.db().exists());
}

#[test]
fn a_second_process_gets_registry_in_use() {
    let cli = Cli::new();
    cli.run(&["partner", "add", "Agadir", "--kind", "commune"])
        .ok();
    let held = Reg::open_at(
        &cli.db(),
        std::sync::Arc::new(pactum::app::FixedClock::new(t0(), 1)),
    );
    for args in [
        &["list"][..],
        &["partner", "add", "Meknès", "--kind", "commune"],
        &["--wait", "0.3", "partner", "list"],
    ] {
        let r = cli.run(args);
        assert_eq!(r.code, 4, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("registry in use"), "{}", r.stderr);
        assert!(r.stderr.contains("hint:"), "{}", r.stderr);
    }
    drop(held);
    assert_eq!(cli.json(&["partner", "list"]).as_array().unwrap().len(), 1);
}

#[test]
fn logs_go_to_stderr_and_never_to_stdout() {
    let cli = Cli::new();
    cli.run(&["partner", "add", "Agadir", "--kind", "commune"])
        .ok();
    let r = cli.run(&["-v", "--format", "json", "partner", "list"]).ok();
    assert!(
        serde_json::from_str::<Value>(&r.stdout).is_ok(),
        "{}",
        r.stdout
    );
    assert!(r.stderr.contains("INFO"), "{}", r.stderr);
    // one span per command, with the registry and its event count
    assert!(
        r.stderr.contains("command{name=\"partner\""),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("events=1"), "{}", r.stderr);
    assert!(
        !r.stderr.contains('\u{1b}'),
        "colour in a pipe: {}",
        r.stderr
    );
    let r = cli
        .run(&["-vv", "partner", "add", "Meknès", "--kind", "commune"])
        .ok();
    assert!(r.stderr.contains("DEBUG"), "{}", r.stderr);
    let r = cli.run(&["-q", "--format", "json", "partner", "list"]).ok();
    assert!(r.stderr.is_empty(), "{}", r.stderr);
}

#[test]
fn events_are_found_by_id_by_prefix_and_by_position() {
    let cli = Cli::with_convention("x");
    let a = cli.json(&["amend", "C1", "--effective", "2010", "--objectives", "y"]);
    let b = cli.json(&["amend", "C1", "--effective", "2011", "--objectives", "z"]);
    let (a_id, b_id) = (
        a["event_id"].as_str().unwrap(),
        b["event_id"].as_str().unwrap(),
    );
    // a full id
    cli.run(&[
        "correct",
        "C1",
        "--event",
        a_id,
        "--objectives",
        "y2",
        "--reason",
        "typo",
    ])
    .ok();
    // an unambiguous prefix: the amendments were recorded within one second,
    // so their ids share their time digits; 24 hex digits tell them apart
    let prefix: String = b_id.replace('-', "").chars().take(24).collect();
    cli.run(&["retract", &prefix, "--reason", "filed twice"])
        .ok();
    let history = cli.json(&["history", "C1"]);
    let retraction = history.as_array().unwrap().last().unwrap();
    assert_eq!(retraction["target"], b_id);
    // a retraction is final: retracting it is refused, and appends nothing
    let before = cli.log_fingerprint();
    let r = cli.run(&[
        "retract",
        retraction["event_id"].as_str().unwrap(),
        "--reason",
        "r",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("a retraction cannot be retracted"),
        "{}",
        r.stderr
    );
    assert_eq!(cli.log_fingerprint(), before);
    // a prefix shared by several events is ambiguous
    let shared: String = a_id.replace('-', "").chars().take(8).collect();
    let r = cli.run(&["retract", &shared, "--reason", "r"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("ambiguous"), "{}", r.stderr);
    // an id nobody has
    let r = cli.run(&[
        "retract",
        "00000000-0000-7000-8000-000000000000",
        "--reason",
        "r",
    ]);
    assert_eq!(r.code, 3);
}

/// A bad file given to `import`: its bytes, extra arguments, exit code and
/// words the message must contain.
struct BadFile {
    name: &'static str,
    bytes: &'static [u8],
    args: &'static [&'static str],
    code: i32,
    says: &'static str,
}

const HEADER: &str = "section,partners,partner_kind,instrument,signed_on,objectives\n";

const BAD_CSV: &[BadFile] = &[
    BadFile { name: "empty.csv", bytes: b"", args: &[], code: 2, says: "missing column" },
    BadFile { name: "header-only.csv", bytes: HEADER.as_bytes(), args: &[], code: 2, says: "no row" },
    BadFile { name: "missing.csv", bytes: b"section,partners\ncommunes,Agadir\n", args: &[], code: 2, says: "missing column(s): partner_kind" },
    BadFile { name: "unknown.csv", bytes: b"section,partners,partner_kind,instrument,signed_on,objectives,colour\n", args: &[], code: 2, says: "unknown column 'colour'" },
    BadFile { name: "utf8.csv", bytes: b"section,partners,partner_kind,instrument,signed_on,objectives\ncommunes,Ag\xe9dir,commune,convention,2005,x\n", args: &[], code: 2, says: "line 2: partners: not valid UTF-8" },
    BadFile { name: "section.csv", bytes: b"section,partners,partner_kind,instrument,signed_on,objectives\nregions,Tiznit,commune,convention,2005,x\n", args: &[], code: 2, says: "does not fit a commune" },
    BadFile { name: "date.csv", bytes: b"section,partners,partner_kind,instrument,signed_on,objectives\ncommunes,Tiznit,commune,convention,2005-02-30,x\n", args: &[], code: 2, says: "line 2: signed_on: '2005-02-30'" },
    BadFile { name: "kinds.csv", bytes: b"section,partners,partner_kind,instrument,signed_on,objectives\ncommunes,Tiznit;Taza,commune;commune;region,convention,2005,x\n", args: &[], code: 2, says: "3 kinds for 2 partners" },
    BadFile { name: "fields.csv", bytes: b"section,partners,partner_kind,instrument,signed_on,objectives\ncommunes,Tiznit,commune,convention,2005\n", args: &[], code: 2, says: "5 fields where the header has 6" },
    BadFile { name: "ended.csv", bytes: b"section,partners,partner_kind,instrument,signed_on,objectives,status,ended_on\ncommunes,Tiznit,commune,convention,2005,x,in-force,2010\n", args: &[], code: 2, says: "ended_on is given but status" },
    BadFile { name: "no-end.csv", bytes: b"section,partners,partner_kind,instrument,signed_on,objectives,status\ncommunes,Tiznit,commune,convention,2005,x,terminated\n", args: &[], code: 2, says: "give ended_on" },
    BadFile { name: "expiry.csv", bytes: b"section,partners,partner_kind,instrument,signed_on,objectives,expires_on\ncommunes,Tiznit,commune,convention,2005,x,2001\n", args: &[], code: 2, says: "expires_on 2001 is before signed_on 2005" },
    BadFile { name: "control.csv", bytes: b"section,partners,partner_kind,instrument,signed_on,objectives\ncommunes,Tiznit,commune,convention,2005,a\x1bb\n", args: &[], code: 2, says: "control character" },
    BadFile { name: "conflict.csv", bytes: b"section,partners,partner_kind,instrument,signed_on,objectives\ncommunes,Tiznit,commune,convention,2005,x\nregions,TIZNIT,region,convention,2006,y\n", args: &[], code: 2, says: "line 3: 'TIZNIT' is a region here but a commune on line 2" },
    BadFile { name: "quote.csv", bytes: b"section,partners,partner_kind,instrument,signed_on,objectives\ncommunes,Tiznit,commune,convention,2005,\"unterminated\n", args: &[], code: 2, says: "line 2: a quoted field is never closed" },
    BadFile { name: "instrument.csv", bytes: b"section,partners,partner_kind,instrument,signed_on,objectives\ncommunes,Tiznit,commune,treaty,2005,x\n", args: &[], code: 2, says: "unknown instrument 'treaty'" },
    BadFile { name: "long.csv", bytes: b"section,partners,partner_kind,instrument,signed_on,objectives\ncommunes,Tiznit,commune,convention,2005,   \n", args: &[], code: 2, says: "objectives is empty" },
    BadFile { name: "kind.txt", bytes: HEADER.as_bytes(), args: &["--as", "xml"], code: 2, says: "invalid value 'xml'" },
];

#[test]
fn a_refused_write_into_a_new_folder_creates_no_registry() {
    let cli = Cli::new();
    // only the commands that can start a registry create one
    let r = cli.run(&[
        "sign",
        "--partner",
        "P1",
        "--date",
        "2009",
        "--objectives",
        "x",
    ]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("no registry"), "{}", r.stderr);
    assert!(!cli.db().exists(), "a refused sign left a registry behind");
    let file = cli.dir.path().join("bad.csv");
    std::fs::write(
        &file,
        format!("{HEADER}regions,Souss,planet,convention,2009,x\n"),
    )
    .unwrap();
    let r = cli.run(&["import", file.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("line 2"), "{}", r.stderr);
    assert!(
        !cli.db().exists(),
        "a refused import left a registry behind"
    );
    // the same folder then takes a good file
    std::fs::write(
        &file,
        format!("{HEADER}regions,Souss,region,convention,2009,x\n"),
    )
    .unwrap();
    let r = cli.run(&["import", file.to_str().unwrap()]).ok();
    assert!(
        r.stdout.contains("1 convention and 1 partner"),
        "{}",
        r.stdout
    );
}

#[test]
fn every_bad_import_file_is_refused_whole_with_its_lines() {
    let cli = Cli::new();
    cli.run(&["partner", "add", "Agadir", "--kind", "commune"])
        .ok();
    let before = cli.log_fingerprint();
    for case in BAD_CSV {
        let file = cli.dir.path().join(case.name);
        std::fs::write(&file, case.bytes).unwrap();
        let mut args = vec!["import", file.to_str().unwrap()];
        args.extend_from_slice(case.args);
        let r = cli.run(&args);
        assert_eq!(r.code, case.code, "{}: {}", case.name, r.stderr);
        assert!(
            r.stderr.contains(case.says),
            "{}: stderr does not say {:?}:\n{}",
            case.name,
            case.says,
            r.stderr
        );
        assert_eq!(cli.log_fingerprint(), before, "{} appended", case.name);
    }
    let r = cli.run(&["import", "/nonexistent/file.csv"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("cannot read"), "{}", r.stderr);
}

#[test]
fn every_bad_event_log_is_refused_whole_and_imports_nothing() {
    let source = Cli::with_convention("x");
    source
        .run(&["correct", "C1", "--objectives", "y", "--reason", "r"])
        .ok();
    let good = source.run(&["export"]).ok().stdout;
    let lines: Vec<String> = good.lines().map(String::from).collect();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("not JSON", b"{nope\n".to_vec(), "line 1: not JSON"),
        (
            "a cut line",
            format!("{}\n{}", lines[0], &lines[1][..30]).into_bytes(),
            "line 2",
        ),
        (
            "a missing event",
            format!("{}\n{}\n", lines[0], lines[2]).into_bytes(),
            "seq 3 where 2 was expected",
        ),
        (
            "an altered objective",
            good.replacen("\"y\"", "\"z\"", 1).into_bytes(),
            "hash does not match",
        ),
        (
            "a missing field",
            lines[0].replace("\"actor\":\"tester\",", "").into_bytes(),
            "missing 'actor'",
        ),
        (
            "an unknown type",
            lines[0]
                .replace("partner-registered", "partner-adopted")
                .into_bytes(),
            "unknown event type",
        ),
        (
            "invalid UTF-8",
            [lines[0].as_bytes(), b"\n\xff\xfe\n"].concat(),
            "not valid UTF-8",
        ),
        (
            "a bad date",
            good.replace("\"signed_on\":\"2009\"", "\"signed_on\":\"2009-13\"")
                .into_bytes(),
            "signed_on",
        ),
        ("an empty file", Vec::new(), "no event"),
        (
            "a target elsewhere",
            lines[2].clone().into_bytes(),
            "seq 3 where 1 was expected",
        ),
    ];
    for (what, bytes, says) in cases {
        let target = Cli::new();
        let file = target.dir.path().join("log.jsonl");
        std::fs::write(&file, &bytes).unwrap();
        let r = target.run(&["import", file.to_str().unwrap()]);
        assert_eq!(r.code, 2, "{what}: {}", r.stderr);
        assert!(
            r.stderr.contains(says),
            "{what}: stderr does not say {says:?}:\n{}",
            r.stderr
        );
        assert!(!target.db().exists(), "{what}: a registry was created");
    }
    // into a registry whose log is not a prefix of the file
    let other = Cli::new();
    other
        .run(&["partner", "add", "Meknès", "--kind", "commune"])
        .ok();
    let file = source.dir.path().join("log.jsonl");
    std::fs::write(&file, &good).unwrap();
    let before = other.log_fingerprint();
    let r = other.run(&["import", file.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("not a prefix"), "{}", r.stderr);
    assert_eq!(other.log_fingerprint(), before);
}

#[test]
fn an_interrupted_event_log_import_is_finished_by_running_it_again() {
    let source = Cli::new();
    source
        .run(&["import", "fixtures/seed-2009/conventions.csv"])
        .ok();
    let full = source.run(&["export"]).ok().stdout;
    let first_part: String = full.lines().take(30).map(|l| format!("{l}\n")).collect();
    let target = Cli::new();
    let part = target.dir.path().join("part.jsonl");
    let whole = target.dir.path().join("whole.jsonl");
    std::fs::write(&part, first_part).unwrap();
    std::fs::write(&whole, &full).unwrap();
    assert_eq!(
        target.json(&["import", part.to_str().unwrap()])["events"],
        30
    );
    let rest = target.json(&["import", whole.to_str().unwrap()]);
    assert_eq!(rest["events"], full.lines().count() - 30);
    assert_eq!(
        target.json(&["import", whole.to_str().unwrap()])["events"],
        0,
        "nothing left to import"
    );
    assert_eq!(target.run(&["export"]).ok().stdout, full);
    target.run(&["verify"]).ok();
}

const BAD_MORE: &[Bad] = &[
    Bad {
        args: &["--wait", "nan", "list"],
        code: 2,
        says: "expected a number of seconds",
    },
    Bad {
        args: &["--wait=-1", "partner", "add", "Meknès", "--kind", "commune"],
        code: 2,
        says: "expected a number of seconds",
    },
    Bad {
        args: &["export", "--as-of", "2009"],
        code: 2,
        says: "--as-of does not apply to the event log",
    },
    Bad {
        args: &["--format", "markdown", "export"],
        code: 2,
        says: "export writes jsonl or csv",
    },
    Bad {
        args: &["verify", "--head", "nonsense"],
        code: 2,
        says: "SEQ:HASH",
    },
    Bad {
        args: &["verify", "--head", "3:abc"],
        code: 2,
        says: "64 hex digits",
    },
    Bad {
        args: &["log", "--type", "adopted"],
        code: 2,
        says: "unknown event type 'adopted'",
    },
    Bad {
        args: &["log", "--since", "soon"],
        code: 2,
        says: "not a point in record time",
    },
    Bad {
        args: &["diff"],
        code: 2,
        says: "required",
    },
    Bad {
        args: &["diff", "--as-of-from", "2009"],
        code: 2,
        says: "--as-of-to",
    },
    Bad {
        args: &["due", "--within=-5"],
        code: 2,
        says: "--within",
    },
    Bad {
        args: &[
            "partner", "add", "Tiznit", "--kind", "commune", "--short", " ",
        ],
        code: 2,
        says: "short name is empty",
    },
    Bad {
        args: &["--by", " ", "partner", "add", "Tiznit", "--kind", "commune"],
        code: 2,
        says: "actor is empty",
    },
    Bad {
        args: &[
            "partner", "add", "Tiznit", "--kind", "commune", "--reason", "a\nb",
        ],
        code: 2,
        says: "control character",
    },
    Bad {
        args: &[
            "partner",
            "add",
            "Tiznit",
            "--kind",
            "commune",
            "--expect-version",
            "3",
        ],
        code: 2,
        says: "a new partner is at version 0",
    },
    Bad {
        args: &["correct", "P1", "--kind", "town", "--reason", "r"],
        code: 2,
        says: "town",
    },
    Bad {
        args: &["correct", "C1", "--partner", "P9", "--reason", "r"],
        code: 3,
        says: "no partner P9",
    },
    Bad {
        args: &[
            "partner",
            "rename",
            "Nobody",
            "--to",
            "X",
            "--effective",
            "2020",
        ],
        code: 3,
        says: "no partner named",
    },
    Bad {
        args: &["blame", "C1", "--as-of", "2008"],
        code: 3,
        says: "does not exist as of",
    },
    Bad {
        args: &[
            "amend",
            "C1",
            "--effective",
            "2010",
            "--expires",
            "2012",
            "--no-expiry",
        ],
        code: 2,
        says: "cannot be used with",
    },
    Bad {
        args: &["list", "--signed-from", "2009-00"],
        code: 2,
        says: "--signed-from",
    },
    Bad {
        args: &["partner", "list", "--kind", "villa"],
        code: 2,
        says: "villa",
    },
    Bad {
        args: &["report", "--recorded-as-of", "#-1"],
        code: 2,
        says: "not a log position",
    },
];

#[test]
fn more_bad_inputs_are_refused_with_their_code_and_append_nothing() {
    let cli = Cli::with_convention("objectives");
    let name = "x".repeat(301);
    let objectives = "y".repeat(4001);
    let long: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["partner", "add", &name, "--kind", "commune"],
            "name is too long: 301 characters, at most 300",
        ),
        (
            vec![
                "sign",
                "--partner",
                "P1",
                "--date",
                "2009",
                "--objectives",
                &objectives,
            ],
            "objectives is too long",
        ),
    ];
    let before = cli.log_fingerprint();
    for case in BAD_MORE {
        let r = cli.run(case.args);
        assert_eq!(r.code, case.code, "{:?}\nstderr: {}", case.args, r.stderr);
        assert!(
            r.stderr.contains(case.says),
            "{:?}: stderr does not say {:?}:\n{}",
            case.args,
            case.says,
            r.stderr
        );
        assert_eq!(cli.log_fingerprint(), before, "{:?} appended", case.args);
    }
    for (args, says) in long {
        let r = cli.run(&args);
        assert_eq!(r.code, 2);
        assert!(r.stderr.contains(says), "{}", r.stderr);
        assert_eq!(cli.log_fingerprint(), before);
    }
    // a retracted convention can no longer change
    cli.run(&["retract", "#2", "--reason", "recorded twice"])
        .ok();
    let before = cli.log_fingerprint();
    let r = cli.run(&["amend", "C1", "--effective", "2010", "--objectives", "z"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("was retracted"), "{}", r.stderr);
    assert_eq!(cli.log_fingerprint(), before);
}
