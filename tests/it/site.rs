//! The transparency site (`pactum publish`): its pages parsed as HTML
//! (every convention of the view on the index, every link resolving to a
//! file of the site, nothing from outside, every stored text escaped),
//! determinism, the output folder's safety, and a real browser loading it
//! (search, proofs checked with Web Crypto, screenshots under `target/`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::Signer;
use scraper::{Html, Selector};
use sha2::{Digest, Sha256};

use crate::support::{Cli, Reg};
use pactum::app::ConventionFilter;
use pactum::site;

fn sel(s: &str) -> Selector {
    Selector::parse(s).unwrap()
}

/// The site of the demo registry (library level), at the head, today.
fn demo_site() -> (Reg, site::Files) {
    use pactum::domain::decide::Command;
    use pactum::domain::{AnyTimeline, EntityKind, Objectives};
    let reg = Reg::new();
    reg.registry.build_demo().unwrap();
    // The demo tells only sourced history, which voids nothing: an
    // amendment filed on the wrong convention, then retracted, puts a void
    // event on the pages.
    let point = reg.registry.point(None, None).unwrap();
    let convention = reg
        .registry
        .snapshot(point)
        .timelines_of(EntityKind::Convention)
        .unwrap()
        .into_iter()
        .find_map(|(_, t)| match t {
            AnyTimeline::Convention(t) => Some(t.id),
            AnyTimeline::Partner(_) => None,
        })
        .unwrap();
    let mut wrong = crate::support::amended("2012");
    wrong.objectives = Some(Objectives::new("Avenant classé par erreur").unwrap());
    let filed = reg
        .exec(Command::AmendConvention(convention, wrong), None)
        .unwrap();
    reg.exec(
        Command::Retract {
            entity: convention.into(),
            target: filed.event_id,
        },
        Some("avenant d'une autre convention"),
    )
    .unwrap();
    let point = reg.registry.point(None, None).unwrap();
    let built = site::build(&reg.registry, point, None).unwrap();
    (reg, built.files)
}

fn html(files: &site::Files, path: &str) -> Html {
    Html::parse_document(std::str::from_utf8(&files[path]).unwrap())
}

/// `../x/y.html#a` from `conventions/C1.html` → (`x/y.html`, Some("a")).
fn resolve(page: &str, link: &str) -> (String, Option<String>) {
    let (path, fragment) = match link.split_once('#') {
        Some((p, f)) => (p, Some(f.to_owned())),
        None => (link, None),
    };
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() {
        return (page.to_owned(), fragment);
    }
    let mut parts: Vec<&str> = page.split('/').collect();
    parts.pop();
    for part in path.split('/') {
        match part {
            ".." => {
                assert!(parts.pop().is_some(), "{link} leaves the site from {page}");
            }
            "." => {}
            p => parts.push(p),
        }
    }
    (parts.join("/"), fragment)
}

/// Every `href` and `src` of every page, with the page it is on.
fn references(files: &site::Files) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for path in files.keys().filter(|p| p.ends_with(".html")) {
        let doc = html(files, path);
        for el in doc.select(&sel("[href], [src]")) {
            for attr in ["href", "src"] {
                if let Some(v) = el.value().attr(attr) {
                    out.push((path.clone(), v.to_owned()));
                }
            }
        }
    }
    out
}

#[test]
fn the_index_lists_every_convention_of_the_view_in_its_2009_section() {
    let (reg, files) = demo_site();
    let point = reg.registry.point(None, None).unwrap();
    let views = reg
        .registry
        .snapshot(point)
        .conventions(&ConventionFilter::default())
        .unwrap();
    assert!(views.len() > 30, "the demo has the 2009 conventions");
    let doc = html(&files, "index.html");
    assert_eq!(
        doc.root_element().value().attr("lang"),
        Some("fr"),
        "the site is in French"
    );
    let listed: BTreeSet<String> = doc
        .select(&sel("tr[data-search] td:last-child a"))
        .map(|a| a.value().attr("href").unwrap().to_owned())
        .collect();
    let expected: BTreeSet<String> = views
        .iter()
        .map(|v| format!("conventions/{}.html", v.handle))
        .collect();
    assert_eq!(listed, expected);
    assert_eq!(doc.select(&sel("tr[data-search]")).count(), views.len());
    let headings: Vec<String> = doc
        .select(&sel("section[data-section] h2"))
        .map(|h| h.text().collect())
        .collect();
    assert_eq!(
        headings.first().map(String::as_str),
        Some("Partenariat avec les Ministères et les hauts commissariats")
    );
    assert!(headings.contains(&"Coopération bilatérale".to_owned()));
    let columns: Vec<String> = doc
        .select(&sel("section[data-section] thead th"))
        .map(|h| h.text().collect())
        .collect();
    for column in ["Ministère", "Date de signature", "Objectifs", "Commune"] {
        assert!(columns.iter().any(|c| c == column), "{column}: {columns:?}");
    }
    let top: String = doc.select(&sel("header")).flat_map(|h| h.text()).collect();
    assert!(top.contains("Direction de l'aménagement du territoire"));
    assert!(top.contains(&format!("#{}", point.recorded)));
    assert!(top.contains(&point.valid.to_string()));
    // table headers carry their scope
    assert!(
        doc.select(&sel("thead th"))
            .all(|th| th.value().attr("scope") == Some("col"))
    );
}

#[test]
fn each_entry_page_shows_every_event_of_its_history_and_strikes_the_void_ones() {
    use pactum::domain::{AnyTimeline, EntityId, EntityKind};
    let (reg, files) = demo_site();
    let point = reg.registry.point(None, None).unwrap();
    let snapshot = reg.registry.snapshot(point);
    let mut void_seen = 0;
    let mut pages = 0;
    let entries = snapshot
        .timelines_of(EntityKind::Convention)
        .unwrap()
        .into_iter()
        .chain(snapshot.timelines_of(EntityKind::Partner).unwrap());
    for (handle, timeline) in entries {
        let (page, entity) = match timeline {
            AnyTimeline::Convention(t) => (
                format!("conventions/{handle}.html"),
                EntityId::Convention(t.id),
            ),
            AnyTimeline::Partner(t) => (
                format!("partenaires/{handle}.html"),
                EntityId::Partner(t.id),
            ),
        };
        pages += 1;
        let doc = html(&files, &page);
        let history = reg.registry.history(entity, &point).unwrap();
        // every field change of every event is printed, field by field
        let rows = doc.select(&sel("table.changements tbody tr")).count();
        let changes: usize = history.iter().map(|e| e.changes.len()).sum();
        assert_eq!(rows, changes, "{page}");
        let text: String = doc.root_element().text().collect();
        for e in &history {
            assert!(text.contains(e.record.actor.as_str()), "{page}");
            let said = [
                e.record.reason.as_ref().map(|r| r.as_str()),
                e.record.source.as_ref().map(|r| r.as_str()),
            ];
            for said in said.into_iter().flatten() {
                assert!(text.contains(said), "{page}: {said}");
            }
        }
        let shown: Vec<String> = doc
            .select(&sel("ol.historique > li"))
            .map(|li| li.value().attr("id").unwrap().to_owned())
            .collect();
        let expected: Vec<String> = history
            .iter()
            .map(|e| format!("e{}", e.record.seq))
            .collect();
        assert_eq!(shown, expected, "{page}");
        for entry in history.iter().filter(|e| e.voided_by.is_some()) {
            void_seen += 1;
            let li = doc
                .select(&sel(&format!("li#e{}", entry.record.seq)))
                .next()
                .unwrap();
            assert!(li.value().classes().any(|c| c == "annule"), "{page}");
            assert!(li.select(&sel("del")).next().is_some(), "struck out");
            let (retraction, _) = entry.voided_by.unwrap();
            let link = format!("../{page}#e{retraction}");
            assert!(
                li.select(&sel("a"))
                    .any(|a| a.value().attr("href") == Some(link.as_str())),
                "{page}: the retraction that voids #{} is linked",
                entry.record.seq
            );
        }
    }
    assert!(void_seen > 0, "the retracted amendment is on a page");
    assert!(pages > 60, "conventions and partners: {pages}");
}

#[test]
fn every_link_of_every_page_resolves_to_a_file_and_an_anchor_of_the_site() {
    let (_reg, files) = demo_site();
    let mut ids: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in files.keys().filter(|p| p.ends_with(".html")) {
        let doc = html(&files, path);
        ids.insert(
            path.clone(),
            doc.select(&sel("[id]"))
                .map(|e| e.value().attr("id").unwrap().to_owned())
                .collect(),
        );
    }
    let refs = references(&files);
    assert!(refs.len() > 500, "the pages link to each other");
    for (page, link) in refs {
        let (target, fragment) = resolve(&page, &link);
        assert!(
            files.contains_key(&target),
            "{page}: {link} → {target} is not a file of the site"
        );
        if let (Some(fragment), Some(anchors)) = (fragment, ids.get(&target))
            && !fragment.starts_with("q=")
        {
            assert!(anchors.contains(&fragment), "{page}: {link} has no anchor");
        }
    }
}

#[test]
fn nothing_in_the_site_references_an_outside_url() {
    let (_reg, files) = demo_site();
    for (page, link) in references(&files) {
        assert!(
            !link.contains(':') && !link.starts_with("//"),
            "{page} references {link}"
        );
    }
    for (path, bytes) in &files {
        if path.ends_with(".css") || path.ends_with(".js") || path.ends_with(".html") {
            let text = std::str::from_utf8(bytes).unwrap();
            for outside in [
                "http:",
                "https:",
                "url(",
                "@import",
                "fetch(",
                "XMLHttpRequest",
            ] {
                assert!(!text.contains(outside), "{path} holds {outside}");
            }
        }
    }
}

/// A registry whose every stored text is hostile markup.
const HOSTILE: [&str; 4] = [
    "<script>alert('nom')</script>",
    "\"><img src=x onerror=alert(1)>",
    "javascript:alert(2)",
    "</td></tr></table><script>alert(3)</script>",
];

fn hostile_registry() -> Cli {
    let cli = Cli::new();
    cli.run(&[
        "partner", "add", HOSTILE[0], "--kind", "commune", "--by", HOSTILE[1],
    ])
    .ok();
    cli.run(&[
        "partner", "add", HOSTILE[2], "--kind", "ministry", "--source", HOSTILE[3],
    ])
    .ok();
    cli.run(&[
        "sign",
        "--partner",
        "P1",
        "--partner",
        "P2",
        "--date",
        "2009",
        "--objectives",
        HOSTILE[3],
        "--official-ref",
        HOSTILE[1],
        "--source",
        HOSTILE[0],
        "--by",
        HOSTILE[2],
    ])
    .ok();
    cli.run(&[
        "amend",
        "C1",
        "--effective",
        "2010",
        "--objectives",
        HOSTILE[1],
        "--reason",
        HOSTILE[0],
    ])
    .ok();
    cli.run(&[
        "terminate",
        "C1",
        "--effective",
        "2012",
        "--reason",
        HOSTILE[2],
    ])
    .ok();
    let history = cli.json(&["history", "C1"]);
    let amendment = history[1]["event_id"].as_str().unwrap().to_owned();
    cli.run(&[
        "retract", &amendment, "--reason", HOSTILE[3], "--by", HOSTILE[0],
    ])
    .ok();
    cli
}

fn read_site(dir: &Path) -> site::Files {
    fn walk(dir: &Path, base: &Path, out: &mut site::Files) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, base, out);
            } else {
                let rel = path
                    .strip_prefix(base)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = site::Files::new();
    walk(dir, dir, &mut out);
    out
}

#[test]
fn every_stored_text_is_escaped_on_every_page() {
    let cli = hostile_registry();
    let out = cli.dir.path().join("site");
    cli.run(&["publish", "--out", out.to_str().unwrap()]).ok();
    let files = read_site(&out);
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for path in files.keys().filter(|p| p.ends_with(".html")) {
        let doc = html(&files, path);
        for script in doc.select(&sel("script")) {
            let src = script.value().attr("src").unwrap_or_default();
            assert!(
                src.ends_with("assets/recherche.js") || src.ends_with("assets/verification.js"),
                "{path}: a script that is not the site's: {}",
                script.html()
            );
            assert_eq!(
                script.text().collect::<String>(),
                "",
                "{path}: inline script"
            );
        }
        assert!(
            doc.select(&sel("img, [onerror], [onclick], [onmouseover]"))
                .next()
                .is_none(),
            "{path}"
        );
        for el in doc.select(&sel("[href], [src]")) {
            for v in [el.value().attr("href"), el.value().attr("src")]
                .into_iter()
                .flatten()
            {
                assert!(!v.contains("javascript"), "{path}: {v}");
            }
        }
        let text: String = doc.root_element().text().collect();
        let attrs: String = doc
            .select(&sel("[data-search]"))
            .map(|e| e.value().attr("data-search").unwrap().to_owned())
            .collect();
        for h in HOSTILE {
            if text.contains(h) {
                *seen.entry(h).or_default() += 1;
            }
        }
        assert!(!attrs.contains('<'), "search data is folded words");
    }
    for h in HOSTILE {
        assert!(
            seen.get(h).copied().unwrap_or(0) > 0,
            "{h} is printed as text somewhere"
        );
    }
}

#[test]
fn the_same_registry_and_options_give_byte_identical_files() {
    let cli = Cli::new();
    cli.run(&["demo", "--db", cli.db().to_str().unwrap()]).ok();
    let a = cli.dir.path().join("a");
    let b = cli.dir.path().join("b");
    for out in [&a, &b] {
        cli.run(&[
            "publish",
            "--out",
            out.to_str().unwrap(),
            "--as-of",
            "2020-06-30",
        ])
        .ok();
    }
    let (fa, fb) = (read_site(&a), read_site(&b));
    assert!(fa.len() > 80);
    assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
    for (path, bytes) in &fa {
        assert!(fb[path] == *bytes, "{path} differs between two runs");
    }
    // and a later publication over the first replaces it with the same bytes
    cli.run(&[
        "publish",
        "--out",
        a.to_str().unwrap(),
        "--as-of",
        "2020-06-30",
    ])
    .ok();
    assert_eq!(read_site(&a), fb);
    // SHA256SUMS lists every other file with its digest
    let sums = String::from_utf8(fa["SHA256SUMS"].clone()).unwrap();
    let listed: BTreeMap<&str, &str> = sums
        .lines()
        .map(|l| {
            let (h, p) = l.split_once("  ").unwrap();
            (p, h)
        })
        .collect();
    assert_eq!(listed.len(), fa.len() - 1);
    for (path, bytes) in fa.iter().filter(|(p, _)| *p != "SHA256SUMS") {
        let digest: String = Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(listed[path.as_str()], digest, "{path}");
    }
}

#[test]
fn publish_refuses_an_out_folder_inside_the_registry_even_through_a_link() {
    let cli = Cli::with_convention("Un objectif");
    let inside = cli.db().join("site");
    let r = cli.run(&["publish", "--out", inside.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("inside the registry"), "{}", r.stderr);
    assert!(!inside.exists());
    // a deeper folder is refused before any of its parents is made
    let deep = cli.db().join("a").join("b").join("site");
    let r = cli.run(&["publish", "--out", deep.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        !cli.db().join("a").exists(),
        "nothing made inside the registry"
    );
    // and so is a path that climbs back into it
    let climbing = cli
        .dir
        .path()
        .join("new")
        .join("..")
        .join("registry")
        .join("site");
    let r = cli.run(&["publish", "--out", climbing.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(!cli.db().join("site").exists());
    #[cfg(unix)]
    {
        let link = cli.dir.path().join("link");
        std::os::unix::fs::symlink(cli.db(), &link).unwrap();
        let r = cli.run(&["publish", "--out", link.join("site").to_str().unwrap()]);
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(!cli.db().join("site").exists());
        let r = cli.run(&["publish", "--out", link.to_str().unwrap()]);
        assert_eq!(r.code, 2, "a link as --out: {}", r.stderr);
    }
}

#[test]
fn publish_refuses_an_unrelated_folder_and_replaces_only_its_own_site() {
    let cli = Cli::with_convention("Un objectif");
    let other = cli.dir.path().join("documents");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "à garder").unwrap();
    let r = cli.run(&["publish", "--out", other.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("not a site pactum wrote"), "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(other.join("notes.txt")).unwrap(),
        "à garder"
    );
    assert_eq!(std::fs::read_dir(&other).unwrap().count(), 1);

    let site = cli.dir.path().join("site");
    std::fs::create_dir(&site).unwrap();
    cli.run(&["publish", "--out", site.to_str().unwrap()]).ok();
    assert!(site.join("index.html").is_file(), "an empty folder is used");
    cli.run(&[
        "sign",
        "--partner",
        "P1",
        "--date",
        "2010",
        "--objectives",
        "Deuxième",
    ])
    .ok();
    cli.run(&["publish", "--out", site.to_str().unwrap()]).ok();
    assert!(
        site.join("conventions/C2.html").is_file(),
        "a previous site is replaced"
    );
    // a previous site with a stranger in it is not
    std::fs::write(site.join("conventions/ajout.html"), "pas de pactum").unwrap();
    let r = cli.run(&["publish", "--out", site.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("ajout.html"), "{}", r.stderr);
    assert!(site.join("conventions/ajout.html").is_file());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::remove_file(site.join("conventions/ajout.html")).unwrap();
        cli.run(&["publish", "--out", site.to_str().unwrap()]).ok();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&site) & 0o755, 0o755, "the site can be served");
        assert_eq!(mode(&site.join("index.html")) & 0o644, 0o644);
        assert_eq!(
            mode(&site.join("index.html")) & 0o133,
            0,
            "not executable nor writable by others"
        );
    }
    let leftovers: Vec<String> = std::fs::read_dir(cli.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".pactum-site"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn the_2009_page_sets_the_list_as_imported_beside_today() {
    let (_reg, files) = demo_site();
    let doc = html(&files, "liste-2009.html");
    let text: String = doc.root_element().text().collect();
    assert!(text.contains("Figuiç"), "the typo as published");
    assert!(text.contains("Figuig"), "the corrected spelling today");
    assert!(text.contains("La mise place"), "the published objectives");
    let rows = doc.select(&sel("table.comparaison tbody tr")).count();
    assert!(rows >= 38, "every published row: {rows}");
}

// ------------------------------------------------------------ checkpoints

/// RFC 9162 §2.1.1 MTH, as the definition reads.
fn mth(leaves: &[[u8; 32]]) -> [u8; 32] {
    if leaves.len() == 1 {
        return leaves[0];
    }
    let mut k = 1;
    while k * 2 < leaves.len() {
        k *= 2;
    }
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(mth(&leaves[..k]));
    h.update(mth(&leaves[k..]));
    h.finalize().into()
}

/// The registry's first `size` events as RFC 8785 lines (the leaves' data).
fn canonical_lines(cli: &Cli, size: usize) -> Vec<String> {
    let export = cli.run(&["export"]).ok().stdout;
    let lines: Vec<String> = export
        .lines()
        .take(size)
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            serde_jcs::to_string(&value).unwrap()
        })
        .collect();
    assert_eq!(lines.len(), size);
    lines
}

fn leaf_hash(line: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(line.as_bytes());
    h.finalize().into()
}

/// The root of the registry's first `size` events, from the standards'
/// definitions.
fn log_root(cli: &Cli, size: usize) -> [u8; 32] {
    let leaves: Vec<[u8; 32]> = canonical_lines(cli, size)
        .iter()
        .map(|l| leaf_hash(l))
        .collect();
    mth(&leaves)
}

/// RFC 9162 §2.1.3.1 PATH(m, D[n]), as the definition reads.
fn audit_path(m: usize, leaves: &[[u8; 32]]) -> Vec<[u8; 32]> {
    if leaves.len() == 1 {
        return Vec::new();
    }
    let mut k = 1;
    while k * 2 < leaves.len() {
        k *= 2;
    }
    let (mut path, sibling) = if m < k {
        (audit_path(m, &leaves[..k]), mth(&leaves[k..]))
    } else {
        (audit_path(m - k, &leaves[k..]), mth(&leaves[..k]))
    };
    path.push(sibling);
    path
}

#[test]
fn published_proofs_are_the_rfc_9162_audit_paths_at_the_checkpoint_size() {
    let cli = demo_cli();
    let size = 50;
    let (note, vkey) = sign_checkpoint(&cli, size);
    let file = cli.dir.path().join("checkpoint.txt");
    std::fs::write(&file, &note).unwrap();
    let out = cli.dir.path().join("site");
    cli.run(&[
        "publish",
        "--out",
        out.to_str().unwrap(),
        "--checkpoint",
        file.to_str().unwrap(),
        "--vkey",
        &vkey,
    ])
    .ok();
    let lines = canonical_lines(&cli, size);
    let leaves: Vec<[u8; 32]> = lines.iter().map(|l| leaf_hash(l)).collect();
    let files = read_site(&out);
    let mut seqs = BTreeSet::new();
    for (path, bytes) in files
        .iter()
        .filter(|(p, _)| p.starts_with("donnees/preuves/"))
    {
        let proofs: Vec<serde_json::Value> = serde_json::from_slice(bytes).unwrap();
        for proof in proofs {
            let seq = usize::try_from(proof["seq"].as_u64().unwrap()).unwrap();
            assert!(
                (1..=size).contains(&seq),
                "{path}: #{seq} is past the checkpoint"
            );
            assert_eq!(
                proof["leaf_index"].as_u64(),
                Some(u64::try_from(seq - 1).unwrap())
            );
            assert_eq!(
                proof["tree_size"].as_u64(),
                Some(u64::try_from(size).unwrap())
            );
            assert_eq!(proof["leaf"].as_str(), Some(lines[seq - 1].as_str()));
            let hashes: Vec<String> = proof["hashes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h.as_str().unwrap().to_owned())
                .collect();
            let expected: Vec<String> = audit_path(seq - 1, &leaves)
                .iter()
                .map(|h| B64.encode(h))
                .collect();
            assert_eq!(hashes, expected, "{path}: #{seq}");
            assert!(seqs.insert(seq), "#{seq} proved twice");
        }
    }
    assert_eq!(
        seqs,
        (1..=size).collect(),
        "every event in the checkpoint is proved once"
    );
    // the checkpoint and its key are published as given
    assert_eq!(files["donnees/checkpoint.txt"], note.as_bytes());
    let data: String = html(&files, "donnees.html").root_element().text().collect();
    assert!(
        data.contains(&vkey),
        "the key is printed for readers to compare"
    );
}

/// A C2SP checkpoint of `size` events with `root`, signed by the test key
/// made from `seed`. Returns (checkpoint, verifier key).
fn signed_note(size: usize, root: [u8; 32], seed: u8) -> (String, String) {
    let name = "dat.example";
    let key = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
    let public = key.verifying_key().to_bytes();
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([0x0A, 0x01]);
    h.update(public);
    let key_hash: [u8; 4] = h.finalize()[..4].try_into().unwrap();
    let body = format!("{name}/registre\n{size}\n{}\n", B64.encode(root));
    let signature = key.sign(body.as_bytes()).to_bytes();
    let mut sig = key_hash.to_vec();
    sig.extend_from_slice(&signature);
    let note = format!("{body}\n\u{2014} {name} {}\n", B64.encode(sig));
    let mut vkey_bytes = vec![0x01];
    vkey_bytes.extend_from_slice(&public);
    let hex: String = key_hash.iter().map(|b| format!("{b:02x}")).collect();
    (note, format!("{name}+{hex}+{}", B64.encode(vkey_bytes)))
}

/// The seed of the test key: the first whose verifier key holds a `+` in
/// its base64 (as about half of all keys do), so that every check of the
/// key splits it at its first two `+` only.
fn test_seed() -> u8 {
    let seed = (0..=u8::MAX)
        .find(|&seed| signed_note(1, [0; 32], seed).1.matches('+').count() > 2)
        .expect("some key's base64 holds a '+'");
    assert!(signed_note(1, [0; 32], seed).1.matches('+').count() > 2);
    seed
}

fn sign_checkpoint(cli: &Cli, size: usize) -> (String, String) {
    signed_note(size, log_root(cli, size), test_seed())
}

fn demo_cli() -> Cli {
    let cli = Cli::new();
    cli.run(&["demo", "--db", cli.db().to_str().unwrap()]).ok();
    cli
}

#[test]
fn publish_refuses_a_checkpoint_that_does_not_match_the_log_or_its_key() {
    let cli = Cli::with_convention("Un objectif");
    let (note, vkey) = sign_checkpoint(&cli, 2);
    let file = cli.dir.path().join("checkpoint.txt");
    let out = cli.dir.path().join("site");
    let publish = |note: &str, vkey: &str| {
        std::fs::write(&file, note).unwrap();
        cli.run(&[
            "publish",
            "--out",
            out.to_str().unwrap(),
            "--checkpoint",
            file.to_str().unwrap(),
            "--vkey",
            vkey,
        ])
    };
    // a root the log does not hash to (an event rewritten), well signed
    let (forged, forged_key) = signed_note(2, [9u8; 32], test_seed());
    assert_eq!(forged_key, vkey);
    let r = publish(&forged, &vkey);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(r.stderr.contains("root"), "{}", r.stderr);
    // the right root, another key
    let (_, other_key) = signed_note(2, log_root(&cli, 2), test_seed().wrapping_add(1));
    let r = publish(&note, &other_key);
    assert_eq!(r.code, 5, "{}", r.stderr);
    // a body changed after signing
    let r = publish(&note.replacen("\n2\n", "\n1\n", 1), &vkey);
    assert_eq!(r.code, 5, "{}", r.stderr);
    // more events than the log holds
    let (long, _) = signed_note(3, [1u8; 32], test_seed());
    let r = publish(&long, &vkey);
    assert_eq!(r.code, 5, "{}", r.stderr);
    std::fs::write(&file, &note).unwrap();
    assert!(!out.exists());
    let r = cli
        .run(&[
            "--format",
            "json",
            "publish",
            "--out",
            out.to_str().unwrap(),
            "--checkpoint",
            file.to_str().unwrap(),
            "--vkey",
            &vkey,
        ])
        .ok();
    assert_eq!(r.json()["proofs"], 2);
    let proofs: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("donnees/preuves/C1.json")).unwrap())
            .unwrap();
    assert_eq!(proofs[0]["tree_size"], 2);
    assert_eq!(proofs[0]["seq"], 2);
}

// ------------------------------------------------------------ the browser

fn chromium() -> Option<PathBuf> {
    let path = PathBuf::from("/usr/bin/chromium");
    if path.is_file() {
        return Some(path);
    }
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "the browser test needs /usr/bin/chromium: .ci/run installs it (apt-get install -y chromium)"
    );
    eprintln!("SKIPPED the browser test: no /usr/bin/chromium here (apt-get install -y chromium)");
    None
}

/// Runs headless Chromium with `args` on `url`; returns its stdout.
fn browse(chromium: &Path, args: &[&str], url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            &format!("--user-data-dir={}", profile.path().display()),
        ])
        .args(args)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn dom(chromium: &Path, url: &str) -> Html {
    Html::parse_document(&browse(
        chromium,
        &[
            "--dump-dom",
            "--virtual-time-budget=5000",
            "--run-all-compositor-stages-before-draw",
        ],
        url,
    ))
}

fn url(path: &Path, tail: &str) -> String {
    format!("file://{}{tail}", path.display())
}

#[test]
fn the_site_works_in_a_real_browser_search_filters_and_proofs_check() {
    let Some(chromium) = chromium() else { return };
    let cli = demo_cli();
    let head = cli.json(&["info"])["events"].as_u64().unwrap();
    let (note, vkey) = sign_checkpoint(&cli, usize::try_from(head).unwrap());
    let file = cli.dir.path().join("checkpoint.txt");
    std::fs::write(&file, &note).unwrap();
    let out = cli.dir.path().join("site");
    cli.run(&[
        "publish",
        "--out",
        out.to_str().unwrap(),
        "--checkpoint",
        file.to_str().unwrap(),
        "--vkey",
        &vkey,
    ])
    .ok();
    let conventions = cli.json(&["list"]).as_array().unwrap().len();

    // the index: every row, the box shown, and a search filtering
    let index = out.join("index.html");
    let doc = dom(&chromium, &url(&index, ""));
    let visible = |doc: &Html| {
        doc.select(&sel("tr[data-search]"))
            .filter(|tr| tr.value().attr("hidden").is_none())
            .count()
    };
    assert_eq!(visible(&doc), conventions);
    assert!(
        doc.select(&sel("#recherche-form"))
            .next()
            .unwrap()
            .value()
            .attr("hidden")
            .is_none(),
        "the box is shown by the script"
    );
    let doc = dom(&chromium, &url(&index, "?q=agadir"));
    assert_eq!(visible(&doc), 1, "one convention with Agadir");
    let doc = dom(&chromium, &url(&index, "#q=reali%CC%81sation%20schema"));
    let shown = visible(&doc);
    assert!(
        shown > 5 && shown < conventions,
        "accent-free words: {shown}"
    );
    let doc = dom(&chromium, &url(&index, "?q=nothing-matches-this"));
    assert_eq!(visible(&doc), 0);

    // entry pages: the signature and every proof checked, for the first
    // convention and for the entry of the log's last event (the right edge
    // of a tree whose size is not a power of two)
    let page = out.join("conventions/C1.html");
    let last = read_site(&out)
        .into_iter()
        .find(|(p, bytes)| {
            p.ends_with(".html")
                && p.contains('/')
                && String::from_utf8_lossy(bytes).contains(&format!("id=\"e{head}\""))
        })
        .map(|(p, _)| out.join(p))
        .unwrap();
    for entry in [&page, &last] {
        let doc = dom(&chromium, &url(entry, ""));
        let status = doc.select(&sel("#verification-statut")).next().unwrap();
        assert_eq!(
            status.value().attr("data-state"),
            Some("ok"),
            "{}: {}",
            entry.display(),
            status.text().collect::<String>()
        );
        let marks: Vec<_> = doc.select(&sel("[data-proof-seq]")).collect();
        assert!(!marks.is_empty());
        assert!(
            marks
                .iter()
                .all(|m| m.value().attr("data-state") == Some("ok"))
        );
    }
    let doc = dom(&chromium, &url(&out.join("donnees.html"), ""));
    let status = doc.select(&sel("#verification-statut")).next().unwrap();
    assert_eq!(status.value().attr("data-state"), Some("ok"));

    // a tampered proof is caught (a copy of the page, one hash changed)
    let text = std::fs::read_to_string(&page).unwrap();
    let proofs: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(out.join("donnees/preuves/C1.json")).unwrap())
            .unwrap();
    let hash = proofs[0]["hashes"][0].as_str().unwrap();
    let tampered = text.replacen(hash, &B64.encode([0u8; 32]), 1);
    assert_ne!(tampered, text);
    let copy = out.join("conventions/copie.html");
    std::fs::write(&copy, tampered).unwrap();
    let doc = dom(&chromium, &url(&copy, ""));
    std::fs::remove_file(&copy).unwrap();
    let status = doc.select(&sel("#verification-statut")).next().unwrap();
    assert_eq!(status.value().attr("data-state"), Some("failed"));
    assert!(
        doc.select(&sel("[data-proof-seq][data-state=failed]"))
            .next()
            .is_some()
    );

    // screenshots to look at, phone and desktop
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    std::fs::create_dir_all(&target).unwrap();
    for (name, page, tail) in [
        ("index", &index, ""),
        ("search", &index, "?q=agadir"),
        ("convention", &page, ""),
        ("2009", &out.join("liste-2009.html"), ""),
        ("donnees", &out.join("donnees.html"), ""),
        ("journal", &out.join("journal.html"), ""),
    ] {
        for (w, h) in [(390, 844), (1280, 900)] {
            let shot = target.join(format!("site-{name}-{w}.png"));
            let _ = std::fs::remove_file(&shot);
            browse(
                &chromium,
                &[
                    &format!("--screenshot={}", shot.display()),
                    &format!("--window-size={w},{h}"),
                    "--hide-scrollbars",
                    "--virtual-time-budget=5000",
                ],
                &url(page, tail),
            );
            assert!(
                std::fs::metadata(&shot).unwrap().len() > 10_000,
                "{}",
                shot.display()
            );
        }
    }
}

#[test]
fn a_convention_whose_signing_was_retracted_keeps_a_page_with_its_history_but_leaves_the_index() {
    let cli = Cli::with_convention("Gardée");
    cli.run(&[
        "sign",
        "--partner",
        "P1",
        "--date",
        "2010",
        "--objectives",
        "Doublon",
    ])
    .ok();
    let signing = cli.json(&["history", "C2"])[0]["event_id"]
        .as_str()
        .unwrap()
        .to_owned();
    cli.run(&["retract", &signing, "--reason", "saisie en double"])
        .ok();
    let out = cli.dir.path().join("site");
    cli.run(&["publish", "--out", out.to_str().unwrap()]).ok();
    let files = read_site(&out);
    let index = html(&files, "index.html");
    let listed: Vec<String> = index
        .select(&sel("tr[data-search] td:last-child a"))
        .map(|a| a.value().attr("href").unwrap().to_owned())
        .collect();
    assert_eq!(listed, ["conventions/C1.html"]);
    let page = html(&files, "conventions/C2.html");
    assert!(page.select(&sel(".inexistante")).next().is_some());
    let void: Vec<_> = page.select(&sel("li.evenement.annule")).collect();
    assert_eq!(void.len(), 1, "the signing, struck out");
    let text: String = page.root_element().text().collect();
    assert!(text.contains("saisie en double"), "the retraction's reason");
    // the log page links both entries
    let journal = html(&files, "journal.html");
    let hrefs: BTreeSet<&str> = journal
        .select(&sel("a[href]"))
        .map(|a| a.value().attr("href").unwrap())
        .collect();
    assert!(hrefs.contains("conventions/C2.html"));
}

#[test]
fn the_demo_site_carries_a_signed_checkpoint_and_the_proofs_of_every_event() {
    let cli = demo_cli();
    let site = cli.db().parent().unwrap().join("site");
    let data = site.join("donnees");
    let note = std::fs::read_to_string(data.join("checkpoint.txt")).unwrap();
    let vkey = std::fs::read_to_string(data.join("cle-de-verification.txt")).unwrap();
    let head = cli.json(&["verify", "--format", "json"])["events"]
        .as_u64()
        .unwrap();
    assert_eq!(note.lines().nth(1), Some(head.to_string().as_str()));
    // the checkpoint checks offline against the key the site prints
    let cp = cli.dir.path().join("cp.txt");
    std::fs::write(&cp, &note).unwrap();
    let proofs = data.join("preuves");
    let mut proved = BTreeSet::new();
    for entry in std::fs::read_dir(&proofs).unwrap() {
        let path = entry.unwrap().path();
        let r = cli.run(&[
            "check-proof",
            "--vkey",
            vkey.trim(),
            "--checkpoint",
            cp.to_str().unwrap(),
            path.to_str().unwrap(),
        ]);
        assert_eq!(r.code, 0, "{}: {}", path.display(), r.stderr);
        let list: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for p in list.as_array().unwrap() {
            proved.insert(p["seq"].as_u64().unwrap());
        }
    }
    assert_eq!(proved, (1..=head).collect::<BTreeSet<u64>>());
}

#[test]
fn publish_accepts_a_checkpoint_of_size_zero_with_no_proof() {
    let cli = Cli::with_convention("Un objectif");
    let (key, vkey) = cli.generate_key("example.org/pactum", "site.key");
    let note = cli
        .run(&["checkpoint", "--key", key.to_str().unwrap(), "--size", "0"])
        .ok()
        .stdout;
    let file = cli.dir.path().join("checkpoint.txt");
    std::fs::write(&file, &note).unwrap();
    let out = cli.dir.path().join("site");
    let published = cli.json(&[
        "publish",
        "--out",
        out.to_str().unwrap(),
        "--checkpoint",
        file.to_str().unwrap(),
        "--vkey",
        &vkey,
    ]);
    assert_eq!(published["proofs"], 0, "{published}");
    let files = read_site(&out);
    assert!(
        !files.keys().any(|p| p.starts_with("donnees/preuves/")
            && serde_json::from_slice::<Vec<serde_json::Value>>(&files[p])
                .is_ok_and(|v| !v.is_empty())),
        "no proof is published"
    );
}
