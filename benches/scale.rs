//! The scale benchmark: builds a realistic registry of N events through the
//! real write path, then measures appends, baselines writing the same
//! bytes (bare sled, SQLite, a plain file), and reads, in one run.
//!
//!     cargo bench --bench scale -- --events 100000 [--json]
//!
//! Figures and their targets are in `docs/performance.md`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

use pactum::app::{ConventionFilter, RandomIds, Registry, Repair, SystemClock, WriteMeta, Written};
use pactum::domain::decide::{Command, CorrectionFields};
use pactum::domain::*;
use pactum::store::{DEFAULT_CACHE_BYTES, OpenOptions};

#[derive(Parser, Debug)]
struct Args {
    /// How many events the registry holds
    #[arg(long, default_value_t = 10_000)]
    events: u64,
    /// Print one JSON object
    #[arg(long)]
    json: bool,
    /// Seed of the workload
    #[arg(long, default_value_t = 2009)]
    seed: u64,
    /// Keep the registry in this folder (default: a temporary folder), as
    /// the reads' rebuild and then `pactum compact` leave it
    #[arg(long)]
    keep: Option<PathBuf>,
    /// Stop after the appends, before the reads (whose rebuild rewrites
    /// every cache): with `--keep`, a registry as the appends leave it
    #[arg(long)]
    appends_only: bool,
    /// Passed by cargo
    #[arg(long, hide = true)]
    bench: bool,
    /// Internal: run only the baselines, on the events stored in this
    /// folder's `events.bin`, and print their figures as JSON
    #[arg(long, hide = true)]
    baselines: Option<PathBuf>,
    /// Internal: how many of those events the single-append baselines write
    #[arg(long, hide = true, default_value_t = 0)]
    singles: usize,
    /// Internal: which baseline to run
    #[arg(long, hide = true)]
    only: Option<String>,
    /// Internal: measure the reads and the rebuild on the registry in this
    /// folder, and print their figures as JSON
    #[arg(long, hide = true)]
    reads: Option<PathBuf>,
}

// ------------------------------------------------------------ workload

const PLACES: &[&str] = &[
    "Agadir",
    "Meknès",
    "Figuig",
    "Tanger",
    "Tétouan",
    "Laâyoune",
    "Guelmim",
    "Tata",
    "Assa",
    "Tarfaya",
    "Fès",
    "Oujda",
    "Nador",
    "Errachidia",
    "Ouarzazate",
    "Safi",
    "Essaouira",
    "Taza",
    "Ifrane",
    "Khouribga",
    "Béni Mellal",
    "Settat",
    "Kénitra",
    "Larache",
    "Chefchaouen",
    "Dakhla",
];
const KINDS: &[PartnerKind] = &[
    PartnerKind::Commune,
    PartnerKind::Commune,
    PartnerKind::Region,
    PartnerKind::Ministry,
    PartnerKind::Agency,
    PartnerKind::Academic,
    PartnerKind::HighCommission,
    PartnerKind::Ngo,
    PartnerKind::ForeignState,
    PartnerKind::InternationalOrganisation,
];
const OBJECTIVES: &[&str] = &[
    "La réalisation du schéma régional d'aménagement du territoire",
    "La mise en œuvre et accompagnement du processus Agenda 21",
    "La collaboration en matière d'informations géographiques et la gestion des documents graphiques",
    "La concrétisation de plusieurs projets de développement à caractère intégré et concerté",
    "L'établissement des liens de coopération en matière de développement et d'aménagement du territoire",
    "La coopération en matière de l'aménagement numérique du territoire national",
];

struct GenConvention {
    id: ConventionId,
    year: i32,
    last_year: i32,
    parties: Vec<PartnerId>,
    /// amendments written (event id once known), and whether retracted
    amendments: Vec<(Option<EventId>, bool)>,
    /// the expiry years its amendments set: each is new, so that no
    /// amendment sets the expiry the convention already has (refused)
    expiries: Vec<i32>,
    ended: bool,
}

/// A deterministic stream of valid commands with the mix of a registry
/// that lives for years: about ten events per convention.
struct Workload {
    rng: fastrand::Rng,
    partners: Vec<(PartnerId, String)>,
    conventions: Vec<GenConvention>,
    live: Vec<usize>,
    counter: u64,
    /// what each command of the current batch was: (convention, amendment slot)
    pending: Vec<Option<(usize, usize)>>,
    /// the amendment slot the command being made fills
    pending_slot: Option<(usize, usize)>,
}

fn date(rng: &mut fastrand::Rng, year: i32) -> String {
    match rng.u32(0..10) {
        0..=3 => format!("{year}"),
        4..=6 => format!("{year}-{:02}", rng.u32(1..=12)),
        _ => format!("{year}-{:02}-{:02}", rng.u32(1..=12), rng.u32(1..=28)),
    }
}

fn pd(s: &str) -> PartialDate {
    s.parse().expect("generated dates are valid")
}

impl Workload {
    fn new(seed: u64) -> Self {
        Self {
            rng: fastrand::Rng::with_seed(seed),
            partners: Vec::new(),
            conventions: Vec::new(),
            live: Vec::new(),
            counter: 0,
            pending: Vec::new(),
            pending_slot: None,
        }
    }

    fn text(&mut self, base: &str) -> Objectives {
        self.counter += 1;
        let region = PLACES[self.rng.usize(..PLACES.len())];
        Objectives::new(format!("{base}, {region} (n° {})", self.counter)).expect("valid text")
    }

    fn next(&mut self, registry: &Registry) -> Command {
        let wanted_partners = 2 + self.conventions.len() / 4;
        if self.partners.len() < wanted_partners || self.partners.is_empty() {
            return self.register(registry);
        }
        if self.conventions.is_empty() || self.live.is_empty() {
            return self.sign(registry);
        }
        match self.rng.u32(0..90) {
            0..=9 => self.sign(registry),
            10..=54 => self.amend(),
            55..=59 => self.rename(),
            60..=79 => self.correct(),
            80..=84 => self.retract().unwrap_or_else(|| self.amend()),
            _ => self.terminate(),
        }
    }

    fn register(&mut self, registry: &Registry) -> Command {
        let id = PartnerId(registry.new_id());
        let n = self.partners.len();
        let name = format!("{} {}", PLACES[n % PLACES.len()], n);
        self.partners.push((id, name.clone()));
        Command::RegisterPartner(
            id,
            PartnerRegistered {
                name: PartnerName::new(name).expect("valid name"),
                kind: KINDS[self.rng.usize(..KINDS.len())],
                short_name: None,
                country: None,
            },
        )
    }

    fn sign(&mut self, registry: &Registry) -> Command {
        let id = ConventionId(registry.new_id());
        let year = self.rng.i32(1995..2020);
        let count = [1, 1, 1, 2, 2, 3][self.rng.usize(..6)];
        let mut parties: Vec<PartnerId> = Vec::new();
        while parties.len() < count.min(self.partners.len()) {
            let p = self.partners[self.rng.usize(..self.partners.len())].0;
            if !parties.contains(&p) {
                parties.push(p);
            }
        }
        let base = OBJECTIVES[self.rng.usize(..OBJECTIVES.len())];
        let objectives = self.text(base);
        let signed_on = date(&mut self.rng, year);
        self.live.push(self.conventions.len());
        self.conventions.push(GenConvention {
            id,
            year,
            last_year: year,
            parties: parties.clone(),
            amendments: Vec::new(),
            expiries: Vec::new(),
            ended: false,
        });
        Command::SignConvention(
            id,
            ConventionSigned {
                instrument: [
                    Instrument::Convention,
                    Instrument::Memorandum,
                    Instrument::Agreement,
                    Instrument::Charter,
                ][self.rng.usize(..4)],
                parties,
                signed_on: pd(&signed_on),
                objectives,
                expires_on: None,
                official_ref: None,
            },
        )
    }

    fn live_convention(&mut self) -> usize {
        self.live[self.rng.usize(..self.live.len())]
    }

    fn amend(&mut self) -> Command {
        let c = self.live_convention();
        let year = self.conventions[c].year + 1 + self.rng.i32(0..12);
        // An avenant changes the objectives, the parties or the term, not
        // always all of them.
        let what = self.rng.u32(0..10);
        let objectives = (what < 4).then(|| self.text("Avenant: extension des actions"));
        let mut added = Vec::new();
        if (4..7).contains(&what) || self.rng.u32(0..10) == 0 {
            let p = self.partners[self.rng.usize(..self.partners.len())].0;
            if !self.conventions[c].parties.contains(&p) {
                self.conventions[c].parties.push(p);
                added.push(p);
            }
        }
        let mut term = year + 5 + self.rng.i32(0..10);
        while self.conventions[c].expiries.contains(&term) {
            term += 1;
        }
        let expiry = (what >= 7 || added.is_empty() && objectives.is_none()).then(|| {
            self.conventions[c].expiries.push(term);
            ExpiryChange::Set(pd(&format!("{term}")))
        });
        let effective_on = date(&mut self.rng, year);
        let conv = &mut self.conventions[c];
        conv.last_year = conv.last_year.max(year + 15);
        conv.amendments.push((None, false));
        self.pending_slot = Some((c, conv.amendments.len() - 1));
        Command::AmendConvention(
            conv.id,
            ConventionAmended {
                effective_on: pd(&effective_on),
                amendment_ref: Some(
                    AmendmentRef::new(format!("Avenant n°{}", conv.amendments.len()))
                        .expect("valid"),
                ),
                objectives,
                parties_added: added,
                parties_removed: Vec::new(),
                expiry,
                instrument: None,
            },
        )
    }

    fn known_amendment(&mut self, c: usize) -> Option<EventId> {
        let candidates: Vec<EventId> = self.conventions[c]
            .amendments
            .iter()
            .filter(|(id, void)| id.is_some() && !void)
            .filter_map(|(id, _)| *id)
            .collect();
        (!candidates.is_empty()).then(|| candidates[self.rng.usize(..candidates.len())])
    }

    fn correct(&mut self) -> Command {
        let c = self.rng.usize(..self.conventions.len());
        let id = self.conventions[c].id;
        let target = if self.rng.bool() {
            self.known_amendment(c)
        } else {
            None
        };
        let objectives = self.text("Objectifs corrigés");
        Command::Correct {
            entity: id.into(),
            target,
            fields: CorrectionFields {
                objectives: Some(objectives),
                ..CorrectionFields::default()
            },
        }
    }

    fn retract(&mut self) -> Option<Command> {
        let c = self.live_convention();
        let target = self.known_amendment(c)?;
        if let Some(slot) = self.conventions[c]
            .amendments
            .iter_mut()
            .find(|(id, _)| *id == Some(target))
        {
            slot.1 = true;
        }
        Some(Command::Retract {
            entity: self.conventions[c].id.into(),
            target,
        })
    }

    fn rename(&mut self) -> Command {
        let i = self.rng.usize(..self.partners.len());
        self.counter += 1;
        let new_name = format!("{} (appellation {})", self.partners[i].1, self.counter);
        let year = self.rng.i32(2000..2025);
        Command::RenamePartner(
            self.partners[i].0,
            PartnerRenamed {
                new_name: PartnerName::new(new_name).expect("valid"),
                short_name: None,
                effective_on: pd(&date(&mut self.rng, year)),
            },
        )
    }

    fn terminate(&mut self) -> Command {
        let at = self.rng.usize(..self.live.len());
        let c = self.live.swap_remove(at);
        let conv = &mut self.conventions[c];
        conv.ended = true;
        let year = conv.last_year + 1;
        Command::TerminateConvention(
            conv.id,
            ConventionTerminated {
                effective_on: pd(&format!("{year}-12-31")),
                kind: if self.rng.bool() {
                    TerminationKind::Terminated
                } else {
                    TerminationKind::Expired
                },
            },
        )
    }

    /// The next command, remembering which amendment slot it fills.
    fn command(&mut self, registry: &Registry) -> Command {
        self.pending_slot = None;
        let command = self.next(registry);
        self.pending.push(self.pending_slot);
        command
    }

    /// Learns the event ids of what was written.
    fn ack(&mut self, written: &[Written]) {
        for (slot, w) in self.pending.drain(..).zip(written) {
            if let Some((c, a)) = slot {
                self.conventions[c].amendments[a].0 = Some(w.event_id);
            }
        }
    }
}

// -------------------------------------------------------------- helpers

fn meta() -> WriteMeta {
    WriteMeta {
        actor: Actor::new("bench").expect("valid"),
        reason: Some(Reason::new("benchmark").expect("valid")),
        source: None,
        expect_version: None,
    }
}

fn open(path: &Path) -> Registry {
    Registry::open(
        path,
        &OpenOptions::default(),
        Repair::Rebuild,
        Arc::new(SystemClock),
        Arc::new(RandomIds),
    )
    .expect("open the registry")
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn rss_note(phase: &str) {
    if std::env::var_os("PACTUM_BENCH_RSS").is_some() {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .unwrap_or("?")
                .to_owned()
        };
        eprintln!(
            "{phase}: VmRSS {} kB, VmHWM {} kB",
            field("VmRSS:"),
            field("VmHWM:")
        );
    }
}

/// The peak resident memory of a `pactum` process run on the registry.
fn child_peak_rss_mb(cli: &str, path: &Path, args: &[&str]) -> f64 {
    let out = std::process::Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg(cli)
        .args(["--db", path.to_str().expect("utf-8 path")])
        .args(args)
        .stdout(std::process::Stdio::null())
        .output();
    match out {
        Ok(out) => String::from_utf8_lossy(&out.stderr)
            .lines()
            .last()
            .and_then(|kb| kb.trim().parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0),
        Err(_) => f64::NAN,
    }
}

/// Records a figure, and says it on stderr at once (a later failure does
/// not lose it).
fn push(out: &mut Vec<(&'static str, f64)>, name: &'static str, value: f64) {
    eprintln!("{name}: {value:.1}");
    out.push((name, value));
}

fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn folder_bytes(path: &Path) -> u64 {
    let mut total = 0;
    if let Ok(entries) = std::fs::read_dir(path) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                total += folder_bytes(&p);
            } else if let Ok(m) = e.metadata() {
                total += m.len();
            }
        }
    }
    total
}

fn bar(len: u64, what: &'static str, quiet: bool) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if quiet {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    if let Ok(style) =
        ProgressStyle::with_template("{msg:>22} [{bar:30}] {pos}/{len} {per_sec} {eta}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what);
    bar
}

struct Sync {
    file: std::fs::File,
}

impl Sync {
    fn of(path: &Path) -> Self {
        Sync {
            file: std::fs::File::open(path.join("db")).expect("sled data file"),
        }
    }
    fn sync(&self, db: &sled::Db) {
        db.flush().expect("flush");
        self.file.sync_data().expect("fdatasync");
    }
}

/// The figures of a run, in the order they were measured.
type Figures = Vec<(&'static str, f64)>;

/// A figure of the run by its name (NaN if it was not measured).
fn figure(out: &Figures, name: &str) -> f64 {
    out.iter()
        .find(|(k, _)| *k == name)
        .map_or(f64::NAN, |(_, v)| *v)
}

// ------------------------------------------------------------- phases

/// 1. Builds the registry through the import path: 1,000 events per
///    transaction.
fn build(
    registry: &Registry,
    workload: &mut Workload,
    batched: u64,
    quiet: bool,
    out: &mut Figures,
) {
    let progress = bar(batched, "append (batches)", quiet);
    let started = Instant::now();
    let mut written_total = 0u64;
    while written_total < batched {
        let size = (batched - written_total).min(1000);
        let commands: Vec<(Command, WriteMeta)> = (0..size)
            .map(|_| (workload.command(registry), meta()))
            .collect();
        let written = registry.execute_batch(commands).unwrap_or_else(|errors| {
            panic!("the workload made an invalid command: {:?}", errors.first())
        });
        workload.ack(&written);
        written_total += size;
        progress.set_position(written_total);
    }
    let batch_secs = started.elapsed().as_secs_f64();
    progress.finish_and_clear();
    push(out, "append_batch_eps", batched as f64 / batch_secs);
    rss_note("after the batch appends");
}

/// 2. Single durable appends on the large registry (the CLI path).
fn append_singles(
    registry: &Registry,
    workload: &mut Workload,
    singles: u64,
    quiet: bool,
    out: &mut Figures,
) {
    let progress = bar(singles, "append (single)", quiet);
    let started = Instant::now();
    for i in 0..singles {
        let command = workload.command(registry);
        let written = registry.execute(command, &meta()).expect("a valid command");
        workload.ack(&[written]);
        progress.set_position(i + 1);
    }
    rss_note("after the single appends");
    push(
        out,
        "append_single_eps",
        singles as f64 / started.elapsed().as_secs_f64(),
    );
    progress.finish_and_clear();
}

/// 3. Reads, in process: a list as of a date, then `show` and `history` of
///    200 conventions drawn at random.
fn reads(registry: &Registry, out: &mut Figures) {
    let mid = format!("{}", 2008);
    let point = registry
        .point(Some(mid.parse().expect("a date")), None)
        .expect("point");
    let list_ms = median(
        (0..5)
            .map(|_| {
                let t = Instant::now();
                let views = registry
                    .snapshot(point)
                    .conventions(&ConventionFilter::default())
                    .expect("list");
                assert!(!views.is_empty());
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect(),
    );
    push(out, "as_of_list_ms", list_ms);
    rss_note("after the lists");
    let conventions = conventions(registry);
    let mut rng = fastrand::Rng::with_seed(7);
    let mut show = Vec::new();
    let mut history = Vec::new();
    for _ in 0..200 {
        let handle = Handle {
            kind: EntityKind::Convention,
            number: rng.u64(1..=conventions),
        };
        let id = match registry.store().by_handle(handle).expect("handle") {
            Some(EntityId::Convention(c)) => c,
            _ => continue,
        };
        let t = Instant::now();
        let view = registry
            .snapshot(
                registry
                    .point(Some("2015-06-30".parse().expect("a date")), None)
                    .expect("point"),
            )
            .convention(id)
            .expect("show");
        show.push(t.elapsed().as_secs_f64() * 1e6);
        std::hint::black_box(view);
        let t = Instant::now();
        let h = registry
            .history(id.into(), &registry.point(None, None).expect("point"))
            .expect("history");
        history.push(t.elapsed().as_secs_f64() * 1e6);
        std::hint::black_box(h);
    }
    push(out, "show_us", median(show));
    push(out, "history_us", median(history));
    rss_note("after show and history");
}

fn conventions(registry: &Registry) -> u64 {
    registry
        .store()
        .count(EntityKind::Convention)
        .expect("count")
}

/// Figures the reads' process measures.
const READ_FIGURES: [&str; 6] = [
    "as_of_list_ms",
    "show_us",
    "history_us",
    "rebuild_eps",
    "payload_bytes_per_event",
    "disk_bytes_per_event",
];

/// 3–4. The reads and the rebuild, in a process of their own that opens
///    the registry the writes left, as a clerk's next command would. The
///    benchmark's peak memory is the larger of the two processes' peaks,
///    each also given (`writes_peak_rss_mb`, `reads_peak_rss_mb`).
fn reads_in_a_child(path: &Path, head: u64, out: &mut Figures) {
    let writes_peak = peak_rss_mb();
    let head = head.to_string();
    let figures = figures_of_a_child(&[
        "--reads".as_ref(),
        path.as_os_str(),
        "--events".as_ref(),
        head.as_ref(),
    ]);
    for name in READ_FIGURES {
        out.push((name, child_figure(&figures, name)));
    }
    let reads_peak = child_figure(&figures, "peak_rss_mb");
    push(out, "writes_peak_rss_mb", writes_peak);
    push(out, "reads_peak_rss_mb", reads_peak);
    // NaN when either peak is unknown (`f64::max` would drop a NaN)
    let peak = if writes_peak.is_nan() || reads_peak.is_nan() {
        f64::NAN
    } else {
        writes_peak.max(reads_peak)
    };
    push(out, "peak_rss_mb", peak);
}

/// The reads' process: the figures of [`reads_in_a_child`], as JSON.
fn run_reads(path: &Path, head: u64) {
    reset_peak_rss();
    let quiet = !std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut out = Figures::new();
    let registry = open(path);
    reads(&registry, &mut out);
    rebuild(&registry, head, quiet, &mut out);
    footprint(registry, path, head, &mut out);
    print_figures(&out);
}

/// Runs this benchmark with `args` in a process of its own; the figures it
/// printed.
fn figures_of_a_child(args: &[&std::ffi::OsStr]) -> serde_json::Map<String, serde_json::Value> {
    let child = std::process::Command::new(std::env::current_exe().expect("this benchmark"))
        .args(args)
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("run a child");
    assert!(child.status.success(), "the child {args:?} failed");
    serde_json::from_slice(&child.stdout).expect("the child's figures")
}

/// A child's figure; NaN when the child could not measure it (its JSON
/// writes a NaN as `null`), and a panic when the child did not give it.
fn child_figure(figures: &serde_json::Map<String, serde_json::Value>, name: &str) -> f64 {
    match figures.get(name) {
        Some(serde_json::Value::Null) => f64::NAN,
        Some(value) => value
            .as_f64()
            .unwrap_or_else(|| panic!("the child's figure {name} is not a number")),
        None => panic!("the child gave no figure {name}"),
    }
}

/// 4. A full rebuild of every cache, from empty caches.
fn rebuild(registry: &Registry, head: u64, quiet: bool, out: &mut Figures) {
    pactum::projection::clear(registry.store(), &pactum::projection::Derived::ALL).expect("clear");
    let progress = bar(head, "rebuild", quiet);
    let started = Instant::now();
    let rebuilt = pactum::projection::rebuild_trees(
        registry.store(),
        &pactum::projection::Derived::ALL,
        &mut |s| progress.set_position(s),
    )
    .expect("rebuild");
    rss_note("after the rebuild");
    push(
        out,
        "rebuild_eps",
        rebuilt.events as f64 / started.elapsed().as_secs_f64(),
    );
    progress.finish_and_clear();
}

/// The process's peak memory, and the bytes an event takes in the log and
/// on disk; closes the registry.
fn footprint(registry: Registry, path: &Path, head: u64, out: &mut Figures) {
    let (_, payload) = registry.store().log().payload().expect("payload");
    registry.store().sync().expect("sync");
    drop(registry);
    push(out, "peak_rss_mb", peak_rss_mb());
    push(out, "payload_bytes_per_event", payload as f64 / head as f64);
    push(
        out,
        "disk_bytes_per_event",
        folder_bytes(path) as f64 / head as f64,
    );
}

/// 5. Reopening the registry in process.
fn reopen(path: &Path, out: &mut Figures) {
    let open_ms = median(
        (0..5)
            .map(|_| {
                let t = Instant::now();
                let r = open(path);
                let ms = t.elapsed().as_secs_f64() * 1e3;
                drop(r);
                ms
            })
            .collect(),
    );
    push(out, "open_ms", open_ms);
}

/// Runs `pactum --db PATH ARGS…` to its end, output discarded; its wall time
/// in milliseconds.
fn timed_run(cli: &str, path: &Path, args: &[&str]) -> f64 {
    let t = Instant::now();
    let status = std::process::Command::new(cli)
        .arg("--db")
        .arg(path)
        .args(args)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run pactum");
    assert!(status.success());
    t.elapsed().as_secs_f64() * 1e3
}

/// The median time of seven `pactum show` processes, of conventions
/// spread over the registry.
fn cli_show_ms(cli: &str, path: &Path, conventions: u64) -> f64 {
    median(
        (0..7)
            .map(|i| {
                let handle = format!("C{}", 1 + (i * 7919) % conventions);
                timed_run(cli, path, &["--format", "json", "show", &handle])
            })
            .collect(),
    )
}

/// The CLI's cold start: `show` and `verify` as processes of their own,
/// their time and peak memory; then the registry's own JSON Lines export
/// imported by a `pactum` process into a new registry (the export is kept
/// in `scratch` for SQLite to load the same lines).
fn cli_runs(path: &Path, scratch: &Path, head: u64, conventions: u64, out: &mut Figures) {
    let cli = env!("CARGO_BIN_EXE_pactum");
    push(out, "cli_show_ms", cli_show_ms(cli, path, conventions));
    push(
        out,
        "cli_show_rss_mb",
        child_peak_rss_mb(cli, path, &["show", "C1"]),
    );
    let verify_ms = median(
        (0..3)
            .map(|_| timed_run(cli, path, &["-q", "verify"]))
            .collect(),
    );
    push(out, "cli_verify_ms", verify_ms);
    push(
        out,
        "cli_verify_rss_mb",
        child_peak_rss_mb(cli, path, &["-q", "verify"]),
    );
    let export = scratch.join("export.jsonl");
    let export_arg = export.to_str().expect("utf-8 path");
    timed_run(
        cli,
        path,
        &["export", "--format", "jsonl", "-o", export_arg],
    );
    let imported = scratch.join("imported");
    let import_ms = timed_run(cli, &imported, &["-q", "import", export_arg]);
    let _ = std::fs::remove_dir_all(&imported);
    push(out, "cli_import_ms", import_ms);
    push(out, "cli_import_eps", head as f64 / (import_ms / 1e3));
}

/// 7. `pactum compact` as a process, last (every figure above is of the
///    registry as the rebuild left it), then the disk and `pactum show`
///    of the compacted registry: what `--keep` keeps.
fn compaction(path: &Path, head: u64, conventions: u64, out: &mut Figures) {
    let cli = env!("CARGO_BIN_EXE_pactum");
    push(
        out,
        "cli_compact_ms",
        timed_run(cli, path, &["-q", "compact"]),
    );
    push(
        out,
        "compacted_disk_bytes_per_event",
        folder_bytes(path) as f64 / head as f64,
    );
    push(
        out,
        "compacted_cli_show_ms",
        cli_show_ms(cli, path, conventions),
    );
}

/// The stored bytes of every event of the registry, in log order: what
/// the baselines write.
fn stored_events(path: &Path) -> Vec<Vec<u8>> {
    let db = pactum::store::sled_config(path, pactum::store::durable::SEGMENT_SIZE)
        .cache_capacity(DEFAULT_CACHE_BYTES)
        .open()
        .expect("reopen");
    let log = db.open_tree("log").expect("log");
    log.iter()
        .flat_map(|kv| {
            let (_, segment) = kv.expect("segment");
            let body = pactum::store::codec::segment_body(&segment).expect("a sound segment");
            pactum::store::codec::body_events(&body)
                .expect("a sound segment")
                .into_iter()
                .map(<[u8]>::to_vec)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// A fresh sled database for one baseline, configured as a new registry's.
fn bare_sled(dir: &Path) -> (sled::Db, Sync) {
    let db = pactum::store::sled_config(dir, pactum::store::durable::SEGMENT_SIZE)
        .cache_capacity(DEFAULT_CACHE_BYTES)
        .flush_every_ms(None)
        .open()
        .expect("raw sled");
    let sync = Sync::of(dir);
    (db, sync)
}

/// Bare sled on the same bytes, single durable inserts.
fn sled_single_baseline(scratch: &Path, singles_bytes: &[Vec<u8>], out: &mut Figures) {
    let (db, sync) = bare_sled(&scratch.join("raw-sled-single"));
    let tree = db.open_tree("events").expect("tree");
    let t = Instant::now();
    for (i, b) in singles_bytes.iter().enumerate() {
        tree.insert((i as u64).to_be_bytes(), b.as_slice())
            .expect("insert");
        sync.sync(&db);
    }
    push(
        out,
        "raw_sled_single_eps",
        singles_bytes.len() as f64 / t.elapsed().as_secs_f64(),
    );
}

/// Bare sled on the same bytes, one entry per event, batches of 1,000.
fn sled_batch_baseline(scratch: &Path, bytes: &[Vec<u8>], quiet: bool, out: &mut Figures) {
    let (db, sync) = bare_sled(&scratch.join("raw-sled-batch"));
    let tree = db.open_tree("events").expect("tree");
    let progress = bar(bytes.len() as u64, "raw sled (batches)", quiet);
    let t = Instant::now();
    for (c, chunk) in bytes.chunks(1000).enumerate() {
        let mut batch = sled::Batch::default();
        for (i, b) in chunk.iter().enumerate() {
            batch.insert(&((c * 1000 + i) as u64).to_be_bytes(), b.as_slice());
        }
        tree.apply_batch(batch).expect("batch");
        sync.sync(&db);
        progress.set_position(((c + 1) * 1000) as u64);
    }
    push(
        out,
        "raw_sled_batch_eps",
        bytes.len() as f64 / t.elapsed().as_secs_f64(),
    );
    progress.finish_and_clear();
}

/// The same bytes as packed segments, 1,000 events per batch, as the log
/// writes them: what sled alone does for the log's share of a batch.
fn sled_segments_baseline(scratch: &Path, bytes: &[Vec<u8>], out: &mut Figures) {
    let (db, sync) = bare_sled(&scratch.join("raw-sled-segments"));
    let tree = db.open_tree("log").expect("tree");
    let t = Instant::now();
    for (c, chunk) in bytes.chunks(1000).enumerate() {
        let mut batch = sled::Batch::default();
        let events: Vec<&[u8]> = chunk.iter().map(Vec::as_slice).collect();
        for (i, segment) in pactum::store::log::pack(&events) {
            let value = pactum::store::codec::encode_segment(segment).expect("segment");
            batch.insert(&((c * 1000 + i) as u64).to_be_bytes(), value);
        }
        tree.apply_batch(batch).expect("batch");
        sync.sync(&db);
    }
    push(
        out,
        "raw_sled_segments_batch_eps",
        bytes.len() as f64 / t.elapsed().as_secs_f64(),
    );
}

/// Inserts `rows` into `table` (`seq`, then the row), numbered from 0, in
/// transactions of `per` rows.
fn insert_in_transactions<V: rusqlite::ToSql>(
    conn: &mut rusqlite::Connection,
    table: &str,
    rows: &[V],
    per: usize,
) {
    let sql = format!("INSERT INTO {table} VALUES (?1, ?2)");
    for (c, chunk) in rows.chunks(per).enumerate() {
        let tx = conn.transaction().expect("tx");
        {
            let mut insert = tx.prepare_cached(&sql).expect("prepare");
            for (i, row) in chunk.iter().enumerate() {
                insert
                    .execute(rusqlite::params![(c * per + i) as i64, row])
                    .expect("insert");
            }
        }
        tx.commit().expect("commit");
    }
}

/// SQLite loading the lines of the registry's JSON Lines export, one row
/// per line, in transactions of 2,000 as `pactum import` appends them: the
/// baseline of the import. Timed from reading the file to the last commit.
fn sqlite_lines_baseline(scratch: &Path, out: &mut Figures) {
    let file = scratch.join("sqlite-lines.db");
    let mut conn = rusqlite::Connection::open(&file).expect("sqlite");
    conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE lines (seq INTEGER PRIMARY KEY, line TEXT NOT NULL);")
        .expect("schema");
    let t = Instant::now();
    let text = std::fs::read_to_string(scratch.join("export.jsonl")).expect("the export");
    let lines: Vec<&str> = text.lines().collect();
    insert_in_transactions(&mut conn, "lines", &lines, 2000);
    push(
        out,
        "sqlite_import_eps",
        lines.len() as f64 / t.elapsed().as_secs_f64(),
    );
}

/// SQLite (WAL, `synchronous=FULL`) on the same bytes: single inserts, and
/// transactions of 1,000.
fn sqlite_baseline(
    scratch: &Path,
    bytes: &[Vec<u8>],
    singles_bytes: &[Vec<u8>],
    out: &mut Figures,
) {
    let file = scratch.join("sqlite.db");
    let conn = rusqlite::Connection::open(&file).expect("sqlite");
    conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE events (seq INTEGER PRIMARY KEY, body BLOB NOT NULL);")
        .expect("schema");
    let t = Instant::now();
    for (i, b) in singles_bytes.iter().enumerate() {
        conn.execute(
            "INSERT INTO events (seq, body) VALUES (?1, ?2)",
            rusqlite::params![i as i64, b],
        )
        .expect("insert");
    }
    push(
        out,
        "sqlite_single_eps",
        singles_bytes.len() as f64 / t.elapsed().as_secs_f64(),
    );
    conn.execute_batch("CREATE TABLE events_batch (seq INTEGER PRIMARY KEY, body BLOB NOT NULL);")
        .expect("schema");
    let t = Instant::now();
    let mut conn = conn;
    insert_in_transactions(&mut conn, "events_batch", bytes, 1000);
    push(
        out,
        "sqlite_batch_eps",
        bytes.len() as f64 / t.elapsed().as_secs_f64(),
    );
}

/// A plain file with an `fsync` after each event: the disk's limit.
fn plain_file_baseline(scratch: &Path, singles_bytes: &[Vec<u8>], out: &mut Figures) {
    let mut file = std::fs::File::create(scratch.join("plain.log")).expect("file");
    let t = Instant::now();
    for b in singles_bytes {
        file.write_all(b).expect("write");
        file.sync_all().expect("fsync");
    }
    push(
        out,
        "fsync_limit_eps",
        singles_bytes.len() as f64 / t.elapsed().as_secs_f64(),
    );
}

/// 8. Each figure against its target and its baseline of this run.
fn ratios(out: &mut Figures) {
    let ratios = [
        (
            "import_vs_sqlite",
            figure(out, "cli_import_eps") / figure(out, "sqlite_import_eps"),
        ),
        (
            "batch_vs_sqlite",
            figure(out, "append_batch_eps") / figure(out, "sqlite_batch_eps"),
        ),
        (
            "single_vs_sqlite",
            figure(out, "append_single_eps") / figure(out, "sqlite_single_eps"),
        ),
        (
            "disk_vs_payload",
            figure(out, "disk_bytes_per_event") / figure(out, "payload_bytes_per_event"),
        ),
        (
            "compacted_disk_vs_payload",
            figure(out, "compacted_disk_bytes_per_event") / figure(out, "payload_bytes_per_event"),
        ),
    ];
    out.extend(ratios);
}

/// 9. Report: one JSON object, or a table, in a fixed order.
fn report(out: &Figures, head: u64, json: bool) {
    let order = ["append_single_eps", "append_batch_eps"]
        .into_iter()
        .chain(BASELINES)
        .chain([
            "open_ms",
            "rebuild_eps",
            "as_of_list_ms",
            "show_us",
            "history_us",
            "cli_show_ms",
            "cli_show_rss_mb",
            "cli_verify_ms",
            "cli_verify_rss_mb",
            "cli_import_ms",
            "cli_import_eps",
            "cli_compact_ms",
            "compacted_cli_show_ms",
            "compacted_disk_bytes_per_event",
            "disk_bytes_per_event",
            "payload_bytes_per_event",
            "peak_rss_mb",
            "writes_peak_rss_mb",
            "reads_peak_rss_mb",
            "batch_vs_sqlite",
            "single_vs_sqlite",
            "import_vs_sqlite",
            "disk_vs_payload",
            "compacted_disk_vs_payload",
        ]);
    if json {
        let mut obj = serde_json::Map::new();
        obj.insert("events".into(), json!(head));
        for k in order {
            obj.insert(k.into(), json!((figure(out, k) * 1000.0).round() / 1000.0));
        }
        println!("{}", serde_json::Value::Object(obj));
    } else {
        println!("{:<26} {:>14}", "events", head);
        for k in order {
            println!("{k:<26} {:>14.1}", figure(out, k));
        }
    }
}

// ---------------------------------------------------------------- main

/// The figures the baselines measure.
const BASELINES: [&str; 7] = [
    "raw_sled_single_eps",
    "raw_sled_batch_eps",
    "raw_sled_segments_batch_eps",
    "sqlite_single_eps",
    "sqlite_batch_eps",
    "sqlite_import_eps",
    "fsync_limit_eps",
];

/// The baselines, each run in a process of its own.
const BASELINE_RUNS: [&str; 6] = [
    "sled-single",
    "sled-batch",
    "sled-segments",
    "sqlite",
    "sqlite-lines",
    "file",
];

/// 6. Runs each baseline on the registry's stored events in a process of
///    its own, as a fresh `pactum` would be, one after the other: after the
///    registry's phases, or after another baseline's sled database in the
///    same process, bare sled measured up to ten times slower than alone.
fn baselines_in_a_child(path: &Path, scratch: &Path, singles: u64, out: &mut Figures) {
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(scratch.join("events.bin")).expect("events file"),
    );
    for event in stored_events(path) {
        let len = u32::try_from(event.len()).expect("an event under 4 GiB");
        file.write_all(&len.to_be_bytes()).expect("write");
        file.write_all(&event).expect("write");
    }
    file.flush().expect("write");
    drop(file);
    let mut figures = serde_json::Map::new();
    let singles = singles.to_string();
    for run in BASELINE_RUNS {
        figures.extend(figures_of_a_child(&[
            "--baselines".as_ref(),
            scratch.as_os_str(),
            "--singles".as_ref(),
            singles.as_ref(),
            "--only".as_ref(),
            run.as_ref(),
        ]));
    }
    for name in BASELINES {
        out.push((name, child_figure(&figures, name)));
    }
}

/// A baseline's process: reads `events.bin`, writes the same bytes as
/// `run` says (to bare sled, SQLite or a plain file), prints the figures as
/// JSON.
fn run_baselines(scratch: &Path, singles: usize, run: &str) {
    let stored = std::fs::read(scratch.join("events.bin")).expect("events file");
    let mut bytes = Vec::new();
    let mut rest = stored.as_slice();
    while let Some((len, tail)) = rest.split_first_chunk::<4>() {
        let len = u32::from_be_bytes(*len) as usize;
        let (event, tail) = tail.split_at(len);
        bytes.push(event.to_vec());
        rest = tail;
    }
    drop(stored);
    let singles_bytes = &bytes[..singles.min(bytes.len())];
    let mut out = Figures::new();
    let quiet = !std::io::IsTerminal::is_terminal(&std::io::stderr());
    match run {
        "sled-single" => sled_single_baseline(scratch, singles_bytes, &mut out),
        "sled-batch" => sled_batch_baseline(scratch, &bytes, quiet, &mut out),
        "sled-segments" => sled_segments_baseline(scratch, &bytes, &mut out),
        "sqlite" => sqlite_baseline(scratch, &bytes, singles_bytes, &mut out),
        "sqlite-lines" => sqlite_lines_baseline(scratch, &mut out),
        "file" => plain_file_baseline(scratch, singles_bytes, &mut out),
        other => panic!("no baseline {other}"),
    }
    print_figures(&out);
}

/// Prints a child's figures as one JSON object.
fn print_figures(out: &Figures) {
    let figures: serde_json::Map<String, serde_json::Value> = out
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    println!("{}", serde_json::Value::Object(figures));
}

fn main() {
    let args = Args::parse();
    if let Some(scratch) = &args.baselines {
        run_baselines(
            scratch,
            args.singles,
            args.only.as_deref().unwrap_or_default(),
        );
        return;
    }
    if let Some(path) = &args.reads {
        run_reads(path, args.events);
        return;
    }
    let n = args.events.max(100);
    // The registry holds n events: the last min(n / 5, 2000) are single
    // appends, measured as such; the rest come in batches of 1,000.
    let singles = (n / 5).min(2000);
    let batched = n - singles;
    let quiet = !std::io::IsTerminal::is_terminal(&std::io::stderr());
    let scratch = tempfile::tempdir().expect("temp dir");
    let path = args
        .keep
        .clone()
        .unwrap_or_else(|| scratch.path().join("registry"));
    let mut out = Figures::new();

    reset_peak_rss();
    let registry = open(&path);
    let mut workload = Workload::new(args.seed);
    build(&registry, &mut workload, batched, quiet, &mut out);
    append_singles(&registry, &mut workload, singles, quiet, &mut out);
    let head = registry.head_seq().expect("head").0;
    let conventions = conventions(&registry);
    registry.store().sync().expect("sync");
    drop(registry);
    if args.appends_only {
        report(&out, head, args.json);
        return;
    }
    reads_in_a_child(&path, head, &mut out);
    reopen(&path, &mut out);
    cli_runs(&path, scratch.path(), head, conventions, &mut out);

    // 6. Baselines on the same bytes: bare sled, SQLite, a plain file.
    baselines_in_a_child(&path, scratch.path(), singles, &mut out);
    compaction(&path, head, conventions, &mut out);

    ratios(&mut out);
    report(&out, head, args.json);
}
