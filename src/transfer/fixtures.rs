//! The 2009 lists, embedded so that `pactum demo` works from anywhere, and
//! the format of the corrections file.
//!
//! `fixtures/seed-2009/conventions.csv` holds the 38 published rows exactly
//! as published (typos included); `corrections.csv` the corrections a
//! careful clerk records afterwards, one per row: `target` (a partner's name
//! as it stands when the correction is applied, or `row:N` for the
//! convention of data row N of `conventions.csv`), `field` (a `correct`
//! flag without its dashes), `value` and `reason`.

use super::csv::RowError;

/// The published lists, as a conventions CSV.
pub const CONVENTIONS_CSV: &str = include_str!("../../fixtures/seed-2009/conventions.csv");
/// The corrections of the published lists.
pub const CORRECTIONS_CSV: &str = include_str!("../../fixtures/seed-2009/corrections.csv");
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
    }
}
