//! The conventions CSV: what `import` reads and `export --format csv`
//! writes (format documented in `docs/formats.md`).
//!
//! One row per convention. Required columns: `section`, `partners` (names
//! separated by `;`), `partner_kind` (one kind for all, or one per name,
//! separated by `;`), `instrument`, `signed_on`, `objectives`. Optional
//! columns: `expires_on`, `official_ref`, `status`, `ended_on`.
//!
//! Parsing checks every row and reports every bad one with its line; it
//! never stops at the first.
//!
//! Two cell rules make every text survive a round trip (export, import,
//! export gives the same bytes) and keep a spreadsheet from running a cell:
//! - **Formulas.** A cell whose text starts with `=`, `+`, `-`, `@`, a tab,
//!   a carriage return, or a `'`, is written with one more `'` in front
//!   ([`neutralise_cell`]); a spreadsheet shows such a cell as text. Import
//!   removes exactly one leading `'` from any cell ([`restore_cell`]), so a
//!   text that itself starts with `'` (written `''…`) comes back whole.
//! - **Party names.** Names in `partners` are separated by `;`; inside a
//!   name, `\` is written `\\` and `;` is written `\;`
//!   ([`join_names`], [`split_names`]). On import a backslash followed by
//!   anything else is kept as it is.

use std::str::FromStr;

use super::Section;
use crate::domain::text::TextError;
use crate::domain::{
    Instrument, Objectives, OfficialRef, PartialDate, PartnerKind, PartnerName, Status,
    TerminationKind,
};

/// The columns, in the order `export` writes them.
pub const COLUMNS: &[&str] = &[
    "section",
    "partners",
    "partner_kind",
    "instrument",
    "signed_on",
    "objectives",
    "expires_on",
    "official_ref",
    "status",
    "ended_on",
];
const REQUIRED: usize = 6;

/// One convention of the CSV.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConventionRow {
    /// the line the row starts on (1 is the header)
    pub line: u64,
    /// the published section
    pub section: Section,
    /// the parties, by name, with their kinds
    pub partners: Vec<(PartnerName, PartnerKind)>,
    /// the instrument
    pub instrument: Instrument,
    /// the signing date
    pub signed_on: PartialDate,
    /// the objectives
    pub objectives: Objectives,
    /// the expiry, if any
    pub expires_on: Option<PartialDate>,
    /// the official reference, if any
    pub official_ref: Option<OfficialRef>,
    /// how and when it ended, if it did (and not just by reaching `expires_on`)
    pub ended: Option<(TerminationKind, PartialDate)>,
}

/// A row that cannot be imported.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct RowError {
    /// its line (1 is the header)
    pub line: u64,
    /// what is wrong
    pub message: String,
}

fn row_error(line: u64, message: impl Into<String>) -> RowError {
    RowError {
        line,
        message: message.into(),
    }
}

/// Line numbers counted from the bytes, forward only. The CSV reader's own
/// count lags by one line after a CRLF terminator (it stops between the CR
/// and the LF), and files made on Windows end their lines so.
struct Lines<'a> {
    input: &'a [u8],
    at: usize,
    line: u64,
}

impl<'a> Lines<'a> {
    fn new(input: &'a [u8]) -> Self {
        Self {
            input,
            at: 0,
            line: 1,
        }
    }

    /// The line of a record the reader says starts at `byte`: terminator
    /// bytes found there end the line before.
    fn of(&mut self, byte: u64) -> u64 {
        let input = self.input;
        let mut start = usize::try_from(byte).map_or(input.len(), |b| b.min(input.len()));
        start += input[start..]
            .iter()
            .take_while(|b| matches!(b, b'\r' | b'\n'))
            .count();
        if start < self.at {
            (self.at, self.line) = (0, 1);
        }
        for i in self.at..start {
            // \n, \r\n and a lone \r each end a line
            let ends = match input[i] {
                b'\n' => true,
                b'\r' => input.get(i + 1) != Some(&b'\n'),
                _ => false,
            };
            self.line += u64::from(ends);
        }
        self.at = start;
        self.line
    }
}

/// The characters that make a spreadsheet read a cell as a formula (OWASP's
/// list), and the quote that marks a neutralised cell.
const FORMULA_STARTS: &[char] = &['=', '+', '-', '@', '\t', '\r', '\''];

/// A cell as written to any CSV: with a `'` in front when it could be read
/// as a formula, or already starts with `'` (see the module comment).
pub fn neutralise_cell(text: &str) -> std::borrow::Cow<'_, str> {
    if text.starts_with(FORMULA_STARTS) {
        std::borrow::Cow::Owned(format!("'{text}"))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// A cell as read by `import`: one leading `'` removed, the inverse of
/// [`neutralise_cell`].
pub fn restore_cell(text: &str) -> &str {
    text.strip_prefix('\'').unwrap_or(text)
}

/// The `partners` cell: names separated by `;`, each `\\` and `;` in a
/// name escaped with a backslash.
pub fn join_names<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for (i, name) in names.into_iter().enumerate() {
        if i > 0 {
            out.push(';');
        }
        for c in name.chars() {
            if matches!(c, '\\' | ';') {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out
}

/// The names of a `partners` cell, the inverse of [`join_names`]: split at
/// each `;` not escaped by a backslash; `\;` and `\\` unescaped; a
/// backslash before anything else kept.
pub fn split_names(cell: &str) -> Vec<String> {
    let mut names = vec![String::new()];
    let mut chars = cell.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if matches!(chars.peek(), Some('\\' | ';')) => {
                if let (Some(next), Some(name)) = (chars.next(), names.last_mut()) {
                    name.push(next);
                }
            }
            ';' => names.push(String::new()),
            c => {
                if let Some(name) = names.last_mut() {
                    name.push(c);
                }
            }
        }
    }
    names
}

/// Parses a conventions CSV. Returns the good rows and every error.
pub fn parse(input: &[u8]) -> (Vec<ConventionRow>, Vec<RowError>) {
    let mut errors = Vec::new();
    let mut rows = Vec::new();
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(input);
    let headers = match reader.byte_headers() {
        Ok(h) => h.clone(),
        Err(e) => return (rows, vec![row_error(1, format!("unreadable header: {e}"))]),
    };
    let mut positions = [usize::MAX; 10];
    for (i, raw) in headers.iter().enumerate() {
        let name = String::from_utf8_lossy(raw);
        let name = name.trim().trim_start_matches('\u{feff}');
        match COLUMNS.iter().position(|c| *c == name) {
            Some(p) if positions[p] == usize::MAX => positions[p] = i,
            Some(_) => errors.push(row_error(1, format!("column '{name}' is given twice"))),
            None => errors.push(row_error(
                1,
                format!("unknown column '{name}' (columns: {})", COLUMNS.join(", ")),
            )),
        }
    }
    let missing: Vec<&str> = COLUMNS[..REQUIRED]
        .iter()
        .zip(&positions)
        .filter(|(_, p)| **p == usize::MAX)
        .map(|(c, _)| *c)
        .collect();
    if !missing.is_empty() {
        errors.push(row_error(
            1,
            format!("missing column(s): {}", missing.join(", ")),
        ));
    }
    if !errors.is_empty() {
        return (rows, errors);
    }
    let mut record = ::csv::ByteRecord::new();
    let mut lines = Lines::new(input);
    loop {
        let before = reader.position().byte();
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = lines.of(record.position().map_or(before, |p| p.byte()));
                match parse_row(line, &record, &positions) {
                    Ok(row) => rows.push(row),
                    Err(e) => errors.push(e),
                }
            }
            Err(e) => {
                let line = lines.of(e.position().map_or(before, |p| p.byte()));
                let fatal = matches!(e.kind(), ::csv::ErrorKind::Io(_));
                errors.push(row_error(line, format!("malformed CSV: {}", describe(&e))));
                if fatal {
                    break;
                }
            }
        }
    }
    // A quoted field left open runs to the end of the file, and the reader
    // takes it as it is: refuse it (quotes otherwise come in pairs).
    if input.iter().filter(|b| **b == b'"').count() % 2 == 1 {
        let line = rows.last().map_or(2, |r| r.line);
        rows.pop();
        errors.push(row_error(
            line,
            "a quoted field is never closed (the file may be cut short)",
        ));
    }
    if rows.is_empty() && errors.is_empty() {
        errors.push(row_error(1, "the file has no row"));
    }
    (rows, errors)
}

fn describe(e: &::csv::Error) -> String {
    match e.kind() {
        ::csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{len} fields where the header has {expected_len}"),
        _ => e.to_string(),
    }
}

fn parse_row(
    line: u64,
    record: &::csv::ByteRecord,
    positions: &[usize; 10],
) -> Result<ConventionRow, RowError> {
    let err = |m: String| row_error(line, m);
    let field = |i: usize| -> Result<Option<&str>, RowError> {
        match positions.get(i).and_then(|p| record.get(*p)) {
            None => Ok(None),
            Some(bytes) => std::str::from_utf8(bytes)
                .map(|s| Some(restore_cell(s.trim()).trim()).filter(|s| !s.is_empty()))
                .map_err(|_| row_error(line, format!("{}: not valid UTF-8", COLUMNS[i]))),
        }
    };
    let required = |i: usize| -> Result<&str, RowError> {
        field(i)?.ok_or_else(|| row_error(line, format!("{} is empty", COLUMNS[i])))
    };
    fn word<T: FromStr>(line: u64, column: &str, text: &str) -> Result<T, RowError>
    where
        T::Err: std::fmt::Display,
    {
        text.parse::<T>()
            .map_err(|e| row_error(line, format!("{column}: {e}")))
    }
    let date = |i: usize, text: &str| -> Result<PartialDate, RowError> {
        text.parse::<PartialDate>().map_err(|e| match e {
            crate::domain::DateError::Shape(_) => row_error(line, format!("{}: {e}", COLUMNS[i])),
            _ => row_error(line, format!("{}: '{text}': {e}", COLUMNS[i])),
        })
    };
    let text_err = |column: &str, e: TextError| err(format!("{column}: {e}"));

    let section: Section = word(line, "section", required(0)?)?;
    let names: Vec<String> = split_names(required(1)?)
        .into_iter()
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .collect();
    if names.is_empty() {
        return Err(err("partners: no name".into()));
    }
    let kinds: Vec<PartnerKind> = required(2)?
        .split(';')
        .map(|k| word(line, "partner_kind", k.trim()))
        .collect::<Result<_, _>>()?;
    let kinds = match kinds.len() {
        1 => vec![kinds[0]; names.len()],
        n if n == names.len() => kinds,
        n => {
            return Err(err(format!(
                "partner_kind: {n} kinds for {} partners (give one, or one per partner)",
                names.len()
            )));
        }
    };
    let mut partners = Vec::with_capacity(names.len());
    for (name, kind) in names.iter().zip(kinds) {
        let name = PartnerName::new(name.as_str()).map_err(|e| text_err("partners", e))?;
        partners.push((name, kind));
    }
    let expected = Section::of(partners[0].1);
    if section != expected {
        return Err(err(format!(
            "section '{section}' does not fit a {} (its section is '{expected}')",
            partners[0].1
        )));
    }
    let instrument: Instrument = word(line, "instrument", required(3)?)?;
    let signed_on = date(4, required(4)?)?;
    let objectives = Objectives::new(required(5)?).map_err(|e| text_err("objectives", e))?;
    let expires_on = field(6)?.map(|t| date(6, t)).transpose()?;
    let official_ref = field(7)?
        .map(OfficialRef::new)
        .transpose()
        .map_err(|e| text_err("official_ref", e))?;
    let status: Option<Status> = field(8)?.map(|s| word(line, "status", s)).transpose()?;
    let ended_on = field(9)?.map(|t| date(9, t)).transpose()?;
    let ended = match (status, ended_on) {
        (None | Some(Status::InForce), None) => None,
        (None | Some(Status::InForce), Some(_)) => {
            return Err(err(
                "ended_on is given but status is not terminated or expired".into(),
            ));
        }
        (Some(Status::Terminated | Status::Expired), None) => {
            return Err(err("status says it ended: give ended_on".into()));
        }
        (Some(Status::Expired), Some(on)) if Some(on) == expires_on => None,
        (Some(Status::Expired), Some(on)) => Some((TerminationKind::Expired, on)),
        (Some(Status::Terminated), Some(on)) => Some((TerminationKind::Terminated, on)),
    };
    if let Some(expiry) = expires_on
        && expiry.latest() < signed_on.earliest()
    {
        return Err(err(format!(
            "expires_on {expiry} is before signed_on {signed_on}"
        )));
    }
    if let Some((_, on)) = ended
        && on.latest() < signed_on.earliest()
    {
        return Err(err(format!(
            "ended_on {on} is before signed_on {signed_on}"
        )));
    }
    Ok(ConventionRow {
        line,
        section,
        partners,
        instrument,
        signed_on,
        objectives,
        expires_on,
        official_ref,
        ended,
    })
}

/// One row for `export`: the values of a view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportRow {
    /// the section (from the first party's kind)
    pub section: Section,
    /// party names and kinds as of the view's date
    pub partners: Vec<(String, PartnerKind)>,
    /// instrument
    pub instrument: Instrument,
    /// signing date
    pub signed_on: PartialDate,
    /// objectives
    pub objectives: String,
    /// expiry
    pub expires_on: Option<PartialDate>,
    /// official reference
    pub official_ref: Option<String>,
    /// status at the view's date
    pub status: Status,
    /// when it ended, if it did
    pub ended_on: Option<PartialDate>,
}

/// Writes rows in the import format.
pub fn write(rows: &[ExportRow], out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let mut w = ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::Any(b'\n'))
        .from_writer(out);
    w.write_record(COLUMNS)?;
    for r in rows {
        let kinds: Vec<PartnerKind> = r.partners.iter().map(|(_, k)| *k).collect();
        let kind_cell = if kinds.windows(2).all(|w| w[0] == w[1]) {
            kinds.first().map(|k| k.to_string()).unwrap_or_default()
        } else {
            kinds
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(";")
        };
        let names = join_names(r.partners.iter().map(|(n, _)| n.as_str()));
        let opt = |d: Option<PartialDate>| d.map(|d| d.to_string()).unwrap_or_default();
        let cells = [
            r.section.as_str(),
            &names,
            &kind_cell,
            r.instrument.as_str(),
            &r.signed_on.to_string(),
            &r.objectives,
            &opt(r.expires_on),
            r.official_ref.as_deref().unwrap_or(""),
            r.status.as_str(),
            &opt(r.ended_on),
        ];
        w.write_record(cells.iter().map(|c| neutralise_cell(c).into_owned()))?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "section,partners,partner_kind,instrument,signed_on,objectives\n";

    fn errors_of(body: &str) -> Vec<(u64, String)> {
        let (_, errors) = parse(format!("{HEADER}{body}").as_bytes());
        errors.into_iter().map(|e| (e.line, e.message)).collect()
    }

    #[test]
    fn a_good_row_parses_with_several_partners() {
        let (rows, errors) = parse(
            format!(
                "{HEADER}regions,Fés- Boulemane;Meknès-Tafilalet.,region,charter,2006,Des projets\n"
            )
            .as_bytes(),
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].partners.len(), 2);
        assert_eq!(rows[0].line, 2);
        assert_eq!(rows[0].instrument, Instrument::Charter);
    }

    #[test]
    fn every_bad_row_is_reported_with_its_line() {
        let errors = errors_of(
            "regions,Agadir,commune,convention,2005,x\n\
             communes,Agadir,commune,convention,2005-13,x\n\
             communes,Agadir,commune,treaty,2005,x\n\
             communes,,commune,convention,2005,x\n\
             communes,Agadir,commune,convention,2005\n\
             communes,Agadir,commune,convention,2005,ok\n",
        );
        let lines: Vec<u64> = errors.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [2, 3, 4, 5, 6], "{errors:?}");
        assert!(errors[0].1.contains("section"));
        assert!(errors[1].1.contains("2005-13"));
        assert!(errors[2].1.contains("treaty"));
        assert!(errors[3].1.contains("partners"));
        assert!(errors[4].1.contains("fields"));
    }

    #[test]
    fn lines_are_counted_whatever_ends_them() {
        let body = "regions,Agadir,commune,convention,2005,x\n\
                    communes,Agadir,commune,convention,2005,\"two\nlines\"\n\
                    communes,Agadir,commune,treaty,2005,x\n\
                    communes,Agadir,commune,convention,2005,ok\n";
        for ending in ["\n", "\r\n", "\r"] {
            let file = format!("{HEADER}{body}").replace('\n', ending);
            let (rows, errors) = parse(file.as_bytes());
            let lines: Vec<u64> = errors.iter().map(|e| e.line).collect();
            assert_eq!(lines, [2, 3, 5], "{ending:?}: {errors:?}");
            assert_eq!(rows.iter().map(|r| r.line).collect::<Vec<_>>(), [6]);
        }
    }

    #[test]
    fn invalid_utf8_is_reported_not_panicked_on() {
        let mut bytes = HEADER.as_bytes().to_vec();
        bytes.extend_from_slice(b"communes,Ag\xffadir,commune,convention,2005,x\n");
        let (rows, errors) = parse(&bytes);
        assert!(rows.is_empty());
        assert_eq!(errors.len(), 1);
        assert!(errors[0].message.contains("UTF-8"), "{errors:?}");
    }

    #[test]
    fn headers_are_checked() {
        let (_, errors) = parse(b"section,partners\ncommunes,Agadir\n");
        assert!(errors[0].message.contains("missing column"), "{errors:?}");
        let (_, errors) = parse(b"");
        assert!(!errors.is_empty());
    }
}
