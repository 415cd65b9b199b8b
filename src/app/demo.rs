//! The demo registry: the 2009 lists imported as published, the clerk's
//! corrections recorded afterwards, then a few illustrative events dated
//! after 2009 (renames of the 2015 regions, an amendment, a retraction of
//! an amendment filed on the wrong convention, two ends).
//!
//! The illustrative events are examples, not facts from the published
//! lists: their source says so.

use super::{AppError, Registry, WriteMeta, Written};
use crate::domain::decide::Command;
use crate::domain::{
    Actor, AmendmentRef, ConventionAmended, ConventionId, ConventionTerminated, Objectives,
    PartnerName, PartnerRenamed, Reason, Seq, Source, TerminationKind,
};
use crate::transfer::fixtures::{self, CONVENTIONS_CSV, CORRECTIONS_CSV, SOURCE_2009};

/// What the demo recorded, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoSummary {
    /// conventions imported
    pub conventions: usize,
    /// partners imported
    pub partners: usize,
    /// the last seq of the import (the registry "as published")
    pub imported_at: Seq,
    /// corrections recorded
    pub corrections: usize,
    /// the last seq of the corrections
    pub corrected_at: Seq,
    /// illustrative events recorded
    pub examples: usize,
    /// the conventions of the fixture rows, in file order
    pub rows: Vec<ConventionId>,
}

fn meta(actor: &str, source: &str, reason: Option<&str>) -> Result<WriteMeta, AppError> {
    let bad = |e: crate::domain::TextError| AppError::Other(e.to_string());
    Ok(WriteMeta {
        actor: Actor::new(actor).map_err(bad)?,
        reason: reason.map(Reason::new).transpose().map_err(bad)?,
        source: Some(Source::new(source).map_err(bad)?),
        expect_version: None,
    })
}

fn text<T>(r: Result<T, crate::domain::TextError>) -> Result<T, AppError> {
    r.map_err(|e| AppError::Other(e.to_string()))
}

fn date(s: &str) -> Result<crate::domain::PartialDate, AppError> {
    s.parse()
        .map_err(|e: crate::domain::DateError| AppError::Other(e.to_string()))
}

impl Registry {
    /// Builds the demo registry; the registry must be empty.
    pub fn build_demo(&self) -> Result<DemoSummary, AppError> {
        if self.store().head()?.seq != Seq::ZERO {
            return Err(AppError::invalid_with(
                "the demo needs an empty registry",
                "run `pactum demo` without --db (it makes a new folder), or give a new folder",
            ));
        }
        let import = self.import_csv(
            CONVENTIONS_CSV.as_bytes(),
            &meta("pactum demo (import)", SOURCE_2009, None)?,
            false,
        )?;
        let imported_at = self.head_seq()?;
        let corrections =
            fixtures::parse_corrections(CORRECTIONS_CSV.as_bytes()).map_err(|errors| {
                AppError::Other(format!("the embedded corrections do not parse: {errors:?}"))
            })?;
        let corrected = self.apply_corrections(
            &corrections,
            &import.row_conventions,
            &meta(
                "pactum demo (clerk)",
                "fixtures/seed-2009/corrections.csv",
                None,
            )?,
        )?;
        let corrected_at = self.head_seq()?;
        let examples = self.record_examples(&import.row_conventions)?;
        Ok(DemoSummary {
            conventions: import.conventions_created,
            partners: import.partners_created,
            imported_at,
            corrections: corrected.len(),
            corrected_at,
            examples: examples.len(),
            rows: import.row_conventions,
        })
    }

    fn record_examples(&self, rows: &[ConventionId]) -> Result<Vec<Written>, AppError> {
        const EXAMPLE: &str =
            "illustrative example recorded by pactum demo (not from the 2009 list)";
        let row = |n: usize| {
            rows.get(n - 1)
                .copied()
                .ok_or_else(|| AppError::Other(format!("no fixture row {n}")))
        };
        let mut out = Vec::new();
        let plain = meta("pactum demo (clerk)", EXAMPLE, None)?;
        for (old, new) in [
            ("Tanger-Tétouan", "Tanger-Tétouan-Al Hoceïma"),
            ("Rabat-Salé-Zemmour-Zaer", "Rabat-Salé-Kénitra"),
        ] {
            let partner = self.resolve_partner(old)?;
            out.push(self.execute(
                Command::RenamePartner(
                    partner,
                    PartnerRenamed {
                        new_name: text(PartnerName::new(new))?,
                        short_name: None,
                        effective_on: date("2015-09")?,
                    },
                ),
                &meta(
                    "pactum demo (clerk)",
                    EXAMPLE,
                    Some("the regions were redrawn in 2015"),
                )?,
            )?);
        }
        let amendment =
            |objectives: &str, reference: &str, on: &str| -> Result<ConventionAmended, AppError> {
                Ok(ConventionAmended {
                    effective_on: date(on)?,
                    amendment_ref: Some(text(AmendmentRef::new(reference))?),
                    objectives: Some(text(Objectives::new(objectives))?),
                    parties_added: Vec::new(),
                    parties_removed: Vec::new(),
                    expiry: None,
                    instrument: None,
                })
            };
        out.push(self.execute(
            Command::AmendConvention(
                row(36)?,
                amendment(
                    "La migration interne et la mobilité des populations",
                    "Avenant n°1",
                    "2011-06",
                )?,
            ),
            &plain,
        )?);
        // An amendment filed on the wrong commune's convention, then retracted
        // and recorded where it belongs.
        let agenda = "La mise en œuvre et accompagnement du processus Agenda 21, étendue aux quartiers périphériques";
        let wrong = self.execute(
            Command::AmendConvention(row(33)?, amendment(agenda, "Avenant n°1", "2010-03")?),
            &plain,
        )?;
        out.push(self.execute(
            Command::Retract {
                entity: wrong.entity,
                target: wrong.event_id,
            },
            &meta(
                "pactum demo (clerk)",
                EXAMPLE,
                Some("filed on Agadir's convention; it belongs to Meknès's"),
            )?,
        )?);
        out.push(wrong);
        out.push(self.execute(
            Command::AmendConvention(row(34)?, amendment(agenda, "Avenant n°1", "2010-03")?),
            &plain,
        )?);
        out.push(self.execute(
            Command::TerminateConvention(
                row(9)?,
                ConventionTerminated {
                    effective_on: date("2012-06")?,
                    kind: TerminationKind::Terminated,
                },
            ),
            &meta(
                "pactum demo (clerk)",
                EXAMPLE,
                Some("ended by the parties (illustrative)"),
            )?,
        )?);
        out.push(self.execute(
            Command::TerminateConvention(
                row(11)?,
                ConventionTerminated {
                    effective_on: date("2013-12-31")?,
                    kind: TerminationKind::Expired,
                },
            ),
            &meta(
                "pactum demo (clerk)",
                EXAMPLE,
                Some("reached its term (illustrative)"),
            )?,
        )?);
        Ok(out)
    }
}
