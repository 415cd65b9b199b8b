//! `pactum upgrade` on a registry written by the code before the storage
//! of segments and caches (`tests/registry-format-1/`, made by `pactum
//! demo`): every other command refuses it with exit 2 naming the upgrade;
//! the upgrade keeps every event byte for byte, verifies, and keeps the
//! old folder.

use std::path::Path;

use crate::support::*;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A copy of the kept registry of format 1 (never the kept one itself).
fn format1_registry() -> Cli {
    let cli = Cli::new();
    copy_dir(Path::new("tests/registry-format-1/registry"), &cli.db());
    cli
}

#[test]
fn commands_on_a_registry_of_format_1_exit_2_naming_the_upgrade() {
    let cli = format1_registry();
    for args in [
        &["list"][..],
        &["show", "C1"],
        &["partner", "add", "Fès", "--kind", "commune"],
        &["verify"],
        &["export"],
    ] {
        let r = cli.run(args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("pactum"), "{}", r.stderr);
        assert!(r.stderr.contains("upgrade"), "{args:?}: {}", r.stderr);
    }
}

#[test]
fn upgrade_keeps_every_event_byte_for_byte_verifies_and_keeps_the_old_folder() {
    let cli = format1_registry();
    let before: Vec<u8> = std::fs::read(cli.db().join("db")).unwrap();
    let r = cli.run(&["--format", "json", "upgrade"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let done = r.json();
    let exported = std::fs::read_to_string("tests/registry-format-1/export.jsonl").unwrap();
    assert_eq!(done["events"], exported.lines().count());
    // the old folder is kept, untouched
    let kept = std::path::PathBuf::from(done["kept"].as_str().unwrap());
    assert_eq!(std::fs::read(kept.join("db")).unwrap(), before);
    // same seqs, ids, entities, versions, times, hashes: the same export
    let verify = cli.run(&["--format", "json", "verify"]).ok().json();
    assert_eq!(verify["ok"], true);
    assert_eq!(verify["events"], exported.lines().count());
    let last: serde_json::Value = serde_json::from_str(exported.lines().last().unwrap()).unwrap();
    assert!(
        done["head"]
            .as_str()
            .unwrap()
            .ends_with(last["hash"].as_str().unwrap()),
        "{done}"
    );
    let r = cli.run(&["export", "--format", "jsonl"]).ok();
    assert_eq!(r.stdout, exported);
    // the registry works on: reads, and an append that extends its chain
    cli.run(&["show", "C1"]).ok();
    cli.run(&["partner", "add", "Agadir Ida Outanane", "--kind", "commune"])
        .ok();
    cli.run(&["verify"]).ok();
    // a second upgrade has nothing to do
    let again = cli.run(&["upgrade"]);
    assert_eq!(again.code, 2, "{}", again.stderr);
}

#[test]
fn an_interrupted_upgrade_leaves_the_old_registry_and_is_refused_until_cleared() {
    let cli = format1_registry();
    let leftover = cli.db().with_file_name("registry.upgrading");
    std::fs::create_dir_all(&leftover).unwrap();
    let r = cli.run(&["upgrade"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("interrupted"), "{}", r.stderr);
    assert_eq!(cli.run(&["list"]).code, 2);
    std::fs::remove_dir_all(&leftover).unwrap();
    cli.run(&["upgrade"]).ok();
    cli.run(&["verify"]).ok();
}

/// A copy of the kept registry of format 2 (`tests/registry-format-2/`,
/// made by `pactum demo` before segments could be compressed).
fn format2_registry() -> Cli {
    let cli = Cli::new();
    copy_dir(Path::new("tests/registry-format-2/registry"), &cli.db());
    cli
}

/// The format byte the registry's `meta` tree records.
fn recorded_format(cli: &Cli) -> u8 {
    with_sled(cli, |db| {
        db.open_tree("meta")
            .unwrap()
            .get("format")
            .unwrap()
            .unwrap()[0]
    })
}

/// The format byte of every segment of the log.
fn segment_formats(cli: &Cli) -> Vec<u8> {
    with_sled(cli, |db| {
        let log = db.open_tree("log").unwrap();
        log.iter().map(|kv| kv.unwrap().1[0]).collect()
    })
}

#[test]
fn a_registry_of_format_2_is_read_as_it_is_and_marked_3_by_its_first_write() {
    let cli = format2_registry();
    let exported = std::fs::read_to_string("tests/registry-format-2/export.jsonl").unwrap();
    // reads, the export and verify take it as it is, and leave its record
    assert_eq!(
        cli.run(&["export", "--format", "jsonl"]).ok().stdout,
        exported
    );
    let verify = cli.run(&["--format", "json", "verify"]).ok().json();
    assert_eq!(verify["ok"], true, "{verify}");
    assert_eq!(verify["events"], exported.lines().count());
    cli.run(&["show", "C1"]).ok();
    let info = cli.run(&["--format", "json", "info"]).ok().json();
    assert_eq!(info["registry_format"], 2, "{info}");
    assert_eq!(recorded_format(&cli), 2);
    // nothing to upgrade: exit 2, and the record unchanged
    let r = cli.run(&["upgrade"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("nothing to upgrade"), "{}", r.stderr);
    assert_eq!(recorded_format(&cli), 2);
    assert!(
        segment_formats(&cli)
            .iter()
            .all(|f| *f == pactum::store::codec::SEGMENT_FORMAT)
    );
    // enough single appends for the tail to be merged: the record says 3,
    // the merged segments are compressed, and every event is still there
    let appends = pactum::store::log::MERGE_AFTER + 2;
    add_communes(&cli, appends);
    assert_eq!(recorded_format(&cli), pactum::store::codec::REGISTRY_FORMAT);
    let info = cli.run(&["--format", "json", "info"]).ok().json();
    assert_eq!(
        info["registry_format"],
        pactum::store::codec::REGISTRY_FORMAT
    );
    assert!(
        segment_formats(&cli).contains(&pactum::store::codec::SEGMENT_LZ4),
        "{:?}",
        segment_formats(&cli)
    );
    let after = cli.run(&["export", "--format", "jsonl"]).ok().stdout;
    assert!(after.starts_with(&exported));
    assert_eq!(after.lines().count(), exported.lines().count() + appends);
    let verify = cli.run(&["--format", "json", "verify"]).ok().json();
    assert_eq!(verify["ok"], true, "{verify}");
}

#[test]
fn verify_reports_a_compressed_segment_in_a_registry_recorded_as_format_2() {
    let cli = format2_registry();
    let key = with_sled(&cli, |db| {
        let log = db.open_tree("log").unwrap();
        let (key, value) = log
            .iter()
            .map(|kv| kv.unwrap())
            .find(|(_, v)| segment_events(v).len() > 1)
            .expect("a segment of several events");
        let events = segment_events(&value);
        let compressed =
            pactum::store::codec::encode_segment(events.iter().map(Vec::as_slice)).unwrap();
        assert_eq!(compressed[0], pactum::store::codec::SEGMENT_LZ4);
        log.insert(&key, compressed).unwrap();
        key
    });
    let r = cli.run(&["--format", "json", "verify"]);
    assert_eq!(r.code, 5, "{}{}", r.stdout, r.stderr);
    let seq = u64::from_be_bytes(key.as_ref().try_into().unwrap());
    let problems = r.json()["problems"].to_string();
    assert!(problems.contains("recorded as format 2"), "{problems}");
    assert!(problems.contains(&format!("seq {seq}")), "{problems}");
}

#[test]
fn the_first_write_to_a_format_2_registry_records_3_before_its_segment() {
    let cli = format2_registry();
    let exported = std::fs::read_to_string("tests/registry-format-2/export.jsonl").unwrap();
    // the process ends itself once its segment is durable, before it
    // answers: the record it wrote before the segment is there
    let status = std::process::Command::new(assert_cmd::cargo::cargo_bin("pactum"))
        .env("PACTUM_CRASH_AT", "after-log")
        .env("PACTUM_DB", cli.db())
        .env("PACTUM_ACTOR", "crash-test")
        .args(["partner", "add", "Oujda", "--kind", "commune"])
        .output()
        .unwrap()
        .status;
    assert!(
        !status.success(),
        "the process was to end itself after the log write"
    );
    cli.wait_until_released();
    assert_eq!(recorded_format(&cli), pactum::store::codec::REGISTRY_FORMAT);
    let verify = cli.run(&["--format", "json", "verify"]).ok().json();
    assert_eq!(verify["ok"], true, "{verify}");
    assert_eq!(verify["events"], exported.lines().count() + 1);
}
