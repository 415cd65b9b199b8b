//! Resolution: turning what the user typed (handles, UUIDs, prefixes,
//! partner names, dates, `#N`) into domain values before anything runs.
//!
//! An entity is named by its handle (`C12`, `P7`), its UUID, a unique UUID
//! prefix of 8 or more hex digits, or, for partners, a name. Names are
//! compared folded (case, accents, spaces and punctuation ignored): an exact
//! match on a current name wins, then an exact match on a former name, then
//! a unique current name that contains the text.

use chrono::{DateTime, NaiveTime, Utc};
use uuid::Uuid;

use super::read::Point;
use super::{Advice, AppError, Registry};
use crate::domain::decide::Refusal;
use crate::domain::{
    ConventionId, EntityId, EntityKind, EventId, EventRecord, Handle, PartialDate, PartnerId, Seq,
    end_of_time, fold_key,
};

/// The accepted date forms, for hints.
pub const DATE_FORMS: &str =
    "dates are YYYY, YYYY-MM or YYYY-MM-DD (for example 2009, 2009-06 or 2009-06-30)";
/// The accepted record-time forms, for hints.
pub const WHEN_FORMS: &str = "give an RFC 3339 timestamp (2024-05-01T12:00:00Z), a date (2024-05-01, meaning the end of that day, UTC) or a log position (#42)";

/// Parses a date given to `flag`.
pub fn parse_date(flag: &str, text: &str) -> Result<PartialDate, AppError> {
    read_date(text)
        .map_err(|detail| AppError::invalid_with(format!("{flag}: {detail}"), DATE_FORMS))
}

/// Parses a date as typed, or says what is wrong with it (the accepted
/// forms are [`DATE_FORMS`]).
pub fn read_date(text: &str) -> Result<PartialDate, String> {
    text.trim().parse().map_err(|e| match e {
        crate::domain::DateError::Shape(_) => e.to_string(),
        _ => format!("'{}': {e}", text.trim()),
    })
}

/// The most hex digits a prefix needs to be considered one.
const MIN_PREFIX: usize = 8;

/// A UUID, or a lower-case hex prefix of one, as typed.
enum IdText {
    Full(Uuid),
    Prefix(String),
}

fn id_text(text: &str) -> Option<IdText> {
    if let Ok(u) = Uuid::parse_str(text) {
        return Some(IdText::Full(u));
    }
    let hex: String = text.chars().filter(|c| *c != '-').collect();
    if hex.len() >= MIN_PREFIX && hex.len() < 32 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Some(IdText::Prefix(hex.to_ascii_lowercase()));
    }
    None
}

impl Registry {
    /// `C12 'objectives…'` or `P7 'Agadir'`: how messages name an entity.
    pub fn label(&self, entity: EntityId) -> String {
        let Ok(Some((handle, timeline))) = self.store().timeline(entity) else {
            return entity.to_string();
        };
        let name = match timeline {
            crate::domain::AnyTimeline::Partner(t) => t
                .state_at(end_of_time())
                .map(|s| s.name.to_string())
                .or_else(|| t.base.map(|b| b.payload.name.to_string())),
            crate::domain::AnyTimeline::Convention(_) => None,
        };
        match name {
            Some(name) => format!("{handle} '{name}'"),
            None => handle.to_string(),
        }
    }

    /// Resolves any entity reference (a partner name included).
    pub fn resolve_entity(&self, text: &str) -> Result<EntityId, AppError> {
        self.resolve(text, None)
    }

    /// Resolves a partner reference.
    pub fn resolve_partner(&self, text: &str) -> Result<PartnerId, AppError> {
        match self.resolve(text, Some(EntityKind::Partner))? {
            EntityId::Partner(p) => Ok(p),
            other => Err(self.wrong_kind(text, other, EntityKind::Partner)),
        }
    }

    /// Resolves a convention reference.
    pub fn resolve_convention(&self, text: &str) -> Result<ConventionId, AppError> {
        match self.resolve(text, Some(EntityKind::Convention))? {
            EntityId::Convention(c) => Ok(c),
            other => Err(self.wrong_kind(text, other, EntityKind::Convention)),
        }
    }

    fn wrong_kind(&self, text: &str, found: EntityId, expected: EntityKind) -> AppError {
        AppError::Refused {
            refusal: Refusal::WrongKind {
                given: {
                    // "P1 'Agadir'", or "agadir (P1 'Agadir')" when named otherwise
                    let (text, label) = (text.trim(), self.label(found));
                    if label == text || label.starts_with(&format!("{text} ")) {
                        label
                    } else {
                        format!("{text} ({label})")
                    }
                },
                actual: found.kind().noun(),
                expected: expected.noun(),
            },
            hint: Some(match expected {
                EntityKind::Convention => Advice::NameConventions.into(),
                EntityKind::Partner => Advice::NamePartners.into(),
            }),
        }
    }

    fn resolve(&self, text: &str, want: Option<EntityKind>) -> Result<EntityId, AppError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(AppError::invalid("an empty reference names nothing"));
        }
        if let Ok(handle) = text.parse::<Handle>() {
            return self.store().by_handle(handle)?.ok_or_else(|| {
                let count = self.store().count(handle.kind).unwrap_or(0);
                AppError::NotFound {
                    message: format!("no {} {handle}", handle.kind.noun()),
                    hint: Some(if count == 0 {
                        format!("the registry has no {} yet", handle.kind.noun()).into()
                    } else {
                        format!(
                            "{} handles run from {}1 to {}{count}",
                            handle.kind.noun(),
                            handle.kind.letter(),
                            handle.kind.letter()
                        )
                        .into()
                    }),
                }
            });
        }
        match id_text(text) {
            Some(IdText::Full(uuid)) => {
                return match self.store().entity(uuid)? {
                    Some((entity, _)) => Ok(entity),
                    None => Err(AppError::NotFound {
                        message: format!("no partner or convention has the id {uuid}"),
                        hint: None,
                    }),
                };
            }
            Some(IdText::Prefix(prefix)) => {
                let found = self.store().entities_with_prefix(&prefix, 10)?;
                match found.as_slice() {
                    [one] => {
                        if let Some((entity, _)) = self.store().entity(*one)? {
                            return Ok(entity);
                        }
                    }
                    [] => {}
                    many => {
                        let mut candidates = Vec::new();
                        for u in many {
                            if let Some((e, _)) = self.store().entity(*u)? {
                                candidates.push(self.label(e));
                            }
                        }
                        return Err(AppError::Ambiguous {
                            message: format!("the id prefix {text} is ambiguous"),
                            candidates,
                        });
                    }
                }
            }
            None => {}
        }
        if want == Some(EntityKind::Convention) {
            return Err(AppError::NotFound {
                message: format!("no convention '{text}'"),
                hint: Some(
                    "name a convention by its handle (C12), its id or an 8+ digit id prefix".into(),
                ),
            });
        }
        self.resolve_partner_name(text).map(EntityId::Partner)
    }

    fn resolve_partner_name(&self, text: &str) -> Result<PartnerId, AppError> {
        let key = fold_key(text);
        if key.is_empty() {
            return Err(AppError::invalid(format!(
                "'{text}' is not a reference: it has no letter or digit"
            )));
        }
        let exact = self.store().names(Some(&key))?;
        let pick = |current: bool| -> Vec<PartnerId> {
            let mut ids: Vec<PartnerId> = exact
                .iter()
                .filter(|e| e.current == current)
                .map(|e| e.partner)
                .collect();
            ids.dedup();
            ids
        };
        let mut matches = pick(true);
        if matches.is_empty() {
            matches = pick(false);
        }
        let all = if matches.is_empty() {
            let all = self.store().names(None)?;
            matches = all
                .iter()
                .filter(|e| e.current && e.key.contains(&key))
                .map(|e| e.partner)
                .collect();
            matches.sort();
            matches.dedup();
            all
        } else {
            Vec::new()
        };
        match matches.as_slice() {
            [one] => Ok(*one),
            [] => {
                let mut scored: Vec<(f64, PartnerId)> = all
                    .iter()
                    .filter(|e| e.current)
                    .map(|e| (strsim::jaro_winkler(&e.key, &key), e.partner))
                    .filter(|(score, _)| *score > 0.75)
                    .collect();
                scored.sort_by(|a, b| b.0.total_cmp(&a.0));
                let close: Vec<String> = scored
                    .iter()
                    .take(3)
                    .map(|(_, p)| self.label((*p).into()))
                    .collect();
                Err(AppError::NotFound {
                    message: format!("no partner named '{text}'"),
                    hint: Some(if close.is_empty() {
                        Advice::ListPartners.into()
                    } else {
                        format!("did you mean {}?", close.join(" or ")).into()
                    }),
                })
            }
            many => Err(AppError::Ambiguous {
                message: format!("the partner name '{text}' is ambiguous"),
                candidates: many.iter().map(|p| self.label((*p).into())).collect(),
            }),
        }
    }

    /// Resolves an event reference: `#N`, a UUID, or an 8+ hex digit prefix.
    pub fn resolve_event(&self, text: &str) -> Result<EventRecord, AppError> {
        let text = text.trim();
        let not_found = |what: String| AppError::NotFound {
            message: format!("no event {what}"),
            hint: Some(Advice::ListEvents.into()),
        };
        if let Some(n) = text.strip_prefix('#') {
            let seq: u64 = n.parse().map_err(|_| {
                AppError::invalid(format!("'{text}' is not a log position: expected #N"))
            })?;
            return self
                .store()
                .event(Seq(seq))?
                .ok_or_else(|| not_found(text.into()));
        }
        let found = match id_text(text) {
            Some(IdText::Full(u)) => self.store().find_event(EventId(u))?.into_iter().collect(),
            Some(IdText::Prefix(prefix)) => self.store().find_events_by_prefix(&prefix, 10)?,
            None => {
                return Err(AppError::invalid_with(
                    format!("'{text}' is not an event reference"),
                    "name an event by its id, an 8+ digit id prefix, or its log position (#42)",
                ));
            }
        };
        match found.as_slice() {
            [] => Err(not_found(text.into())),
            [one] => Ok(one.clone()),
            many => Err(AppError::Ambiguous {
                message: format!("the event id prefix {text} is ambiguous"),
                candidates: many
                    .iter()
                    .map(|r| format!("#{} {}", r.seq, r.id))
                    .collect(),
            }),
        }
    }

    /// The log position a record-time reference names.
    pub fn resolve_when(&self, text: &str) -> Result<Seq, AppError> {
        let text = text.trim();
        let head = self.store().head()?.seq;
        if let Some(n) = text.strip_prefix('#') {
            let seq: u64 = n.parse().map_err(|_| {
                AppError::invalid_with(format!("'{text}' is not a log position"), WHEN_FORMS)
            })?;
            if seq > head.0 {
                return Err(AppError::invalid_with(
                    format!("#{seq} is past the end of the log"),
                    format!("the log ends at #{}", head.0),
                ));
            }
            return Ok(Seq(seq));
        }
        if let Ok(ts) = DateTime::parse_from_rfc3339(text) {
            return Ok(self.store().seq_at(ts.with_timezone(&Utc))?);
        }
        if let Ok(date) = text.parse::<PartialDate>() {
            let end = date.latest().and_time(NaiveTime::MIN).and_utc() + chrono::Duration::days(1)
                - chrono::Duration::microseconds(1);
            return Ok(self.store().seq_at(end)?);
        }
        Err(AppError::invalid_with(
            format!("'{text}' is not a point in record time"),
            WHEN_FORMS,
        ))
    }

    /// The point of view of a read: valid date (a partial date means its
    /// last day; default today) and log position (default the head).
    pub fn point(
        &self,
        as_of: Option<PartialDate>,
        recorded_as_of: Option<&str>,
    ) -> Result<Point, AppError> {
        let head = self.store().head()?.seq;
        let valid = as_of.map(|d| d.latest());
        let recorded = match recorded_as_of {
            Some(text) => self.resolve_when(text)?,
            None => head,
        };
        Ok(Point {
            valid: valid.unwrap_or_else(|| self.clock().today()),
            valid_given: valid.is_some(),
            recorded,
            head,
        })
    }
}
