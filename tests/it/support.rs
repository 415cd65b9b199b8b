//! Helpers: deterministic registries for library tests, event builders for
//! pure folding tests, and a runner for the `pactum` binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use uuid::Uuid;

use pactum::app::{AppError, FixedClock, Registry, Repair, SequentialIds, WriteMeta, Written};
use pactum::domain::decide::Command;
use pactum::domain::*;
use pactum::store::OpenOptions;

/// The fixed start of every test clock.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 9, 0, 0).unwrap()
}

/// A day.
pub fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// A partial date.
pub fn pd(s: &str) -> PartialDate {
    s.parse().unwrap()
}

/// A registry in a temporary folder, with a fixed clock (one second per
/// reading) and sequential ids.
pub struct Reg {
    pub dir: tempfile::TempDir,
    pub registry: Registry,
    pub clock: Arc<FixedClock>,
}

pub fn meta(reason: Option<&str>) -> WriteMeta {
    WriteMeta {
        actor: Actor::new("tester").unwrap(),
        reason: reason.map(|r| Reason::new(r).unwrap()),
        source: None,
        expect_version: None,
    }
}

impl Reg {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(FixedClock::new(t0(), 1_000_000));
        let registry = Self::open_at(&dir.path().join("db"), clock.clone());
        Self {
            dir,
            registry,
            clock,
        }
    }

    pub fn open_at(path: &Path, clock: Arc<FixedClock>) -> Registry {
        Registry::open(
            path,
            &OpenOptions::default(),
            Repair::Rebuild,
            clock,
            Arc::new(SequentialIds::default()),
        )
        .unwrap()
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("db")
    }

    pub fn exec(&self, command: Command, reason: Option<&str>) -> Result<Written, AppError> {
        self.registry.execute(command, &meta(reason))
    }

    pub fn partner(&self, name: &str, kind: PartnerKind) -> PartnerId {
        let id = PartnerId(self.registry.new_id());
        self.exec(
            Command::RegisterPartner(
                id,
                PartnerRegistered {
                    name: PartnerName::new(name).unwrap(),
                    kind,
                    short_name: None,
                    country: None,
                },
            ),
            None,
        )
        .unwrap();
        id
    }

    pub fn sign(&self, parties: &[PartnerId], date: &str, objectives: &str) -> ConventionId {
        let id = ConventionId(self.registry.new_id());
        self.exec(
            Command::SignConvention(id, signed(parties, date, objectives)),
            None,
        )
        .unwrap();
        id
    }

    pub fn head(&self) -> Seq {
        self.registry.head_seq().unwrap()
    }

    /// A convention at (as_of, recorded).
    pub fn convention_at(
        &self,
        id: ConventionId,
        as_of: &str,
        recorded: Option<Seq>,
    ) -> Option<ConventionState> {
        let recorded = recorded.map(|s| format!("#{}", s.0));
        let point = self
            .registry
            .point(Some(as_of.parse().unwrap()), recorded.as_deref())
            .unwrap();
        self.registry
            .snapshot(point)
            .convention(id)
            .unwrap()
            .map(|v| v.state)
    }
}

pub fn signed(parties: &[PartnerId], date: &str, objectives: &str) -> ConventionSigned {
    ConventionSigned {
        instrument: Instrument::Convention,
        parties: parties.to_vec(),
        signed_on: pd(date),
        objectives: Objectives::new(objectives).unwrap(),
        expires_on: None,
        official_ref: None,
    }
}

pub fn amended(date: &str) -> ConventionAmended {
    ConventionAmended {
        effective_on: pd(date),
        amendment_ref: None,
        objectives: None,
        parties_added: Vec::new(),
        parties_removed: Vec::new(),
        expiry: None,
        instrument: None,
    }
}

// ------------------------------------------------- pure event histories

/// Builds an entity's stream of records by hand (no store), for the pure
/// folding tests: `given(...)` then fold.
pub struct Stream {
    pub entity: EntityId,
    pub records: Vec<EventRecord>,
}

pub fn uuid(n: u64) -> Uuid {
    Uuid::from_u64_pair(0x0190_0000_0000_7000, n)
}

impl Stream {
    pub fn convention() -> Self {
        Stream {
            entity: EntityId::Convention(ConventionId(uuid(1_000))),
            records: Vec::new(),
        }
    }

    pub fn partner() -> Self {
        Stream {
            entity: EntityId::Partner(PartnerId(uuid(2_000))),
            records: Vec::new(),
        }
    }

    /// Appends an event; returns its id.
    pub fn push(&mut self, event: Event) -> EventId {
        let n = self.records.len() as u64 + 1;
        let id = EventId(uuid(n));
        self.records.push(EventRecord {
            seq: Seq(n * 10),
            id,
            entity: self.entity,
            version: n,
            recorded_at: t0() + chrono::Duration::seconds(n as i64),
            actor: Actor::new("tester").unwrap(),
            reason: None,
            source: None,
            prev_hash: Digest::GENESIS,
            hash: Digest::GENESIS,
            event,
        });
        id
    }

    pub fn seq_of(&self, id: EventId) -> Seq {
        self.records.iter().find(|r| r.id == id).unwrap().seq
    }

    pub fn convention_id(&self) -> ConventionId {
        match self.entity {
            EntityId::Convention(c) => c,
            _ => panic!("not a convention stream"),
        }
    }

    pub fn partner_id(&self) -> PartnerId {
        match self.entity {
            EntityId::Partner(p) => p,
            _ => panic!("not a partner stream"),
        }
    }

    /// The convention at (d, t), folded the production way.
    pub fn convention_at(&self, d: &str, t: Seq) -> Option<ConventionState> {
        ConventionTimeline::replay(self.convention_id(), &self.records, t)?.state_at(day(d))
    }

    /// The partner at (d, t).
    pub fn partner_at(&self, d: &str, t: Seq) -> Option<PartnerState> {
        PartnerTimeline::replay(self.partner_id(), &self.records, t)?.state_at(day(d))
    }
}

pub fn party(n: u64) -> PartnerId {
    PartnerId(uuid(5_000 + n))
}

// ------------------------------------------------------------ the binary

/// The `pactum` binary on a registry folder.
pub struct Cli {
    pub dir: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", self.stdout, self.stderr))
    }

    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }
}

impl Cli {
    pub fn new() -> Self {
        Cli {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A registry holding one commune, P1 "Agadir", and one convention
    /// with it, C1, signed in 2009 with these objectives.
    pub fn with_convention(objectives: &str) -> Self {
        let cli = Cli::new();
        cli.run(&["partner", "add", "Agadir", "--kind", "commune"])
            .ok();
        cli.run(&[
            "sign",
            "--partner",
            "P1",
            "--date",
            "2009",
            "--objectives",
            objectives,
        ])
        .ok();
        cli
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("registry")
    }

    /// Waits until nothing holds the registry's lock. After a test opens
    /// the registry with sled directly, sled's background threads may keep
    /// its file (and lock) a moment after the last handle is dropped, and
    /// the next command would meet a registry in use.
    pub fn wait_until_released(&self) {
        let file = std::fs::File::open(self.db().join("db")).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while file.try_lock().is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "the registry stayed locked"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        file.unlock().unwrap();
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.run_in(&self.db(), args)
    }

    /// `pactum key generate NAME` into a file of the test's folder: the
    /// private key's path and the verifier key printed.
    pub fn generate_key(&self, name: &str, file: &str) -> (PathBuf, String) {
        let key = self.dir.path().join(file);
        let vkey = self
            .run(&["key", "generate", name, "--out", key.to_str().unwrap()])
            .ok()
            .stdout
            .trim()
            .to_owned();
        (key, vkey)
    }

    pub fn run_in(&self, db: &Path, args: &[&str]) -> Run {
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
        self.run_with(db, &[], &args)
    }

    /// [`Cli::run_in`] with more environment variables (set after the
    /// usual ones, so they may override them) and arguments that need not
    /// be UTF-8.
    pub fn run_with(&self, db: &Path, env: &[(&str, &str)], args: &[&std::ffi::OsStr]) -> Run {
        let mut command = assert_cmd::Command::cargo_bin("pactum").unwrap();
        command
            .env("PACTUM_DB", db)
            .env("PACTUM_ACTOR", "tester")
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG");
        for (name, value) in env {
            command.env(name, value);
        }
        let output = command.args(args).output().unwrap();
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Runs with `--format json` and parses stdout.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--format", "json"];
        all.extend_from_slice(args);
        self.run(&all).ok().json()
    }

    /// The bytes of the events tree, to prove a command appended nothing.
    pub fn log_fingerprint(&self) -> Option<String> {
        if !pactum::store::exists(&self.db()) {
            return None;
        }
        let r = self.run(&["--format", "json", "info"]);
        if r.code != 0 {
            return Some(format!("info failed: {}", r.stderr));
        }
        Some(r.json()["head"].as_str().unwrap_or_default().to_owned())
    }
}

// ------------------------------------------------- the store's files, raw

/// Opens a registry's sled database directly, configured as the store
/// configures it, for tests that damage what it holds.
pub fn raw_sled(path: &Path) -> sled::Db {
    pactum::store::sled_config(path, pactum::store::durable::SEGMENT_SIZE)
        .open()
        .unwrap()
}

/// Runs `f` on the registry's sled database, opened directly, then
/// flushes and closes it and waits until the next command can open it.
pub fn with_sled<T>(cli: &Cli, f: impl FnOnce(&sled::Db) -> T) -> T {
    let db = raw_sled(&cli.db());
    let out = f(&db);
    db.flush().unwrap();
    drop(db);
    cli.wait_until_released();
    out
}

/// Adds `n` communes, one single append each ("Commune 0", "Commune 1", …).
pub fn add_communes(cli: &Cli, n: usize) {
    for i in 0..n {
        cli.run(&[
            "partner",
            "add",
            &format!("Commune {i}"),
            "--kind",
            "commune",
        ])
        .ok();
    }
}

/// The segment of the `log` tree that holds `seq`: its key and its events'
/// stored bytes.
pub fn segment_of(db: &sled::Db, seq: u64) -> (sled::IVec, Vec<Vec<u8>>) {
    let log = db.open_tree("log").unwrap();
    let (k, v) = log
        .range(..=seq.to_be_bytes())
        .next_back()
        .expect("a segment holds the seq")
        .unwrap();
    (k, segment_events(&v))
}

/// The stored bytes of each event of a stored segment.
pub fn segment_events(segment: &[u8]) -> Vec<Vec<u8>> {
    let body = pactum::store::codec::segment_body(segment).unwrap();
    pactum::store::codec::body_events(&body)
        .unwrap()
        .into_iter()
        .map(<[u8]>::to_vec)
        .collect()
}

/// The stored bytes of the event at `seq`.
pub fn stored_event(db: &sled::Db, seq: u64) -> Vec<u8> {
    let (k, events) = segment_of(db, seq);
    let first = u64::from_be_bytes(k.as_ref().try_into().unwrap());
    events[usize::try_from(seq - first).unwrap()].clone()
}

/// Replaces the stored bytes of the event at `seq` (in its segment) by
/// what `how` makes of them.
pub fn edit_event(db: &sled::Db, seq: u64, how: impl FnOnce(&[u8]) -> Vec<u8>) {
    let (k, mut events) = segment_of(db, seq);
    let first = u64::from_be_bytes(k.as_ref().try_into().unwrap());
    let i = usize::try_from(seq - first).unwrap();
    events[i] = how(&events[i]);
    let value = pactum::store::codec::encode_segment(events.iter().map(Vec::as_slice)).unwrap();
    db.open_tree("log").unwrap().insert(k, value).unwrap();
}

/// Removes the last event of the log.
pub fn remove_last_event(db: &sled::Db) {
    let log = db.open_tree("log").unwrap();
    let (k, v) = log.last().unwrap().unwrap();
    let mut events = segment_events(&v);
    events.pop();
    if events.is_empty() {
        log.remove(k).unwrap();
    } else {
        let value = pactum::store::codec::encode_segment(events.iter().map(Vec::as_slice)).unwrap();
        log.insert(k, value).unwrap();
    }
}
