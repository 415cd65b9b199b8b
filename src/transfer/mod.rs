//! Exchange formats: the conventions CSV, the JSON Lines event log, the
//! published report, and the 2009 fixtures.
//!
//! **Invariant:** this layer only converts between bytes and domain values;
//! it does not open the store or decide anything (the application layer
//! does, with what this layer parses).

pub mod csv;
pub mod fixtures;
pub mod jsonl;
pub mod leaf;
pub mod report;

use std::fmt;
use std::str::FromStr;

use crate::domain::PartnerKind;

/// A section of the published lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Section {
    /// ministries and high commissions
    Ministries,
    /// agencies
    Agencies,
    /// universities, research institutes, learned societies
    Academic,
    /// regions
    Regions,
    /// communes
    Communes,
    /// non-governmental organisations
    Ngos,
    /// foreign states and international organisations (published last)
    International,
}

impl Section {
    /// Every section, in publication order.
    pub const ALL: [Section; 7] = [
        Section::Ministries,
        Section::Agencies,
        Section::Academic,
        Section::Regions,
        Section::Communes,
        Section::Ngos,
        Section::International,
    ];

    /// The section a partner kind is published in.
    pub fn of(kind: PartnerKind) -> Section {
        match kind {
            PartnerKind::Ministry | PartnerKind::HighCommission => Section::Ministries,
            PartnerKind::Agency => Section::Agencies,
            PartnerKind::Academic => Section::Academic,
            PartnerKind::Region => Section::Regions,
            PartnerKind::Commune => Section::Communes,
            PartnerKind::Ngo => Section::Ngos,
            PartnerKind::ForeignState | PartnerKind::InternationalOrganisation => {
                Section::International
            }
        }
    }

    /// The word used in the CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            Section::Ministries => "ministries",
            Section::Agencies => "agencies",
            Section::Academic => "academic",
            Section::Regions => "regions",
            Section::Communes => "communes",
            Section::Ngos => "ngos",
            Section::International => "international",
        }
    }
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Section {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Section::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| {
                format!(
                    "unknown section '{text}' (accepted: {})",
                    Section::ALL.map(|s| s.as_str()).join(", ")
                )
            })
    }
}
