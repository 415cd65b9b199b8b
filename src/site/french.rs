//! The site's words in French: event types, statuses, partner kinds and
//! field names, each looked up by its canonical spelling, so that a word
//! added later to a vocabulary prints as itself until it is translated
//! here.

/// An event type (`convention-signed`) as a French label.
pub fn event_type(word: &str) -> &str {
    match word {
        "partner-registered" => "Enregistrement du partenaire",
        "partner-renamed" => "Changement de nom",
        "partner-succeeded" => "Succession",
        "convention-signed" => "Signature",
        "convention-amended" => "Avenant",
        "convention-terminated" => "Fin",
        "corrected" => "Correction",
        "retracted" => "Retrait",
        other => other,
    }
}

/// A convention status (`in-force`) in French.
pub fn status(word: &str) -> &str {
    match word {
        "in-force" => "en vigueur",
        "terminated" => "résiliée",
        "expired" => "expirée",
        "active" => "en activité",
        "succeeded" => "remplacé par succession",
        other => other,
    }
}

/// A partner kind (`ministry`) in French.
pub fn kind(word: &str) -> &str {
    match word {
        "ministry" => "ministère",
        "high-commission" => "haut commissariat",
        "agency" => "agence",
        "academic" => "université, institut de recherche ou association savante",
        "region" => "région",
        "commune" => "commune",
        "ngo" => "ONG",
        "foreign-state" => "État étranger",
        "international-organisation" => "organisation internationale",
        other => other,
    }
}

/// An instrument (`memorandum`) in French.
pub fn instrument(word: &str) -> &str {
    match word {
        "convention" => "Convention",
        "memorandum" => "Mémoire d'entente",
        "agreement" => "Accord de partenariat",
        "charter" => "Charte de coopération",
        other => other,
    }
}

/// A field of a view (`signed_on`) in French.
pub fn field(word: &str) -> &str {
    match word {
        "name" => "nom",
        "short_name" => "sigle",
        "kind" => "nature",
        "country" => "pays",
        "instrument" => "instrument",
        "parties" => "parties",
        "signed_on" => "date de signature",
        "objectives" => "objectifs",
        "expires_on" => "échéance",
        "official_ref" => "référence officielle",
        "status" => "statut",
        "successors" => "successeurs",
        other => other,
    }
}

/// A field's value in French where it is a word of a vocabulary.
pub fn value<'a>(field: &str, value: &'a str) -> &'a str {
    match field {
        "status" => status(value),
        "kind" => kind(value),
        "instrument" => instrument(value),
        _ => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{EventType, Instrument, PartnerKind, Status};

    #[test]
    fn every_word_of_the_vocabularies_has_a_french_label() {
        for t in EventType::ALL {
            assert_ne!(event_type(t.as_str()), t.as_str(), "{t:?}");
        }
        for s in Status::ALL {
            assert_ne!(status(s.as_str()), s.as_str(), "{s:?}");
        }
        for k in PartnerKind::ALL {
            if k.as_str() != "commune" {
                assert_ne!(kind(k.as_str()), k.as_str(), "{k:?}");
            }
        }
        for i in Instrument::ALL {
            assert_eq!(instrument(i.as_str()), i.french());
        }
    }
}
