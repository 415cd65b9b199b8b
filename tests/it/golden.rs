//! The stored form must decode forever: golden bytes of every event variant
//! (and every correction shape) are kept in `tests/golden/events.txt`. A
//! change to the codec that moves a byte fails here. To add a variant,
//! append it to `samples()` and run with `PACTUM_BLESS=1` once: existing
//! lines are never rewritten. Every sample also reads back from its JSON
//! Lines form.

use chrono::TimeZone;
use pactum::domain::*;
use pactum::store::codec;

use crate::support::*;

const GOLDEN: &str = "tests/golden/events.txt";

fn record(n: u64, entity: EntityId, event: Event, full_envelope: bool) -> EventRecord {
    let mut r = EventRecord {
        seq: Seq(n),
        id: EventId(uuid(n)),
        entity,
        version: n,
        recorded_at: chrono::Utc
            .with_ymd_and_hms(2024, 5, 1, 12, 30, 15)
            .unwrap()
            + chrono::Duration::microseconds(123_456),
        actor: Actor::new("greffier").unwrap(),
        reason: full_envelope.then(|| Reason::new("coquille dans la liste de 2009").unwrap()),
        source: full_envelope.then(|| Source::new("liste de septembre 2009").unwrap()),
        prev_hash: Digest([7; 32]),
        hash: Digest::GENESIS,
        event,
    };
    let body = codec::record_body(&r).unwrap();
    r.hash = codec::chain_hash(&r.prev_hash, &body);
    r
}

fn samples() -> Vec<(&'static str, EventRecord)> {
    let p = EntityId::Partner(PartnerId(uuid(100)));
    let c = EntityId::Convention(ConventionId(uuid(200)));
    let target = EventId(uuid(300));
    let corrected = |patch| Event::Corrected(Corrected { target, patch });
    vec![
        (
            "partner-registered",
            record(
                1,
                p,
                Event::PartnerRegistered(PartnerRegistered {
                    name: PartnerName::new("Fès-Boulemane").unwrap(),
                    kind: PartnerKind::Region,
                    short_name: Some(ShortName::new("FB").unwrap()),
                    country: Some(CountryCode::new("MA").unwrap()),
                }),
                true,
            ),
        ),
        (
            "partner-renamed",
            record(
                2,
                p,
                Event::PartnerRenamed(PartnerRenamed {
                    new_name: PartnerName::new("Fès-Meknès").unwrap(),
                    short_name: None,
                    effective_on: pd("2015-09"),
                }),
                false,
            ),
        ),
        (
            "convention-signed",
            record(
                3,
                c,
                Event::ConventionSigned(ConventionSigned {
                    instrument: Instrument::Charter,
                    parties: vec![PartnerId(uuid(100)), PartnerId(uuid(101))],
                    signed_on: pd("2006"),
                    objectives: Objectives::new("La réalisation de différents projets").unwrap(),
                    expires_on: Some(pd("2016-12-31")),
                    official_ref: Some(OfficialRef::new("CH-2006/12").unwrap()),
                }),
                true,
            ),
        ),
        (
            "convention-amended",
            record(
                4,
                c,
                Event::ConventionAmended(ConventionAmended {
                    effective_on: pd("2010-03-01"),
                    amendment_ref: Some(AmendmentRef::new("Avenant n°1").unwrap()),
                    objectives: Some(Objectives::new("Nouveaux objectifs").unwrap()),
                    parties_added: vec![PartnerId(uuid(102))],
                    parties_removed: vec![PartnerId(uuid(101))],
                    expiry: Some(ExpiryChange::Cleared),
                    instrument: Some(Instrument::Agreement),
                }),
                false,
            ),
        ),
        (
            "convention-terminated",
            record(
                5,
                c,
                Event::ConventionTerminated(ConventionTerminated {
                    effective_on: pd("2012"),
                    kind: TerminationKind::Expired,
                }),
                true,
            ),
        ),
        (
            "corrected/partner-registered",
            record(
                6,
                p,
                corrected(Patch::PartnerRegistered(PartnerRegisteredPatch {
                    name: Some(PartnerName::new("Figuig").unwrap()),
                    kind: Some(PartnerKind::Commune),
                    short_name: Some(None),
                    country: Some(Some(CountryCode::new("FR").unwrap())),
                })),
                true,
            ),
        ),
        (
            "corrected/partner-renamed",
            record(
                7,
                p,
                corrected(Patch::PartnerRenamed(PartnerRenamedPatch {
                    new_name: None,
                    short_name: Some(Some(ShortName::new("FM").unwrap())),
                    effective_on: Some(pd("2015-09-10")),
                })),
                true,
            ),
        ),
        (
            "corrected/convention-signed",
            record(
                8,
                c,
                corrected(Patch::ConventionSigned(ConventionSignedPatch {
                    instrument: Some(Instrument::Memorandum),
                    parties: Some(vec![PartnerId(uuid(103))]),
                    signed_on: Some(pd("2007")),
                    objectives: Some(Objectives::new("La mise en place").unwrap()),
                    expires_on: Some(None),
                    official_ref: Some(None),
                })),
                true,
            ),
        ),
        (
            "corrected/convention-amended",
            record(
                9,
                c,
                corrected(Patch::ConventionAmended(ConventionAmendedPatch {
                    effective_on: Some(pd("2011")),
                    amendment_ref: Some(None),
                    objectives: Some(Some(Objectives::new("Objectifs corrigés").unwrap())),
                    parties_added: Some(vec![]),
                    parties_removed: None,
                    expiry: Some(Some(ExpiryChange::Set(pd("2020")))),
                    instrument: Some(None),
                })),
                true,
            ),
        ),
        (
            "corrected/convention-terminated",
            record(
                10,
                c,
                corrected(Patch::ConventionTerminated(ConventionTerminatedPatch {
                    effective_on: Some(pd("2012-06")),
                    kind: Some(TerminationKind::Terminated),
                })),
                true,
            ),
        ),
        (
            "retracted",
            record(11, c, Event::Retracted(Retracted { target }), true),
        ),
        (
            "partner-succeeded",
            record(
                12,
                p,
                Event::PartnerSucceeded(PartnerSucceeded {
                    successors: vec![PartnerId(uuid(104)), PartnerId(uuid(105))],
                    effective_on: pd("2015-09-04"),
                }),
                true,
            ),
        ),
        (
            "corrected/partner-succeeded",
            record(
                13,
                p,
                corrected(Patch::PartnerSucceeded(PartnerSucceededPatch {
                    successors: Some(vec![PartnerId(uuid(104))]),
                    effective_on: Some(pd("2015")),
                })),
                true,
            ),
        ),
    ]
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn golden() -> Vec<(String, Vec<u8>)> {
    std::fs::read_to_string(GOLDEN)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (name, bytes) = l.split_once(' ').unwrap();
            (name.to_owned(), unhex(bytes.trim()))
        })
        .collect()
}

#[test]
fn every_event_variant_has_golden_bytes_that_still_decode() {
    let kept = golden();
    let samples = samples();
    if std::env::var_os("PACTUM_BLESS").is_some() {
        let mut text = std::fs::read_to_string(GOLDEN).unwrap_or_else(|_| {
            "# name hex: stored bytes of one event per variant; append only\n".into()
        });
        for (name, r) in &samples {
            if !kept.iter().any(|(k, _)| k == name) {
                text.push_str(&format!(
                    "{name} {}\n",
                    hex(&codec::encode_record(r).unwrap())
                ));
            }
        }
        std::fs::write(GOLDEN, text).unwrap();
        return;
    }
    for (name, expected) in &samples {
        let (_, bytes) = kept
            .iter()
            .find(|(k, _)| k == name)
            .unwrap_or_else(|| panic!("no golden bytes for {name}: run once with PACTUM_BLESS=1"));
        let decoded = codec::decode_record(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(&decoded, expected, "{name} decodes to another event");
        assert_eq!(
            &codec::encode_record(expected).unwrap(),
            bytes,
            "{name} no longer encodes to its golden bytes"
        );
        let framed = codec::unframe(bytes).unwrap();
        assert_eq!(
            codec::chain_hash(&framed.prev_hash, framed.body),
            decoded.hash
        );
    }
    let variants: std::collections::BTreeSet<&str> = samples
        .iter()
        .map(|(_, r)| r.event.event_type().as_str())
        .collect();
    assert_eq!(
        variants.len(),
        EventType::ALL.len(),
        "a variant has no sample"
    );
}

#[test]
fn damaged_bytes_are_errors_never_panics() {
    let (_, good) = golden().into_iter().next().expect("golden bytes");
    // every truncation
    for len in 0..good.len() {
        assert!(
            codec::decode_record(&good[..len]).is_err(),
            "truncated to {len}"
        );
    }
    // every single-byte change decodes to an error or to another value,
    // and never panics
    for i in 0..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0x5a;
        let _ = codec::decode_record(&bad);
    }
    // trailing bytes
    let mut long = good.clone();
    long.push(0);
    assert!(matches!(
        codec::decode_record(&long),
        Err(codec::CodecError::Trailing(1))
    ));
    // an unknown format byte
    let mut other = good.clone();
    other[0] = 99;
    assert!(matches!(
        codec::decode_record(&other),
        Err(codec::CodecError::Format(99))
    ));
}

#[test]
fn a_huge_length_prefix_is_refused_without_allocating() {
    // header, then a body claiming a string of 2^60 bytes
    let mut bytes = vec![codec::FORMAT_VERSION];
    bytes.extend_from_slice(&[0; 64]);
    bytes.extend_from_slice(&[
        0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0,
    ]);
    assert!(codec::decode_record(&bytes).is_err());
    let mut tiny = vec![0xffu8; 12];
    tiny[0] = codec::FORMAT_VERSION;
    assert!(codec::decode_record(&tiny).is_err());
    let doc = [
        codec::PROJECTION_VERSION,
        b'C',
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        1,
        0xfc,
        0xff,
        0xff,
        0xff,
        0xff,
        0xff,
        0xff,
        0xff,
        0x7f,
    ];
    assert!(codec::decode_doc(&doc).is_err());
    both_reads_agree(&doc);
}

#[test]
fn a_non_canonical_spelling_decodes_and_verify_reports_it() {
    // Found by fuzzing: an over-long varint decodes to the same event as
    // the canonical bytes; the stored form must be canonical, and verify
    // says so.
    let bytes = std::fs::read("tests/golden/non-canonical-varint.bin").unwrap();
    let record = codec::decode_record(&bytes).unwrap();
    let canonical = codec::encode_record(&record).unwrap();
    assert_ne!(canonical, bytes);
    assert_eq!(codec::decode_record(&canonical).unwrap(), record);
    let cli = Cli::new();
    cli.run(&["partner", "add", "Agadir", "--kind", "commune"])
        .ok();
    {
        let db = raw_sled(&cli.db());
        let stored = stored_event(&db, 1);
        // re-spell the body's first field (seq 1, one byte) as a two-byte
        // varint: same event, other bytes
        let record = codec::decode_record(&stored).unwrap();
        assert_eq!(stored[codec::HEADER_LEN], 1);
        let mut respelled = stored[..codec::HEADER_LEN].to_vec();
        respelled.extend_from_slice(&[0xfb, 0x01, 0x00]);
        respelled.extend_from_slice(&stored[codec::HEADER_LEN + 1..]);
        assert_eq!(codec::decode_record(&respelled).unwrap(), record);
        edit_event(&db, 1, |_| respelled);
        db.flush().unwrap();
    }
    cli.wait_until_released();
    let r = cli.run(&["--format", "json", "verify"]);
    assert_eq!(r.code, 5);
    assert!(r.stdout.contains("not in canonical form"), "{}", r.stdout);
}

#[test]
fn every_event_variant_reads_back_from_its_json_lines_form() {
    for (name, record) in samples() {
        let line = pactum::transfer::jsonl::to_line(&record);
        assert_eq!(
            pactum::transfer::jsonl::from_line(&line).as_ref(),
            Ok(&record),
            "{name}: {line}"
        );
        let json: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(json["type"], record.event.event_type().as_str(), "{name}");
    }
    // the succession's own shape
    let (_, succeeded) = samples()
        .into_iter()
        .find(|(n, _)| *n == "partner-succeeded")
        .unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&pactum::transfer::jsonl::to_line(&succeeded)).unwrap();
    assert_eq!(json["payload"]["effective_on"], "2015-09-04");
    assert_eq!(json["payload"]["successors"].as_array().unwrap().len(), 2);
}

#[test]
fn a_json_lines_recorded_at_finer_than_a_microsecond_is_refused() {
    // Found by fuzzing the reader: the store keeps microseconds, so such a
    // line would not read back as written.
    let (_, record) = samples().into_iter().next().unwrap();
    let line = pactum::transfer::jsonl::to_line(&record);
    let finer = line.replace(".123456Z", ".123456900Z");
    assert_ne!(finer, line);
    let refused = pactum::transfer::jsonl::from_line(&finer).unwrap_err();
    assert!(refused.contains("microsecond"), "{refused}");
}

#[test]
fn a_json_lines_line_is_read_as_json_reads_it_whatever_else_it_holds() {
    // Lines are read member by member, without a `serde_json::Value`; what
    // is accepted, and the message for what is not, must stay what reading
    // the line as a `Value` gives.
    use pactum::transfer::jsonl::{from_line, to_line};
    for (name, record) in samples() {
        let line = to_line(&record);
        let with = |member: &str| line.replacen('{', &format!("{{{member},"), 1);
        // a member no field reads is still JSON to be checked
        for bad in [r#""note":1e400"#, r#""note":"\ud800""#, r#""note":[1,"#] {
            let refused = from_line(&with(bad)).unwrap_err();
            assert!(refused.starts_with("not JSON"), "{name}: {bad}: {refused}");
        }
        // and when it is JSON, it changes nothing
        assert_eq!(
            from_line(&with(r#""note":[1,{"a":null}]"#)),
            Ok(record.clone()),
            "{name}"
        );
        // of two members of one name the last counts, as in a `Value`
        assert_eq!(
            from_line(&with(r#""actor":5"#)),
            Ok(record.clone()),
            "{name}"
        );
        // keys and strings may be written with escapes
        let escaped = line.replacen(r#""actor":"#, r#""act\u006fr":"#, 1);
        assert_ne!(escaped, line);
        assert_eq!(from_line(&escaped), Ok(record.clone()), "{name}");
        // not JSON is said before what is missing
        let both = with(r#""note":tru"#).replacen(r#""seq":"#, r#""sequence":"#, 1);
        assert!(
            from_line(&both).unwrap_err().starts_with("not JSON"),
            "{name}"
        );
        // a member of the wrong type is named, as before
        let wrong = line.replacen(r#""seq":"#, r#""seq":"1","was":"#, 1);
        assert_eq!(
            from_line(&wrong).unwrap_err(),
            "event.seq: expected a whole number",
            "{name}"
        );
    }
}

/// The leaf of the transparency log is written by `serde_json` from structs
/// declared in canonical key order (`transfer::leaf`), not by the general
/// RFC 8785 canonicaliser over the export's value: on every variant and
/// correction shape, and with texts holding characters JSON escapes or does
/// not, the two must agree byte for byte.
#[test]
fn every_event_variants_leaf_is_its_rfc_8785_form() {
    let texts = [
        "plain",
        "quote \" backslash \\ slash /",
        "tab\tnewline\ncr\rformfeed\u{c}backspace\u{8}",
        "control \u{1} \u{1f} \u{7f} del",
        "accents éèàç, Fès-Meknès, ⵜⴰⵎⴰⵣⵉⵖⵜ, العربية",
        "astral 😀 𝄞 and U+2028 \u{2028} U+2029 \u{2029}",
        "\u{e000} private use, \u{fffd} replacement",
    ];
    for (name, record) in samples() {
        for text in texts {
            let Ok(actor) = Actor::stored(text) else {
                continue;
            };
            let mut r = record.clone();
            r.actor = actor;
            let general =
                pactum::transparency::canonical(&pactum::transfer::jsonl::to_value(&r)).unwrap();
            let fast = pactum::app::transparency::leaf_line(&r).unwrap();
            assert_eq!(fast, general, "{name} with {text:?}");
            assert_eq!(
                pactum::app::transparency::leaf_of(&r).unwrap(),
                pactum::transparency::merkle::leaf_hash(general.as_bytes()),
                "{name} with {text:?}"
            );
        }
        let general =
            pactum::transparency::canonical(&pactum::transfer::jsonl::to_value(&record)).unwrap();
        assert_eq!(
            pactum::app::transparency::leaf_line(&record).unwrap(),
            general,
            "{name}"
        );
        // the leaf is hashed as the line is written, never held: the same
        // hash as the general form's
        assert_eq!(
            pactum::app::transparency::leaf_of(&record).unwrap(),
            pactum::transparency::merkle::leaf_hash(general.as_bytes()),
            "{name}"
        );
    }
}

#[test]
fn every_document_of_the_demo_reencodes_to_its_bytes_and_the_views_read_accepts_what_the_full_read_accepts()
 {
    // The views read a document without keeping its seqs
    // (`decode_doc_timeline`); the full read keeps them (`decode_doc`).
    // Both must accept and refuse the same bytes, and agree on what they
    // accept; and the codec's wire types, which borrow the domain's
    // strings to encode them, must give back the stored bytes.
    let cli = Cli::new();
    cli.run(&["demo"]).ok();
    let db = raw_sled(&cli.db());
    let cache = db.open_tree("cache").unwrap();
    let mut docs = 0;
    for kind in [EntityKind::Partner, EntityKind::Convention] {
        for kv in cache.scan_prefix(pactum::store::keys::docs_of(kind)) {
            let (_, stored) = kv.unwrap();
            let (handle, seqs, timeline) = codec::decode_doc(&stored).unwrap();
            assert_eq!(
                codec::encode_doc(handle, &seqs, &timeline).unwrap(),
                stored.to_vec()
            );
            both_reads_agree(&stored);
            for i in 0..stored.len() {
                both_reads_agree(&stored[..i]);
                let mut bad = stored.to_vec();
                bad[i] ^= 0x5a;
                both_reads_agree(&bad);
            }
            docs += 1;
        }
    }
    assert!(docs > 50, "{docs} documents");
}

/// The full read of a document and the views' read accept the same bytes,
/// with the same handle and timeline, and refuse the others with the same
/// error.
fn both_reads_agree(bytes: &[u8]) {
    match (codec::decode_doc(bytes), codec::decode_doc_timeline(bytes)) {
        (Ok((h, _, t)), Ok((h2, t2))) => assert!(h == h2 && t == t2),
        (Err(e), Err(e2)) => assert_eq!(e, e2),
        (full, view) => panic!("{full:?} against {view:?}"),
    }
}

#[test]
fn both_reads_of_a_document_count_its_seqs_against_the_decoding_limit_alike() {
    // A convention's document whose seqs claim `len` entries (bincode's
    // varint: 0xfc then a u32, 0xfd then a u64), then `tail`.
    let doc = |len: &[u8], tail: &[u8]| {
        let mut b = vec![codec::PROJECTION_VERSION, b'C', 0, 0, 0, 0, 0, 0, 0, 1];
        b.extend_from_slice(len);
        b.extend_from_slice(tail);
        b
    };
    let u32_len = |n: u32| [&[0xfc][..], &n.to_le_bytes()].concat();
    let most = u32::try_from(codec::DECODE_LIMIT / 8).unwrap();
    let cases = [
        // u64::MAX entries: their bytes overflow
        doc(&[&[0xfd][..], &u64::MAX.to_le_bytes()].concat(), &[1; 64]),
        // one past the limit
        doc(&u32_len(most + 1), &[1; 64]),
        // the limit, with too few bytes behind it
        doc(&u32_len(most), &[1; 64]),
        // within the limit, too few bytes
        doc(&u32_len(3), &[1, 2]),
    ];
    for bytes in &cases {
        assert!(codec::decode_doc(bytes).is_err());
        both_reads_agree(bytes);
    }
    // A document whose seqs claim three quarters of the limit, and strings
    // after them: both reads take it (each seq is counted once, as
    // bincode's own `Vec<u64>` counts it).
    let mut t = ConventionTimeline::empty(ConventionId(uuid(1)));
    t.base = Some(pactum::domain::timeline::Entry {
        seq: Seq(1),
        id: EventId(uuid(2)),
        payload: signed(
            &[party(1)],
            "2008-05-01",
            "objectifs ".repeat(50).trim_end(),
        ),
    });
    let seqs: Vec<Seq> = (1..=u64::from(most / 4 * 3)).map(Seq).collect();
    let full = codec::encode_doc(7, &seqs, &AnyTimeline::Convention(t)).unwrap();
    assert!(codec::decode_doc(&full).is_ok());
    both_reads_agree(&full);
    // the first two are refused by the limit, not by the end of the bytes
    for bytes in &cases[..2] {
        let e = codec::decode_doc(bytes).unwrap_err().to_string();
        assert!(e.to_lowercase().contains("limit"), "{e}");
    }
}

#[test]
fn a_document_whose_seqs_do_not_increase_is_refused_by_both_reads() {
    let t = AnyTimeline::Convention(ConventionTimeline::empty(ConventionId(uuid(1))));
    let good = codec::encode_doc(3, &[Seq(1), Seq(4)], &t).unwrap();
    assert!(codec::decode_doc(&good).is_ok());
    assert!(codec::decode_doc_timeline(&good).is_ok());
    for seqs in [[Seq(4), Seq(1)], [Seq(4), Seq(4)]] {
        let bad = codec::encode_doc(3, &seqs, &t).unwrap();
        let full = codec::decode_doc(&bad).unwrap_err();
        assert_eq!(codec::decode_doc_timeline(&bad).unwrap_err(), full);
        assert!(full.to_string().contains("not increasing"), "{full}");
    }
}
