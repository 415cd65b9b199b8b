//! The demo registry: the 2009 lists imported as published, the clerk's
//! corrections recorded afterwards, then what happened to the 2009
//! partners since (the 2015 regional reform, the merger of the Rabat
//! universities, the water and forests agency), each event with its
//! source, from `fixtures/seed-2009/history.csv`. Nothing in it is
//! invented.

use super::{AppError, Registry, WriteMeta, Written};
use crate::domain::decide::Command;
use crate::domain::{
    Actor, ConventionId, PartnerId, PartnerName, PartnerRegistered, PartnerSucceeded, Reason, Seq,
    Source,
};
use crate::transfer::fixtures::{
    self, CONVENTIONS_CSV, CORRECTIONS_CSV, HISTORY_CSV, HistoryEvent, HistoryRow, SOURCE_2009,
};

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
    /// events of the history file recorded
    pub history: usize,
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

impl Registry {
    /// Builds the demo registry; the registry must be empty.
    pub fn build_demo(&self) -> Result<DemoSummary, AppError> {
        if self.store().head()?.seq != Seq::ZERO {
            return Err(AppError::invalid_with(
                "the demo needs an empty registry",
                super::Advice::DemoInNewFolder,
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
        let history = fixtures::parse_history(HISTORY_CSV.as_bytes()).map_err(|errors| {
            AppError::Other(format!("the embedded history does not parse: {errors:?}"))
        })?;
        let history = self.apply_history(&history, "pactum demo (history)")?;
        Ok(DemoSummary {
            conventions: import.conventions_created,
            partners: import.partners_created,
            imported_at,
            corrections: corrected.len(),
            corrected_at,
            history: history.len(),
            rows: import.row_conventions,
        })
    }

    /// Records the history file: what happened to the 2009 partners
    /// afterwards, each event with its source, through the command path
    /// (so decide checks every succession), in one batch.
    pub fn apply_history(
        &self,
        rows: &[HistoryRow],
        actor: &str,
    ) -> Result<Vec<Written>, AppError> {
        let mut written = Vec::new();
        for row in rows {
            let fail = |m: String| AppError::invalid(format!("history line {}: {m}", row.line));
            let meta =
                meta(actor, &row.source, Some(&row.reason)).map_err(|e| fail(e.to_string()))?;
            let command = match &row.event {
                HistoryEvent::Registered { name, kind } => Command::RegisterPartner(
                    PartnerId(self.new_id()),
                    PartnerRegistered {
                        name: PartnerName::new(name.as_str()).map_err(|e| fail(e.to_string()))?,
                        kind: *kind,
                        short_name: None,
                        country: None,
                    },
                ),
                HistoryEvent::Succeeded {
                    partner,
                    successors,
                    effective_on,
                } => {
                    let resolve = |name: &str| {
                        self.resolve_partner(name)
                            .map_err(|e| fail(format!("'{name}': {e}")))
                    };
                    Command::SucceedPartner(
                        resolve(partner)?,
                        PartnerSucceeded {
                            successors: successors
                                .iter()
                                .map(|q| resolve(q))
                                .collect::<Result<_, _>>()?,
                            effective_on: *effective_on,
                        },
                    )
                }
            };
            written.push(
                self.execute(command, &meta)
                    .map_err(|e| fail(e.to_string()))?,
            );
        }
        Ok(written)
    }
}
