//! The command line: argument shapes (clap), then resolution into domain
//! values through the application layer, then output.
//!
//! Each command has its own file under `commands/`, holding its clap `Args`
//! (whose doc comments are the help text) and one `run` function.

pub mod commands;
pub mod error;
pub mod output;

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::app::{
    AppError, DEFAULT_CACHE_BYTES, OpenOptions, Point, RandomIds, Registry, Repair, SystemClock,
    WriteMeta,
};
use crate::domain::{Actor, PartialDate, Reason, Source};
use output::{Format, Out};

/// The groups of commands in the help, in order: a heading and the names of
/// its commands. What each command does is its own `about`, read from
/// clap's tree; a test checks that every command stands in one group.
const GROUPS: &[(&str, &[&str])] = &[
    (
        "Record",
        &[
            "partner",
            "sign",
            "amend",
            "terminate",
            "correct",
            "retract",
        ],
    ),
    ("Read", &["list", "show", "due", "report"]),
    ("Audit", &["history", "blame", "log", "diff"]),
    ("Exchange", &["import", "export", "demo", "publish"]),
    (
        "Integrity",
        &["verify", "rebuild", "upgrade", "compact", "info"],
    ),
    (
        "Transparency",
        &["key", "checkpoint", "prove", "check-proof"],
    ),
    ("Shell", &["completions", "man"]),
];

/// The names of the commands, group by group, as the help lists them.
pub fn grouped_names() -> impl Iterator<Item = &'static str> {
    GROUPS.iter().flat_map(|(_, names)| names.iter().copied())
}

/// The help's list of commands by group: each command's name and what it
/// does, from clap's tree.
fn grouped_help(command: &clap::Command) -> String {
    let width = command
        .get_subcommands()
        .map(|c| c.get_name().len())
        .max()
        .unwrap_or(0);
    let groups: Vec<String> = GROUPS
        .iter()
        .map(|(heading, names)| {
            let lines: Vec<String> = names
                .iter()
                .filter_map(|name| command.find_subcommand(name))
                .map(|c| {
                    let about = c.get_about().map(ToString::to_string).unwrap_or_default();
                    format!("  {:<width$}  {about}", c.get_name())
                })
                .collect();
            format!("{heading}:\n{}", lines.join("\n"))
        })
        .collect();
    groups.join("\n\n")
}

/// The command line as clap builds it from [`Cli`], with the commands
/// listed by group in the help.
pub fn command() -> clap::Command {
    let command = Cli::command();
    let grouped = grouped_help(&command);
    command.after_help(grouped.clone()).after_long_help(grouped)
}

/// Parses the process's arguments, and names the command they run. A
/// value refused by one of the command line's own parsers (a date, a
/// text) is an error like any other, said as `--flag: what is wrong`;
/// clap's other errors, `--help` and `--version` end the process here, as
/// clap ends it.
pub fn parse() -> Result<(Cli, String), AppError> {
    let mut command = command();
    let mut matches = command
        .try_get_matches_from_mut(std::env::args_os())
        .map_err(|e| refused_value(&e).unwrap_or_else(|| exit_on(e)))?;
    let name = matches.subcommand_name().unwrap_or_default().to_owned();
    let cli =
        Cli::from_arg_matches_mut(&mut matches).unwrap_or_else(|e| exit_on(e.format(&mut command)));
    Ok((cli, name))
}

/// Prints a usage error (or the help it asked for) and exits with its
/// code. An error quotes what was typed: when that holds a control or
/// invisible character, the message is printed without colours and with
/// every such character escaped, as every other message is.
fn exit_on(error: clap::Error) -> ! {
    let plain = error.render().to_string();
    let shown = crate::domain::text::escape_for_display(&plain, true);
    if matches!(shown, std::borrow::Cow::Borrowed(_)) {
        error.exit()
    }
    let _ = std::io::Write::write_all(&mut std::io::stderr(), shown.as_bytes());
    std::process::exit(error.exit_code())
}

/// The error for a value one of [`commands`]' value parsers refused,
/// named by its flag.
fn refused_value(error: &clap::Error) -> Option<AppError> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if error.kind() != ErrorKind::ValueValidation {
        return None;
    }
    let bad = std::error::Error::source(error)?.downcast_ref::<commands::BadValue>()?;
    let Some(ContextValue::String(arg)) = error.get(ContextKind::InvalidArg) else {
        return None;
    };
    // "--date <DATE>": the flag, without its value's name
    let flag = arg.split(' ').next().unwrap_or(arg);
    Some(AppError::Invalid {
        message: format!("{flag}: {}", bad.detail),
        hint: bad.hint.map(Into::into),
    })
}

/// pactum: an event-sourced registry of partnership conventions.
///
/// Every signing, amendment, termination, rename and correction is an
/// event in an append-only log; every view is computed from it, as of any
/// date (--as-of) and as recorded at any moment (--recorded-as-of).
#[derive(Debug, Parser)]
#[command(
    name = "pactum",
    version,
    propagate_version = true,
    disable_help_subcommand = true,
    subcommand_help_heading = "Commands",
    help_template = "{before-help}{about-with-newline}\n{usage-heading} {usage}\n\n{after-help}\n\nOptions:\n{options}"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args, Clone)]
pub struct Global {
    /// The registry folder [default: a `pactum` folder in the platform's data directory]
    #[arg(
        long,
        global = true,
        env = "PACTUM_DB",
        hide_env_values = true,
        value_name = "PATH"
    )]
    pub db: Option<PathBuf>,

    /// Output format
    #[arg(long, global = true, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Who records the event [default: $PACTUM_ACTOR, else the OS user]
    #[arg(long, global = true, value_name = "NAME")]
    pub by: Option<String>,

    /// Wait up to this many seconds for another pactum process to release the registry
    #[arg(long, global = true, value_name = "SECONDS", default_value = "0", value_parser = parse_wait)]
    pub wait: Duration,

    /// More logging on stderr (-v info, -vv debug, -vvv trace); RUST_LOG is honoured
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Only errors on stderr; no progress bars
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

/// Every command. Each variant's help is its `Args` doc comment.
#[derive(Debug, Subcommand)]
pub enum Command {
    #[command(subcommand)]
    Partner(commands::partner::PartnerCommand),
    Sign(commands::sign::SignArgs),
    Amend(commands::amend::AmendArgs),
    Terminate(commands::terminate::TerminateArgs),
    Correct(commands::correct::CorrectArgs),
    Retract(commands::retract::RetractArgs),
    List(commands::list::ListArgs),
    Show(commands::show::ShowArgs),
    History(commands::history::HistoryArgs),
    Blame(commands::blame::BlameArgs),
    Log(commands::log::LogArgs),
    Diff(commands::diff::DiffArgs),
    Due(commands::due::DueArgs),
    Report(commands::report::ReportArgs),
    Import(commands::import::ImportArgs),
    Export(commands::export::ExportArgs),
    Demo(commands::demo::DemoArgs),
    Publish(commands::publish::PublishArgs),
    Verify(commands::verify::VerifyArgs),
    Rebuild(commands::rebuild::RebuildArgs),
    Upgrade(commands::upgrade::UpgradeArgs),
    Compact(commands::compact::CompactArgs),
    Info(commands::info::InfoArgs),
    #[command(subcommand)]
    Key(commands::key::KeyCommand),
    Checkpoint(commands::checkpoint::CheckpointArgs),
    Prove(commands::prove::ProveArgs),
    CheckProof(commands::check_proof::CheckProofArgs),
    Completions(commands::completions::CompletionsArgs),
    Man(commands::completions::ManArgs),
}

/// `--as-of` and `--recorded-as-of`, taken by every read command.
#[derive(Debug, Args, Clone, Default)]
pub struct PointArgs {
    /// Valid time: the registry as it stood in the world on this date (YYYY, YYYY-MM or YYYY-MM-DD; a year or month means its last day) [default: today]
    #[arg(long, value_name = "DATE", value_parser = commands::date)]
    pub as_of: Option<PartialDate>,

    /// Record time: the registry as it was recorded at this moment (RFC 3339 timestamp, a date meaning the end of that day UTC, or #N for log position N) [default: now]
    #[arg(long, value_name = "WHEN")]
    pub recorded_as_of: Option<String>,
}

/// `--source`, `--reason` and `--expect-version`, taken by every write.
#[derive(Debug, Args, Clone, Default)]
pub struct WriteArgs {
    /// The document or publication the fact comes from
    #[arg(long, value_name = "TEXT", value_parser = commands::text(Source::new))]
    pub source: Option<Source>,

    /// Why this is recorded (required for corrections, retractions and terminations)
    #[arg(long, value_name = "TEXT", value_parser = commands::text(Reason::new))]
    pub reason: Option<Reason>,

    /// Refuse the write unless the entry is at this version (what you looked at)
    #[arg(long, value_name = "N")]
    pub expect_version: Option<u64>,
}

/// What every command runs with.
pub struct Context {
    /// global options
    pub global: Global,
    /// output settings
    pub out: Out,
    /// the registries opened for reading, left open when the context ends
    /// (see [`Context::open`])
    read_only: RefCell<Vec<Rc<Registry>>>,
}

impl Drop for Context {
    /// A registry opened for reading is not torn down: the process is about
    /// to exit, and sled's teardown (freeing every page it holds in memory)
    /// is a sixth of a `show` on a million-event registry. Nothing is lost
    /// by it: a read writes nothing, a rebuild of stale projections made on
    /// opening is synced before it is used, and the operating system
    /// releases sled's lock with the process.
    fn drop(&mut self) {
        for registry in self.read_only.take() {
            // the owner file is removed all the same: it names a process
            // that is about to end
            registry.release_owner();
            std::mem::forget(registry);
        }
    }
}

/// Whether a command may create the registry.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// reads: the registry must exist
    Read,
    /// writes: the registry must exist
    Write,
    /// the writes that can start a registry (`partner add`, `import`,
    /// `demo`): create it if needed
    Create,
    /// verify: must exist, and stale projections are left as they are
    Inspect,
}

impl Context {
    /// The same options, on the registry in another folder.
    pub fn at(&self, db: PathBuf) -> Context {
        Context {
            global: Global {
                db: Some(db),
                ..self.global.clone()
            },
            out: self.out,
            read_only: RefCell::default(),
        }
    }

    /// The registry's folder.
    pub fn db_path(&self) -> Result<PathBuf, AppError> {
        if let Some(p) = &self.global.db {
            return Ok(p.clone());
        }
        directories::ProjectDirs::from("", "", "pactum")
            .map(|d| d.data_dir().to_path_buf())
            .ok_or_else(|| {
                AppError::invalid_with(
                    "no data directory is known for this user",
                    "pass --db PATH or set PACTUM_DB",
                )
            })
    }

    /// Opens the registry. For reading, once per context: a second read
    /// gets the registry the first one opened.
    pub fn open(&self, access: Access) -> Result<Rc<Registry>, AppError> {
        let path = self.db_path()?;
        if access == Access::Read
            && let Some(open) = self.read_only.borrow().iter().find(|r| r.path() == path)
        {
            return Ok(Rc::clone(open));
        }
        let wait = self.global.wait;
        let cache_bytes = match std::env::var("PACTUM_CACHE_MB") {
            Err(_) => DEFAULT_CACHE_BYTES,
            Ok(mb) => match mb.trim().parse::<u64>() {
                Ok(mb @ 1..=65_536) => mb * 1024 * 1024,
                _ => {
                    tracing::warn!(
                        value = %mb,
                        "PACTUM_CACHE_MB is not a size in MB from 1 to 65536; using the default"
                    );
                    DEFAULT_CACHE_BYTES
                }
            },
        };
        let options = OpenOptions {
            create: access == Access::Create,
            wait,
            cache_bytes,
            ..OpenOptions::default()
        };
        let repair = if access == Access::Inspect {
            Repair::Leave
        } else {
            Repair::Rebuild
        };
        let registry = Registry::open(
            &path,
            &options,
            repair,
            Arc::new(SystemClock),
            Arc::new(RandomIds),
        )?;
        let events = registry.head_seq().map(|s| s.0).unwrap_or(0);
        let span = tracing::Span::current();
        span.record("db", tracing::field::display(path.display()));
        span.record("events", events);
        tracing::info!("registry open");
        let registry = Rc::new(registry);
        if access == Access::Read {
            self.read_only.borrow_mut().push(Rc::clone(&registry));
        }
        Ok(registry)
    }

    /// Who records: `--by`, else `PACTUM_ACTOR`, else the OS user.
    pub fn actor(&self) -> Result<Actor, AppError> {
        let name = self
            .global
            .by
            .clone()
            .or_else(|| std::env::var("PACTUM_ACTOR").ok().filter(|s| !s.is_empty()))
            .or_else(|| std::env::var("USER").ok().filter(|s| !s.is_empty()))
            .or_else(|| std::env::var("LOGNAME").ok().filter(|s| !s.is_empty()))
            .or_else(|| std::env::var("USERNAME").ok().filter(|s| !s.is_empty()))
            .unwrap_or_else(|| "unknown".into());
        Actor::new(name.trim()).map_err(|e| AppError::invalid(format!("--by: {e}")))
    }

    /// The envelope of a write, checked.
    pub fn write_meta(&self, args: &WriteArgs) -> Result<WriteMeta, AppError> {
        Ok(WriteMeta {
            actor: self.actor()?,
            reason: args.reason.clone(),
            source: args.source.clone(),
            expect_version: args.expect_version,
        })
    }

    /// Resolves the point of view of a read.
    pub fn point(&self, registry: &Registry, args: &PointArgs) -> Result<Point, AppError> {
        registry.point(args.as_of, args.recorded_as_of.as_deref())
    }

    /// A progress bar on stderr, drawn only when stderr is a terminal and
    /// `-q` was not given (hidden otherwise). `len` 0 makes a spinner.
    pub fn progress(&self, len: u64, message: &'static str) -> indicatif::ProgressBar {
        use std::io::IsTerminal;
        if self.global.quiet || !std::io::stderr().is_terminal() {
            return indicatif::ProgressBar::hidden();
        }
        let bar = if len == 0 {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        } else {
            let bar = indicatif::ProgressBar::new(len);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{msg:>10} [{bar:30}] {pos}/{len} ({per_sec}, {eta})",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        };
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        bar.set_message(message);
        bar
    }
}

/// The longest `--wait`: a day.
const MAX_WAIT_SECONDS: f64 = 86_400.0;

/// `--wait SECONDS`: a number of seconds from 0 to a day, fractions allowed.
fn parse_wait(s: &str) -> Result<Duration, String> {
    match s.trim().parse::<f64>() {
        Ok(secs) if (0.0..=MAX_WAIT_SECONDS).contains(&secs) => Ok(Duration::from_secs_f64(secs)),
        _ => Err(format!(
            "expected a number of seconds from 0 to {MAX_WAIT_SECONDS} (for example 5 or 0.5)"
        )),
    }
}

/// Runs a parsed command line; `name` is the command's (for the log).
pub fn run(cli: Cli, name: &str) -> Result<(), AppError> {
    let out = Out::new(cli.global.format);
    let ctx = Context {
        global: cli.global,
        out,
        read_only: RefCell::default(),
    };
    let span = tracing::info_span!(
        "command",
        name,
        db = tracing::field::Empty,
        events = tracing::field::Empty
    );
    let _enter = span.enter();
    let registry_path = ctx.db_path().ok();
    if let Some(path) = &registry_path {
        refuse_stdout_inside(path)?;
    }
    let result = run_command(&ctx, cli.command);
    match registry_path {
        Some(path) => result.map_err(|e| e.at_registry(&path)),
        None => result,
    }
}

/// Refuses to run when standard output is one of the registry's own files
/// (`pactum export >> REGISTRY/db`): the shell opened it, but nothing may be
/// written into it.
fn refuse_stdout_inside(registry: &std::path::Path) -> Result<(), AppError> {
    let Ok(stat) = rustix::fs::fstat(std::io::stdout()) else {
        return Ok(());
    };
    if rustix::fs::FileType::from_raw_mode(stat.st_mode) != rustix::fs::FileType::RegularFile {
        return Ok(());
    }
    if crate::app::registry_holds_file(registry, stat.st_dev, stat.st_ino) {
        return Err(AppError::invalid_with(
            format!(
                "standard output is a file inside the registry folder {}",
                registry.display()
            ),
            "send the output somewhere outside the registry folder",
        ));
    }
    Ok(())
}

fn run_command(ctx: &Context, command: Command) -> Result<(), AppError> {
    match command {
        Command::Partner(c) => commands::partner::run(ctx, c),
        Command::Sign(a) => commands::sign::run(ctx, a),
        Command::Amend(a) => commands::amend::run(ctx, a),
        Command::Terminate(a) => commands::terminate::run(ctx, a),
        Command::Correct(a) => commands::correct::run(ctx, a),
        Command::Retract(a) => commands::retract::run(ctx, a),
        Command::List(a) => commands::list::run(ctx, a),
        Command::Show(a) => commands::show::run(ctx, a),
        Command::History(a) => commands::history::run(ctx, a),
        Command::Blame(a) => commands::blame::run(ctx, a),
        Command::Log(a) => commands::log::run(ctx, a),
        Command::Diff(a) => commands::diff::run(ctx, a),
        Command::Due(a) => commands::due::run(ctx, a),
        Command::Report(a) => commands::report::run(ctx, a),
        Command::Import(a) => commands::import::run(ctx, a),
        Command::Export(a) => commands::export::run(ctx, a),
        Command::Demo(a) => commands::demo::run(ctx, a),
        Command::Publish(a) => commands::publish::run(ctx, a),
        Command::Verify(a) => commands::verify::run(ctx, a),
        Command::Rebuild(a) => commands::rebuild::run(ctx, a),
        Command::Upgrade(a) => commands::upgrade::run(ctx, a),
        Command::Compact(a) => commands::compact::run(ctx, a),
        Command::Info(a) => commands::info::run(ctx, a),
        Command::Key(c) => commands::key::run(ctx, c),
        Command::Checkpoint(a) => commands::checkpoint::run(ctx, a),
        Command::Prove(a) => commands::prove::run(ctx, a),
        Command::CheckProof(a) => commands::check_proof::run(ctx, a),
        Command::Completions(a) => commands::completions::completions(a),
        Command::Man(a) => commands::completions::man(a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(db: PathBuf) -> Context {
        let cli = Cli::parse_from(["pactum", "--db", &db.display().to_string(), "info"]);
        Context {
            out: Out::new(cli.global.format),
            global: cli.global,
            read_only: RefCell::default(),
        }
    }

    #[test]
    fn a_context_opens_a_registry_once_for_reading_and_leaves_it_open() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("registry");
        drop(context(db.clone()).open(Access::Create).expect("create"));
        let ctx = context(db.clone());
        let first = ctx.open(Access::Read).expect("first read");
        let second = ctx.open(Access::Read).expect("second read");
        assert!(Rc::ptr_eq(&first, &second));
        let weak = Rc::downgrade(&first);
        drop((first, second));
        assert!(weak.upgrade().is_some(), "kept by the context");
        // The context ends without tearing the registry down.
        drop(ctx);
        assert!(weak.upgrade().is_some(), "left open at the end");
        assert!(matches!(
            context(db).open(Access::Read),
            Err(AppError::Store(crate::app::StoreError::InUse { .. }))
        ));
        let other = tempfile::tempdir().expect("temp dir");
        let writer = context(other.path().join("registry"));
        let written = writer.open(Access::Create).expect("create");
        let weak = Rc::downgrade(&written);
        drop(written);
        assert!(
            weak.upgrade().is_none(),
            "a registry opened to write is closed"
        );
    }
}
