// The search box of the index: filters the rows in the browser, by words
// that ignore case, accents and punctuation (as the registry's own search
// does). The page is complete without it: the box is shown only when this
// script runs. A search can be given in the address: index.html?q=agadir
// or index.html#q=agadir.
"use strict";
(function () {
  const form = document.getElementById("recherche-form");
  const input = document.getElementById("recherche");
  const count = document.getElementById("recherche-compte");
  if (!form || !input) return;
  const rows = Array.from(document.querySelectorAll("tr[data-search]"));
  const sections = Array.from(document.querySelectorAll("section[data-section]"));

  const fold = (text) => text.normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase();
  const words = (text) => fold(text).split(/[^\p{L}\p{N}]+/u).filter((w) => w.length > 0);

  function apply() {
    const wanted = words(input.value);
    let shown = 0;
    for (const row of rows) {
      const haystack = row.dataset.search || "";
      const match = wanted.every((w) => haystack.includes(w));
      row.hidden = !match;
      if (match) shown += 1;
    }
    for (const section of sections) {
      section.hidden = section.querySelector("tr[data-search]:not([hidden])") === null;
    }
    count.textContent = wanted.length === 0
      ? rows.length + " conventions."
      : shown + " convention" + (shown === 1 ? "" : "s") + " sur " + rows.length + " correspond" + (shown === 1 ? "" : "ent") + " à la recherche.";
    document.body.dataset.shown = String(shown);
  }

  function fromAddress() {
    const hash = location.hash.startsWith("#q=") ? location.hash.slice(3) : null;
    const query = new URLSearchParams(location.search).get("q");
    const given = hash !== null ? decodeURIComponent(hash.replace(/\+/g, " ")) : query;
    return given || "";
  }

  form.hidden = false;
  form.addEventListener("submit", (event) => event.preventDefault());
  input.addEventListener("input", apply);
  input.value = fromAddress();
  apply();
})();
