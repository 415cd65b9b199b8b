//! Transparency: the Merkle tree against the standards' test vectors and a
//! naive recomputation, the canonical leaf against RFC 8785's examples, the
//! registry's stored tree and proofs, and the commands end to end (keys,
//! checkpoints, proofs, and every tampering `verify --checkpoint` and
//! `check-proof` must catch).

use std::os::unix::fs::PermissionsExt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::{Digest as _, Sha256};

use crate::support::{Cli, Reg, meta, signed};
use pactum::domain::decide::Command;
use pactum::domain::{ConventionId, EventRecord, PartnerKind, Seq};
use pactum::store::codec;
use pactum::transfer::jsonl;
use pactum::transparency::merkle::{self, Hash, Leaves};
use pactum::transparency::{Checkpoint, Frontier, InclusionProof, SignerKey, VerifierKey};

fn hx(s: &str) -> Hash {
    let v: Vec<u8> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect();
    v.try_into().unwrap()
}

fn hexes(v: &[&str]) -> Vec<Hash> {
    v.iter().map(|s| hx(s)).collect()
}

// ------------------------------------------------- the standards' vectors

// The test data below is that of the RFC 6962 Merkle tree implementation of
// github.com/transparency-dev/merkle (formerly in google/trillian and
// google/certificate-transparency-go): `testonly/constants.go` (leaf
// inputs, roots of every size up to 8) and `proof/verify_test.go`
// (inclusion and consistency proofs).

fn leaf_inputs() -> Vec<Vec<u8>> {
    [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
    .iter()
    .map(|s| {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    })
    .collect()
}

const ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// (leaf number from 1, tree size, proof)
fn inclusion_vectors() -> Vec<(u64, u64, Vec<Hash>)> {
    vec![
        (1, 1, vec![]),
        (
            1,
            8,
            hexes(&[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ]),
        ),
        (
            6,
            8,
            hexes(&[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ]),
        ),
        (
            3,
            3,
            hexes(&["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
        ),
        (
            2,
            5,
            hexes(&[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ]),
        ),
    ]
}

/// (first size, second size, proof)
fn consistency_vectors() -> Vec<(u64, u64, Vec<Hash>)> {
    vec![
        (1, 1, vec![]),
        (
            1,
            8,
            hexes(&[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ]),
        ),
        (
            6,
            8,
            hexes(&[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ]),
        ),
        (
            2,
            5,
            hexes(&[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ]),
        ),
        (
            6,
            7,
            hexes(&[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ]),
        ),
    ]
}

fn vector_leaves() -> Leaves {
    Leaves(leaf_inputs().iter().map(|d| merkle::leaf_hash(d)).collect())
}

#[test]
fn tree_heads_of_the_rfc6962_test_inputs_match_the_reference_roots() {
    let leaves = vector_leaves();
    let mut frontier = Frontier::new();
    assert_eq!(frontier.root(), hx(ROOTS[0]), "the empty tree");
    for (n, root) in ROOTS.iter().enumerate().skip(1) {
        let mut prefix = Leaves(leaves.0[..n].to_vec());
        let n = n as u64;
        assert_eq!(merkle::root(&mut prefix, n).unwrap(), hx(root), "size {n}");
        frontier.push(leaves.0[(n - 1) as usize], |_, _, _| {});
        assert_eq!(frontier.root(), hx(root), "frontier at size {n}");
    }
}

#[test]
fn inclusion_proofs_of_the_reference_vectors_are_made_and_verified() {
    let mut leaves = vector_leaves();
    for (leaf, size, want) in inclusion_vectors() {
        let got = merkle::inclusion_proof(&mut leaves_prefix(&leaves, size), leaf - 1, size)
            .unwrap()
            .unwrap();
        assert_eq!(got, want, "leaf {leaf} of {size}");
        let root = hx(ROOTS[size as usize]);
        let leaf_hash = leaves.0[(leaf - 1) as usize];
        assert!(merkle::verify_inclusion(
            leaf - 1,
            size,
            &leaf_hash,
            &want,
            &root
        ));
        for (what, index, size, leaf_hash, proof, root) in
            corrupt_inclusion(leaf - 1, size, &want, root, leaf_hash)
        {
            assert!(
                !merkle::verify_inclusion(index, size, &leaf_hash, &proof, &root),
                "accepted with {what} (leaf {leaf} of {size})"
            );
        }
    }
    // no proof of a leaf outside the tree
    assert_eq!(merkle::inclusion_proof(&mut leaves, 8, 8).unwrap(), None);
}

fn leaves_prefix(l: &Leaves, size: u64) -> Leaves {
    Leaves(l.0[..size as usize].to_vec())
}

type Probe = (&'static str, u64, u64, Hash, Vec<Hash>, Hash);

/// (what, first, second, first root, second root, proof)
type ConsistencyProbe = (&'static str, u64, u64, Hash, Hash, Vec<Hash>);

/// The alterations the reference tests try on a good inclusion proof.
fn corrupt_inclusion(index: u64, size: u64, proof: &[Hash], root: Hash, leaf: Hash) -> Vec<Probe> {
    let some: Hash = hx("abacaba000000000000000000000000000000000000000000060061e00123456");
    let mut out: Vec<Probe> = vec![
        (
            "index - 1",
            index.wrapping_sub(1),
            size,
            leaf,
            proof.to_vec(),
            root,
        ),
        ("index + 1", index + 1, size, leaf, proof.to_vec(), root),
        ("index ^ 2", index ^ 2, size, leaf, proof.to_vec(), root),
        ("size * 2", index, size * 2, leaf, proof.to_vec(), root),
        ("size / 2", index, size / 2, leaf, proof.to_vec(), root),
        ("wrong leaf", index, size, some, proof.to_vec(), root),
        (
            "empty root",
            index,
            size,
            leaf,
            proof.to_vec(),
            merkle::empty_root(),
        ),
        ("random root", index, size, leaf, proof.to_vec(), some),
        (
            "trailing root",
            index,
            size,
            leaf,
            [proof, &[root]].concat(),
            root,
        ),
        (
            "preceding root",
            index,
            size,
            leaf,
            [&[root], proof].concat(),
            root,
        ),
    ];
    for i in 0..proof.len() {
        let mut p = proof.to_vec();
        p[i][0] ^= 8;
        out.push(("a flipped bit", index, size, leaf, p, root));
    }
    if !proof.is_empty() {
        out.push((
            "a removed hash",
            index,
            size,
            leaf,
            proof[..proof.len() - 1].to_vec(),
            root,
        ));
    }
    out
}

#[test]
fn consistency_proofs_of_the_reference_vectors_are_made_and_verified() {
    let leaves = vector_leaves();
    for (first, second, want) in consistency_vectors() {
        let got = merkle::consistency_proof(&mut leaves_prefix(&leaves, second), first, second)
            .unwrap()
            .unwrap();
        assert_eq!(got, want, "{first} → {second}");
        let (r1, r2) = (hx(ROOTS[first as usize]), hx(ROOTS[second as usize]));
        assert!(merkle::verify_consistency(first, second, &r1, &r2, &want));
        if want.is_empty() {
            continue;
        }
        let mut probes: Vec<ConsistencyProbe> = vec![
            ("first - 1", first - 1, second, r1, r2, want.clone()),
            ("first + 1", first + 1, second, r1, r2, want.clone()),
            ("first ^ 2", first ^ 2, second, r1, r2, want.clone()),
            ("second * 2", first, second * 2, r1, r2, want.clone()),
            ("second / 2", first, second / 2, r1, r2, want.clone()),
            ("swapped roots", first, second, r2, r1, want.clone()),
            ("empty proof", first, second, r1, r2, vec![]),
            (
                "trailing root",
                first,
                second,
                r1,
                r2,
                [&want[..], &[r2]].concat(),
            ),
            (
                "preceding root",
                first,
                second,
                r1,
                r2,
                [&[r1], &want[..]].concat(),
            ),
            (
                "truncated",
                first,
                second,
                r1,
                r2,
                want[..want.len() - 1].to_vec(),
            ),
        ];
        for i in 0..want.len() {
            let mut p = want.clone();
            p[i][0] ^= 16;
            probes.push(("a flipped bit", first, second, r1, r2, p));
        }
        for (what, m, n, a, b, p) in probes {
            assert!(
                !merkle::verify_consistency(m, n, &a, &b, &p),
                "accepted with {what} ({first} → {second})"
            );
        }
    }
}

#[test]
fn consistency_edge_cases_follow_the_reference_verifier() {
    let (a, b) = (hx(ROOTS[1]), hx(ROOTS[2]));
    let e = merkle::empty_root();
    assert!(merkle::verify_consistency(0, 0, &a, &a, &[]));
    assert!(merkle::verify_consistency(0, 1, &a, &b, &[]));
    assert!(merkle::verify_consistency(1, 1, &b, &b, &[]));
    assert!(
        !merkle::verify_consistency(1, 1, &a, &b, &[]),
        "roots differ"
    );
    assert!(
        !merkle::verify_consistency(1, 0, &a, &b, &[]),
        "back in time"
    );
    assert!(
        !merkle::verify_consistency(2, 1, &a, &b, &[]),
        "back in time"
    );
    assert!(
        !merkle::verify_consistency(1, 2, &a, &b, &[]),
        "empty proof"
    );
    assert!(
        !merkle::verify_consistency(0, 1, &e, &e, &[e]),
        "a proof where none is due"
    );
    assert!(
        !merkle::verify_consistency(1, 1, &e, &e, &[e]),
        "a proof where none is due"
    );
}

// ------------------------------------ every size against the definitions

/// MTH as RFC 6962 §2.1 defines it, on a slice.
fn mth(d: &[Hash]) -> Hash {
    match d.len() {
        0 => Sha256::digest([]).into(),
        1 => d[0],
        n => {
            let k = k_of(n);
            merkle::node_hash(&mth(&d[..k]), &mth(&d[k..]))
        }
    }
}

/// The largest power of two smaller than n.
fn k_of(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// PATH(m, D[n]) of RFC 9162 §2.1.3.1.
fn path(m: usize, d: &[Hash]) -> Vec<Hash> {
    if d.len() <= 1 {
        return vec![];
    }
    let k = k_of(d.len());
    if m < k {
        [path(m, &d[..k]), vec![mth(&d[k..])]].concat()
    } else {
        [path(m - k, &d[k..]), vec![mth(&d[..k])]].concat()
    }
}

/// SUBPROOF(m, D[n], b) of RFC 9162 §2.1.4.1.
fn subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
    let n = d.len();
    if m == n {
        return if b { vec![] } else { vec![mth(d)] };
    }
    let k = k_of(n);
    if m <= k {
        [subproof(m, &d[..k], b), vec![mth(&d[k..])]].concat()
    } else {
        [subproof(m - k, &d[k..], false), vec![mth(&d[..k])]].concat()
    }
}

fn some_leaves(n: usize) -> Vec<Hash> {
    (0..n)
        .map(|i| merkle::leaf_hash(format!("leaf {i}").as_bytes()))
        .collect()
}

#[test]
fn proofs_of_every_tree_up_to_70_leaves_equal_the_definitions_and_verify() {
    let all = some_leaves(70);
    let mut frontier = Frontier::new();
    for n in 1..=all.len() {
        let d = &all[..n];
        frontier.push(d[n - 1], |_, _, _| {});
        let root = mth(d);
        assert_eq!(frontier.root(), root, "frontier of {n}");
        let mut source = Leaves(d.to_vec());
        assert_eq!(merkle::root(&mut source, n as u64).unwrap(), root);
        for m in 0..n {
            let proof = merkle::inclusion_proof(&mut source, m as u64, n as u64)
                .unwrap()
                .unwrap();
            assert_eq!(proof, path(m, d), "inclusion of {m} in {n}");
            assert!(merkle::verify_inclusion(
                m as u64, n as u64, &d[m], &proof, &root
            ));
            assert!(
                !merkle::verify_inclusion(m as u64, n as u64, &d[(m + 1) % n], &proof, &root)
                    || n == 1
            );
        }
        for m in 1..=n {
            let proof = merkle::consistency_proof(&mut source, m as u64, n as u64)
                .unwrap()
                .unwrap();
            let want = if m == n { vec![] } else { subproof(m, d, true) };
            assert_eq!(proof, want, "consistency {m} → {n}");
            assert!(merkle::verify_consistency(
                m as u64,
                n as u64,
                &mth(&d[..m]),
                &root,
                &proof
            ));
            if m < n {
                let other = merkle::leaf_hash(b"not the first tree");
                assert!(!merkle::verify_consistency(
                    m as u64, n as u64, &other, &root, &proof
                ));
            }
        }
    }
}

#[test]
fn the_naive_tree_hash_agrees_with_its_simplest_form() {
    // guards the test's own MTH against the RFC's split rule
    let d = some_leaves(7);
    let expect = merkle::node_hash(
        &merkle::node_hash(
            &merkle::node_hash(&d[0], &d[1]),
            &merkle::node_hash(&d[2], &d[3]),
        ),
        &merkle::node_hash(&merkle::node_hash(&d[4], &d[5]), &d[6]),
    );
    assert_eq!(mth(&d), expect);
}

// ------------------------------------------------------ RFC 8785 leaves

#[test]
fn the_canonical_form_follows_rfc8785_examples() {
    let canon = |text: &str| {
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        pactum::transparency::canonical(&v).unwrap()
    };
    // §3.2.2: numbers, literals, string escapes
    assert_eq!(
        canon(
            r#"{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
                "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
                "literals": [null, true, false]}"#
        ),
        "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],\"string\":\"€$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}"
    );
    // §3.2.3: keys sorted by their UTF-16 code units
    assert_eq!(
        canon(
            r#"{"\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet With Dagesh",
                "1": "One", "\ud83d\ude00": "Emoji: Grinning Face", "\u0080": "Control",
                "\u00f6": "Latin Small Letter O With Diaeresis"}"#
        ),
        "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\"ö\":\"Latin Small Letter O With Diaeresis\",\"€\":\"Euro Sign\",\"😀\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}"
    );
    // Appendix B: IEEE 754 values and their canonical text
    for (bits, text) in [
        (0x0000000000000000u64, "0"),
        (0x8000000000000000, "0"),
        (0x0000000000000001, "5e-324"),
        (0x7fefffffffffffff, "1.7976931348623157e+308"),
        (0x4340000000000000, "9007199254740992"),
        (0x4430000000000000, "295147905179352830000"),
        (0x44b52d02c7e14af6, "1e+23"),
        (0x444b1ae4d6e2ef50, "1e+21"),
        (0x3eb0c6f7a0b5ed8d, "0.000001"),
        (0x41b3de4355555554, "333333333.33333325"),
        (0xbecbf647612f3696, "-0.0000033333333333333333"),
    ] {
        let v = serde_json::Value::from(f64::from_bits(bits));
        assert_eq!(
            pactum::transparency::canonical(&v).unwrap(),
            text,
            "{bits:#x}"
        );
    }
}

#[test]
fn integers_beyond_two_to_the_53_have_no_canonical_leaf() {
    let v = serde_json::json!({"seq": 9_007_199_254_740_993u64});
    assert!(pactum::transparency::canonical(&v).is_err());
    let v = serde_json::json!({"seq": 9_007_199_254_740_992u64});
    assert_eq!(
        pactum::transparency::canonical(&v).unwrap(),
        r#"{"seq":9007199254740992}"#
    );
}

// --------------------------------------------------- the registry's tree

/// A registry of one partner and `n - 1` conventions (n events).
fn registry_of(n: usize) -> Reg {
    let reg = Reg::new();
    let p = reg.partner("Agence du Nord", PartnerKind::Agency);
    let commands: Vec<_> = (1..n)
        .map(|i| {
            (
                Command::SignConvention(
                    ConventionId(reg.registry.new_id()),
                    signed(&[p], "2009", &format!("Objectifs n° {i}")),
                ),
                meta(None),
            )
        })
        .collect();
    for chunk in commands.chunks(300) {
        reg.registry.execute_batch(chunk.to_vec()).unwrap();
    }
    reg
}

/// The leaves by the definition: each line of the export, canonicalised.
fn exported_leaves(reg: &Reg) -> (Vec<String>, Vec<Hash>) {
    let mut out = Vec::new();
    reg.registry
        .export_jsonl(reg.head(), &mut out, &mut |_| {})
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<String> = text
        .lines()
        .map(|l| serde_json_canonicalizer::pipe(l).unwrap())
        .collect();
    let hashes = lines
        .iter()
        .map(|l| merkle::leaf_hash(l.as_bytes()))
        .collect();
    (lines, hashes)
}

#[test]
fn the_stored_tree_gives_the_proofs_of_a_naive_recomputation_across_tiles() {
    let reg = registry_of(600);
    let (lines, leaves) = exported_leaves(&reg);
    assert_eq!(leaves.len(), 600);
    let (size, root) = reg.registry.tree_head().unwrap();
    assert_eq!((size, root), (600, mth(&leaves)));
    for size in [1usize, 2, 3, 255, 256, 257, 511, 512, 513, 599, 600] {
        let d = &leaves[..size];
        assert_eq!(
            reg.registry.tree_root(size as u64).unwrap(),
            mth(d),
            "root of {size}"
        );
        let seqs: Vec<Seq> = [1, 2, 128, 256, 257, 300, 512, 513, size]
            .iter()
            .copied()
            .filter(|s| *s <= size)
            .map(|s| Seq(s as u64))
            .collect();
        let proofs = reg.registry.inclusion_proofs(&seqs, size as u64).unwrap();
        assert_eq!(proofs.len(), seqs.len());
        for (seq, p) in seqs.iter().zip(&proofs) {
            let m = (seq.0 - 1) as usize;
            assert_eq!(p.seq, seq.0);
            assert_eq!(p.leaf_index, seq.0 - 1);
            assert_eq!(p.tree_size, size as u64);
            assert_eq!(p.leaf, lines[m], "leaf of #{seq}");
            assert_eq!(p.hashes, path(m, d), "proof of #{seq} in {size}");
        }
        for first in [1usize, 100, 256, 257, 300, size] {
            if first > size {
                continue;
            }
            let c = reg
                .registry
                .consistency_proof(first as u64, size as u64)
                .unwrap();
            let want = if first == size {
                vec![]
            } else {
                subproof(first, d, true)
            };
            assert_eq!(c.hashes, want, "consistency {first} → {size}");
        }
    }
    // the proofs come back in the order asked, whatever it is
    let proofs = reg
        .registry
        .inclusion_proofs(&[Seq(513), Seq(3), Seq(300)], 600)
        .unwrap();
    assert_eq!(
        proofs.iter().map(|p| p.seq).collect::<Vec<_>>(),
        vec![513, 3, 300]
    );
    assert!(reg.registry.inclusion_proofs(&[Seq(601)], 600).is_err());
    assert!(reg.registry.inclusion_proofs(&[Seq(1)], 601).is_err());
    assert!(reg.registry.inclusion_proofs(&[Seq(0)], 600).is_err());
}

#[test]
fn appends_one_by_one_and_an_import_keep_the_stored_tree_equal_to_a_recomputation() {
    let reg = registry_of(254);
    let p = reg.partner("Université Ibn Tofail", PartnerKind::Academic);
    for i in 0..4 {
        // crosses the first tile boundary (256) one append at a time
        reg.sign(&[p], "2010", &format!("Convention {i}"));
        let (_, leaves) = exported_leaves(&reg);
        assert_eq!(
            reg.registry.tree_head().unwrap(),
            (leaves.len() as u64, mth(&leaves))
        );
    }
    let mut export = Vec::new();
    reg.registry
        .export_jsonl(reg.head(), &mut export, &mut |_| {})
        .unwrap();
    let other = Reg::new();
    other.registry.import_jsonl(&export, false).unwrap();
    // the import stored the tree itself, from the leaves it hashed while
    // checking the file
    holds_the_tree_of(&other, &reg);
    // an import onto a registry holding a prefix of the file extends the
    // tree the registry has
    let text = std::str::from_utf8(&export).unwrap();
    let prefix: String = text.lines().take(100).map(|l| format!("{l}\n")).collect();
    let third = Reg::new();
    third
        .registry
        .import_jsonl(prefix.as_bytes(), false)
        .unwrap();
    assert_eq!(stored_through(&third), Some(Seq(100)));
    third.registry.import_jsonl(&export, false).unwrap();
    holds_the_tree_of(&third, &reg);
}

/// That `copy`, made by an import of `reg`'s log, stored a tree ending at
/// its last event (before anything catches it up), that this tree is
/// `reg`'s, and that `verify` finds nothing.
fn holds_the_tree_of(copy: &Reg, reg: &Reg) {
    assert_eq!(stored_through(copy), Some(Seq(leaves_of(reg))));
    assert_eq!(
        copy.registry.tree_head().unwrap(),
        reg.registry.tree_head().unwrap()
    );
    let report = copy.registry.verify(None, &mut |_| {}).unwrap();
    assert!(report.ok(), "{:?}", report.problems);
}

/// The event the stored tree ends at, without catching it up.
fn stored_through(reg: &Reg) -> Option<Seq> {
    reg.registry
        .store()
        .merkle_state()
        .unwrap()
        .map(|s| s.through)
}

/// How many events `reg` holds.
fn leaves_of(reg: &Reg) -> u64 {
    reg.registry.store().head().unwrap().seq.0
}

#[test]
fn verify_finds_a_damaged_stored_tree_and_rebuild_repairs_it() {
    let reg = registry_of(300);
    reg.registry.tree_head().unwrap();
    assert!(reg.registry.verify(None, &mut |_| {}).unwrap().ok());
    let state = reg.registry.store().merkle_state().unwrap().unwrap();
    let mut tile = reg.registry.store().merkle_tile(0).unwrap().unwrap();
    tile[0][5] ^= 1;
    reg.registry
        .store()
        .put_merkle(&state, &[(0, tile)])
        .unwrap();
    let report = reg.registry.verify(None, &mut |_| {}).unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.tree == "merkle" && p.at == "tile 0"),
        "{:?}",
        report.problems
    );
    reg.registry.rebuild(&mut |_| {}).unwrap();
    assert!(reg.registry.verify(None, &mut |_| {}).unwrap().ok());
}

#[test]
fn a_stored_tree_of_another_log_is_recomputed_not_trusted() {
    let reg = registry_of(10);
    let (_, leaves) = exported_leaves(&reg);
    let state = reg.registry.store().merkle_state().unwrap().unwrap();
    let mut wrong = state.clone();
    wrong.through_hash.0[0] ^= 1;
    wrong.frontier = vec![[9; 32]; wrong.frontier.len()];
    reg.registry.store().put_merkle(&wrong, &[]).unwrap();
    assert_eq!(reg.registry.tree_head().unwrap(), (10, mth(&leaves)));
}

// ----------------------------------------------------- notes and keys

#[test]
fn a_signed_checkpoint_verifies_with_its_key_only() {
    let key = SignerKey::from_seed("example.org/registry", &[3; 32]);
    let vkey = key.verifier();
    let body = pactum::transparency::checkpoint::body("example.org/registry", 5, &[1; 32]).unwrap();
    let note = key.sign(&body).unwrap();
    let c = Checkpoint::parse(&note).unwrap();
    assert_eq!(
        (c.origin.as_str(), c.size, c.root),
        ("example.org/registry", 5, [1; 32])
    );
    c.verify(&vkey).unwrap();
    // the verifier key reads back from its text
    assert_eq!(VerifierKey::parse(&vkey.to_string()).unwrap(), vkey);
    // another key of the same name is not this key
    let other = SignerKey::from_seed("example.org/registry", &[4; 32]).verifier();
    assert!(c.verify(&other).is_err());
    // an altered text fails the signature
    let altered = note.replacen("\n5\n", "\n6\n", 1);
    assert!(Checkpoint::parse(&altered).unwrap().verify(&vkey).is_err());
    // a cosignature by an unknown key is ignored
    let witness = SignerKey::from_seed("witness.example", &[5; 32]);
    let cosigned = format!(
        "{note}{}",
        witness.sign(&body).unwrap().rsplit("\n\n").next().unwrap()
    );
    Checkpoint::parse(&cosigned).unwrap().verify(&vkey).unwrap();
}

#[test]
fn the_verifier_key_is_name_keyid_and_typed_public_key() {
    let key = SignerKey::from_seed("example.org/registry", &[3; 32]);
    let text = key.verifier().to_string();
    let parts: Vec<&str> = text.splitn(3, '+').collect();
    assert_eq!(parts[0], "example.org/registry");
    let typed = B64.decode(parts[2]).unwrap();
    assert_eq!(typed.len(), 33);
    assert_eq!(typed[0], 0x01);
    let mut h = Sha256::new();
    h.update(b"example.org/registry\n\x01");
    h.update(&typed[1..]);
    let id = h.finalize();
    assert_eq!(
        parts[1],
        format!("{:02x}{:02x}{:02x}{:02x}", id[0], id[1], id[2], id[3])
    );
    // a key id that does not match is refused
    let wrong = format!("{}+00000000+{}", parts[0], parts[2]);
    assert!(VerifierKey::parse(&wrong).is_err());
}

#[test]
fn the_checkpoint_format_is_read_strictly() {
    let key = SignerKey::from_seed("o", &[3; 32]);
    let root = B64.encode([0u8; 32]);
    for (body, why) in [
        (format!("o\n05\n{root}\n"), "a leading zero"),
        (format!("o\n-1\n{root}\n"), "a sign"),
        (format!("o\n5\n{}\n", B64.encode([0u8; 31])), "a short root"),
        (format!("\n5\n{root}\n"), "an empty origin"),
        ("o\n5\n".to_string(), "no root"),
        (format!("o\n5\n{root}\n\next\n"), "an empty extension line"),
    ] {
        let note = format!("{body}\n— o {}\n", B64.encode([0u8; 68]));
        assert!(Checkpoint::parse(&note).is_err(), "accepted {why}");
        let _ = &key;
    }
}

// ------------------------------------------------------------ end to end

struct Signed {
    cli: Cli,
    vkey: String,
    key: std::path::PathBuf,
}

/// A registry with a few events, a key, and a checkpoint at its head.
fn signed_registry() -> Signed {
    let cli = Cli::with_convention("Première convention");
    cli.run(&["partner", "add", "Région de l'Oriental", "--kind", "region"])
        .ok();
    cli.run(&[
        "sign",
        "--partner",
        "P2",
        "--date",
        "2009-03",
        "--objectives",
        "Deuxième",
    ])
    .ok();
    cli.run(&[
        "amend",
        "C1",
        "--effective",
        "2010",
        "--objectives",
        "Révisés",
    ])
    .ok();
    let (key, vkey) = cli.generate_key("example.org/pactum", "registry.key");
    Signed { cli, vkey, key }
}

impl Signed {
    fn checkpoint(&self, name: &str, size: Option<u64>) -> std::path::PathBuf {
        let mut args = vec!["checkpoint", "--key", self.key.to_str().unwrap()];
        let size_text = size.map(|s| s.to_string());
        if let Some(s) = &size_text {
            args.extend(["--size", s]);
        }
        let text = self.cli.run(&args).ok().stdout;
        let path = self.cli.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn write(&self, name: &str, text: &str) -> std::path::PathBuf {
        let path = self.cli.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn check(&self, checkpoint: &std::path::Path, proof: &std::path::Path) -> crate::support::Run {
        self.cli.run(&[
            "check-proof",
            "--vkey",
            &self.vkey,
            "--checkpoint",
            checkpoint.to_str().unwrap(),
            proof.to_str().unwrap(),
        ])
    }
}

#[test]
fn key_generate_makes_a_private_file_and_never_overwrites_one() {
    let s = signed_registry();
    let mode = std::fs::metadata(&s.key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(s.vkey.starts_with("example.org/pactum+"));
    VerifierKey::parse(&s.vkey).unwrap();
    let before = std::fs::read(&s.key).unwrap();
    let again = s.cli.run(&[
        "key",
        "generate",
        "example.org/pactum",
        "--out",
        s.key.to_str().unwrap(),
    ]);
    assert_eq!(again.code, 2, "{}", again.stderr);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    assert_eq!(std::fs::read(&s.key).unwrap(), before);
    let bad = s
        .cli
        .run(&["key", "generate", "a b", "--out", "/dev/null/x"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
}

#[test]
fn checkpoint_prints_the_tree_head_signed_or_not() {
    let s = signed_registry();
    let unsigned = s
        .cli
        .run(&["checkpoint", "--origin", "example.org/pactum"])
        .ok()
        .stdout;
    let head = s.cli.json(&["info"])["head"].clone();
    let _ = head;
    let lines: Vec<&str> = unsigned.lines().collect();
    assert_eq!(lines.len(), 3, "{unsigned}");
    assert_eq!(lines[0], "example.org/pactum");
    assert_eq!(lines[1], "5");
    let signed = std::fs::read_to_string(s.checkpoint("cp.txt", None)).unwrap();
    assert!(
        signed.starts_with(&unsigned),
        "the signed note starts with the body"
    );
    assert!(signed[unsigned.len()..].starts_with("\n— example.org/pactum "));
    let c = Checkpoint::parse(&signed).unwrap();
    c.verify(&VerifierKey::parse(&s.vkey).unwrap()).unwrap();
    // the default origin is the key's name
    assert_eq!(c.origin, "example.org/pactum");
    let too_big = s.cli.run(&["checkpoint", "--size", "6"]);
    assert_eq!(too_big.code, 2, "{}", too_big.stderr);
}

#[test]
fn proofs_of_an_entry_check_offline_against_the_checkpoint() {
    let s = signed_registry();
    let cp = s.checkpoint("cp.txt", None);
    let proof = s.cli.run(&["prove", "C1"]).ok().stdout;
    let proofs: Vec<InclusionProof> = serde_json::from_str(&proof).unwrap();
    assert_eq!(proofs.iter().map(|p| p.seq).collect::<Vec<_>>(), vec![2, 5]);
    let file = s.write("C1.proof.json", &proof);
    let ok = s.check(&cp, &file).ok();
    assert!(ok.stdout.contains("ok: event #2"), "{}", ok.stdout);
    assert!(ok.stdout.contains("ok: event #5"), "{}", ok.stdout);
    // one event by its seq, in an earlier tree
    let cp4 = s.checkpoint("cp4.txt", Some(4));
    let one = s.cli.run(&["prove", "#3", "--size", "4"]).ok().stdout;
    s.check(&cp4, &s.write("3.json", &one)).ok();
    // an entry's proofs in an earlier tree are those of its events in it
    let c1_at_4: Vec<InclusionProof> =
        serde_json::from_str(&s.cli.run(&["prove", "C1", "--size", "4"]).ok().stdout).unwrap();
    assert_eq!(c1_at_4.iter().map(|p| p.seq).collect::<Vec<_>>(), vec![2]);
    s.check(
        &cp4,
        &s.write("C1-4.json", &serde_json::to_string(&c1_at_4).unwrap()),
    )
    .ok();
    let none = s.cli.run(&["prove", "C2", "--size", "3"]);
    assert_eq!(none.code, 2, "{}", none.stderr);
    // a proof for another tree size than the checkpoint's fails
    let r = s.check(&cp, &s.write("3b.json", &one));
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(r.stderr.contains("tree of 4 events"), "{}", r.stderr);
    // consistency from the earlier checkpoint to the later one
    let c = s.cli.run(&["prove", "--consistency", "4", "5"]).ok().stdout;
    let c = s.write("c.json", &c);
    s.cli
        .run(&[
            "check-proof",
            "--vkey",
            &s.vkey,
            "--checkpoint",
            cp.to_str().unwrap(),
            "--old-checkpoint",
            cp4.to_str().unwrap(),
            c.to_str().unwrap(),
        ])
        .ok();
    let swapped = s.cli.run(&[
        "check-proof",
        "--vkey",
        &s.vkey,
        "--checkpoint",
        cp4.to_str().unwrap(),
        "--old-checkpoint",
        cp.to_str().unwrap(),
        c.to_str().unwrap(),
    ]);
    assert_eq!(swapped.code, 5, "{}", swapped.stderr);
}

#[test]
fn check_proof_rejects_altered_proofs_checkpoints_and_wrong_keys() {
    let s = signed_registry();
    let cp = s.checkpoint("cp.txt", None);
    let good = s.cli.run(&["prove", "C1"]).ok().stdout;
    let value: serde_json::Value = serde_json::from_str(&good).unwrap();
    let mut alterations: Vec<(&str, serde_json::Value)> = Vec::new();
    let mut v = value.clone();
    let h = v[0]["hashes"][0].as_str().unwrap().to_owned();
    let mut bytes = B64.decode(&h).unwrap();
    bytes[0] ^= 1;
    v[0]["hashes"][0] = B64.encode(bytes).into();
    alterations.push(("a flipped bit in a hash", v));
    let mut v = value.clone();
    v[0]["hashes"].as_array_mut().unwrap().pop();
    alterations.push(("a removed hash", v));
    let mut v = value.clone();
    let leaf = v[0]["leaf"]
        .as_str()
        .unwrap()
        .replace("Première", "Premiere");
    v[0]["leaf"] = leaf.into();
    alterations.push(("an edited leaf", v));
    let mut v = value.clone();
    v[0]["seq"] = 3.into();
    v[0]["leaf_index"] = 2.into();
    alterations.push(("another seq", v));
    let mut v = value.clone();
    v[0]["leaf_index"] = 0.into();
    alterations.push(("a leaf index that is not seq - 1", v));
    let mut v = value.clone();
    let pretty: serde_json::Value = serde_json::from_str(v[0]["leaf"].as_str().unwrap()).unwrap();
    v[0]["leaf"] = serde_json::to_string_pretty(&pretty).unwrap().into();
    alterations.push(("a leaf not in canonical form", v));
    let mut v = value.clone();
    v[0]["tree_size"] = 4.into();
    alterations.push(("another tree size", v));
    for (what, v) in alterations {
        let file = s.write("altered.json", &v.to_string());
        let r = s.check(&cp, &file);
        assert_eq!(r.code, 5, "accepted {what}: {}", r.stdout);
        assert!(r.stderr.contains("the proof of #"), "{what}: {}", r.stderr);
    }
    let proof = s.write("good.json", &good);
    let text = std::fs::read_to_string(&cp).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let other_root = B64.encode([7u8; 32]);
    let checkpoints = [
        ("another root", text.replacen(lines[2], &other_root, 1)),
        ("another size", text.replacen("\n5\n", "\n4\n", 1)),
        (
            "another origin",
            text.replacen("example.org/pactum\n", "example.org/other\n", 1),
        ),
        ("a broken signature", {
            let sig = lines.last().unwrap().rsplit(' ').next().unwrap();
            let mut b = B64.decode(sig).unwrap();
            b[10] ^= 1;
            text.replacen(sig, &B64.encode(b), 1)
        }),
        (
            "no signature",
            format!("{}\n{}\n{}\n", lines[0], lines[1], lines[2]),
        ),
        ("not a note", "hello".to_owned()),
    ];
    for (what, text) in checkpoints {
        let file = s.write("altered-cp.txt", &text);
        let r = s.check(&file, &proof);
        assert_eq!(r.code, 5, "accepted a checkpoint with {what}: {}", r.stdout);
        assert!(r.stderr.contains("the checkpoint"), "{what}: {}", r.stderr);
    }
    let other = SignerKey::from_seed("example.org/pactum", &[9; 32])
        .verifier()
        .to_string();
    let r = s.cli.run(&[
        "check-proof",
        "--vkey",
        &other,
        "--checkpoint",
        cp.to_str().unwrap(),
        proof.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 5, "accepted another key: {}", r.stdout);
    let r = s.cli.run(&[
        "check-proof",
        "--vkey",
        "not-a-key",
        "--checkpoint",
        cp.to_str().unwrap(),
        proof.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    s.check(&cp, &proof).ok();
}

/// Rewrites an export: `edit` changes the records, then seqs are renumbered
/// and the hash chain recomputed, as a keeper hiding an edit would.
fn rechain(export: &str, edit: impl FnOnce(&mut Vec<EventRecord>)) -> String {
    let mut records: Vec<EventRecord> = export
        .lines()
        .map(|l| jsonl::from_line(l).unwrap())
        .collect();
    edit(&mut records);
    let mut prev = pactum::domain::Digest::GENESIS;
    let mut out = String::new();
    for (i, r) in records.iter_mut().enumerate() {
        r.seq = Seq(i as u64 + 1);
        r.prev_hash = prev;
        r.hash = codec::chain_hash(&prev, &codec::record_body(r).unwrap());
        prev = r.hash;
        out.push_str(&jsonl::to_line(r));
        out.push('\n');
    }
    out
}

#[test]
fn verify_against_a_checkpoint_catches_every_rewritten_history() {
    let s = signed_registry();
    let cp = s.checkpoint("cp.txt", None);
    let cp_path = cp.to_str().unwrap();
    s.cli
        .run(&["verify", "--checkpoint", cp_path, "--vkey", &s.vkey])
        .ok();
    // appending keeps the log an extension of the checkpoint
    s.cli
        .run(&["terminate", "C2", "--effective", "2012", "--reason", "fin"])
        .ok();
    s.cli
        .run(&["verify", "--checkpoint", cp_path, "--vkey", &s.vkey])
        .ok();
    let export = s.cli.run(&["export"]).ok().stdout;
    let first_five: String = export.lines().take(5).map(|l| format!("{l}\n")).collect();
    let probes = [
        (
            "an edited and re-chained history",
            rechain(&export, |r| {
                if let pactum::domain::Event::ConventionSigned(e) = &mut r[1].event {
                    e.objectives = pactum::domain::Objectives::new("Autre chose").unwrap();
                }
            }),
            "do not hash to the checkpoint's root",
        ),
        (
            "reordered events",
            rechain(&export, |r| {
                // the times stay in order, as a careful forger keeps them
                r.swap(1, 2);
                let (a, b) = (r[1].recorded_at, r[2].recorded_at);
                (r[1].recorded_at, r[2].recorded_at) = (b, a);
            }),
            "do not hash to the checkpoint's root",
        ),
        (
            "a truncated history",
            export.lines().take(4).map(|l| format!("{l}\n")).collect(),
            "truncated",
        ),
        (
            "the last event covered replaced by another",
            rechain(&first_five, |r| {
                if let pactum::domain::Event::ConventionAmended(e) = &mut r[4].event {
                    e.objectives = Some(pactum::domain::Objectives::new("Autres").unwrap());
                }
            }),
            "do not hash to the checkpoint's root",
        ),
    ];
    let original = s.write("published.jsonl", &first_five);
    let first_differing = [
        "event #2 is the first that differs",
        "event #2 is the first that differs",
        "truncated",
        "event #5 is the first that differs",
    ];
    for (i, (what, log, expect)) in probes.into_iter().enumerate() {
        let file = s.write(&format!("probe{i}.jsonl"), &log);
        let db = s.cli.dir.path().join(format!("probe{i}"));
        s.cli.run_in(&db, &["import", file.to_str().unwrap()]).ok();
        // the rewritten registry is whole by its own account
        s.cli.run_in(&db, &["verify"]).ok();
        let r = s
            .cli
            .run_in(&db, &["verify", "--checkpoint", cp_path, "--vkey", &s.vkey]);
        assert_eq!(r.code, 5, "{what} passed: {}", r.stdout);
        assert!(r.stdout.contains(expect), "{what}: {}", r.stdout);
        // with the copy of the log published beside the checkpoint, the
        // first event that differs is named
        let r = s.cli.run_in(
            &db,
            &[
                "verify",
                "--checkpoint",
                cp_path,
                "--vkey",
                &s.vkey,
                "--log",
                original.to_str().unwrap(),
            ],
        );
        assert_eq!(r.code, 5, "{what} passed: {}", r.stdout);
        assert!(
            r.stdout.contains(first_differing[i]),
            "{what}: {}",
            r.stdout
        );
        // a copy that is not the signed log is refused
        let r = s.cli.run_in(
            &db,
            &[
                "verify",
                "--checkpoint",
                cp_path,
                "--vkey",
                &s.vkey,
                "--log",
                file.to_str().unwrap(),
            ],
        );
        assert_eq!(r.code, 5, "{what}: a forged copy was taken: {}", r.stdout);
    }
    s.cli
        .run(&[
            "verify",
            "--checkpoint",
            cp_path,
            "--vkey",
            &s.vkey,
            "--log",
            original.to_str().unwrap(),
        ])
        .ok();
}

#[test]
fn verify_refuses_a_checkpoint_it_cannot_authenticate() {
    let s = signed_registry();
    let cp = s.checkpoint("cp.txt", None);
    let other = SignerKey::from_seed("example.org/pactum", &[9; 32])
        .verifier()
        .to_string();
    let r = s.cli.run(&[
        "verify",
        "--checkpoint",
        cp.to_str().unwrap(),
        "--vkey",
        &other,
    ]);
    assert_eq!(r.code, 5, "{}", r.stdout);
    assert!(
        r.stderr.contains("not a checkpoint signed by this key"),
        "{}",
        r.stderr
    );
    let r = s.cli.run(&["verify", "--checkpoint", cp.to_str().unwrap()]);
    assert_eq!(r.code, 2, "--checkpoint needs --vkey: {}", r.stderr);
}

/// Checks the command line's outputs the way an outside verifier would,
/// from the published definitions alone, with the crates directly (no
/// pactum code): the verifier key's form, the note's signature, the root
/// recomputed from the export, and every proof.
#[test]
fn an_outside_verifier_accepts_the_checkpoint_and_proofs_from_the_definitions_alone() {
    use ed25519_dalek::{Signature, VerifyingKey};
    let s = signed_registry();
    let note = std::fs::read_to_string(s.checkpoint("cp.txt", None)).unwrap();
    // the verifier key: NAME+hex(key hash)+base64(0x01 ‖ public key)
    let mut parts = s.vkey.splitn(3, '+');
    let (name, id_hex, key) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let typed = B64.decode(key).unwrap();
    assert_eq!(typed[0], 1);
    let public: [u8; 32] = typed[1..].try_into().unwrap();
    let id: [u8; 4] = Sha256::digest([name.as_bytes(), b"\n\x01", &public].concat())[..4]
        .try_into()
        .unwrap();
    assert_eq!(id_hex, format!("{:08x}", u32::from_be_bytes(id)));
    // the note: text, blank line, "— NAME base64(key hash ‖ signature)"
    let (text, sigs) = note.split_once("\n\n").unwrap();
    let text = format!("{text}\n");
    let line = sigs.strip_suffix('\n').unwrap();
    let rest = line.strip_prefix("\u{2014} ").unwrap();
    let (signer, sig) = rest.split_once(' ').unwrap();
    assert_eq!(signer, name);
    let sig = B64.decode(sig).unwrap();
    assert_eq!(sig[..4], id);
    let signature = Signature::from_slice(&sig[4..]).unwrap();
    VerifyingKey::from_bytes(&public)
        .unwrap()
        .verify_strict(text.as_bytes(), &signature)
        .unwrap();
    // the checkpoint body: ORIGIN\nN\nbase64(root)\n
    let lines: Vec<&str> = text.lines().collect();
    let size: usize = lines[1].parse().unwrap();
    let root: Hash = B64.decode(lines[2]).unwrap().try_into().unwrap();
    // the root from the export: leaf = SHA-256(0x00 ‖ JCS(line))
    let export = s.cli.run(&["export"]).ok().stdout;
    let leaves: Vec<Hash> = export
        .lines()
        .take(size)
        .map(|l| {
            let c = serde_json_canonicalizer::pipe(l).unwrap();
            Sha256::digest([&[0u8][..], c.as_bytes()].concat()).into()
        })
        .collect();
    assert_eq!(mth(&leaves), root);
    // every proof of every entry, by RFC 9162 §2.1.3.2
    for entry in ["P1", "P2", "C1", "C2"] {
        let proofs: serde_json::Value =
            serde_json::from_str(&s.cli.run(&["prove", entry]).ok().stdout).unwrap();
        for p in proofs.as_array().unwrap() {
            let seq = p["seq"].as_u64().unwrap();
            assert_eq!(p["leaf_index"].as_u64().unwrap(), seq - 1);
            assert_eq!(p["tree_size"].as_u64().unwrap(), size as u64);
            let leaf = p["leaf"].as_str().unwrap();
            assert_eq!(
                leaf,
                serde_json_canonicalizer::pipe(export.lines().nth(seq as usize - 1).unwrap())
                    .unwrap()
            );
            let mut r: Hash = Sha256::digest([&[0u8][..], leaf.as_bytes()].concat()).into();
            let (mut fnode, mut snode) = (seq - 1, size as u64 - 1);
            for h in p["hashes"].as_array().unwrap() {
                let h: Hash = B64.decode(h.as_str().unwrap()).unwrap().try_into().unwrap();
                assert!(snode > 0);
                if fnode % 2 == 1 || fnode == snode {
                    r = Sha256::digest([&[1u8][..], &h, &r].concat()).into();
                    while fnode % 2 == 0 && fnode != 0 {
                        fnode >>= 1;
                        snode >>= 1;
                    }
                } else {
                    r = Sha256::digest([&[1u8][..], &r, &h].concat()).into();
                }
                fnode >>= 1;
                snode >>= 1;
            }
            assert_eq!((snode, r), (0, root), "proof of #{seq}");
        }
    }
}

/// A published checkpoint must stay valid forever: the leaves (the export
/// lines, canonicalised) of a fixed history, and so its root and signed
/// checkpoint, must never change. If this fails, the export of an existing
/// event changed, and every checkpoint ever published would fail.
#[test]
fn the_tree_of_a_fixed_history_never_changes() {
    let reg = Reg::new();
    let p = reg.partner("Agence du Nord", PartnerKind::Agency);
    let c = reg.sign(&[p], "2009", "Développement du Nord");
    let mut amendment = crate::support::amended("2011");
    amendment.objectives = Some(pactum::domain::Objectives::new("Développement durable").unwrap());
    reg.exec(Command::AmendConvention(c, amendment), None)
        .unwrap();
    let key = SignerKey::from_seed("example.org/pactum", &[42; 32]);
    let body = reg
        .registry
        .checkpoint_body("example.org/pactum", None)
        .unwrap();
    let note = key.sign(&body).unwrap();
    expect_test::expect![[r#"
        example.org/pactum+50f892b2+ARl/ayPhbIUyxqvIOPrNXqeJvgx2spIDNAOb+os9No1h
        example.org/pactum
        3
        qxBWSckXPZq9nxTky6OXhX2xo9r833oJk1tNIY2sVGA=

        — example.org/pactum UPiSsjFgd7abTSl1z7B0BFwvUqLThVbIcftIDBAi9K2OEuTxXYTCYPmyGawZllvqZ0QB+zAdmR/DrcAj5244UkHXOAI=
    "#]]
    .assert_eq(&format!("{}\n{note}", key.verifier()));
}

/// A sparse file one byte larger than `bytes` (nothing is written to disk).
fn sparse(dir: &std::path::Path, name: &str, bytes: u64) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::File::create(&path)
        .unwrap()
        .set_len(bytes + 1)
        .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

#[test]
fn oversized_key_checkpoint_proof_and_log_files_are_refused_not_read_whole() {
    let s = signed_registry();
    let dir = s.cli.dir.path();
    let small = 64 * 1024;
    let key = sparse(dir, "big.key", small);
    let cp = sparse(dir, "big-cp.txt", small);
    let vkey = sparse(dir, "big.vkey", small);
    let proof = sparse(dir, "big.proof", 64 * 1024 * 1024);
    let log = sparse(dir, "big.jsonl", 16 * 1024 * 1024);
    let good_cp = s.checkpoint("cp.txt", None);
    let p = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    let runs: Vec<(&str, Vec<String>)> = vec![
        ("key", vec!["checkpoint".into(), "--key".into(), p(&key)]),
        (
            "checkpoint",
            vec![
                "check-proof".into(),
                "--vkey".into(),
                s.vkey.clone(),
                "--checkpoint".into(),
                p(&cp),
                p(&proof),
            ],
        ),
        (
            "vkey",
            vec![
                "check-proof".into(),
                "--vkey".into(),
                p(&vkey),
                "--checkpoint".into(),
                p(&good_cp),
                p(&proof),
            ],
        ),
        (
            "proof",
            vec![
                "check-proof".into(),
                "--vkey".into(),
                s.vkey.clone(),
                "--checkpoint".into(),
                p(&good_cp),
                p(&proof),
            ],
        ),
        (
            "publish checkpoint",
            vec![
                "publish".into(),
                "--out".into(),
                p(&dir.join("site")),
                "--checkpoint".into(),
                p(&cp),
                "--vkey".into(),
                s.vkey.clone(),
            ],
        ),
    ];
    for (what, args) in runs {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = s.cli.run(&args);
        assert_eq!(r.code, 2, "{what}: {}", r.stderr);
        assert!(r.stderr.contains("is larger than"), "{what}: {}", r.stderr);
    }
    let r = s.cli.run(&[
        "verify",
        "--checkpoint",
        &p(&good_cp),
        "--vkey",
        &s.vkey,
        "--log",
        &p(&log),
    ]);
    assert_eq!(r.code, 2, "log: {}", r.stderr);
    assert!(r.stderr.contains("longer than"), "log: {}", r.stderr);
}

#[test]
fn key_names_and_origins_with_control_invisible_or_bidi_characters_are_refused() {
    let s = signed_registry();
    let dir = s.cli.dir.path();
    for (i, name) in ["log\u{202E}gro.elpmaxe", "log\u{200B}name", "log\u{7}name"]
        .iter()
        .enumerate()
    {
        let out = dir.join(format!("k{i}.key"));
        let r = s
            .cli
            .run(&["key", "generate", name, "--out", out.to_str().unwrap()]);
        assert_eq!(r.code, 2, "{name:?}: {}", r.stderr);
        assert!(!out.exists(), "{name:?}: no key file is written");
        let r = s.cli.run(&["checkpoint", "--origin", name]);
        assert_eq!(r.code, 2, "{name:?}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "{name:?}: {}", r.stdout);
    }
}

#[test]
fn what_check_proof_echoes_from_a_file_is_escaped_and_short() {
    let s = signed_registry();
    let cp = s.checkpoint("cp.txt", None);
    let long = format!("{}\u{202E}{}", "A".repeat(50), "B".repeat(5000));
    let proof = s.write(
        "bad.json",
        &serde_json::json!({"seq": long, "leaf_index": 0}).to_string(),
    );
    let r = s.check(&cp, &proof);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(!r.stderr.contains('\u{202E}'), "{}", r.stderr);
    assert!(
        r.stderr.to_lowercase().contains("\\u{202e}"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains(&"B".repeat(200)), "{}", r.stderr);
    // a signature line of the checkpoint is shown short too
    let text = std::fs::read_to_string(&cp).unwrap();
    let forged = s.write("forged.txt", &format!("{text}{}\n", "x".repeat(5000)));
    let r = s.check(&forged, &proof);
    assert_ne!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains(&"x".repeat(200)), "{}", r.stderr);
}
