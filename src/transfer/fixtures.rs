//! The 2009 lists, embedded so that `pactum demo` works from anywhere, and
//! the formats of the corrections file and of the history file.
//!
//! `fixtures/seed-2009/conventions.csv` holds the 38 published rows exactly
//! as published (typos included); `corrections.csv` the corrections a
//! careful clerk records afterwards, one per row: `target` (a partner's name
//! as it stands when the correction is applied, or `row:N` for the
//! convention of data row N of `conventions.csv`), `field` (a `correct`
//! flag without its dashes), `value` and `reason`. `history.csv` records
//! what happened to the 2009 partners afterwards, one event per row, each
//! with its source: `event` (`partner-registered` or `partner-succeeded`),
//! `partner` (the name registered, or the predecessor's name as it stands
//! after the corrections), `kind` (for a registration), `successors`
//! (names separated by `;`, for a succession), `effective_on`, `reason` and
//! `source` (required on every row).

use super::csv::RowError;
use crate::domain::{PartialDate, PartnerKind};

/// The published lists, as a conventions CSV.
pub const CONVENTIONS_CSV: &str = include_str!("../../fixtures/seed-2009/conventions.csv");
/// The corrections of the published lists.
pub const CORRECTIONS_CSV: &str = include_str!("../../fixtures/seed-2009/corrections.csv");
/// What happened to the 2009 partners afterwards, each event with its source.
pub const HISTORY_CSV: &str = include_str!("../../fixtures/seed-2009/history.csv");
/// Where the published lists come from.
pub const SOURCE_2009: &str = "Direction de l'aménagement du territoire, « Un partenariat multidimensionnel », liste mise à jour en septembre 2009";

/// What a correction row points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// the convention of this data row of `conventions.csv` (from 1)
    Row(usize),
    /// a partner, by name (or any reference `correct` accepts)
    Reference(String),
}

/// One correction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorrectionRow {
    /// its line
    pub line: u64,
    /// what it corrects
    pub target: Target,
    /// which field (`name`, `objectives`, `date`, `country`, …)
    pub field: String,
    /// the new value
    pub value: String,
    /// why
    pub reason: String,
}

/// Parses a corrections file.
pub fn parse_corrections(input: &[u8]) -> Result<Vec<CorrectionRow>, Vec<RowError>> {
    let mut reader = ::csv::ReaderBuilder::new().from_reader(input);
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    match reader.headers() {
        Ok(h) if h.iter().collect::<Vec<_>>() == ["target", "field", "value", "reason"] => {}
        Ok(_) => {
            return Err(vec![RowError {
                line: 1,
                message: "the header must be target,field,value,reason".into(),
            }]);
        }
        Err(e) => {
            return Err(vec![RowError {
                line: 1,
                message: e.to_string(),
            }]);
        }
    }
    for record in reader.records() {
        match record {
            Err(e) => errors.push(RowError {
                line: e.position().map_or(0, |p| p.line()),
                message: e.to_string(),
            }),
            Ok(r) => {
                let line = r.position().map_or(0, |p| p.line());
                let cell = |i: usize| r.get(i).unwrap_or("").trim().to_owned();
                let target = cell(0);
                let target = match target.strip_prefix("row:").map(str::parse::<usize>) {
                    Some(Ok(n)) if n > 0 => Target::Row(n),
                    Some(_) => {
                        errors.push(RowError {
                            line,
                            message: format!("'{target}' is not row:N"),
                        });
                        continue;
                    }
                    None => Target::Reference(target),
                };
                rows.push(CorrectionRow {
                    line,
                    target,
                    field: cell(1),
                    value: cell(2),
                    reason: cell(3),
                });
            }
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

/// One event of the history file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HistoryEvent {
    /// a partner that did not exist in 2009 is registered
    Registered {
        /// its name
        name: String,
        /// its kind
        kind: PartnerKind,
    },
    /// a partner ceased to exist and others took over its conventions
    Succeeded {
        /// the predecessor, by name
        partner: String,
        /// the successors, by name
        successors: Vec<String>,
        /// when
        effective_on: PartialDate,
    },
}

/// One row of the history file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryRow {
    /// its line
    pub line: u64,
    /// the event
    pub event: HistoryEvent,
    /// why
    pub reason: String,
    /// the document or publication it comes from (never empty)
    pub source: String,
}

const HISTORY_HEADER: [&str; 7] = [
    "event",
    "partner",
    "kind",
    "successors",
    "effective_on",
    "reason",
    "source",
];

/// Parses a history file; every row needs a source.
pub fn parse_history(input: &[u8]) -> Result<Vec<HistoryRow>, Vec<RowError>> {
    let mut reader = ::csv::ReaderBuilder::new().from_reader(input);
    match reader.headers() {
        Ok(h) if h.iter().collect::<Vec<_>>() == HISTORY_HEADER => {}
        Ok(_) => {
            return Err(vec![RowError {
                line: 1,
                message: format!("the header must be {}", HISTORY_HEADER.join(",")),
            }]);
        }
        Err(e) => {
            return Err(vec![RowError {
                line: 1,
                message: e.to_string(),
            }]);
        }
    }
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for record in reader.records() {
        let r = match record {
            Ok(r) => r,
            Err(e) => {
                errors.push(RowError {
                    line: e.position().map_or(0, |p| p.line()),
                    message: e.to_string(),
                });
                continue;
            }
        };
        let line = r.position().map_or(0, |p| p.line());
        let cell = |i: usize| r.get(i).unwrap_or("").trim().to_owned();
        let fail = |message: String| RowError { line, message };
        let event = match cell(0).as_str() {
            "partner-registered" => cell(2)
                .parse::<PartnerKind>()
                .map(|kind| HistoryEvent::Registered {
                    name: cell(1),
                    kind,
                })
                .map_err(|e| fail(e.to_string())),
            "partner-succeeded" => cell(4)
                .parse::<PartialDate>()
                .map(|effective_on| HistoryEvent::Succeeded {
                    partner: cell(1),
                    successors: cell(3)
                        .split(';')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect(),
                    effective_on,
                })
                .map_err(|e| fail(format!("effective_on: {e}"))),
            other => Err(fail(format!(
                "unknown event '{other}' (partner-registered or partner-succeeded)"
            ))),
        };
        match event {
            Ok(_) if cell(6).is_empty() => errors.push(fail("every event needs a source".into())),
            Ok(event) => rows.push(HistoryRow {
                line,
                event,
                reason: cell(5),
                source: cell(6),
            }),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_fixtures_parse() {
        let (rows, errors) = super::super::csv::parse(CONVENTIONS_CSV.as_bytes());
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(rows.len(), 38);
        let corrections = parse_corrections(CORRECTIONS_CSV.as_bytes()).unwrap();
        assert!(corrections.iter().any(|c| c.value == "Figuig"));
        assert!(corrections.iter().all(|c| !c.reason.is_empty()));
        let history = parse_history(HISTORY_CSV.as_bytes()).unwrap();
        assert!(
            history
                .iter()
                .all(|h| !h.source.is_empty() && !h.reason.is_empty())
        );
    }

    #[test]
    fn a_history_row_without_a_source_is_refused_with_its_line() {
        let text = "event,partner,kind,successors,effective_on,reason,source\n\
                    partner-registered,Fès-Meknès,region,,,new,\n";
        let errors = parse_history(text.as_bytes()).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, 2);
        assert!(errors[0].message.contains("source"));
    }
}
