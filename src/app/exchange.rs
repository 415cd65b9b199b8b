//! Import, export, the published report and the fixture corrections: the
//! application side of the `transfer` formats.
//!
//! A CSV import is one batch: every row is checked and decided, every bad
//! row reported with its line, and nothing is written unless all are good.
//! Rows already in the registry (same parties, date, instrument and
//! objectives, as first recorded or as corrected) are skipped, so importing
//! a file twice appends nothing.

use std::collections::{HashMap, HashSet};
use std::io::Write;

use super::read::Point;
use super::transparency::Appended;
use super::{AppError, Registry, WriteMeta, Written};
use crate::domain::decide::{Command, CorrectionFields};
use crate::domain::{
    AnyTimeline, ConventionId, ConventionSigned, ConventionTerminated, Digest, EntityId,
    EntityKind, Event, EventRecord, Instrument, Objectives, PartnerId, PartnerKind, PartnerName,
    PartnerRegistered, Patch, Reason, Seq, Status, fold_key,
};
use crate::projection;
use crate::store::{Head, codec};
use crate::transfer::Section;
use crate::transfer::csv::{self as csvf, ExportRow};
use crate::transfer::fixtures::{CorrectionRow, Target};
use crate::transfer::jsonl;
use crate::transfer::report::ReportRow;
use crate::transparency::Hash;

/// What a CSV import did (or, dry, would do).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// rows read
    pub rows: usize,
    /// conventions recorded
    pub conventions_created: usize,
    /// rows found already in the registry
    pub rows_matched: usize,
    /// partners registered
    pub partners_created: usize,
    /// events appended
    pub events: usize,
    /// the convention of each row, in file order
    pub row_conventions: Vec<ConventionId>,
}

type ContentKey = (Instrument, String, String, Vec<PartnerId>);

fn content_key(s: &ConventionSigned) -> ContentKey {
    let mut parties = s.parties.clone();
    parties.sort();
    (
        s.instrument,
        s.signed_on.to_string(),
        fold_key(s.objectives.as_str()),
        parties,
    )
}

/// What the registry already holds, for matching imported rows.
#[derive(Default)]
struct Catalog {
    partners: HashMap<String, PartnerId>,
    conventions: HashMap<ContentKey, ConventionId>,
}

impl Registry {
    fn catalog(&self) -> Result<Catalog, AppError> {
        let mut catalog = Catalog::default();
        let mut live_partners = HashSet::new();
        for t in self
            .store()
            .timelines_all(EntityKind::Partner, crate::store::workers())?
        {
            if let (_, AnyTimeline::Partner(p)) = t
                && p.base.is_some()
            {
                live_partners.insert(p.id);
            }
        }
        let mut live_conventions = HashMap::new();
        for t in self
            .store()
            .timelines_all(EntityKind::Convention, crate::store::workers())?
        {
            if let (_, AnyTimeline::Convention(c)) = t
                && let Some(base) = &c.base
            {
                live_conventions.insert(c.id, content_key(&base.payload));
            }
        }
        for record in self.store().events_from(Seq(1)) {
            let record = record?;
            let mut name = |n: &str, id: EntityId| {
                if let EntityId::Partner(p) = id
                    && live_partners.contains(&p)
                {
                    catalog.partners.entry(fold_key(n)).or_insert(p);
                }
            };
            match &record.event {
                // a short name is a reference like a name (a row naming
                // "HCP" is the partner whose short name it is)
                Event::PartnerRegistered(e) => {
                    name(e.name.as_str(), record.entity);
                    if let Some(short) = &e.short_name {
                        name(short.as_str(), record.entity);
                    }
                }
                Event::PartnerRenamed(e) => {
                    name(e.new_name.as_str(), record.entity);
                    if let Some(short) = &e.short_name {
                        name(short.as_str(), record.entity);
                    }
                }
                Event::Corrected(c) => match &c.patch {
                    Patch::PartnerRegistered(p) => {
                        if let Some(n) = &p.name {
                            name(n.as_str(), record.entity)
                        }
                    }
                    Patch::PartnerRenamed(p) => {
                        if let Some(n) = &p.new_name {
                            name(n.as_str(), record.entity)
                        }
                    }
                    _ => {}
                },
                Event::ConventionSigned(s) => {
                    if let EntityId::Convention(c) = record.entity
                        && live_conventions.contains_key(&c)
                    {
                        catalog.conventions.entry(content_key(s)).or_insert(c);
                    }
                }
                _ => {}
            }
        }
        for (id, key) in live_conventions {
            catalog.conventions.entry(key).or_insert(id);
        }
        Ok(catalog)
    }

    /// Imports a conventions CSV: all rows or none.
    pub fn import_csv(
        &self,
        input: &[u8],
        meta: &WriteMeta,
        dry_run: bool,
    ) -> Result<ImportSummary, AppError> {
        let (rows, errors) = csvf::parse(input);
        if !errors.is_empty() {
            return Err(bad_rows(
                errors.into_iter().map(|e| (e.line, e.message)).collect(),
            ));
        }
        let mut plan = CsvPlan {
            registry: self,
            meta,
            catalog: self.catalog()?,
            summary: ImportSummary {
                rows: rows.len(),
                ..ImportSummary::default()
            },
            commands: Vec::new(),
            lines: Vec::new(),
            kinds: HashMap::new(),
            problems: Vec::new(),
        };
        for row in &rows {
            plan.row(row)?;
        }
        let CsvPlan {
            mut summary,
            commands,
            lines,
            problems,
            ..
        } = plan;
        if !problems.is_empty() {
            return Err(bad_rows(problems));
        }
        summary.events = commands.len();
        if !commands.is_empty() {
            self.record_rows(commands, &lines, dry_run)?;
        }
        Ok(summary)
    }

    /// Records (or, dry, decides) the commands of a file's rows in one
    /// batch; `lines` gives each command's line in the file.
    fn record_rows(
        &self,
        commands: Vec<(Command, WriteMeta)>,
        lines: &[u64],
        dry_run: bool,
    ) -> Result<(), AppError> {
        let decided = if dry_run {
            self.decide_batch(commands)
        } else {
            self.execute_batch(commands)
        };
        decided.map(drop).map_err(|mut errors| {
            // A failure of the store (a full disk, a conflict, damage) is
            // not a fault of the file's rows: it is reported as itself.
            if let Some(i) = errors
                .iter()
                .position(|(_, e)| !matches!(e.exit_code(), 2 | 3))
            {
                return errors.swap_remove(i).1;
            }
            bad_rows(
                errors
                    .into_iter()
                    .map(|(i, e)| (lines.get(i).copied().unwrap_or(0), e.to_string()))
                    .collect(),
            )
        })
    }

    /// Imports a JSON Lines event log, reproducing it exactly (same ids,
    /// seqs, times and hashes). The registry's own log must be a prefix of
    /// the file (an empty registry always is): the events past its head are
    /// appended. Every line is checked first (the hash chain recomputed, seq
    /// and version continuity, targets, see [`JsonlLog::check`]); then the
    /// events are appended durably 2,000 at a time, so an import
    /// interrupted midway leaves a sound, shorter log, and running it again
    /// finishes it.
    pub fn import_jsonl(&self, input: &[u8], dry_run: bool) -> Result<usize, AppError> {
        let head = self.store().head()?;
        let log = if dry_run {
            JsonlLog::dry_check(input, &head)?
        } else {
            JsonlLog::check(input, &head)?
        };
        if dry_run {
            return Ok(log.appended());
        }
        self.import_checked(log)
    }

    /// Appends a checked JSON Lines log's events past the head; refused if
    /// the head is no longer the one it was checked against. Returns how
    /// many events were appended.
    pub fn import_checked(&self, log: JsonlLog) -> Result<usize, AppError> {
        let head = self.store().head()?;
        if (head.seq, head.hash) != (log.head.seq, log.head.hash) {
            return Err(AppError::invalid(format!(
                "the registry moved to #{} since the file was checked against #{}",
                head.seq, log.head.seq
            )));
        }
        let appended = log.appended();
        self.append_jsonl(log.stored)?;
        let span = Appended {
            after: (log.head.seq, log.head.hash),
            last: log.last,
        };
        self.merkle_after_import(span, &log.leaves);
        Ok(appended)
    }

    /// Appends the stored bytes of the checked events past the head to the
    /// log, durably every [`IMPORT_CHUNK`], then brings the caches up to
    /// it once: into an empty registry by folding the events as they are
    /// appended ([`Registry::append_into_empty`]), else by a catch-up, which
    /// rebuilds them (the whole log folded in memory) when they are far
    /// behind: folding costs a fraction of reading and writing each
    /// entity's document 2,000 events at a time. Killed midway, the log is
    /// a sound prefix and the caches are behind it; the next command
    /// catches them up.
    fn append_jsonl(&self, stored: Vec<Vec<u8>>) -> Result<(), AppError> {
        self.ensure_caught_up()?;
        if self.store().head()?.seq == Seq::ZERO {
            return self.append_into_empty(stored);
        }
        let mut writer = self.store().writer()?;
        let mut sealed = 0;
        for bytes in stored {
            let record = codec::decode_record(&bytes)
                .map_err(|e| AppError::Other(format!("a checked event does not decode: {e}")))?;
            writer.adopt_stored(record, bytes)?;
            sealed += 1;
            if sealed == IMPORT_CHUNK {
                writer.commit_log()?;
                sealed = 0;
            }
        }
        writer.commit_log()?;
        // the events are durable: deriving the caches is a cache write, whose
        // failure is caught up later, not a failure of the import
        if self.store().caches_behind()
            && let Err(e) = projection::catch_up(self.store())
        {
            tracing::warn!(error = %e, "the caches could not be derived; they will be caught up");
        }
        Ok(())
    }

    /// [`Registry::append_jsonl`] into an empty registry: a thread appends
    /// the events durably, [`IMPORT_CHUNK`] at a time, while this one
    /// decodes them once and folds them into the caches' derivation; once
    /// the log is durable the caches are written from it, as a rebuild
    /// writes them, without reading the log back. Killed midway, the log is
    /// a sound prefix and the caches are behind it (or marked as being
    /// rebuilt); the next command catches them up.
    fn append_into_empty(&self, stored: Vec<Vec<u8>>) -> Result<(), AppError> {
        let store = self.store();
        let events = u64::try_from(stored.len()).unwrap_or(u64::MAX);
        let mut deriver = projection::Deriver::for_events(store, events);
        let appended = std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<(EventRecord, Vec<u8>)>>(2);
            let appender = scope.spawn(move || -> Result<(), AppError> {
                let mut writer = store.writer()?;
                for chunk in rx {
                    for (record, bytes) in chunk {
                        writer.adopt_stored(record, bytes)?;
                    }
                    writer.commit_log()?;
                }
                Ok(())
            });
            let mut decoded = Ok(());
            let mut stored = stored.into_iter().peekable();
            while stored.peek().is_some() {
                let mut chunk = Vec::with_capacity(IMPORT_CHUNK);
                for bytes in stored.by_ref().take(IMPORT_CHUNK) {
                    match codec::decode_record(&bytes) {
                        Ok(record) => {
                            deriver.fold(&record);
                            chunk.push((record, bytes));
                        }
                        Err(e) => {
                            decoded = Err(AppError::Other(format!(
                                "a checked event does not decode: {e}"
                            )));
                            break;
                        }
                    }
                }
                // what was decoded before a failure is appended: the log
                // stays a sound prefix of the file
                if tx.send(chunk).is_err() || decoded.is_err() {
                    break;
                }
            }
            drop(tx);
            let appended = appender
                .join()
                .unwrap_or_else(|_| Err(AppError::Other("the appending thread failed".into())));
            appended.and(decoded)
        });
        appended?;
        // the events are durable: deriving the caches is a cache write, whose
        // failure is caught up later, not a failure of the import
        let derived = store
            .begin_rebuild()
            .and_then(|()| deriver.finish(store))
            .and_then(|derivation| {
                projection::write_derivation(store, &projection::Derived::ALL, derivation)
            });
        if let Err(e) = derived {
            tracing::warn!(error = %e, "the caches could not be derived; they will be caught up");
        }
        Ok(())
    }

    /// Writes the conventions of the view at `point` as CSV.
    pub fn export_csv(&self, point: Point, out: &mut dyn Write) -> Result<(), AppError> {
        let rows = self.export_rows(point)?;
        csvf::write(&rows, out).map_err(AppError::Output)
    }

    /// Writes the whole log as JSON Lines (up to log position `t`).
    pub fn export_jsonl(
        &self,
        t: Seq,
        out: &mut dyn Write,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64, AppError> {
        let mut n: u64 = 0;
        for record in self.store().events_from(Seq(1)) {
            let record = record?;
            if record.seq > t {
                break;
            }
            writeln!(out, "{}", jsonl::to_line(&record)).map_err(AppError::Output)?;
            n += 1;
            if n.is_multiple_of(4096) {
                progress(n);
            }
        }
        Ok(n)
    }

    /// The conventions of a view, as import rows.
    pub fn export_rows(&self, point: Point) -> Result<Vec<ExportRow>, AppError> {
        let views = self
            .snapshot(point)
            .conventions(&super::ConventionFilter::default())?;
        Ok(views
            .into_iter()
            .filter_map(|v| {
                let partners: Vec<(String, crate::domain::PartnerKind)> = v
                    .parties
                    .iter()
                    .filter_map(|p| p.kind.map(|k| (p.name.to_string(), k)))
                    .collect();
                let first = partners.first()?.1;
                Some(ExportRow {
                    section: Section::of(first),
                    partners,
                    instrument: v.state.instrument,
                    signed_on: v.state.signed_on,
                    objectives: v.state.objectives.to_string(),
                    expires_on: v.state.expires_on,
                    official_ref: v.state.official_ref.map(|r| r.to_string()),
                    status: v.state.status,
                    ended_on: match v.state.status {
                        Status::InForce => None,
                        _ => v.state.ended_on,
                    },
                })
            })
            .collect())
    }

    /// The rows of the published report at a point.
    pub fn report_rows(&self, point: Point) -> Result<Vec<ReportRow>, AppError> {
        let views = self
            .snapshot(point)
            .conventions(&super::ConventionFilter::default())?;
        Ok(views
            .into_iter()
            .map(|v| ReportRow {
                section: v
                    .parties
                    .first()
                    .and_then(|p| p.kind)
                    .map_or(Section::International, Section::of),
                parties: v
                    .parties
                    .iter()
                    .map(crate::app::Party::name_with_predecessors)
                    .collect(),
                instrument: v.state.instrument,
                signed_on: v.state.signed_on,
                objectives: v.state.objectives.to_string(),
                order: v.handle.number,
            })
            .collect())
    }

    /// Applies a corrections file through the `correct` command path, one
    /// event per row, in one batch. `rows` maps `row:N` to conventions.
    pub fn apply_corrections(
        &self,
        corrections: &[CorrectionRow],
        rows: &[ConventionId],
        meta: &WriteMeta,
    ) -> Result<Vec<Written>, AppError> {
        let mut written = Vec::new();
        for c in corrections {
            let fail = |m: String| AppError::invalid(format!("corrections line {}: {m}", c.line));
            let entity = match &c.target {
                Target::Row(n) => rows
                    .get(n - 1)
                    .map(|id| EntityId::Convention(*id))
                    .ok_or_else(|| fail(format!("there is no row {n}")))?,
                Target::Reference(r) => self.resolve_entity(r).map_err(|e| fail(e.to_string()))?,
            };
            let fields = self
                .correction_fields(&c.field, &c.value)
                .map_err(|e| fail(e.to_string()))?;
            let mut meta = meta.clone();
            meta.reason = Some(Reason::new(c.reason.clone()).map_err(|e| fail(e.to_string()))?);
            let command = Command::Correct {
                entity,
                target: None,
                fields,
            };
            written.push(
                self.execute(command, &meta)
                    .map_err(|e| fail(e.to_string()))?,
            );
        }
        Ok(written)
    }

    /// The correction fields for one `field=value` of a corrections file
    /// (the `correct` flags, without dashes).
    fn correction_fields(&self, field: &str, value: &str) -> Result<CorrectionFields, AppError> {
        use crate::domain::{CountryCode, OfficialRef, PartnerName, ShortName};
        let bad = |e: &dyn std::fmt::Display| AppError::invalid(format!("{field}: {e}"));
        let mut f = CorrectionFields::default();
        match field {
            "name" => f.name = Some(PartnerName::new(value).map_err(|e| bad(&e))?),
            "kind" => f.kind = Some(value.parse().map_err(|e| bad(&e))?),
            "short" => f.short_name = Some(ShortName::new(value).map_err(|e| bad(&e))?),
            "country" => f.country = Some(CountryCode::new(value).map_err(|e| bad(&e))?),
            "objectives" => f.objectives = Some(Objectives::new(value).map_err(|e| bad(&e))?),
            "date" => f.signed_on = Some(value.parse().map_err(|e| bad(&e))?),
            "effective" => f.effective_on = Some(value.parse().map_err(|e| bad(&e))?),
            "instrument" => f.instrument = Some(value.parse().map_err(|e| bad(&e))?),
            "expires" => f.expires_on = Some(Some(value.parse().map_err(|e| bad(&e))?)),
            "official-ref" => f.official_ref = Some(OfficialRef::new(value).map_err(|e| bad(&e))?),
            other => return Err(AppError::invalid(format!("unknown field '{other}'"))),
        }
        Ok(f)
    }
}

/// The commands a CSV import makes, row by row, and what is wrong with
/// its rows.
struct CsvPlan<'a> {
    registry: &'a Registry,
    meta: &'a WriteMeta,
    catalog: Catalog,
    summary: ImportSummary,
    commands: Vec<(Command, WriteMeta)>,
    /// the line of each command
    lines: Vec<u64>,
    /// the kind each new partner was given first, and on which line
    kinds: HashMap<PartnerId, (PartnerKind, u64)>,
    problems: Vec<(u64, String)>,
}

impl CsvPlan<'_> {
    fn push(&mut self, command: Command, meta: WriteMeta, line: u64) {
        self.commands.push((command, meta));
        self.lines.push(line);
    }

    /// One row: its partners, then its convention unless the registry
    /// has it already, then its end if the list gives one.
    fn row(&mut self, row: &csvf::ConventionRow) -> Result<(), AppError> {
        let parties = row
            .partners
            .iter()
            .map(|(name, kind)| self.party(row.line, name, *kind))
            .collect();
        let payload = ConventionSigned {
            instrument: row.instrument,
            parties,
            signed_on: row.signed_on,
            objectives: row.objectives.clone(),
            expires_on: row.expires_on,
            official_ref: row.official_ref.clone(),
        };
        let key = content_key(&payload);
        if let Some(existing) = self.catalog.conventions.get(&key) {
            self.summary.rows_matched += 1;
            self.summary.row_conventions.push(*existing);
            return Ok(());
        }
        let id = ConventionId(self.registry.new_id());
        self.catalog.conventions.insert(key, id);
        self.summary.row_conventions.push(id);
        self.summary.conventions_created += 1;
        self.push(
            Command::SignConvention(id, payload),
            self.meta.clone(),
            row.line,
        );
        if let Some((kind, on)) = row.ended {
            let mut end_meta = self.meta.clone();
            end_meta.reason = Some(
                Reason::new(format!("the imported list gives it as {kind} on {on}"))
                    .map_err(|e| AppError::Other(e.to_string()))?,
            );
            let end = ConventionTerminated {
                effective_on: on,
                kind,
            };
            self.push(Command::TerminateConvention(id, end), end_meta, row.line);
        }
        Ok(())
    }

    /// The partner a row names: known by its name, or registered now. A
    /// partner given two kinds by the file is a problem of the row.
    fn party(&mut self, line: u64, name: &PartnerName, kind: PartnerKind) -> PartnerId {
        let key = fold_key(name.as_str());
        let id = match self.catalog.partners.get(&key) {
            Some(id) => *id,
            None => {
                let id = PartnerId(self.registry.new_id());
                self.catalog.partners.insert(key, id);
                self.kinds.insert(id, (kind, line));
                let registered = PartnerRegistered {
                    name: name.clone(),
                    kind,
                    short_name: None,
                    country: None,
                };
                self.push(
                    Command::RegisterPartner(id, registered),
                    self.meta.clone(),
                    line,
                );
                self.summary.partners_created += 1;
                id
            }
        };
        if let Some((first, at)) = self.kinds.get(&id)
            && *first != kind
        {
            self.problems.push((
                line,
                format!("'{name}' is a {kind} here but a {first} on line {at}"),
            ));
        }
        id
    }
}

/// Events an import appends durably at a time (sled holds on to memory
/// given to larger batches).
const IMPORT_CHUNK: usize = 2_000;

/// The lines of a JSON Lines file that are not blank, with their numbers.
fn jsonl_lines(text: &str) -> impl Iterator<Item = (u64, &str)> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| (u64::try_from(i + 1).unwrap_or(u64::MAX), l))
}

/// A JSON Lines event log whose every line was checked against a head:
/// the stored bytes of its events past that head, ready to append.
pub struct JsonlLog {
    head: Head,
    count: u64,
    stored: Vec<Vec<u8>>,
    /// the Merkle leaves of the events in `stored`, hashed on the check's
    /// workers
    leaves: Vec<Hash>,
    /// the last event of the file
    last: (Seq, Digest),
}

impl JsonlLog {
    /// Checks every line of a JSON Lines log, with verify's own per-event
    /// checks (`LogCheck`: a log this accepts, verify accepts), and that it
    /// extends `head` (the head of an empty registry: [`Head::EMPTY`]).
    /// The Merkle leaves of the events past `head` are hashed as they are
    /// checked, for the import to extend the tree with.
    pub fn check(input: &[u8], head: &Head) -> Result<Self, AppError> {
        Self::check_with(input, head, true)
    }

    /// [`JsonlLog::check`] for a dry run: no Merkle leaf hashed (an import
    /// of this log catches its tree up from the log).
    pub fn dry_check(input: &[u8], head: &Head) -> Result<Self, AppError> {
        Self::check_with(input, head, false)
    }

    fn check_with(input: &[u8], head: &Head, leaves: bool) -> Result<Self, AppError> {
        let text = std::str::from_utf8(input).map_err(|e| {
            let line = input[..e.valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count()
                + 1;
            bad_rows(vec![(
                u64::try_from(line).unwrap_or(0),
                "not valid UTF-8".into(),
            )])
        })?;
        let checked = check_jsonl(text, head, leaves)?;
        Ok(Self {
            head: *head,
            count: checked.count,
            stored: checked.stored,
            leaves: checked.leaves,
            last: checked.last,
        })
    }

    /// How many events an import appends.
    pub fn appended(&self) -> usize {
        usize::try_from(self.count - self.head.seq.0).unwrap_or(usize::MAX)
    }
}

/// What [`check_jsonl`] finds in a sound file.
struct Checked {
    /// the number of events in the file
    count: u64,
    /// the stored bytes of the events past the head (made for the hash
    /// check, kept so that the lines are parsed once)
    stored: Vec<Vec<u8>>,
    /// their Merkle leaves
    leaves: Vec<Hash>,
    /// the file's last event
    last: (Seq, Digest),
}

/// The checks of [`JsonlLog::check`].
fn check_jsonl(text: &str, head: &Head, hash_leaves: bool) -> Result<Checked, AppError> {
    /// Lines parsed on the workers at a time, then checked in order here.
    const BLOCK: usize = 8_192;
    let mut problems = Vec::new();
    let mut stored = Vec::new();
    let mut leaves = Vec::new();
    let mut last = (Seq::ZERO, Digest::GENESIS);
    let mut checks = crate::domain::logcheck::LogCheck::new();
    let mut line_of_seq: HashMap<Seq, u64> = HashMap::new();
    let mut count = 0u64;
    let mut joins_head = head.seq == Seq::ZERO;
    let lines: Vec<(u64, &str)> = jsonl_lines(text).collect();
    let parse = |block: &[(u64, &str)]| {
        crate::store::scan::map_in_order(block, crate::store::workers(), &|(_, line)| {
            parse_line(line, hash_leaves.then_some(head.seq))
        })
    };
    let blocks: Vec<&[(u64, &str)]> = lines.chunks(BLOCK).collect();
    let lost = || AppError::Other("a worker thread failed".into());
    // the workers parse the next block while this thread checks one
    crate::store::scan::ahead(&blocks, &|block| parse(block), &mut |block, parsed| {
        let parsed = parsed.ok_or_else(lost)?;
        for (&(n, _), parsed) in block.iter().zip(parsed) {
            let (record, framed) = match parsed {
                Ok(r) => r,
                Err(e) => {
                    problems.push((n, e));
                    continue;
                }
            };
            count += 1;
            last = (record.seq, record.hash);
            line_of_seq.entry(record.seq).or_insert(n);
            for problem in checks.chain(record.seq, record.prev_hash, record.hash) {
                problems.push((n, problem));
            }
            match framed {
                Ok((bytes, leaf)) => {
                    if record.seq > head.seq && problems.is_empty() {
                        stored.push(bytes);
                        leaves.extend(leaf);
                    }
                }
                Err(e) => problems.push((n, e)),
            }
            for problem in checks.event(&record) {
                problems.push((n, problem));
            }
            if record.seq == head.seq && record.hash == head.hash {
                joins_head = true;
            }
        }
        Ok::<(), AppError>(())
    })
    .ok_or_else(lost)??;
    for (seq, problem) in checks.finish() {
        problems.push((line_of_seq.get(&seq).copied().unwrap_or(0), problem));
    }
    if count == 0 && problems.is_empty() {
        problems.push((1, "the file has no event".into()));
    }
    if !problems.is_empty() {
        return Err(bad_rows(problems));
    }
    if !joins_head {
        return Err(AppError::invalid_with(
            format!(
                "the registry is not empty and its log (#{} {}) is not a prefix of this file",
                head.seq, head.hash
            ),
            super::Advice::LogIntoEmptyRegistry,
        ));
    }
    Ok(Checked {
        count,
        stored,
        leaves,
        last,
    })
}

/// A line of a JSON Lines log read on its own: the record, and its stored
/// bytes if its hash is the hash of its body (else what is wrong) with its
/// Merkle leaf if it is past `leaves_after`; or why the line is no record.
type ParsedLine = Result<(EventRecord, Result<(Vec<u8>, Option<Hash>), String>), String>;

fn parse_line(line: &str, leaves_after: Option<Seq>) -> ParsedLine {
    let record = jsonl::from_line(line)?;
    let framed = match codec::record_body(&record) {
        Ok(body) if codec::chain_hash(&record.prev_hash, &body) == record.hash => {
            let framed = codec::frame(&record.prev_hash, &record.hash, &body);
            if framed.len() > codec::MAX_EVENT_BYTES {
                Err(format!(
                    "the event takes {} bytes, more than the {} an event may take",
                    framed.len(),
                    codec::MAX_EVENT_BYTES
                ))
            } else if leaves_after.is_some_and(|head| record.seq > head) {
                // the leaf of the record the stored bytes decode to: the
                // codec round-trips every event it encodes. An event with no
                // leaf is the tree's problem, not the import's: the tree is
                // then caught up from the log, which reports it
                Ok((framed, super::transparency::leaf_of(&record).ok()))
            } else {
                Ok((framed, None))
            }
        }
        Ok(_) => Err("hash does not match the event (altered or truncated export)".into()),
        Err(e) => Err(e.to_string()),
    };
    Ok((record, framed))
}

/// The error for a file with bad rows: every line, and nothing written.
fn bad_rows(mut problems: Vec<(u64, String)>) -> AppError {
    problems.sort_by_key(|(line, _)| *line);
    let count = problems.len();
    let lines: Vec<String> = problems
        .into_iter()
        .map(|(line, m)| format!("  line {line}: {m}"))
        .collect();
    AppError::Invalid {
        message: format!(
            "{count} bad row{}; nothing was imported\n{}",
            if count == 1 { "" } else { "s" },
            lines.join("\n")
        ),
        hint: Some("fix the lines above and import the whole file again (rows already imported are skipped)".into()),
    }
}
