//! The 2009 lists: import, corrections, the published report, re-import,
//! bad rows, and export → import round trips.

use crate::support::*;

const FIXTURE: &str = "fixtures/seed-2009/conventions.csv";

fn fixture_rows() -> Vec<csv::StringRecord> {
    csv::Reader::from_path(FIXTURE)
        .unwrap()
        .records()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn the_fixtures_import_as_38_conventions_and_39_partners() {
    let cli = Cli::new();
    let summary = cli.json(&["import", FIXTURE]);
    assert_eq!(summary["conventions_created"], 38);
    assert_eq!(summary["partners_created"], 39);
    assert_eq!(cli.json(&["list"]).as_array().unwrap().len(), 38);
    assert_eq!(cli.json(&["partner", "list"]).as_array().unwrap().len(), 39);
    // several names in one cell are one convention with several parties
    let guelmim = cli.json(&["list", "--search", "Tarfaya"]);
    assert_eq!(guelmim.as_array().unwrap().len(), 1);
    assert_eq!(guelmim[0]["parties"].as_array().unwrap().len(), 5);
    // the same institution in several rows is one partner
    let apdn = cli.json(&["list", "--partner", "Agence pour la Promotion et le Développement Economique et Social des provinces et Préfectures du Nord"]);
    assert_eq!(apdn.as_array().unwrap().len(), 3);
    let meknes_region = cli.json(&["list", "--partner", "meknes tafilalet"]);
    assert_eq!(
        meknes_region.as_array().unwrap().len(),
        2,
        "'Meknès –Tafilalet.' and 'Meknès-Tafilalet.' are one region"
    );
    // re-importing appends nothing
    let head = cli.log_fingerprint();
    let again = cli.json(&["import", FIXTURE]);
    assert_eq!(again["events"], 0);
    assert_eq!(again["rows_already_present"], 38);
    assert_eq!(cli.log_fingerprint(), head);
}

fn demo() -> (Cli, u64) {
    let cli = Cli::new();
    let summary = cli.json(&["demo"]);
    (cli, summary["imported_at"].as_u64().unwrap())
}

#[test]
fn the_report_as_recorded_at_the_import_shows_every_published_text_and_year() {
    let (cli, imported_at) = demo();
    let at = format!("#{imported_at}");
    let report = cli.run(&["report", "--recorded-as-of", &at]).ok().stdout;
    let published = fixture_rows();
    assert_eq!(published.len(), 38);
    for row in &published {
        let (year, objectives) = (&row[4], &row[5]);
        let line = report
            .lines()
            .find(|l| l.ends_with(&format!("\t{year}\t{objectives}")))
            .unwrap_or_else(|| panic!("not in the report as published: {year} {objectives}"));
        assert!(!line.is_empty());
    }
    for heading in [
        "Partenariat avec les Ministères et les hauts commissariats",
        "Coopération bilatérale",
        "Date de signature\tObjectifs",
    ] {
        assert!(report.contains(heading), "{heading}");
    }
    assert!(
        report.find("Coopération bilatérale") > report.find("Partenariat avec les communes"),
        "international partners come last"
    );
    for typo in [
        "Figuiç",
        "Layoune",
        "Fés- Boulemane",
        "Meknès –Tafilalet.",
        "des de plusieurs",
        "La mise place",
    ] {
        assert!(report.contains(typo), "the published report keeps {typo}");
    }
}

#[test]
fn the_current_report_has_the_corrected_spellings_and_no_typo() {
    let (cli, _) = demo();
    let report = cli.run(&["report"]).ok().stdout;
    for typo in [
        "Figuiç",
        "Layoune",
        "Fés- Boulemane",
        "Meknès –Tafilalet.",
        "des de plusieurs",
        "La mise place",
    ] {
        assert!(!report.contains(typo), "{typo} is still in the report");
    }
    for fixed in [
        "Figuig",
        "Laâyoune",
        "Fès-Boulemane",
        "Meknès-Tafilalet",
        "de plusieurs",
        "La mise en place",
    ] {
        assert!(report.contains(fixed), "{fixed} is not in the report");
    }
    let markdown = cli.run(&["--format", "markdown", "report"]).ok().stdout;
    assert!(markdown.contains("| Commune | Date de signature | Objectifs |"));
    assert!(markdown.contains("| Figuig | 2005 |"));
}

#[test]
fn the_history_of_figuig_shows_its_correction() {
    let (cli, imported_at) = demo();
    let history = cli.json(&["history", "Figuig"]);
    let events = history.as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["type"], "partner-registered");
    assert!(events[0]["seq"].as_u64().unwrap() <= imported_at);
    let correction = &events[1];
    assert_eq!(correction["type"], "corrected");
    assert!(correction["reason"].as_str().unwrap().contains("Figuiç"));
    assert_eq!(correction["changes"][0]["field"], "name");
    assert_eq!(correction["changes"][0]["before"], "Figuiç");
    assert_eq!(correction["changes"][0]["after"], "Figuig");
    // the old name still finds it
    assert_eq!(cli.json(&["partner", "show", "Figuiç"])["name"], "Figuig");
    cli.run(&["verify"]).ok();
}

#[test]
fn a_csv_with_one_bad_row_appends_nothing_and_names_the_line() {
    let cli = Cli::new();
    cli.run(&["import", FIXTURE]).ok();
    let before = cli.log_fingerprint();
    let file = cli.dir.path().join("mixed.csv");
    std::fs::write(
        &file,
        "section,partners,partner_kind,instrument,signed_on,objectives\n\
         communes,Tiznit,commune,convention,2010,Agenda 21 à Tiznit\n\
         communes,Taza,commune,convention,2010-02-30,Agenda 21 à Taza\n\
         communes,Ifrane,commune,convention,2011,Agenda 21 à Ifrane\n\
         regions,Essaouira,commune,convention,2011,Agenda 21 à Essaouira\n",
    )
    .unwrap();
    let r = cli.run(&["import", file.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("line 3"), "{}", r.stderr);
    assert!(r.stderr.contains("line 5"), "{}", r.stderr);
    assert!(r.stderr.contains("nothing was imported"), "{}", r.stderr);
    assert_eq!(cli.log_fingerprint(), before);
    // a dry run of a good file writes nothing either
    std::fs::write(
        &file,
        "section,partners,partner_kind,instrument,signed_on,objectives\n\
         communes,Tiznit,commune,convention,2010,Agenda 21 à Tiznit\n",
    )
    .unwrap();
    let dry = cli.json(&["import", "--dry-run", file.to_str().unwrap()]);
    assert_eq!(dry["events"], 2);
    assert_eq!(cli.log_fingerprint(), before);
}

#[test]
fn a_dry_run_on_a_new_path_creates_no_registry() {
    let cli = Cli::new();
    let summary = cli.json(&["import", "--dry-run", FIXTURE]);
    assert_eq!(summary["conventions_created"], 38);
    assert!(!cli.db().exists());
}

#[test]
fn the_event_log_round_trips_byte_for_byte() {
    let (cli, _) = demo();
    let first = cli.dir.path().join("first.jsonl");
    cli.run(&["export", "--output", first.to_str().unwrap()])
        .ok();
    let copy = cli.dir.path().join("copy");
    cli.run_in(&copy, &["import", first.to_str().unwrap()]).ok();
    let second = cli.dir.path().join("second.jsonl");
    cli.run_in(&copy, &["export", "--output", second.to_str().unwrap()])
        .ok();
    let (a, b) = (
        std::fs::read(&first).unwrap(),
        std::fs::read(&second).unwrap(),
    );
    assert!(!a.is_empty());
    assert_eq!(a, b, "export → import → export changed the log");
    cli.run_in(&copy, &["verify"]).ok();
    let info = |db: &std::path::Path| {
        let r = cli.run_in(db, &["--format", "json", "info"]).ok();
        r.json()["head"].clone()
    };
    assert_eq!(info(&cli.db()), info(&copy));
    // into the registry it came from, there is nothing left to import
    let again = cli.json(&["import", first.to_str().unwrap()]);
    assert_eq!(again["events"], 0);
}

#[test]
fn a_truncated_or_altered_export_is_refused_whole() {
    let (cli, _) = demo();
    let full = cli.run(&["export"]).ok().stdout;
    let lines: Vec<&str> = full.lines().collect();
    let cases = [
        (
            "a cut line",
            format!("{}\n{}", lines[..10].join("\n"), &lines[10][..40]),
        ),
        (
            "a missing line",
            [&lines[..5], &lines[6..]].concat().join("\n"),
        ),
        ("an altered text", full.replacen("Figuiç", "Figuig", 1)),
    ];
    for (what, text) in cases {
        let target = tempfile::tempdir().unwrap();
        let file = target.path().join("log.jsonl");
        std::fs::write(&file, text).unwrap();
        let db = target.path().join("db");
        let r = cli.run_in(&db, &["import", file.to_str().unwrap()]);
        assert_eq!(r.code, 2, "{what}: {}", r.stderr);
        assert!(r.stderr.contains("line "), "{what}: {}", r.stderr);
        assert!(!db.exists(), "{what}: a registry was created");
    }
}

#[test]
fn a_view_exported_as_csv_imports_to_the_same_view() {
    let (cli, _) = demo();
    let first = cli
        .run(&["--format", "csv", "export", "--as-of", "2016"])
        .ok()
        .stdout;
    assert_eq!(first.lines().count(), 39);
    let file = cli.dir.path().join("view.csv");
    std::fs::write(&file, &first).unwrap();
    let copy = cli.dir.path().join("copy");
    cli.run_in(&copy, &["import", file.to_str().unwrap()]).ok();
    let second = cli
        .run_in(&copy, &["--format", "csv", "export", "--as-of", "2016"])
        .ok()
        .stdout;
    assert_eq!(first, second);
    assert!(
        first.contains("Fès-Meknès;Drâa-Tafilalet;Béni Mellal-Khénifra"),
        "the parties by succession are exported under their names of 2016:\n{first}"
    );
}

#[test]
fn search_ignores_accents_case_and_punctuation() {
    let (cli, _) = demo();
    let count = |q: &str| cli.json(&["list", "--search", q]).as_array().unwrap().len();
    assert_eq!(count("agenda 21"), 4);
    assert_eq!(count("AGENDA-21 oasis"), 1);
    assert_eq!(count("developpement regional"), 3, "every word, anywhere");
    assert_eq!(
        count("fes boulemane"),
        1,
        "a predecessor's name finds its successor's convention"
    );
    assert_eq!(count("fes meknes"), 2);
    assert_eq!(count("migration"), 2);
    assert_eq!(count("nothing like this"), 0);
}

/// Parties of a listed convention as (name, [predecessors' names], since).
fn parties_of(c: &serde_json::Value) -> Vec<(String, Vec<String>, Option<String>)> {
    c["parties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["via"]
                    .as_array()
                    .map(|v| {
                        v.iter()
                            .map(|q| q["name"].as_str().unwrap().to_owned())
                            .collect()
                    })
                    .unwrap_or_default(),
                p["since"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

#[test]
fn the_demo_tells_what_became_of_the_2009_partners_each_event_with_its_source() {
    let (cli, imported_at) = demo();
    // Fès-Meknès has the charter and the Meknès-Tafilalet convention by succession
    let list = cli.json(&["list", "--as-of", "2016", "--partner", "Fès-Meknès"]);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2, "{list:?}");
    let objectives: Vec<&str> = list
        .iter()
        .map(|c| c["objectives"].as_str().unwrap())
        .collect();
    assert!(objectives.contains(&"La réalisation de différents projets de développement régional"));
    assert!(objectives.contains(&"La réalisation du schéma régional d'aménagement du territoire"));
    for c in list {
        for (name, via, since) in parties_of(c) {
            assert!(
                !via.is_empty(),
                "{name} is not marked as a party by succession"
            );
            assert_eq!(since.as_deref(), Some("2015-09-04"));
        }
    }
    let charter = list.iter().find(|c| c["instrument"] == "charter").unwrap();
    assert_eq!(
        parties_of(charter)[0],
        (
            "Fès-Meknès".to_owned(),
            vec!["Fès-Boulemane".to_owned(), "Meknès-Tafilalet".to_owned()],
            Some("2015-09-04".to_owned())
        )
    );
    // before the reform, the 2009 names
    assert!(
        cli.json(&["list", "--as-of", "2014", "--partner", "Fès-Meknès"])
            .as_array()
            .unwrap()
            .is_empty()
    );
    let before = cli.json(&["list", "--as-of", "2014", "--kind", "region"]);
    for c in before.as_array().unwrap() {
        for (name, via, _) in parties_of(c) {
            assert!(via.is_empty(), "{name} by succession in 2014");
        }
    }
    // the reform's mapping, region by region
    let successors = |old: &str| -> Vec<String> {
        let p = cli.json(&["partner", "show", old, "--as-of", "2016"]);
        assert_eq!(p["status"], "succeeded", "{old}");
        p["successors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| q["name"].as_str().unwrap().to_owned())
            .collect()
    };
    for (old, new) in [
        ("Tanger-Tétouan", &["Tanger-Tétouan-Al Hoceïma"][..]),
        ("Fès-Boulemane", &["Fès-Meknès"]),
        ("Rabat-Salé-Zemmour-Zaer", &["Rabat-Salé-Kénitra"]),
        ("Gharb-Cherrarda-Beni Hssen", &["Rabat-Salé-Kénitra"]),
        ("Tadla-Azilal", &["Béni Mellal-Khénifra"]),
        (
            "Laâyoune-Sakia El Hamra-Boujdour",
            &["Laâyoune-Sakia El Hamra"],
        ),
        ("Oued-Eddahab-Lagouira", &["Dakhla-Oued Ed-Dahab"]),
        ("Marrakech-Tensift", &["Marrakech-Safi"]),
        (
            "Meknès-Tafilalet",
            &["Fès-Meknès", "Drâa-Tafilalet", "Béni Mellal-Khénifra"],
        ),
        (
            "Chaouia-Ouardigha",
            &["Casablanca-Settat", "Béni Mellal-Khénifra"],
        ),
        ("Doukkala-Abda", &["Casablanca-Settat", "Marrakech-Safi"]),
        (
            "Guelmim-Smara",
            &[
                "Guelmim-Oued Noun",
                "Laâyoune-Sakia El Hamra",
                "Souss-Massa",
            ],
        ),
    ] {
        assert_eq!(successors(old), new, "{old}");
    }
    assert_eq!(
        successors("Université Mohammed V-Agdal"),
        ["Université Mohammed V de Rabat"]
    );
    // communes are not regions: the reform left them as they were
    let figuig = cli.json(&["partner", "show", "Figuig", "--as-of", "2016"]);
    assert_eq!(figuig["status"], "active");
    // every event after the corrections has a source and a reason
    let log = cli.json(&["log"]);
    let after: Vec<&serde_json::Value> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"] == "pactum demo (history)")
        .collect();
    assert!(after.len() >= 20);
    for e in &after {
        assert!(e["seq"].as_u64().unwrap() > imported_at);
        assert!(!e["source"].as_str().unwrap_or_default().is_empty(), "{e}");
        assert!(!e["reason"].as_str().unwrap_or_default().is_empty(), "{e}");
    }
    // no event of the demo is invented: nothing but registrations and successions after the corrections
    for e in &after {
        let t = e["type"].as_str().unwrap();
        assert!(t == "partner-registered" || t == "partner-succeeded", "{t}");
    }
    // the published list is still reproduced as recorded at the import
    let at = format!("#{imported_at}");
    let report = cli.run(&["report", "--recorded-as-of", &at]).ok().stdout;
    assert!(!report.contains("anciennement"));
    assert!(
        report.contains("Fés- Boulemane et Meknès –Tafilalet."),
        "{report}"
    );
    cli.run(&["verify"]).ok();
}
