//! The command line as people meet it: snapshots of the outputs on the 2009
//! fixtures, colour and progress bars on a terminal (through a pty made by
//! `script`) and never in a pipe, hints, help, completions, and the
//! generated reference pages in `docs/`, which fail here when stale.
//!
//! Snapshots, the generated pages among them, are refreshed with
//! `UPDATE_EXPECT=1 cargo test`.

use std::path::Path;
use std::process::Command;

use expect_test::expect_file;
use pactum::app::AppError;
use pactum::domain::{EntityId, PartnerKind};

use crate::support::*;

/// A demo registry (the fixtures, their corrections and what became of the partners).
fn demo() -> Cli {
    let cli = Cli::new();
    cli.run(&["demo", "--format", "json"]).ok();
    cli
}

/// Replaces what changes from run to run (ids, times) with placeholders.
fn redact(text: &str) -> String {
    let uuid =
        regex::Regex::new(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").unwrap();
    let short = regex::Regex::new(r"\b[0-9a-f]{8}-[0-9a-f]{4}\b").unwrap();
    let time = regex::Regex::new(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z").unwrap();
    let text = uuid.replace_all(text, "<uuid>");
    let text = short.replace_all(&text, "<id>");
    time.replace_all(&text, "<recorded-at>").into_owned()
}

fn snapshot(cli: &Cli, args: &[&str]) -> String {
    redact(&cli.run(args).ok().stdout)
}

#[test]
fn list_show_history_and_report_read_the_same_on_every_run() {
    let cli = demo();
    for (format, ext) in [("table", "txt"), ("csv", "csv"), ("markdown", "md")] {
        let list = snapshot(
            &cli,
            &[
                "--format", format, "list", "--kind", "commune", "--as-of", "2010",
            ],
        );
        let show = snapshot(
            &cli,
            &["--format", format, "show", "C36", "--as-of", "2012"],
        );
        let history = snapshot(&cli, &["--format", format, "history", "Figuig"]);
        let path = |what: &str| format!("snapshots/{what}.{ext}");
        expect_file![path("list")].assert_eq(&list);
        expect_file![path("show")].assert_eq(&show);
        expect_file![path("history")].assert_eq(&history);
    }
    let report = snapshot(&cli, &["--format", "markdown", "report", "--as-of", "2016"]);
    expect_file!["snapshots/report.md"].assert_eq(&report);
    let text = snapshot(
        &cli,
        &["report", "--as-of", "2016", "--recorded-as-of", "#77"],
    );
    expect_file!["snapshots/report-2009.txt"].assert_eq(&text);
}

#[test]
fn the_demo_tour_reads_the_same_on_every_run() {
    let cli = Cli::new();
    let tour = cli.run(&["demo"]).ok().stdout;
    let folder = cli.db().parent().unwrap().display().to_string();
    // the report is of today
    let today = regex::Regex::new(r"situation au \d{4}-\d{2}-\d{2}").unwrap();
    let tour = today.replace(&tour, "situation au <today>");
    expect_file!["snapshots/demo.txt"].assert_eq(&redact(&tour.replace(&folder, "<folder>")));
}

/// Runs `pactum` under a pseudo-terminal (`script`), stdout and stderr both
/// going to it; returns what the terminal received.
fn on_a_terminal(db: &Path, args: &str, env: &[(&str, &str)]) -> String {
    let bin = assert_cmd::cargo::cargo_bin("pactum");
    let mut command = Command::new("script");
    command
        .args(["-qec", &format!("{} {args}", bin.display()), "/dev/null"])
        .env("PACTUM_DB", db)
        .env("TERM", "xterm-256color")
        .env("COLUMNS", "120")
        .env_remove("NO_COLOR");
    for (k, v) in env {
        command.env(k, v);
    }
    let output = command
        .output()
        .expect("`script` (util-linux) runs commands on a pty");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    let cli = demo();
    let coloured = on_a_terminal(&cli.db(), "list --as-of 2010", &[]);
    assert!(
        coloured.contains("\u{1b}["),
        "a terminal gets colour:\n{coloured}"
    );
    assert!(coloured.contains("C33"), "{coloured}");
    let plain = on_a_terminal(&cli.db(), "list --as-of 2010", &[("NO_COLOR", "1")]);
    assert!(plain.contains("C33"), "{plain}");
    assert!(
        !plain.contains("\u{1b}["),
        "NO_COLOR output has escape codes:\n{plain:?}"
    );
    let piped = cli.run(&["list", "--as-of", "2010"]).ok().stdout;
    assert!(!piped.contains('\u{1b}'), "a pipe gets no escape codes");
}

#[test]
fn progress_bars_show_on_a_terminal_not_in_a_pipe_nor_with_quiet() {
    let cli = Cli::new();
    let file = cli.dir.path().join("many.csv");
    let mut csv = String::from("section,partners,partner_kind,instrument,signed_on,objectives\n");
    for i in 0..3000 {
        csv.push_str(&format!(
            "communes,Commune {i},commune,convention,2010,Agenda 21 n° {i}\n"
        ));
    }
    std::fs::write(&file, csv).unwrap();
    let shown = on_a_terminal(&cli.db(), &format!("import {}", file.display()), &[]);
    assert!(
        shown.contains("importing"),
        "no progress on a terminal:\n{shown}"
    );
    assert!(shown.contains("imported 3000 rows"), "{shown}");
    let quiet = on_a_terminal(&cli.db(), "-q rebuild", &[]);
    assert!(
        !quiet.contains("rebuilding"),
        "-q still drew a bar:\n{quiet}"
    );
    let piped = cli.run(&["rebuild"]).ok();
    assert!(
        piped.stderr.is_empty(),
        "a pipe got progress: {}",
        piped.stderr
    );
    let piped = cli.run(&["verify"]).ok();
    assert!(
        piped.stderr.is_empty(),
        "a pipe got progress: {}",
        piped.stderr
    );
}

#[test]
fn errors_come_with_hints() {
    let cli = demo();
    let hint = |args: &[&str]| -> String {
        let r = cli.run(args);
        assert_ne!(r.code, 0, "{args:?}");
        r.stderr
            .lines()
            .find(|l| l.starts_with("hint: "))
            .unwrap_or_else(|| panic!("{args:?}: no hint in\n{}", r.stderr))
            .to_owned()
    };
    // the closest partner names for an unknown one
    assert!(hint(&["partner", "show", "Agadr"]).contains("did you mean P30 'Agadir'"));
    // the candidates of an ambiguous one
    let ambiguous = hint(&["partner", "show", "Agence pour la Promotion"]);
    assert!(
        ambiguous.contains("P9 'Agence pour la Promotion"),
        "{ambiguous}"
    );
    assert!(
        ambiguous.contains("P11 'Agence pour la Promotion"),
        "{ambiguous}"
    );
    assert!(ambiguous.contains("name one by its handle"), "{ambiguous}");
    // the accepted date forms
    assert!(hint(&["list", "--as-of", "2009-31"]).contains("YYYY, YYYY-MM or YYYY-MM-DD"));
    // the current version for a stale --expect-version
    let stale = hint(&[
        "amend",
        "C36",
        "--effective",
        "2012",
        "--objectives",
        "x",
        "--expect-version",
        "0",
    ]);
    assert!(stale.contains("--expect-version 1"), "{stale}");
    // the holding process for "registry in use"
    let held = Reg::open_at(
        &cli.db(),
        std::sync::Arc::new(pactum::app::FixedClock::new(t0(), 1)),
    );
    let busy = hint(&["list"]);
    assert!(busy.contains("held by process"), "{busy}");
    assert!(busy.contains("--wait"), "{busy}");
    drop(held);
}

#[test]
fn due_lists_the_conventions_to_renew() {
    let cli = Cli::new();
    cli.run(&["partner", "add", "Agadir", "--kind", "commune"])
        .ok();
    let today = chrono::Utc::now().date_naive();
    let soon = (today + chrono::Days::new(30)).to_string();
    let later = (today + chrono::Days::new(300)).to_string();
    cli.run(&[
        "sign",
        "--partner",
        "P1",
        "--date",
        "2020",
        "--objectives",
        "soon",
        "--expires",
        &soon,
    ])
    .ok();
    cli.run(&[
        "sign",
        "--partner",
        "P1",
        "--date",
        "2020",
        "--objectives",
        "later",
        "--expires",
        &later,
    ])
    .ok();
    cli.run(&[
        "sign",
        "--partner",
        "P1",
        "--date",
        "2020",
        "--objectives",
        "never",
    ])
    .ok();
    let due = cli.json(&["due"]);
    let handles: Vec<&str> = due
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["handle"].as_str().unwrap())
        .collect();
    assert_eq!(handles, ["C1"]);
    let due = cli.json(&["due", "--within", "365"]);
    assert_eq!(due.as_array().unwrap().len(), 2);
}

#[test]
fn help_groups_the_commands_and_shows_examples() {
    let cli = Cli::new();
    let help = cli.run(&["--help"]).ok().stdout;
    let mut last = 0;
    for group in [
        "Record:",
        "Read:",
        "Audit:",
        "Exchange:",
        "Integrity:",
        "Transparency:",
    ] {
        let at = help
            .find(group)
            .unwrap_or_else(|| panic!("{group} missing:\n{help}"));
        assert!(at > last, "groups out of order");
        last = at;
    }
    let commands = subcommands();
    for name in &commands {
        let top = name.split(' ').next().unwrap();
        assert!(
            help.contains(&format!("  {top} ")),
            "{top} is not in the grouped help"
        );
        let mut args: Vec<&str> = name.split(' ').collect();
        args.push("--help");
        let page = cli.run(&args).ok().stdout;
        if !["completions", "man", "partner"].contains(&name.as_str()) {
            assert!(
                page.contains("Example"),
                "`pactum {name} --help` has no example"
            );
        }
    }
}

/// Every command path, from clap's own tree, in the order of the grouped
/// help (a command's own commands after it).
fn subcommands() -> Vec<String> {
    fn walk(command: &clap::Command, prefix: &str, out: &mut Vec<String>) {
        for sub in command.get_subcommands().filter(|c| !c.is_hide_set()) {
            let path = format!("{prefix}{}", sub.get_name());
            walk(sub, &format!("{path} "), out);
            out.push(path);
        }
    }
    let command = pactum::cli::command();
    let mut out = Vec::new();
    for name in pactum::cli::grouped_names() {
        let sub = command
            .find_subcommand(name)
            .unwrap_or_else(|| panic!("the help groups {name}, which clap does not know"));
        walk(sub, &format!("{name} "), &mut out);
        out.push(name.to_owned());
    }
    out
}

#[test]
fn clap_finds_the_command_line_well_formed() {
    pactum::cli::command().debug_assert();
}

#[test]
fn the_grouped_help_lists_every_command_once() {
    let command = pactum::cli::command();
    let mut grouped: Vec<&str> = pactum::cli::grouped_names().collect();
    let mut known: Vec<&str> = command
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .map(|c| c.get_name())
        .collect();
    let before = grouped.len();
    grouped.sort_unstable();
    grouped.dedup();
    assert_eq!(grouped.len(), before, "a command stands in two groups");
    known.sort_unstable();
    assert_eq!(grouped, known);
}

#[test]
fn docs_cli_md_and_the_man_page_are_up_to_date() {
    let cli = Cli::new();
    let run = |args: &[&str]| cli.run(args).ok().stdout;
    let mut page = format!(
        "# Command-line reference\n\n\
         Generated from the help texts (`pactum … --help`) by the test suite, which fails\n\
         when this page is stale; regenerate it with `UPDATE_EXPECT=1 cargo test --test it docs`.\n\n\
         Exit codes: 0 ok; 2 bad usage or invalid input; 3 reference not found or ambiguous;\n\
         4 conflict (version moved, registry in use); 5 integrity failure; 1 anything else.\n\n\
         Environment: `PACTUM_DB` (the registry folder, as `--db`), `PACTUM_ACTOR` (who records,\n\
         when `--by` is not given), `PACTUM_CACHE_MB` (sled's page cache, 1 to 65536 MB; default {}),\n\
         `NO_COLOR` (no colour even on a terminal), `RUST_LOG` (log filter, as `-v`).\n\n\
         ## pactum\n\n```text\n",
        pactum::store::DEFAULT_CACHE_BYTES >> 20
    );
    page.push_str(&run(&["--help"]));
    page.push_str("```\n");
    for name in subcommands() {
        let mut args: Vec<&str> = name.split(' ').collect();
        args.push("--help");
        page.push_str(&format!(
            "\n## pactum {name}\n\n```text\n{}```\n",
            run(&args)
        ));
    }
    // the same snapshots as every other output: `UPDATE_EXPECT=1` rewrites them
    expect_file!["../../docs/cli.md"].assert_eq(&page);
    let man = run(&["man"]);
    assert!(
        man.starts_with(".ie") || man.contains(".TH"),
        "not roff: {}",
        &man[..80.min(man.len())]
    );
    expect_file!["../../docs/man/pactum.1"].assert_eq(&man);
}

#[test]
fn completions_are_generated_for_every_shell() {
    let cli = Cli::new();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let script = cli.run(&["completions", shell]).ok().stdout;
        assert!(
            script.contains("recorded-as-of"),
            "{shell} completion lacks a flag"
        );
        assert!(
            script.contains("partner"),
            "{shell} completion lacks a command"
        );
    }
    let r = cli.run(&["completions", "tcsh"]);
    assert_eq!(r.code, 2);
}

/// The shortest prefix of `id`'s hex, of at least 8 digits, that none of
/// `others` shares.
fn unique_prefix(id: &str, others: &[&str]) -> String {
    (8..=id.len())
        .map(|n| id[..n].to_owned())
        .find(|p| others.iter().all(|o| !o.starts_with(p.as_str())))
        .unwrap()
}

#[test]
fn an_id_or_an_id_prefix_names_a_partner_or_a_convention_whichever_it_is() {
    let r = Reg::new();
    let p = r.partner("Agadir", PartnerKind::Commune);
    let c1 = r.sign(&[p], "2009", "Agenda 21");
    let c2 = r.sign(&[p], "2010", "Schéma régional");
    // a partner registered after the conventions: in UUID order it comes
    // last, after every convention
    let p2 = r.partner("Tanger", PartnerKind::Commune);
    let hex: Vec<String> = [p.0, c1.0, c2.0, p2.0]
        .iter()
        .map(|u| u.simple().to_string())
        .collect();
    let reg = &r.registry;
    // the whole id, with or without hyphens
    assert_eq!(reg.resolve_entity(&p.0.to_string()).unwrap(), p.into());
    assert_eq!(reg.resolve_entity(&c1.0.to_string()).unwrap(), c1.into());
    assert_eq!(reg.resolve_convention(&hex[2]).unwrap(), c2);
    // a prefix only one id has
    let all = [EntityId::from(p), c1.into(), c2.into(), p2.into()];
    for (i, entity) in all.iter().enumerate() {
        let others: Vec<&str> = hex
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, h)| h.as_str())
            .collect();
        let prefix = unique_prefix(&hex[i], &others);
        assert_eq!(reg.resolve_entity(&prefix).unwrap(), *entity, "{prefix}");
    }
    // a prefix all four share names them all, in the order of their ids
    let common: String = (0..hex[0].len())
        .map_while(|i| {
            let c = hex[0].as_bytes()[i];
            hex.iter()
                .all(|h| h.as_bytes()[i] == c)
                .then_some(char::from(c))
        })
        .collect();
    assert!(common.len() >= 8, "{hex:?}");
    match reg.resolve_entity(&common[..8]) {
        Err(AppError::Ambiguous { candidates, .. }) => {
            let labels: Vec<String> = all.iter().map(|e| reg.label(*e)).collect();
            assert_eq!(candidates, labels);
        }
        other => panic!("not ambiguous: {other:?}"),
    }
    // an id no entity has
    let unknown = uuid::Uuid::from_u128(p.0.as_u128() ^ 1).to_string();
    assert!(matches!(
        reg.resolve_entity(&unknown),
        Err(AppError::NotFound { .. })
    ));
}
