//! `pactum compact`: the copy holds every entry, verifies, and takes the
//! registry's place in one exchange; a compaction killed at any step
//! leaves a whole registry; the files it replaced are refused.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use crate::support::*;

/// A registry whose caches were rebuilt from the log, with amendments, a
/// rename and a termination, and what reads it: its export, a list and
/// one convention's history.
fn registry_and_reads() -> (Cli, Vec<String>) {
    let cli = Cli::with_convention("Assainissement");
    cli.run(&["partner", "add", "Tiznit", "--kind", "commune"])
        .ok();
    for (n, objectives) in ["Voirie", "Eau potable", "Éclairage"].iter().enumerate() {
        cli.run(&[
            "amend",
            "C1",
            "--effective",
            &format!("201{n}"),
            "--objectives",
            objectives,
        ])
        .ok();
    }
    cli.run(&[
        "sign",
        "--partner",
        "P2",
        "--date",
        "2011-05",
        "--objectives",
        "Pistes",
    ])
    .ok();
    cli.run(&[
        "terminate",
        "C2",
        "--effective",
        "2014",
        "--reason",
        "completed",
    ])
    .ok();
    cli.run(&["rebuild"]).ok();
    let reads = reads(&cli);
    (cli, reads)
}

fn reads(cli: &Cli) -> Vec<String> {
    [
        &["export", "--format", "jsonl"][..],
        &["list", "--format", "json"],
        &["list", "--as-of", "2012", "--format", "json"],
        &["history", "C1", "--format", "json"],
    ]
    .iter()
    .map(|args| cli.run(args).ok().stdout)
    .collect()
}

fn compacting(cli: &Cli) -> std::path::PathBuf {
    cli.dir.path().join("registry.compacting")
}

#[test]
fn compact_copies_every_entry_verifies_and_takes_the_registry_place() {
    let (cli, before) = registry_and_reads();
    let head = cli.run(&["--format", "json", "verify"]).ok().json()["head"].clone();
    // through a link, the exchange would move the link: refused, untouched
    let link = cli.dir.path().join("link");
    std::os::unix::fs::symlink(cli.db(), &link).unwrap();
    let r = cli.run_in(&link, &["compact"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("symbolic link"), "{}", r.stderr);
    assert!(!cli.dir.path().join("link.compacting").exists());
    let r = cli.run(&["--format", "json", "compact"]).ok();
    let done = r.json();
    assert!(done["entries"].as_u64().unwrap() > 0, "{done}");
    assert_eq!(done["left"], serde_json::Value::Null);
    assert!(
        head.as_str()
            .unwrap()
            .ends_with(done["head"].as_str().unwrap().split(':').nth(1).unwrap()),
        "{head} {done}"
    );
    // the same registry: the same export (seqs, ids, hashes, times), views
    assert_eq!(reads(&cli), before);
    let verify = cli.run(&["--format", "json", "verify"]).ok().json();
    assert_eq!(verify["ok"], true, "{verify}");
    assert!(!compacting(&cli).exists(), "the old files are removed");
    // private as a new registry is
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&cli.db()), 0o700);
    for entry in std::fs::read_dir(cli.db()).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            assert_eq!(mode(&entry.path()), 0o600, "{:?}", entry.file_name());
        }
    }
    // and it goes on: an append extends the same chain
    cli.run(&["partner", "add", "Guelmim", "--kind", "commune"])
        .ok();
    assert_eq!(
        cli.run(&["--format", "json", "verify"]).ok().json()["ok"],
        true
    );
}

#[test]
fn a_compaction_killed_at_any_step_leaves_a_whole_registry_and_a_folder_the_next_one_refuses() {
    for at in [
        "compact-before-exchange",
        "compact-after-exchange",
        "compact-after-retire",
    ] {
        let (cli, before) = registry_and_reads();
        let status = Command::new(assert_cmd::cargo::cargo_bin("pactum"))
            .env("PACTUM_CRASH_AT", at)
            .env("PACTUM_DB", cli.db())
            .arg("compact")
            .output()
            .unwrap()
            .status;
        assert!(!status.success(), "{at}: the compaction ended itself");
        cli.wait_until_released();
        assert_eq!(reads(&cli), before, "{at}");
        assert_eq!(
            cli.run(&["--format", "json", "verify"]).ok().json()["ok"],
            true,
            "{at}"
        );
        // the folder left beside it is never overwritten
        assert!(compacting(&cli).exists(), "{at}");
        let again = cli.run(&["compact"]);
        assert_eq!(again.code, 2, "{at}: {}", again.stderr);
        assert!(
            again.stderr.contains("registry.compacting"),
            "{}",
            again.stderr
        );
        if at == "compact-after-retire" {
            // the files the copy replaced refuse every command
            let old = cli.run_in(&compacting(&cli), &["show", "C1"]);
            assert_eq!(old.code, 5, "{}", old.stderr);
            assert!(old.stderr.contains("pactum compact"), "{}", old.stderr);
        }
        std::fs::remove_dir_all(compacting(&cli)).unwrap();
        cli.run(&["compact"]).ok();
        assert_eq!(reads(&cli), before, "{at}");
    }
}

#[test]
fn a_registry_named_by_a_bare_name_is_compacted_in_the_current_folder() {
    let (cli, before) = registry_and_reads();
    let out = Command::new(assert_cmd::cargo::cargo_bin("pactum"))
        .current_dir(cli.dir.path())
        .env_remove("PACTUM_DB")
        .args(["--db", "registry", "compact"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(reads(&cli), before);
    assert!(!compacting(&cli).exists());
}

#[test]
fn info_counts_sleds_free_segments_in_bytes_and_in_words() {
    let (cli, _) = registry_and_reads();
    let info = cli.run(&["--format", "json", "info"]).ok().json();
    let (total, free) = (
        info["sled_segments"].as_u64().unwrap(),
        info["free_segments"].as_u64().unwrap(),
    );
    let segment = pactum::store::durable::SEGMENT_SIZE as u64;
    let file = std::fs::metadata(cli.db().join("db")).unwrap().len();
    assert_eq!(total, file.div_ceil(segment), "{info}");
    assert!(free < total, "{info}");
    assert_eq!(info["free_bytes"].as_u64().unwrap(), free * segment);
    let text = cli.run(&["info"]).ok().stdout;
    assert!(text.contains("free space"), "{text}");
    // the same figures after a compaction, from the copy's own file
    cli.run(&["compact"]).ok();
    let after = cli.run(&["--format", "json", "info"]).ok().json();
    let file = std::fs::metadata(cli.db().join("db")).unwrap().len();
    assert_eq!(
        after["sled_segments"].as_u64().unwrap(),
        file.div_ceil(segment)
    );
}
