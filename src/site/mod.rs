//! The transparency site (`pactum publish`): a static web site, in French,
//! that shows the registry at one point of view as the directorate
//! published its lists in 2009, with every entry's audit trail, the data to
//! recompute it, and, when a signed checkpoint is given, each event's
//! inclusion proof, checked in the reader's browser.
//!
//! The site is built in memory as a sorted map of relative paths to bytes
//! ([`build`]), then written by [`output::write_site`]. Everything comes
//! from the application layer's views (`Snapshot`, `history`, `log`,
//! `report_rows`, the exports); nothing here reads the store.
//!
//! **Invariant:** the same registry, point of view and checkpoint give
//! byte-identical files: no clock is read here, nothing random, every map
//! is ordered.
//!
//! **Invariant:** every page is an askama template; no HTML is assembled
//! from strings; the site references nothing outside itself.

pub mod french;
pub mod model;
pub mod output;
pub mod pages;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use askama::Template;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::app::audit::{HistoryEntry, LogFilter};
use crate::app::{AppError, ConventionView, PartnerView, Party, Point, Registry, Snapshot};
use crate::domain::audit::Value;
use crate::domain::text::fold_words;
use crate::domain::{AnyTimeline, EntityId, EntityKind, EventId, Handle, Instrument, Seq};
use crate::store::StoreError;
use crate::transfer::csv as csvf;
use crate::transfer::fixtures::SOURCE_2009;
use crate::transfer::report::{self, headings};

use crate::domain::PartnerChange;
use crate::transparency::{Checkpoint, InclusionProof, VerifierKey};
use model::{
    ChangeView, CheckpointView, DataFile, EventView, Frame, Link, NameView, PartyView, Row,
    SectionView, ValueView,
};
use pages::{
    ConventionPage, DataPage, IndexPage, JournalPage, List2009Page, Pair, PartnerPage, PartnerRow,
    PartnersPage, Section2009,
};

/// The stylesheet, embedded in the binary.
const SITE_CSS: &str = include_str!("assets/site.css");
/// The search box's script.
const SEARCH_JS: &str = include_str!("assets/recherche.js");
/// The in-browser verifier of checkpoints and inclusion proofs.
const VERIFY_JS: &str = include_str!("assets/verification.js");

/// A signed checkpoint to publish with the site, and the key it is signed with.
#[derive(Clone, Debug)]
pub struct CheckpointInput {
    /// the signed note, as `pactum checkpoint` wrote it
    pub text: String,
    /// the verifier key `NAME+HASH+KEY`
    pub vkey: String,
}

/// What `publish` wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Published {
    /// the site's folder, resolved
    pub out: PathBuf,
    /// how many files
    pub files: usize,
    /// conventions on the index
    pub conventions: usize,
    /// inclusion proofs published
    pub proofs: usize,
}

/// The site's files: relative path (with `/`) → bytes.
pub type Files = BTreeMap<String, Vec<u8>>;

/// Builds the site at `point` and writes it to `out`.
pub fn publish(
    registry: &Registry,
    point: Point,
    checkpoint: Option<&CheckpointInput>,
    out: &Path,
) -> Result<Published, AppError> {
    let built = build(registry, point, checkpoint)?;
    let out = output::write_site(out, registry.store().path(), &built.files)?;
    Ok(Published {
        out,
        files: built.files.len(),
        conventions: built.conventions,
        proofs: built.proofs,
    })
}

/// The site in memory.
pub struct Built {
    /// its files
    pub files: Files,
    /// conventions on the index
    pub conventions: usize,
    /// inclusion proofs published
    pub proofs: usize,
}

fn render(t: &impl Template) -> Result<Vec<u8>, AppError> {
    t.render()
        .map(String::into_bytes)
        .map_err(|e| AppError::Other(format!("rendering a page of the site: {e}")))
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// "2024-01-01 à 09:00:00 UTC"
fn time_label(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d à %H:%M:%S UTC").to_string()
}

fn page_of(handle: Handle) -> String {
    match handle.kind {
        EntityKind::Convention => format!("conventions/{handle}.html"),
        EntityKind::Partner => format!("partenaires/{handle}.html"),
    }
}

fn proofs_file(handle: Handle) -> String {
    format!("donnees/preuves/{handle}.json")
}

/// What the pages share while the site is built.
struct Ctx<'r> {
    registry: &'r Registry,
    snapshot: Snapshot<'r>,
    /// every event at T: id → seq
    events: BTreeMap<EventId, Seq>,
    handles: BTreeMap<EntityId, Handle>,
    proofs: BTreeMap<u64, InclusionProof>,
}

/// Where the anchors of an audit trail live.
#[derive(Clone, Copy)]
enum Trail<'a> {
    /// on the log page
    Journal,
    /// on an entry's page
    Entry(&'a str),
}

impl<'r> Ctx<'r> {
    fn handle(&self, entity: EntityId) -> Result<Handle, AppError> {
        match self.handles.get(&entity) {
            Some(h) => Ok(*h),
            None => self.registry.handle(entity),
        }
    }

    fn party_link(&self, party: &Party) -> Link {
        Link {
            href: page_of(party.handle),
            text: party.name.to_string(),
        }
    }

    /// A party of a convention, with the predecessors it replaced and the
    /// date when it is there by succession.
    fn party_view(&self, party: &Party) -> PartyView {
        PartyView {
            link: self.party_link(party),
            handle: party.handle.to_string(),
            via: party.via.iter().map(|p| self.party_link(p)).collect(),
            since: party.since.map(|d| d.to_string()),
        }
    }

    fn status_text(view: &ConventionView) -> String {
        let s = &view.state;
        let mut text = french::status(s.status.as_str()).to_owned();
        if let Some(end) = s.ended_on.filter(|_| s.status.as_str() != "in-force") {
            text.push_str(&format!(" ({end})"));
        }
        text
    }

    fn row(&self, view: &ConventionView) -> Row {
        let s = &view.state;
        let mut haystack = vec![
            view.handle.to_string(),
            s.signed_on.to_string(),
            s.objectives.to_string(),
            french::status(s.status.as_str()).to_owned(),
        ];
        haystack.extend(view.parties.iter().map(|p| p.name.to_string()));
        Row {
            handle: view.handle.to_string(),
            href: page_of(view.handle),
            parties: view.parties.iter().map(|p| self.party_view(p)).collect(),
            instrument: (s.instrument != Instrument::Convention)
                .then(|| s.instrument.french().to_owned()),
            signed_on: s.signed_on.to_string(),
            objectives: s.objectives.to_string(),
            status: Self::status_text(view),
            status_word: s.status.as_str().to_owned(),
            approximate: s.approximate,
            search: fold_words(&haystack.join(" ")).join(" "),
        }
    }

    fn value(&self, field: &str, value: &Value) -> Result<ValueView, AppError> {
        Ok(match value {
            Value::Null => ValueView::Absent,
            Value::Text(t) => ValueView::Text(french::value(field, t).to_owned()),
            Value::Parties(ids) => ValueView::Parties(
                ids.iter()
                    .map(|id| self.snapshot.party(*id).map(|p| self.party_link(&p)))
                    .collect::<Result<_, _>>()?,
            ),
        })
    }

    fn anchor_link(&self, trail: Trail<'_>, seq: Seq) -> Link {
        let page = match trail {
            Trail::Journal => "journal.html",
            Trail::Entry(page) => page,
        };
        Link {
            href: format!("{page}#e{seq}"),
            text: format!("#{seq}"),
        }
    }

    fn entity_link(&self, entity: EntityId) -> Result<Link, AppError> {
        let handle = self.handle(entity)?;
        let text = match entity {
            EntityId::Convention(_) => format!("Convention {handle}"),
            EntityId::Partner(p) => {
                format!("Partenaire {handle} : {}", self.snapshot.party(p)?.name)
            }
        };
        Ok(Link {
            href: page_of(handle),
            text,
        })
    }

    fn event(&self, entry: &HistoryEntry, trail: Trail<'_>) -> Result<EventView, AppError> {
        let r = &entry.record;
        let type_word = r.event.event_type().as_str();
        let target = r.event.target().map(|id| match self.events.get(&id) {
            Some(seq) => self.anchor_link(trail, *seq),
            None => Link {
                href: "journal.html".into(),
                text: id.to_string(),
            },
        });
        let changes = entry
            .changes
            .iter()
            .map(|c| {
                Ok(ChangeView {
                    field: french::field(c.field).to_owned(),
                    before: self.value(c.field, &c.before)?,
                    after: self.value(c.field, &c.after)?,
                })
            })
            .collect::<Result<_, AppError>>()?;
        Ok(EventView {
            seq: r.seq.0,
            anchor: format!("e{}", r.seq),
            id: r.id.to_string(),
            label: french::event_type(type_word).to_owned(),
            type_word: type_word.to_owned(),
            recorded_at: r
                .recorded_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            recorded_label: time_label(&r.recorded_at),
            actor: r.actor.as_str().to_owned(),
            reason: r.reason.as_ref().map(|x| x.to_string()),
            source: r.source.as_ref().map(|x| x.to_string()),
            effective_on: r.event.effective_on().map(|d| d.to_string()),
            target,
            entity: match trail {
                Trail::Journal => Some(self.entity_link(r.entity)?),
                Trail::Entry(_) => None,
            },
            voided_by: entry.voided_by.map(|(seq, _)| self.anchor_link(trail, seq)),
            changes,
            proved: matches!(trail, Trail::Entry(_)) && self.proofs.contains_key(&r.seq.0),
        })
    }

    /// The proofs of an entry's events, as JSON for its page and its file.
    fn entry_proofs(
        &self,
        history: &[HistoryEntry],
    ) -> Result<(Vec<&InclusionProof>, String), AppError> {
        let proofs: Vec<&InclusionProof> = history
            .iter()
            .filter_map(|e| self.proofs.get(&e.record.seq.0))
            .collect();
        let json = serde_json::to_string(&proofs).map_err(|e| AppError::Other(e.to_string()))?;
        Ok((proofs, json))
    }
}

/// The checkpoint checked against its key and against the log.
fn check_checkpoint(
    registry: &Registry,
    input: &CheckpointInput,
    head: Seq,
) -> Result<(Checkpoint, CheckpointView), AppError> {
    let integrity = |detail: String, size: u64| {
        AppError::Store(StoreError::Corrupt {
            tree: "checkpoint",
            at: format!("size {size}"),
            detail,
        })
    };
    let cp = Checkpoint::parse(&input.text)
        .map_err(|e| AppError::invalid(format!("--checkpoint: not a signed checkpoint: {e}")))?;
    let vkey = VerifierKey::parse(input.vkey.trim())
        .map_err(|e| AppError::invalid(format!("--vkey: {e}")))?;
    cp.verify(&vkey).map_err(|e| {
        integrity(
            format!("the checkpoint does not verify with --vkey: {e}"),
            cp.size,
        )
    })?;
    if cp.size > head.0 {
        return Err(integrity(
            format!(
                "the checkpoint is of {} events but the log holds {}",
                cp.size, head
            ),
            cp.size,
        ));
    }
    let root = base64::engine::general_purpose::STANDARD.encode(cp.root);
    let expected = registry.checkpoint_body(&cp.origin, Some(cp.size))?;
    if expected.lines().nth(2) != Some(root.as_str()) {
        return Err(integrity(
            "the log's first events do not hash to the checkpoint's root: the history was rewritten, or the checkpoint is another registry's".into(),
            cp.size,
        ));
    }
    let view = CheckpointView {
        text: input.text.clone(),
        origin: cp.origin.clone(),
        size: cp.size,
        root,
        vkey: input.vkey.trim().to_owned(),
    };
    Ok((cp, view))
}

/// Where the 2009 list was imported: the last seq of the first run of
/// events whose source is the 2009 page.
fn import_of_2009(log: &[HistoryEntry]) -> Option<Seq> {
    let from_2009 = |e: &HistoryEntry| {
        e.record
            .source
            .as_ref()
            .is_some_and(|s| s.as_str() == SOURCE_2009)
    };
    let first = log.iter().position(from_2009)?;
    log[first..]
        .iter()
        .take_while(|e| from_2009(e))
        .last()
        .map(|e| e.record.seq)
}

/// Builds the site in memory.
pub fn build(
    registry: &Registry,
    point: Point,
    checkpoint: Option<&CheckpointInput>,
) -> Result<Built, AppError> {
    let log = registry.log(&LogFilter::default(), &point)?;
    let checked = checkpoint
        .map(|c| check_checkpoint(registry, c, point.head))
        .transpose()?;
    let mut ctx = Ctx {
        registry,
        snapshot: registry.snapshot(point),
        events: log.iter().map(|e| (e.record.id, e.record.seq)).collect(),
        handles: BTreeMap::new(),
        proofs: BTreeMap::new(),
    };
    if let Some((cp, _)) = &checked {
        let seqs: Vec<Seq> = (1..=cp.size.min(point.recorded.0)).map(Seq).collect();
        ctx.proofs = registry
            .inclusion_proofs(&seqs, cp.size)?
            .into_iter()
            .map(|p| (p.seq, p))
            .collect();
    }
    let cp_view = checked.as_ref().map(|(_, v)| v);
    let recorded = log.last().map(|e| e.record.recorded_at);
    let frame = |root: &'static str, title: String, current: &'static str| Frame {
        root,
        title,
        current,
        view_date: point.valid.to_string(),
        position: point.recorded.0,
        head: point.head.0,
        recorded_at: recorded
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
            .unwrap_or_default(),
        recorded_label: recorded.as_ref().map(time_label).unwrap_or_default(),
    };
    let mut files = Files::new();

    // Entries: every convention and partner known at T.
    let conventions = ctx.snapshot.timelines_of(EntityKind::Convention)?;
    let partners = ctx.snapshot.timelines_of(EntityKind::Partner)?;
    for (handle, t) in conventions.iter().chain(partners.iter()) {
        let entity = match t {
            AnyTimeline::Convention(t) => EntityId::Convention(t.id),
            AnyTimeline::Partner(t) => EntityId::Partner(t.id),
        };
        ctx.handles.insert(entity, *handle);
    }
    let views = ctx
        .snapshot
        .conventions(&crate::app::ConventionFilter::default())?;
    let rows_by_handle: BTreeMap<u64, Row> = views
        .iter()
        .map(|v| (v.handle.number, ctx.row(v)))
        .collect();
    let mut proofs_published = 0;

    for (handle, t) in &conventions {
        let AnyTimeline::Convention(t) = t else {
            continue;
        };
        let page = page_of(*handle);
        let history = registry.history(EntityId::Convention(t.id), &point)?;
        let events = history
            .iter()
            .map(|e| ctx.event(e, Trail::Entry(&page)))
            .collect::<Result<Vec<_>, _>>()?;
        let (proofs, proofs_json) = ctx.entry_proofs(&history)?;
        if !proofs.is_empty() {
            proofs_published += proofs.len();
            files.insert(proofs_file(*handle), pretty(&proofs)?);
        }
        let view = ctx.snapshot.convention(t.id)?;
        let f = frame("../", format!("Convention {handle}"), "index");
        let page_t = match &view {
            Some(v) => {
                let s = &v.state;
                let names: Vec<String> = v.parties.iter().map(|p| p.name.to_string()).collect();
                ConventionPage {
                    frame: &f,
                    handle: handle.to_string(),
                    heading: format!(
                        "{} {handle} — {}",
                        s.instrument.french(),
                        report::partner_cell(&names, Instrument::Convention)
                    ),
                    exists: true,
                    instrument: s.instrument.french().to_owned(),
                    parties: v.parties.iter().map(|p| ctx.party_view(p)).collect(),
                    signed_on: s.signed_on.to_string(),
                    objectives: s.objectives.to_string(),
                    status: Ctx::status_text(v),
                    status_word: s.status.as_str().to_owned(),
                    approximate: s.approximate,
                    expires_on: s.expires_on.map(|d| d.to_string()),
                    official_ref: s.official_ref.as_ref().map(|r| r.to_string()),
                    version: s.version,
                    id: s.id.to_string(),
                    events,
                    checkpoint: cp_view,
                    proofs_json,
                    proofs_href: proofs_file(*handle),
                }
            }
            None => ConventionPage {
                frame: &f,
                handle: handle.to_string(),
                heading: format!("Convention {handle}"),
                exists: false,
                instrument: String::new(),
                parties: Vec::new(),
                signed_on: String::new(),
                objectives: String::new(),
                status: String::new(),
                status_word: String::new(),
                approximate: false,
                expires_on: None,
                official_ref: None,
                version: t.version,
                id: t.id.to_string(),
                events,
                checkpoint: cp_view,
                proofs_json,
                proofs_href: proofs_file(*handle),
            },
        };
        files.insert(page, render(&page_t)?);
    }

    let mut partner_rows = Vec::new();
    for (handle, t) in &partners {
        let AnyTimeline::Partner(t) = t else {
            continue;
        };
        let page = page_of(*handle);
        let history = registry.history(EntityId::Partner(t.id), &point)?;
        let events = history
            .iter()
            .map(|e| ctx.event(e, Trail::Entry(&page)))
            .collect::<Result<Vec<_>, _>>()?;
        let (proofs, proofs_json) = ctx.entry_proofs(&history)?;
        if !proofs.is_empty() {
            proofs_published += proofs.len();
            files.insert(proofs_file(*handle), pretty(&proofs)?);
        }
        let mut names: Vec<NameView> = t
            .base
            .iter()
            .map(|b| NameView {
                name: b.payload.name.to_string(),
                short_name: b.payload.short_name.as_ref().map(|s| s.to_string()),
                from: None,
            })
            .collect();
        names.extend(t.facts.iter().filter_map(|f| match &f.payload {
            PartnerChange::Renamed(r) => Some(NameView {
                name: r.new_name.to_string(),
                short_name: r.short_name.as_ref().map(|s| s.to_string()),
                from: Some(r.effective_on.to_string()),
            }),
            PartnerChange::Succeeded(_) => None,
        }));
        let view = ctx.snapshot.partner(t.id)?;
        let conventions_of = if view.is_some() {
            ctx.snapshot.conventions_of(t.id)?
        } else {
            Vec::new()
        };
        let party = ctx.snapshot.party(t.id)?;
        let (status, predecessors, successors) = succession_of(view.as_ref());
        let kind = view
            .as_ref()
            .map(|v| v.state.kind.as_str())
            .or(party.kind.map(|k| k.as_str()))
            .unwrap_or_default();
        partner_rows.push(PartnerRow {
            link: ctx.party_link(&party),
            handle: handle.to_string(),
            kind: french::kind(kind).to_owned(),
            conventions: conventions_of.len(),
        });
        let f = frame("../", format!("{} ({handle})", party.name), "partenaires");
        let page_t = PartnerPage {
            frame: &f,
            handle: handle.to_string(),
            id: t.id.to_string(),
            name: party.name.to_string(),
            short_name: view
                .as_ref()
                .and_then(|v| v.state.short_name.as_ref().map(|s| s.to_string())),
            kind: french::kind(kind).to_owned(),
            country: view
                .as_ref()
                .and_then(|v| v.state.country.map(|c| c.to_string())),
            status,
            predecessors,
            successors,
            names,
            conventions: conventions_of.iter().map(|v| ctx.row(v)).collect(),
            column: "Parties",
            events,
            checkpoint: cp_view,
            proofs_json,
            proofs_href: proofs_file(*handle),
        };
        files.insert(page, render(&page_t)?);
    }
    let f = frame("", "Partenaires".into(), "partenaires");
    files.insert(
        "partenaires.html".into(),
        render(&PartnersPage {
            frame: &f,
            partners: partner_rows,
        })?,
    );

    // The index, grouped by section as in 2009.
    let grouped = report::grouped(registry.report_rows(point)?);
    let sections: Vec<SectionView> = grouped
        .iter()
        .map(|(section, rows)| {
            let (heading, subtitle, column) = headings(*section);
            SectionView {
                id: format!("section-{}", section.as_str()),
                heading: heading.to_owned(),
                subtitle: subtitle.map(str::to_owned),
                column: column.to_owned(),
                rows: rows
                    .iter()
                    .filter_map(|r| rows_by_handle.get(&r.order).cloned())
                    .collect(),
            }
        })
        .collect();
    let total = sections.iter().map(|s| s.rows.len()).sum();
    let f = frame("", "Conventions de partenariat".into(), "index");
    files.insert(
        "index.html".into(),
        render(&IndexPage {
            frame: &f,
            sections: &sections,
            total,
        })?,
    );

    // The 2009 list as recorded at its import, beside today's.
    let imported_at = import_of_2009(&log);
    let mut sections_2009 = Vec::new();
    let mut added = Vec::new();
    if let Some(at) = imported_at {
        let then_point = Point {
            recorded: at,
            ..point
        };
        let then_snapshot = registry.snapshot(then_point);
        let then_views = then_snapshot.conventions(&crate::app::ConventionFilter::default())?;
        let then_rows: BTreeMap<u64, Row> = then_views
            .iter()
            .map(|v| (v.handle.number, ctx.row(v)))
            .collect();
        let then_cells: BTreeMap<u64, String> = then_views
            .iter()
            .map(|v| (v.handle.number, partner_cell(v)))
            .collect();
        let now_cells: BTreeMap<u64, String> = views
            .iter()
            .map(|v| (v.handle.number, partner_cell(v)))
            .collect();
        for (section, rows) in report::grouped(registry.report_rows(then_point)?) {
            let (heading, subtitle, column) = headings(section);
            let pairs = rows
                .iter()
                .filter_map(|r| {
                    let then = then_rows.get(&r.order)?.clone();
                    let now = rows_by_handle.get(&r.order).cloned();
                    let then_parties = then_cells.get(&r.order).cloned().unwrap_or_default();
                    let now_parties = now_cells.get(&r.order).cloned().unwrap_or_default();
                    let unchanged = now.as_ref().is_some_and(|n| {
                        n.signed_on == then.signed_on
                            && n.objectives == then.objectives
                            && n.status_word == then.status_word
                            && now_parties == then_parties
                    });
                    Some(Pair {
                        then,
                        then_parties,
                        now,
                        now_parties,
                        unchanged,
                    })
                })
                .collect();
            sections_2009.push(Section2009 {
                heading: heading.to_owned(),
                subtitle: subtitle.map(str::to_owned),
                column: column.to_owned(),
                pairs,
            });
        }
        added = rows_by_handle
            .iter()
            .filter(|(n, _)| !then_rows.contains_key(n))
            .map(|(_, r)| r.clone())
            .collect();
    }
    let f = frame("", "La liste de 2009, hier et aujourd'hui".into(), "2009");
    files.insert(
        "liste-2009.html".into(),
        render(&List2009Page {
            frame: &f,
            imported_at: imported_at.map(|s| s.0),
            sections: sections_2009,
            added,
        })?,
    );

    // The global log.
    let journal = log
        .iter()
        .map(|e| ctx.event(e, Trail::Journal))
        .collect::<Result<Vec<_>, _>>()?;
    let f = frame("", "Journal des événements".into(), "journal");
    files.insert(
        "journal.html".into(),
        render(&JournalPage {
            frame: &f,
            events: journal,
        })?,
    );

    // The data.
    let mut jsonl = Vec::new();
    registry.export_jsonl(point.recorded, &mut jsonl, &mut |_| {})?;
    files.insert("donnees/journal.jsonl".into(), jsonl);
    let mut csv = Vec::new();
    csvf::write(&registry.export_rows(point)?, &mut csv)
        .map_err(|e| AppError::Other(format!("writing the conventions CSV: {e}")))?;
    files.insert("donnees/conventions.csv".into(), csv);
    if let Some(cp) = cp_view {
        files.insert(
            "donnees/checkpoint.txt".into(),
            cp.text.clone().into_bytes(),
        );
        files.insert(
            "donnees/cle-de-verification.txt".into(),
            format!("{}\n", cp.vkey).into_bytes(),
        );
    }
    let describe = |path: &str| -> String {
        match path {
            "donnees/journal.jsonl" => format!(
                "le journal des événements jusqu'à #{} (JSON Lines, sans perte : pactum import le relit)",
                point.recorded
            ),
            "donnees/conventions.csv" => format!(
                "les conventions de la vue du {} (CSV, le format d'import)",
                point.valid
            ),
            "donnees/checkpoint.txt" => "le point de contrôle signé (C2SP signed note)".into(),
            "donnees/cle-de-verification.txt" => {
                "la clé de vérification du point de contrôle".into()
            }
            p => match p
                .strip_prefix("donnees/preuves/")
                .and_then(|p| p.strip_suffix(".json"))
            {
                Some(h) => format!("les preuves d'inclusion des événements de {h}"),
                None => String::new(),
            },
        }
    };
    let data_files: Vec<DataFile> = files
        .iter()
        .filter(|(p, _)| p.starts_with("donnees/"))
        .map(|(p, bytes)| DataFile {
            href: p.clone(),
            what: describe(p),
            bytes: bytes.len(),
            sha256: sha256_hex(bytes),
        })
        .collect();
    let f = frame("", "Données et vérification".into(), "donnees");
    files.insert(
        "donnees.html".into(),
        render(&DataPage {
            frame: &f,
            files: data_files,
            checkpoint: cp_view,
        })?,
    );

    files.insert("assets/site.css".into(), SITE_CSS.as_bytes().to_vec());
    files.insert("assets/recherche.js".into(), SEARCH_JS.as_bytes().to_vec());
    files.insert(
        "assets/verification.js".into(),
        VERIFY_JS.as_bytes().to_vec(),
    );
    files.insert(
        output::MARKER.into(),
        b"This folder is a site written by pactum publish; pactum replaces it whole.\n".to_vec(),
    );
    let sums: String = files
        .iter()
        .map(|(p, bytes)| format!("{}  {p}\n", sha256_hex(bytes)))
        .collect();
    files.insert(output::SUMS.into(), sums.into_bytes());
    Ok(Built {
        files,
        conventions: total,
        proofs: proofs_published,
    })
}

fn pretty(proofs: &[&InclusionProof]) -> Result<Vec<u8>, AppError> {
    let mut text =
        serde_json::to_string_pretty(proofs).map_err(|e| AppError::Other(e.to_string()))?;
    text.push('\n');
    Ok(text.into_bytes())
}

/// The partner cell of a row, as the published lists print it.
fn partner_cell(v: &ConventionView) -> String {
    let names: Vec<String> = v.parties.iter().map(|p| p.name.to_string()).collect();
    report::partner_cell(&names, v.state.instrument)
}

/// A partner's status, predecessors and successors at the view.
fn succession_of(view: Option<&PartnerView>) -> (Option<String>, Vec<Link>, Vec<Link>) {
    let Some(view) = view else {
        return (None, Vec::new(), Vec::new());
    };
    let links = |parties: &[Party]| {
        parties
            .iter()
            .map(|p| Link {
                href: page_of(p.handle),
                text: p.name.to_string(),
            })
            .collect()
    };
    let mut status = french::status(view.state.status.as_str()).to_owned();
    if let Some(on) = view.state.succeeded_on {
        status.push_str(&format!(" ({on})"));
    }
    (
        Some(status),
        links(&view.predecessors),
        links(&view.successors),
    )
}
