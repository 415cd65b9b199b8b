//! The closed vocabularies of the registry: partner kinds, instruments,
//! the ways a convention ends, a convention's status and a partner's.
//!
//! Each is an enum with one canonical kebab-case spelling, used on the
//! command line, in JSON and in CSV. The stored form does not use these
//! names: the codec maps each variant to its own fixed number.

use std::fmt;
use std::str::FromStr;

/// Declares an enum of words: its variants, their spelling, `ALL`, `as_str`,
/// `Display` and `FromStr` (which names the accepted words on failure).
macro_rules! vocabulary {
    ($(#[$doc:meta])* $name:ident, $what:literal { $($(#[$vdoc:meta])* $variant:ident => $word:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The canonical spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownWord;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str().eq_ignore_ascii_case(text.trim()))
                    .ok_or_else(|| UnknownWord {
                        what: $what,
                        given: text.to_owned(),
                        accepted: $name::ALL.iter().map(|v| v.as_str()).collect(),
                    })
            }
        }
    };
}

/// A word that is not in a vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} '{given}' (accepted: {})", accepted.join(", "))]
pub struct UnknownWord {
    /// which vocabulary
    pub what: &'static str,
    /// the word given
    pub given: String,
    /// the words accepted
    pub accepted: Vec<&'static str>,
}

vocabulary!(
    /// What kind of institution a partner is.
    PartnerKind, "partner kind" {
        /// a ministry or secretariat of state
        Ministry => "ministry",
        /// a high commission (haut commissariat)
        HighCommission => "high-commission",
        /// a public agency
        Agency => "agency",
        /// a university, research institute or learned society
        Academic => "academic",
        /// a region
        Region => "region",
        /// a commune
        Commune => "commune",
        /// a non-governmental organisation
        Ngo => "ngo",
        /// a foreign state
        ForeignState => "foreign-state",
        /// an international organisation
        InternationalOrganisation => "international-organisation",
    }
);

vocabulary!(
    /// The kind of signed instrument.
    Instrument, "instrument" {
        /// convention
        Convention => "convention",
        /// mémoire d'entente
        Memorandum => "memorandum",
        /// accord de partenariat
        Agreement => "agreement",
        /// charte de coopération
        Charter => "charter",
    }
);

vocabulary!(
    /// How a convention ended.
    TerminationKind, "termination kind" {
        /// ended by the parties
        Terminated => "terminated",
        /// reached its term
        Expired => "expired",
    }
);

vocabulary!(
    /// A convention's status at a valid date.
    Status, "status" {
        /// signed and not ended
        InForce => "in-force",
        /// ended by a termination
        Terminated => "terminated",
        /// reached its expiry date, or ended as expired
        Expired => "expired",
    }
);

vocabulary!(
    /// A partner's status at a valid date.
    PartnerStatus, "partner status" {
        /// it exists and signs in its own name
        Active => "active",
        /// it ceased to exist; its successors took over its conventions
        Succeeded => "succeeded",
    }
);

impl From<TerminationKind> for Status {
    fn from(kind: TerminationKind) -> Self {
        match kind {
            TerminationKind::Terminated => Status::Terminated,
            TerminationKind::Expired => Status::Expired,
        }
    }
}

impl Instrument {
    /// The French name used in the published lists.
    pub fn french(self) -> &'static str {
        match self {
            Instrument::Convention => "Convention",
            Instrument::Memorandum => "Mémoire d'entente",
            Instrument::Agreement => "Accord de partenariat",
            Instrument::Charter => "Charte de coopération",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_round_trips() {
        for k in PartnerKind::ALL {
            assert_eq!(k.as_str().parse::<PartnerKind>(), Ok(*k));
        }
        for i in Instrument::ALL {
            assert_eq!(i.as_str().parse::<Instrument>(), Ok(*i));
        }
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>(), Ok(*s));
        }
    }

    #[test]
    fn unknown_words_list_the_accepted_ones() {
        let err = "town".parse::<PartnerKind>().unwrap_err();
        assert!(err.to_string().contains("commune"), "{err}");
        assert_eq!("Region".parse::<PartnerKind>(), Ok(PartnerKind::Region));
    }
}
