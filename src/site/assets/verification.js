// Checks in the browser, with Web Crypto, what this page publishes:
//  1. the checkpoint's signature (a C2SP signed note, Ed25519) against the
//     verifier key printed on the page;
//  2. each event's inclusion proof against the checkpoint's root, by the
//     algorithm of RFC 9162 §2.1.3.2 (leaf hash SHA-256(0x00 || leaf),
//     node hash SHA-256(0x01 || left || right)).
// The page reads the same without it; `pactum check-proof` does the same
// checks offline.
"use strict";
(function () {
  const box = document.querySelector("[data-checkpoint]");
  const status = document.getElementById("verification-statut");
  if (!box || !status) return;

  const say = (state, text) => {
    status.dataset.state = state;
    status.textContent = text;
  };
  if (!window.crypto || !crypto.subtle) {
    say("unavailable", "Ce navigateur ne permet pas la vérification (Web Crypto absent).");
    return;
  }

  const utf8 = (text) => new TextEncoder().encode(text);
  const unbase64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
  function join(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  }
  const sha256 = async (...parts) =>
    new Uint8Array(await crypto.subtle.digest("SHA-256", join(...parts)));

  // RFC 9162 §2.1.3.2: verifying an inclusion proof.
  async function verifyInclusion(leafIndex, treeSize, leaf, path, root) {
    if (leafIndex >= treeSize) return false;
    let fn = leafIndex;
    let sn = treeSize - 1;
    let r = await sha256(Uint8Array.of(0x00), leaf);
    for (const p of path) {
      if (sn === 0) return false;
      if (fn % 2 === 1 || fn === sn) {
        r = await sha256(Uint8Array.of(0x01), p, r);
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      } else {
        r = await sha256(Uint8Array.of(0x01), r, p);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    return sn === 0 && same(r, root);
  }

  // C2SP signed note with an Ed25519 key: NAME+hex(key hash)+base64(0x01 || key).
  async function verifyNote(note, vkey) {
    // Only the first two '+' separate the parts: base64 has '+' of its own.
    const first = vkey.indexOf("+");
    const second = vkey.indexOf("+", first + 1);
    if (first < 0 || second < 0) throw new Error("clé de vérification illisible");
    const name = vkey.slice(0, first);
    const keyHashHex = vkey.slice(first + 1, second);
    const keyB64 = vkey.slice(second + 1);
    const key = unbase64(keyB64 || "");
    if (key.length !== 33 || key[0] !== 0x01) throw new Error("clé de vérification illisible");
    const publicKey = key.slice(1);
    const keyHash = (await sha256(utf8(name), Uint8Array.of(0x0a, 0x01), publicKey)).slice(0, 4);
    if (hex(keyHash) !== keyHashHex) throw new Error("empreinte de la clé incohérente");
    const blank = note.indexOf("\n\n");
    if (blank < 0) throw new Error("point de contrôle illisible");
    const body = note.slice(0, blank + 1);
    const lines = note.slice(blank + 2).split("\n").filter((l) => l.startsWith("\u2014 "));
    const imported = await crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
    for (const line of lines) {
      const rest = line.slice(2);
      const space = rest.lastIndexOf(" ");
      const signature = unbase64(rest.slice(space + 1));
      if (rest.slice(0, space) !== name || signature.length !== 68 || !same(signature.slice(0, 4), keyHash)) continue;
      if (await crypto.subtle.verify({ name: "Ed25519" }, imported, signature.slice(4), utf8(body))) {
        const [origin, size, root] = body.split("\n");
        return { origin, size: Number(size), root: unbase64(root) };
      }
      return null;
    }
    return null;
  }

  async function run() {
    const checkpoint = await verifyNote(box.dataset.checkpoint, box.dataset.vkey);
    if (checkpoint === null) {
      say("failed", "Échec : la signature du point de contrôle ne correspond pas à la clé de vérification.");
      return;
    }
    const proofs = box.dataset.proofs ? JSON.parse(box.dataset.proofs) : [];
    let good = 0;
    for (const proof of proofs) {
      const ok =
        proof.tree_size === checkpoint.size &&
        proof.leaf_index === proof.seq - 1 &&
        JSON.parse(proof.leaf).seq === proof.seq &&
        (await verifyInclusion(proof.leaf_index, proof.tree_size, utf8(proof.leaf),
          proof.hashes.map(unbase64), checkpoint.root));
      if (ok) good += 1;
      const mark = document.querySelector('[data-proof-seq="' + proof.seq + '"]');
      if (mark) {
        mark.dataset.state = ok ? "ok" : "failed";
        mark.textContent = ok
          ? "✓ Inclusion vérifiée dans le journal signé (arbre de " + proof.tree_size + " événements)."
          : "✗ Échec : la preuve d'inclusion ne mène pas à la racine signée.";
      }
    }
    const signed = "Signature du point de contrôle vérifiée (" + checkpoint.origin + ", " + checkpoint.size + " événements)";
    if (proofs.length === 0) {
      say("ok", "✓ " + signed + ".");
    } else if (good === proofs.length) {
      say("ok", "✓ " + signed + " ; " + good + " preuve" + (good === 1 ? "" : "s") + " d'inclusion sur " + proofs.length + " vérifiée" + (good === 1 ? "" : "s") + ".");
    } else {
      say("failed", "✗ " + signed + ", mais " + (proofs.length - good) + " preuve(s) sur " + proofs.length + " en échec.");
    }
  }

  say("running", "Vérification en cours…");
  run().catch((error) => say("failed", "Échec de la vérification : " + error.message));
})();
