//! Output: every read command builds a [`Report`] (JSON for scripts, rows
//! for people) and this module prints it as a table, JSON, CSV or Markdown.
//!
//! **Invariant:** stdout carries only the requested output; logs, progress
//! and errors go to stderr. The CSV and Markdown forms have the same
//! columns as the table.

use std::io::{IsTerminal, Write};

use clap::ValueEnum;
use comfy_table::{Cell, Color, ContentArrangement, Table, presets};
use serde_json::{Value as Json, json};

use crate::app::audit::{BlameEntry, HistoryEntry};
use crate::app::{AppError, ConventionView, PartnerView, Party, Registry, Written};
use crate::domain::audit::{Change, Value};
use crate::domain::{Event, EventRecord, PartialDate};

/// The output formats (`--format`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// a table fitted to the terminal
    #[default]
    Table,
    /// JSON (the shapes of the design)
    Json,
    /// JSON Lines: one JSON value per line (`export`: the lossless event log)
    Jsonl,
    /// CSV with a header row
    Csv,
    /// a Markdown table
    Markdown,
    /// plain text, tab-separated
    Text,
}

/// Where and how to print.
#[derive(Clone, Copy)]
pub struct Out {
    /// the format asked for
    pub format: Format,
    /// true when colour may be used
    pub color: bool,
    /// true when stdout is a terminal (tables are fitted to its width)
    pub tty: bool,
}

impl Out {
    /// Decides colour and width from the environment.
    pub fn new(format: Format) -> Self {
        let tty = std::io::stdout().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self {
            format,
            color: tty && !no_color,
            tty,
        }
    }
}

/// A table of text cells, with optional colours for the terminal.
#[derive(Default)]
pub struct Rows {
    /// column headers
    pub headers: Vec<&'static str>,
    /// the rows
    pub rows: Vec<Vec<Cellv>>,
}

/// One cell: its text and a colour used only on a colour terminal.
pub struct Cellv {
    /// the text
    pub text: String,
    /// a colour, if any
    pub color: Option<Color>,
}

impl<T: Into<String>> From<T> for Cellv {
    fn from(text: T) -> Self {
        Cellv {
            text: text.into(),
            color: None,
        }
    }
}

/// A coloured cell.
pub fn colored(text: impl Into<String>, color: Color) -> Cellv {
    Cellv {
        text: text.into(),
        color: Some(color),
    }
}

/// What a command prints: its JSON and its rows.
pub struct Report {
    /// the JSON form
    pub json: Json,
    /// the rows of the table, CSV and Markdown forms
    pub rows: Rows,
    /// a line printed under the table (table format only)
    pub note: Option<String>,
}

impl Report {
    /// A report built for the chosen format only: a list of a hundred
    /// thousand conventions is not also turned into JSON for a table, nor
    /// into rows for JSON.
    pub fn for_format(
        out: &Out,
        json: impl FnOnce() -> Json,
        rows: impl FnOnce() -> Rows,
        note: Option<String>,
    ) -> Self {
        let prints_json = matches!(out.format, Format::Json | Format::Jsonl);
        Self {
            json: if prints_json { json() } else { Json::Null },
            rows: if prints_json { Rows::default() } else { rows() },
            note,
        }
    }
}

/// An output failure (a closed pipe is recognised by the binary and ends
/// the command quietly).
pub fn io_error(e: std::io::Error) -> AppError {
    AppError::Output(e)
}

/// A CSV writer's failure: an output failure when it is one.
pub fn csv_error(e: csv::Error) -> AppError {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => AppError::Output(e),
        other => AppError::Other(format!("writing CSV: {other:?}")),
    }
}

/// Standard output, buffered. Everything a command prints goes through a
/// writer like this one, whose failures are errors (never a panic, as
/// `println!` makes them).
pub fn stdout() -> std::io::BufWriter<std::io::StdoutLock<'static>> {
    std::io::BufWriter::new(std::io::stdout().lock())
}

/// A stored text as shown in a table or a line of text: control and
/// invisible characters escaped (a registry written before they were
/// refused may hold some).
/// Line feeds are kept: a cell's lines are pactum's own (a stored text
/// never holds one).
pub fn show(text: &str) -> std::borrow::Cow<'_, str> {
    crate::domain::text::escape_for_display(text, true)
}

/// `println!` that returns the output's failure instead of panicking:
/// `outln!("…", args)?`.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::output::print_text(&format!("{}\n", format_args!($($arg)*)))
    };
}
pub(crate) use outln;

/// The answer of a write that is already committed: if it cannot be
/// printed, the command still succeeds (the event is in the log, and a
/// script that retried would record it twice); a closed pipe is quiet,
/// any other failure is said on stderr.
pub fn after_commit(printed: Result<(), AppError>, what: &str) -> Result<(), AppError> {
    match printed {
        Ok(()) => Ok(()),
        Err(e) if e.is_closed_pipe() => Ok(()),
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "note: {what} was committed, but its answer could not be printed ({e})"
            );
            Ok(())
        }
    }
}

/// Writes `text` to standard output and flushes it.
/// Every control character but the line feed and the tab, and every
/// character that shows nothing or turns text around, is written escaped
/// (`\u{XXXX}`): a path or a name quoted in an answer cannot drive the
/// terminal.
pub fn print_text(text: &str) -> Result<(), AppError> {
    print_bytes(crate::domain::text::escape_for_page(text).as_bytes())
}

/// `value` as JSON text (pretty, or on one line) in which every control
/// and [`is_hidden`](crate::domain::text::is_hidden) character is written
/// as a JSON escape (`\u202e`): the same value for a program, nothing a
/// terminal would act on. (`serde_json` escapes only C0 controls.)
pub fn json_text(value: &impl serde::Serialize, pretty: bool) -> Result<String, AppError> {
    let text = if pretty {
        serde_json::to_string_pretty(value)
    } else {
        serde_json::to_string(value)
    }
    .map_err(|e| AppError::Other(e.to_string()))?;
    // Such characters can only stand inside strings (the line feeds of the
    // pretty form are outside them, and serde_json escapes those inside).
    let unsafe_char = |c: char| c != '\n' && (c.is_control() || crate::domain::text::is_hidden(c));
    if !text.chars().any(unsafe_char) {
        return Ok(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if unsafe_char(c) {
            for unit in c.encode_utf16(&mut [0; 2]) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// Prints `value` as [`json_text`] and a line feed.
pub fn print_json(value: &impl serde::Serialize, pretty: bool) -> Result<(), AppError> {
    let mut text = json_text(value, pretty)?;
    text.push('\n');
    print_bytes(text.as_bytes())
}

/// Writes bytes to standard output and flushes them.
pub fn print_bytes(bytes: &[u8]) -> Result<(), AppError> {
    let mut out = stdout();
    out.write_all(bytes).map_err(io_error)?;
    out.flush().map_err(io_error)
}

/// Prints a report in the chosen format.
pub fn print(out: &Out, report: &Report) -> Result<(), AppError> {
    let mut lock = stdout();
    match out.format {
        Format::Json => {
            writeln!(lock, "{}", json_text(&report.json, true)?).map_err(io_error)?;
        }
        Format::Jsonl => {
            let items = match &report.json {
                Json::Array(items) => items.clone(),
                other => vec![other.clone()],
            };
            for item in items {
                writeln!(lock, "{}", json_text(&item, false)?).map_err(io_error)?;
            }
        }
        Format::Text => {
            writeln!(lock, "{}", report.rows.headers.join("\t")).map_err(io_error)?;
            for row in &report.rows.rows {
                let cells: Vec<String> = row
                    .iter()
                    .map(|c| show(&c.text.replace(['\t', '\n'], " ")).into_owned())
                    .collect();
                writeln!(lock, "{}", cells.join("\t")).map_err(io_error)?;
            }
        }
        Format::Csv => {
            let mut w = csv::Writer::from_writer(&mut lock);
            w.write_record(&report.rows.headers).map_err(csv_error)?;
            for row in &report.rows.rows {
                w.write_record(
                    row.iter()
                        .map(|c| crate::app::formats::neutralise_cell(&c.text).into_owned()),
                )
                .map_err(csv_error)?;
            }
            w.flush().map_err(io_error)?;
        }
        Format::Markdown => {
            let mut t = Table::new();
            t.load_style(presets::ASCII_MARKDOWN).force_no_tty();
            t.set_header(report.rows.headers.clone());
            for row in &report.rows.rows {
                t.add_row(
                    row.iter()
                        .map(|c| crate::app::formats::markdown_cell(&c.text)),
                );
            }
            writeln!(lock, "{t}").map_err(io_error)?;
        }
        Format::Table => {
            if report.rows.rows.is_empty() {
                writeln!(lock, "(nothing)").map_err(io_error)?;
            } else {
                writeln!(lock, "{}", table(out, &report.rows)).map_err(io_error)?;
            }
            if let Some(note) = &report.note {
                writeln!(lock, "{note}").map_err(io_error)?;
            }
        }
    }
    lock.flush().map_err(io_error)
}

/// A terminal table.
pub fn table(out: &Out, rows: &Rows) -> Table {
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED);
    if out.color {
        t.enforce_styling();
    } else {
        t.force_no_tty();
    }
    if out.tty {
        // fitted to the terminal's width (COLUMNS, else 100, when the
        // terminal does not say), long cells wrapped
        if t.width().is_none_or(|w| w < 20) {
            let columns = std::env::var("COLUMNS")
                .ok()
                .and_then(|c| c.parse().ok())
                .filter(|c| *c >= 20)
                .unwrap_or(100);
            t.set_width(columns);
        }
        t.set_content_arrangement(ContentArrangement::Dynamic);
    } else {
        t.set_content_arrangement(ContentArrangement::Disabled);
    }
    t.set_header(rows.headers.clone());
    for row in &rows.rows {
        t.add_row(row.iter().map(|c| {
            let cell = Cell::new(show(&c.text));
            match (c.color, out.color) {
                (Some(color), true) => cell.fg(color),
                _ => cell,
            }
        }));
    }
    t
}

// ------------------------------------------------------------ JSON shapes

fn opt<T: ToString>(v: Option<T>) -> Json {
    v.map_or(Json::Null, |v| Json::String(v.to_string()))
}

/// `{id, handle, name, kind}`, with `via` and `since` for a party by
/// succession.
pub fn party_json(p: &Party) -> Json {
    let mut json = json!({
        "id": p.id.to_string(),
        "handle": p.handle.to_string(),
        "name": &*p.name,
        "kind": opt(p.kind),
    });
    if let (Some(since), Some(obj)) = (p.since, json.as_object_mut()) {
        obj.insert("via".into(), p.via.iter().map(partner_ref_json).collect());
        obj.insert("since".into(), Json::String(since.to_string()));
    }
    json
}

/// `{id, handle, name}`: a partner named in another's entry.
pub fn partner_ref_json(p: &Party) -> Json {
    json!({
        "id": p.id.to_string(),
        "handle": p.handle.to_string(),
        "name": &*p.name,
    })
}

/// The convention shape of `docs/formats.md`, "JSON output".
pub fn convention_json(v: &ConventionView) -> Json {
    let s = &v.state;
    json!({
        "id": s.id.to_string(),
        "handle": v.handle.to_string(),
        "instrument": s.instrument.as_str(),
        "parties": v.parties.iter().map(party_json).collect::<Vec<_>>(),
        "signed_on": s.signed_on.to_string(),
        "objectives": s.objectives.as_str(),
        "expires_on": opt(s.expires_on),
        "official_ref": opt(s.official_ref.as_ref()),
        "status": s.status.as_str(),
        "approximate": s.approximate,
        "version": s.version,
    })
}

/// The partner shape of `docs/formats.md`, "JSON output".
pub fn partner_json(v: &PartnerView) -> Json {
    let s = &v.state;
    json!({
        "id": s.id.to_string(),
        "handle": v.handle.to_string(),
        "name": s.name.as_str(),
        "short_name": opt(s.short_name.as_ref()),
        "kind": s.kind.as_str(),
        "country": opt(s.country),
        "status": s.status.as_str(),
        "successors": v.successors.iter().map(partner_ref_json).collect::<Vec<_>>(),
        "predecessors": v.predecessors.iter().map(partner_ref_json).collect::<Vec<_>>(),
        "approximate": s.approximate,
        "version": s.version,
    })
}

/// What a write prints.
pub fn written_json(w: &Written) -> Json {
    json!({
        "seq": w.seq.0,
        "event_id": w.event_id.to_string(),
        "entity": {"id": w.entity.to_string(), "handle": w.handle.to_string()},
        "version": w.version,
    })
}

/// A diff value as JSON (parties as their handles).
pub fn value_json(registry: &Registry, v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Text(t) => Json::String(t.clone()),
        Value::Parties(ps) => Json::Array(
            ps.iter()
                .map(|p| {
                    Json::String(
                        registry
                            .handle((*p).into())
                            .map_or_else(|_| p.to_string(), |h| h.to_string()),
                    )
                })
                .collect(),
        ),
    }
}

/// A diff value as text.
pub fn value_text(registry: &Registry, v: &Value) -> String {
    match value_json(registry, v) {
        Json::Null => "—".into(),
        Json::String(s) => s,
        Json::Array(items) => items
            .iter()
            .map(|i| i.as_str().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

/// `[{field, before, after}]`
pub fn changes_json(registry: &Registry, changes: &[Change]) -> Json {
    Json::Array(
        changes
            .iter()
            .map(|c| {
                json!({
                    "field": c.field,
                    "before": value_json(registry, &c.before),
                    "after": value_json(registry, &c.after),
                })
            })
            .collect(),
    )
}

/// The history entry shape of `docs/formats.md`, "JSON output".
pub fn history_json(registry: &Registry, e: &HistoryEntry) -> Json {
    let r = &e.record;
    json!({
        "seq": r.seq.0,
        "event_id": r.id.to_string(),
        "entity": registry
            .handle(r.entity)
            .map_or_else(|_| r.entity.to_string(), |h| h.to_string()),
        "type": r.event.event_type().as_str(),
        "recorded_at": timestamp(r),
        "actor": r.actor.as_str(),
        "reason": opt(r.reason.as_ref()),
        "source": opt(r.source.as_ref()),
        "effective_on": opt(r.event.effective_on()),
        "target": opt(r.event.target()),
        "void": e.voided_by.is_some(),
        "voided_by": opt(e.voided_by.map(|(_, id)| id)),
        "changes": changes_json(registry, &e.changes),
    })
}

/// The blame entry shape of `docs/formats.md`, "JSON output".
pub fn blame_json(registry: &Registry, b: &BlameEntry) -> Json {
    let r = &b.record;
    json!({
        "field": b.field,
        "value": value_json(registry, &b.value),
        "seq": r.seq.0,
        "event_id": r.id.to_string(),
        "type": r.event.event_type().as_str(),
        "recorded_at": timestamp(r),
        "actor": r.actor.as_str(),
        "reason": opt(r.reason.as_ref()),
    })
}

/// A count with its noun, singular for one: "1 convention", "3 conventions".
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// An event's `recorded_at` as RFC 3339 UTC.
pub fn timestamp(r: &EventRecord) -> String {
    r.recorded_at
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// A date with `~` beside it when its period straddles the valid date.
pub fn date_cell(date: PartialDate, valid: chrono::NaiveDate) -> String {
    if date.begun_by(valid) && date.straddles(valid) {
        format!("{date} ~")
    } else {
        date.to_string()
    }
}

/// The status column: the status, its end date, and `~` when approximate.
pub fn status_cell(v: &ConventionView) -> Cellv {
    let s = &v.state;
    let mut text = s.status.as_str().to_owned();
    if let Some(end) = s.ended_on {
        text.push_str(&format!(" {end}"));
    }
    if s.approximate {
        text.push_str(" ~");
    }
    let color = match s.status {
        crate::domain::Status::InForce => Color::Green,
        crate::domain::Status::Terminated => Color::Red,
        crate::domain::Status::Expired => Color::Yellow,
    };
    colored(text, color)
}

/// Parties as one cell: `P3 Agadir; P4 Meknès`; a party by succession
/// with its predecessors and the date: `P9 Fès-Meknès (via P4 Meknès-Tafilalet, 2015-09-04)`.
pub fn parties_cell(parties: &[Party]) -> String {
    parties
        .iter()
        .map(party_text)
        .collect::<Vec<_>>()
        .join("; ")
}

/// One party as text, with how it came when it is there by succession.
pub fn party_text(p: &Party) -> String {
    match p.since {
        None => format!("{} {}", p.handle, p.name),
        Some(since) => format!(
            "{} {} (via {}, {since})",
            p.handle,
            p.name,
            p.via
                .iter()
                .map(|q| format!("{} {}", q.handle, q.name))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A one-line summary of what an event says, for timelines.
pub fn event_summary(registry: &Registry, r: &EventRecord) -> String {
    let handle = |id: crate::domain::EntityId| {
        registry
            .handle(id)
            .map_or_else(|_| id.to_string(), |h| h.to_string())
    };
    match &r.event {
        Event::PartnerRegistered(e) => format!("registered '{}' ({})", e.name, e.kind),
        Event::PartnerRenamed(e) => format!("renamed '{}' from {}", e.new_name, e.effective_on),
        Event::PartnerSucceeded(e) => format!(
            "succeeded from {} by {}",
            e.effective_on,
            e.successors
                .iter()
                .map(|p| handle((*p).into()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Event::ConventionSigned(e) => format!(
            "{} signed {} with {}",
            e.instrument,
            e.signed_on,
            e.parties
                .iter()
                .map(|p| handle((*p).into()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Event::ConventionAmended(e) => format!(
            "amended from {}{}",
            e.effective_on,
            e.amendment_ref
                .as_ref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        ),
        Event::ConventionTerminated(e) => format!("{} on {}", e.kind, e.effective_on),
        Event::Corrected(c) => format!("corrected {}", short_id(&c.target.to_string())),
        Event::Retracted(x) => format!("retracted {}", short_id(&x.target.to_string())),
    }
}

/// The first 13 characters of an id (its time part), for tables.
pub fn short_id(id: &str) -> String {
    id.chars().take(13).collect()
}

#[cfg(test)]
mod tests {
    use super::{Format, Json, Out, Report, Rows, count, json_text};
    use std::cell::Cell;

    #[test]
    fn json_text_escapes_what_a_terminal_acts_on_and_keeps_the_value() {
        let value = serde_json::json!({
            "text": "a\u{1b}[2J b\u{9b}c \u{202e}d \u{200b}e \u{E0041}f \u{a0}g é",
            "list": [1, 2],
        });
        for pretty in [false, true] {
            let text = json_text(&value, pretty).unwrap();
            assert!(
                !text
                    .chars()
                    .any(|c| c != '\n' && (c.is_control() || crate::domain::text::is_hidden(c))),
                "{text}"
            );
            assert!(
                text.contains("\\u202e") && text.contains("\\udb40\\udc41"),
                "{text}"
            );
            // kept as they are: a no-break space, a letter
            assert!(text.contains("\u{a0}g é"), "{text}");
            let back: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(back, value);
        }
    }

    #[test]
    fn a_report_builds_only_the_form_it_prints() {
        for format in [
            Format::Table,
            Format::Json,
            Format::Jsonl,
            Format::Csv,
            Format::Markdown,
            Format::Text,
        ] {
            let (json_built, rows_built) = (Cell::new(false), Cell::new(false));
            let report = Report::for_format(
                &Out::new(format),
                || {
                    json_built.set(true);
                    Json::from(1)
                },
                || {
                    rows_built.set(true);
                    Rows {
                        headers: vec!["a"],
                        rows: vec![vec!["1".into()]],
                    }
                },
                None,
            );
            let prints_json = matches!(format, Format::Json | Format::Jsonl);
            assert_eq!(json_built.get(), prints_json, "{format:?}");
            assert_eq!(rows_built.get(), !prints_json, "{format:?}");
            assert_eq!(report.rows.rows.len(), usize::from(!prints_json));
        }
    }

    #[test]
    fn counts_are_singular_for_one_only() {
        assert_eq!(count(0, "convention"), "0 conventions");
        assert_eq!(count(1, "convention"), "1 convention");
        assert_eq!(count(2, "event"), "2 events");
    }
}
