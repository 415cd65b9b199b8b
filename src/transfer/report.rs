//! The published lists: conventions grouped by section, with the French
//! headings and columns of the 2009 page ("Date de signature",
//! "Objectifs"), international partners last, newest first within a
//! section.

use std::fmt::Write;

use super::Section;
use crate::domain::{Instrument, PartialDate};

/// One published row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportRow {
    /// its section
    pub section: Section,
    /// the parties' names
    pub parties: Vec<String>,
    /// the instrument (named after the parties unless a convention)
    pub instrument: Instrument,
    /// the signing date
    pub signed_on: PartialDate,
    /// the objectives
    pub objectives: String,
    /// the convention's creation order (ties keep it)
    pub order: u64,
}

/// The headings of a section: title, optional subtitle, first column.
pub fn headings(section: Section) -> (&'static str, Option<&'static str>, &'static str) {
    match section {
        Section::Ministries => (
            "Partenariat avec les Ministères et les hauts commissariats",
            Some("Liste des conventions signées avec les Ministères et les Hauts Commissariats"),
            "Ministère",
        ),
        Section::Agencies => ("Partenariat avec les agences", None, "Agence"),
        Section::Academic => (
            "Partenariat avec les universités, les instituts de recherche et les associations savantes",
            Some("Liste des conventions signées avec les institut savants"),
            "Organisme",
        ),
        Section::Regions => (
            "Partenariat avec les collectivités (régions)",
            None,
            "Collectivités (Régions)",
        ),
        Section::Communes => ("Partenariat avec les communes", None, "Commune"),
        Section::Ngos => ("Partenariat avec les ONG", None, "Organisme"),
        Section::International => ("Coopération bilatérale", None, "Organisme"),
    }
}

/// The partner cell: names joined in French ("A et B", "A, B et C"), with
/// the instrument after them unless it is a plain convention.
pub fn partner_cell(parties: &[String], instrument: Instrument) -> String {
    let names = match parties {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} et {last}", init.join(", ")),
    };
    match instrument {
        Instrument::Convention => names,
        other => format!("{names} ({})", other.french()),
    }
}

/// Rows grouped by section in publication order, newest first within each.
pub fn grouped(mut rows: Vec<ReportRow>) -> Vec<(Section, Vec<ReportRow>)> {
    rows.sort_by(|a, b| {
        a.section
            .cmp(&b.section)
            .then(b.signed_on.earliest().cmp(&a.signed_on.earliest()))
            .then(a.order.cmp(&b.order))
    });
    let mut out: Vec<(Section, Vec<ReportRow>)> = Vec::new();
    for row in rows {
        match out.last_mut() {
            Some((s, list)) if *s == row.section => list.push(row),
            _ => out.push((row.section, vec![row])),
        }
    }
    out
}

/// Escapes a Markdown table cell.
fn md(cell: &str) -> String {
    markdown_cell(cell)
}

/// A stored text as it may appear in Markdown made for the web: it reads
/// as the same text and can be nothing else. `&`, `<` and `>` become
/// HTML entities (no tag, no autolink `<…>`, no entity of the text's own
/// reaches the page); the punctuation that makes emphasis, code, links and
/// images, strike-through and table cells (`\ ` * _ [ ] ~ |`) is escaped
/// with a backslash, so `[x](javascript:…)` shows as those characters and
/// is no link (a cell never starts a line, so headings and lists cannot
/// form); control and invisible characters are written `\u{XXXX}`;
/// a line feed becomes `<br>`.
pub fn markdown_cell(text: &str) -> String {
    let text = crate::domain::text::escape_for_display(text, true);
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' => out.push_str("<br>"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// The report as Markdown.
pub fn markdown(title: &str, rows: Vec<ReportRow>) -> String {
    let mut out = format!("# {title}\n");
    for (section, rows) in grouped(rows) {
        let (heading, sub, column) = headings(section);
        let _ = write!(out, "\n## {heading}\n\n");
        if let Some(sub) = sub {
            let _ = write!(out, "{sub}\n\n");
        }
        let _ = writeln!(out, "| {column} | Date de signature | Objectifs |");
        out.push_str("| --- | --- | --- |\n");
        for r in rows {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                md(&partner_cell(&r.parties, r.instrument)),
                r.signed_on,
                md(&r.objectives)
            );
        }
    }
    out
}

use crate::domain::text::escape_for_terminal;

/// The report as plain text, tab-separated like the published page
/// (control and invisible characters escaped).
pub fn text(title: &str, rows: Vec<ReportRow>) -> String {
    let mut out = format!("{title}\n");
    for (section, rows) in grouped(rows) {
        let (heading, sub, column) = headings(section);
        let _ = write!(out, "\n{heading}\n\n");
        if let Some(sub) = sub {
            let _ = write!(out, "{sub}\n\n");
        }
        let _ = writeln!(out, "{column}\tDate de signature\tObjectifs");
        for r in rows {
            let _ = writeln!(
                out,
                "{}\t{}\t{}",
                escape_for_terminal(&partner_cell(&r.parties, r.instrument)),
                r.signed_on,
                escape_for_terminal(&r.objectives)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partner_cells_read_as_french() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            partner_cell(&names(&["Agadir"]), Instrument::Convention),
            "Agadir"
        );
        assert_eq!(
            partner_cell(&names(&["Fès", "Meknès"]), Instrument::Charter),
            "Fès et Meknès (Charte de coopération)"
        );
        assert_eq!(
            partner_cell(&names(&["A", "B", "C"]), Instrument::Convention),
            "A, B et C"
        );
    }

    #[test]
    fn sections_follow_publication_order_and_newest_first() {
        let row = |section, year: u32, order| ReportRow {
            section,
            parties: vec!["x".into()],
            instrument: Instrument::Convention,
            signed_on: PartialDate::year(year).unwrap(),
            objectives: "o".into(),
            order,
        };
        let grouped = grouped(vec![
            row(Section::International, 2009, 1),
            row(Section::Regions, 2000, 2),
            row(Section::Regions, 2007, 3),
            row(Section::Ministries, 1999, 4),
        ]);
        let order: Vec<(Section, Vec<u64>)> = grouped
            .into_iter()
            .map(|(s, rows)| (s, rows.iter().map(|r| r.order).collect()))
            .collect();
        assert_eq!(
            order,
            [
                (Section::Ministries, vec![4]),
                (Section::Regions, vec![3, 2]),
                (Section::International, vec![1]),
            ]
        );
    }
}
