//! The lossless JSON Lines event log: one event per line, every envelope
//! field and the whole payload, so that importing an export into an empty
//! registry reproduces the log exactly (same ids, seqs, times and hashes).
//!
//! In a correction's `patch`, a field that is absent keeps the target's
//! value, `null` clears it, and a value replaces it.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::domain::{
    Actor, AmendmentRef, ConventionAmended, ConventionAmendedPatch, ConventionId, ConventionSigned,
    ConventionSignedPatch, ConventionTerminated, ConventionTerminatedPatch, Corrected, CountryCode,
    Digest, EntityId, Event, EventId, EventRecord, EventType, ExpiryChange, Instrument, Objectives,
    OfficialRef, PartialDate, PartnerId, PartnerKind, PartnerName, PartnerRegistered,
    PartnerRegisteredPatch, PartnerRenamed, PartnerRenamedPatch, PartnerSucceeded,
    PartnerSucceededPatch, Patch, Reason, Retracted, Seq, ShortName, Source, TerminationKind,
};

fn s(v: impl ToString) -> Value {
    Value::String(v.to_string())
}

fn o(v: Option<impl ToString>) -> Value {
    v.map_or(Value::Null, s)
}

fn ids(v: &[PartnerId]) -> Value {
    Value::Array(v.iter().map(s).collect())
}

fn expiry(e: ExpiryChange) -> Value {
    match e {
        ExpiryChange::Set(d) => json!({"set": d.to_string()}),
        ExpiryChange::Cleared => s("cleared"),
    }
}

/// Inserts `key` when the patch sets it (`null` when it clears it).
fn put<T>(map: &mut Map<String, Value>, key: &str, v: &Option<T>, f: impl Fn(&T) -> Value) {
    if let Some(v) = v {
        map.insert(key.into(), f(v));
    }
}

fn opt_value<T>(v: &Option<T>, f: impl Fn(&T) -> Value) -> Value {
    v.as_ref().map_or(Value::Null, f)
}

fn payload(event: &Event) -> Value {
    match event {
        Event::PartnerRegistered(e) => json!({
            "name": e.name.as_str(), "kind": e.kind.as_str(),
            "short_name": o(e.short_name.as_ref()), "country": o(e.country),
        }),
        Event::PartnerRenamed(e) => json!({
            "new_name": e.new_name.as_str(), "short_name": o(e.short_name.as_ref()),
            "effective_on": s(e.effective_on),
        }),
        Event::PartnerSucceeded(e) => json!({
            "successors": ids(&e.successors), "effective_on": s(e.effective_on),
        }),
        Event::ConventionSigned(e) => json!({
            "instrument": e.instrument.as_str(), "parties": ids(&e.parties),
            "signed_on": s(e.signed_on), "objectives": e.objectives.as_str(),
            "expires_on": o(e.expires_on), "official_ref": o(e.official_ref.as_ref()),
        }),
        Event::ConventionAmended(e) => json!({
            "effective_on": s(e.effective_on), "amendment_ref": o(e.amendment_ref.as_ref()),
            "objectives": o(e.objectives.as_ref()), "parties_added": ids(&e.parties_added),
            "parties_removed": ids(&e.parties_removed),
            "expiry": opt_value(&e.expiry, |x| expiry(*x)),
            "instrument": o(e.instrument),
        }),
        Event::ConventionTerminated(e) => json!({
            "effective_on": s(e.effective_on), "kind": e.kind.as_str(),
        }),
        Event::Corrected(c) => {
            let mut m = Map::new();
            match &c.patch {
                Patch::PartnerRegistered(p) => {
                    put(&mut m, "name", &p.name, |v| s(v));
                    put(&mut m, "kind", &p.kind, |v| s(v));
                    put(&mut m, "short_name", &p.short_name, |v| o(v.as_ref()));
                    put(&mut m, "country", &p.country, |v| o(*v));
                }
                Patch::PartnerRenamed(p) => {
                    put(&mut m, "new_name", &p.new_name, |v| s(v));
                    put(&mut m, "short_name", &p.short_name, |v| o(v.as_ref()));
                    put(&mut m, "effective_on", &p.effective_on, |v| s(v));
                }
                Patch::ConventionSigned(p) => {
                    put(&mut m, "instrument", &p.instrument, |v| s(v));
                    put(&mut m, "parties", &p.parties, |v| ids(v));
                    put(&mut m, "signed_on", &p.signed_on, |v| s(v));
                    put(&mut m, "objectives", &p.objectives, |v| s(v));
                    put(&mut m, "expires_on", &p.expires_on, |v| o(*v));
                    put(&mut m, "official_ref", &p.official_ref, |v| o(v.as_ref()));
                }
                Patch::ConventionAmended(p) => {
                    put(&mut m, "effective_on", &p.effective_on, |v| s(v));
                    put(&mut m, "amendment_ref", &p.amendment_ref, |v| o(v.as_ref()));
                    put(&mut m, "objectives", &p.objectives, |v| o(v.as_ref()));
                    put(&mut m, "parties_added", &p.parties_added, |v| ids(v));
                    put(&mut m, "parties_removed", &p.parties_removed, |v| ids(v));
                    put(&mut m, "expiry", &p.expiry, |v| {
                        opt_value(v, |x| expiry(*x))
                    });
                    put(&mut m, "instrument", &p.instrument, |v| o(*v));
                }
                Patch::ConventionTerminated(p) => {
                    put(&mut m, "effective_on", &p.effective_on, |v| s(v));
                    put(&mut m, "kind", &p.kind, |v| s(v));
                }
                Patch::PartnerSucceeded(p) => {
                    put(&mut m, "successors", &p.successors, |v| ids(v));
                    put(&mut m, "effective_on", &p.effective_on, |v| s(v));
                }
            }
            json!({
                "target": s(c.target),
                "target_type": c.patch.target_type().as_str(),
                "patch": Value::Object(m),
            })
        }
        Event::Retracted(r) => json!({"target": s(r.target)}),
    }
}

/// One line of the export.
pub fn to_line(r: &EventRecord) -> String {
    to_value(r).to_string()
}

/// One line of the export as a JSON value (what [`to_line`] prints, and
/// what the transparency log canonicalises into a leaf).
pub fn to_value(r: &EventRecord) -> Value {
    let entity = match r.entity {
        EntityId::Partner(p) => json!({"kind": "partner", "id": s(p)}),
        EntityId::Convention(c) => json!({"kind": "convention", "id": s(c)}),
    };
    json!({
        "seq": r.seq.0,
        "id": s(r.id),
        "entity": entity,
        "version": r.version,
        "recorded_at": r.recorded_at.to_rfc3339_opts(SecondsFormat::Micros, true),
        "actor": r.actor.as_str(),
        "reason": o(r.reason.as_ref()),
        "source": o(r.source.as_ref()),
        "prev_hash": r.prev_hash.to_hex(),
        "hash": r.hash.to_hex(),
        "type": r.event.event_type().as_str(),
        "payload": payload(&r.event),
    })
}

// -------------------------------------------------------------- reading

type R<T> = Result<T, String>;

struct Obj<'a> {
    map: &'a Map<String, Value>,
    at: &'a str,
}

impl<'a> Obj<'a> {
    fn of(v: &'a Value, at: &'a str) -> R<Self> {
        v.as_object()
            .map(|map| Obj { map, at })
            .ok_or_else(|| format!("{at}: expected an object"))
    }

    fn get(&self, key: &str) -> R<&'a Value> {
        self.map
            .get(key)
            .ok_or_else(|| format!("{}: missing '{key}'", self.at))
    }

    fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    fn str(&self, key: &str) -> R<&'a str> {
        self.get(key)?
            .as_str()
            .ok_or_else(|| format!("{}.{key}: expected a string", self.at))
    }

    fn opt_str(&self, key: &str) -> R<Option<&'a str>> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(v)) => Ok(Some(v)),
            Some(_) => Err(format!("{}.{key}: expected a string or null", self.at)),
        }
    }

    fn u64(&self, key: &str) -> R<u64> {
        self.get(key)?
            .as_u64()
            .ok_or_else(|| format!("{}.{key}: expected a whole number", self.at))
    }

    fn parse<T: std::str::FromStr>(&self, key: &str) -> R<T>
    where
        T::Err: std::fmt::Display,
    {
        self.str(key)?
            .parse()
            .map_err(|e| format!("{}.{key}: {e}", self.at))
    }

    fn opt_parse<T: std::str::FromStr>(&self, key: &str) -> R<Option<T>>
    where
        T::Err: std::fmt::Display,
    {
        self.opt_str(key)?
            .map(|v| v.parse().map_err(|e| format!("{}.{key}: {e}", self.at)))
            .transpose()
    }

    fn text<T, E: std::fmt::Display>(
        &self,
        key: &str,
        make: impl Fn(String) -> Result<T, E>,
    ) -> R<T> {
        make(self.str(key)?.to_owned()).map_err(|e| format!("{}.{key}: {e}", self.at))
    }

    fn opt_text<T, E: std::fmt::Display>(
        &self,
        key: &str,
        make: impl Fn(String) -> Result<T, E>,
    ) -> R<Option<T>> {
        self.opt_str(key)?
            .map(|v| make(v.to_owned()).map_err(|e| format!("{}.{key}: {e}", self.at)))
            .transpose()
    }

    fn uuid(&self, key: &str) -> R<Uuid> {
        Uuid::parse_str(self.str(key)?).map_err(|e| format!("{}.{key}: {e}", self.at))
    }

    fn ids(&self, key: &str) -> R<Vec<PartnerId>> {
        self.get(key)?
            .as_array()
            .ok_or_else(|| format!("{}.{key}: expected a list", self.at))?
            .iter()
            .map(|v| {
                v.as_str()
                    .and_then(|t| Uuid::parse_str(t).ok())
                    .map(PartnerId)
                    .ok_or_else(|| format!("{}.{key}: expected partner ids", self.at))
            })
            .collect()
    }

    fn country(&self, key: &str) -> R<Option<CountryCode>> {
        self.opt_str(key)?
            .map(|c| CountryCode::new(c).map_err(|e| format!("{}.{key}: {e}", self.at)))
            .transpose()
    }

    fn expiry(&self, key: &str) -> R<Option<ExpiryChange>> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(t)) if t == "cleared" => Ok(Some(ExpiryChange::Cleared)),
            Some(v @ Value::Object(_)) => {
                let inner = Obj::of(v, self.at)?;
                Ok(Some(ExpiryChange::Set(inner.parse("set")?)))
            }
            Some(_) => Err(format!(
                "{}.{key}: expected null, \"cleared\" or {{\"set\": DATE}}",
                self.at
            )),
        }
    }
}

/// `Some(x)` when the patch object has `key` (null clears), else `None`.
fn patch_opt<T>(
    p: &Obj<'_>,
    key: &str,
    read: impl Fn(&Obj<'_>, &str) -> R<Option<T>>,
) -> R<Option<Option<T>>> {
    if p.has(key) {
        read(p, key).map(Some)
    } else {
        Ok(None)
    }
}

fn patch_req<T>(p: &Obj<'_>, key: &str, read: impl Fn(&Obj<'_>, &str) -> R<T>) -> R<Option<T>> {
    if p.has(key) {
        read(p, key).map(Some)
    } else {
        Ok(None)
    }
}

fn event_of(kind: EventType, p: &Obj<'_>) -> R<Event> {
    Ok(match kind {
        EventType::PartnerRegistered => Event::PartnerRegistered(PartnerRegistered {
            name: p.text("name", PartnerName::new)?,
            kind: p.parse::<PartnerKind>("kind")?,
            short_name: p.opt_text("short_name", ShortName::new)?,
            country: p.country("country")?,
        }),
        EventType::PartnerRenamed => Event::PartnerRenamed(PartnerRenamed {
            new_name: p.text("new_name", PartnerName::new)?,
            short_name: p.opt_text("short_name", ShortName::new)?,
            effective_on: p.parse("effective_on")?,
        }),
        EventType::PartnerSucceeded => Event::PartnerSucceeded(PartnerSucceeded {
            successors: p.ids("successors")?,
            effective_on: p.parse("effective_on")?,
        }),
        EventType::ConventionSigned => Event::ConventionSigned(ConventionSigned {
            instrument: p.parse::<Instrument>("instrument")?,
            parties: p.ids("parties")?,
            signed_on: p.parse("signed_on")?,
            objectives: p.text("objectives", Objectives::new)?,
            expires_on: p.opt_parse::<PartialDate>("expires_on")?,
            official_ref: p.opt_text("official_ref", OfficialRef::new)?,
        }),
        EventType::ConventionAmended => Event::ConventionAmended(ConventionAmended {
            effective_on: p.parse("effective_on")?,
            amendment_ref: p.opt_text("amendment_ref", AmendmentRef::new)?,
            objectives: p.opt_text("objectives", Objectives::new)?,
            parties_added: p.ids("parties_added")?,
            parties_removed: p.ids("parties_removed")?,
            expiry: p.expiry("expiry")?,
            instrument: p.opt_parse::<Instrument>("instrument")?,
        }),
        EventType::ConventionTerminated => Event::ConventionTerminated(ConventionTerminated {
            effective_on: p.parse("effective_on")?,
            kind: p.parse::<TerminationKind>("kind")?,
        }),
        EventType::Corrected => {
            let target = EventId(p.uuid("target")?);
            let target_type = EventType::parse(p.str("target_type")?)
                .ok_or_else(|| format!("{}.target_type: unknown event type", p.at))?;
            let q = Obj::of(p.get("patch")?, "payload.patch")?;
            let patch = match target_type {
                EventType::PartnerRegistered => Patch::PartnerRegistered(PartnerRegisteredPatch {
                    name: patch_req(&q, "name", |q, k| q.text(k, PartnerName::new))?,
                    kind: patch_req(&q, "kind", |q, k| q.parse::<PartnerKind>(k))?,
                    short_name: patch_opt(&q, "short_name", |q, k| q.opt_text(k, ShortName::new))?,
                    country: patch_opt(&q, "country", |q, k| q.country(k))?,
                }),
                EventType::PartnerRenamed => Patch::PartnerRenamed(PartnerRenamedPatch {
                    new_name: patch_req(&q, "new_name", |q, k| q.text(k, PartnerName::new))?,
                    short_name: patch_opt(&q, "short_name", |q, k| q.opt_text(k, ShortName::new))?,
                    effective_on: patch_req(&q, "effective_on", |q, k| q.parse(k))?,
                }),
                EventType::ConventionSigned => Patch::ConventionSigned(ConventionSignedPatch {
                    instrument: patch_req(&q, "instrument", |q, k| q.parse::<Instrument>(k))?,
                    parties: patch_req(&q, "parties", |q, k| q.ids(k))?,
                    signed_on: patch_req(&q, "signed_on", |q, k| q.parse(k))?,
                    objectives: patch_req(&q, "objectives", |q, k| q.text(k, Objectives::new))?,
                    expires_on: patch_opt(&q, "expires_on", |q, k| q.opt_parse::<PartialDate>(k))?,
                    official_ref: patch_opt(&q, "official_ref", |q, k| {
                        q.opt_text(k, OfficialRef::new)
                    })?,
                }),
                EventType::ConventionAmended => Patch::ConventionAmended(ConventionAmendedPatch {
                    effective_on: patch_req(&q, "effective_on", |q, k| q.parse(k))?,
                    amendment_ref: patch_opt(&q, "amendment_ref", |q, k| {
                        q.opt_text(k, AmendmentRef::new)
                    })?,
                    objectives: patch_opt(&q, "objectives", |q, k| q.opt_text(k, Objectives::new))?,
                    parties_added: patch_req(&q, "parties_added", |q, k| q.ids(k))?,
                    parties_removed: patch_req(&q, "parties_removed", |q, k| q.ids(k))?,
                    expiry: patch_opt(&q, "expiry", |q, k| q.expiry(k))?,
                    instrument: patch_opt(&q, "instrument", |q, k| q.opt_parse::<Instrument>(k))?,
                }),
                EventType::ConventionTerminated => {
                    Patch::ConventionTerminated(ConventionTerminatedPatch {
                        effective_on: patch_req(&q, "effective_on", |q, k| q.parse(k))?,
                        kind: patch_req(&q, "kind", |q, k| q.parse::<TerminationKind>(k))?,
                    })
                }
                EventType::PartnerSucceeded => Patch::PartnerSucceeded(PartnerSucceededPatch {
                    successors: patch_req(&q, "successors", |q, k| q.ids(k))?,
                    effective_on: patch_req(&q, "effective_on", |q, k| q.parse(k))?,
                }),
                EventType::Corrected | EventType::Retracted => {
                    return Err(format!("{} cannot be corrected", target_type.in_words()));
                }
            };
            Event::Corrected(Corrected { target, patch })
        }
        EventType::Retracted => Event::Retracted(Retracted {
            target: EventId(p.uuid("target")?),
        }),
    })
}

/// Reads one line of an export. The hashes are taken as written; the
/// importer checks them.
pub fn from_line(line: &str) -> R<EventRecord> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let r = Obj::of(&value, "event")?;
    let entity_obj = Obj::of(r.get("entity")?, "entity")?;
    let entity_id = entity_obj.uuid("id")?;
    let entity = match entity_obj.str("kind")? {
        "partner" => EntityId::Partner(PartnerId(entity_id)),
        "convention" => EntityId::Convention(ConventionId(entity_id)),
        other => return Err(format!("entity.kind: unknown kind '{other}'")),
    };
    let kind =
        EventType::parse(r.str("type")?).ok_or_else(|| "type: unknown event type".to_owned())?;
    let recorded_at = DateTime::parse_from_rfc3339(r.str("recorded_at")?)
        .map_err(|e| format!("recorded_at: {e}"))?
        .with_timezone(&Utc);
    // The store keeps microseconds: a finer time would not read back as
    // written (found by fuzzing the reader).
    if recorded_at.timestamp_subsec_nanos() % 1_000 != 0 {
        return Err("recorded_at: finer than a microsecond".into());
    }
    let digest = |key: &str| -> R<Digest> {
        Digest::from_hex(r.str(key)?).ok_or_else(|| format!("{key}: expected 64 hex digits"))
    };
    Ok(EventRecord {
        seq: Seq(r.u64("seq")?),
        id: EventId(r.uuid("id")?),
        entity,
        version: r.u64("version")?,
        recorded_at,
        actor: r.text("actor", Actor::new)?,
        reason: r.opt_text("reason", Reason::new)?,
        source: r.opt_text("source", Source::new)?,
        prev_hash: digest("prev_hash")?,
        hash: digest("hash")?,
        event: event_of(kind, &Obj::of(r.get("payload")?, "payload")?)?,
    })
}
