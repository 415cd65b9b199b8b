//! The lossless JSON Lines event log: one event per line, every envelope
//! field and the whole payload, so that importing an export into an empty
//! registry reproduces the log exactly (same ids, seqs, times and hashes).
//!
//! In a correction's `patch`, a field that is absent keeps the target's
//! value, `null` clears it, and a value replaces it.

use chrono::{DateTime, SecondsFormat, Utc};
use std::borrow::Cow;
use std::cell::Cell;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
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
//
// A line is read without building a `serde_json::Value`: each object is
// split into its members, each member's value kept as the text it is in
// the line (`RawValue`) and parsed only when asked for, by the type asked
// for. Any refusal is explained as the whole line parsed as a `Value`
// would explain it (`not JSON: …` first), and a line with a member no
// field reads is parsed as a `Value` too, so that what is accepted, and
// every message, is what a `Value` would give.

type R<T> = Result<T, String>;

/// A key or a string value, borrowed from the line unless it holds escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// An object's members in the order written, each value unparsed.
struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(16));
                while let Some((Text(key), value)) = map.next_entry::<Text<'de>, &RawValue>()? {
                    members.push((key, value));
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(V)
    }
}

/// Parses the whole of `text` as a `T` (`None` when it is not one).
fn value_as<'a, T: Deserialize<'a>>(text: &'a str) -> Option<T> {
    serde_json::from_str(text).ok()
}

/// The string `raw` holds, if it is one.
fn text_of(raw: &RawValue) -> Option<Cow<'_, str>> {
    value_as::<Text<'_>>(raw.get()).map(|t| t.0)
}

fn is_null(raw: &RawValue) -> bool {
    raw.get() == "null"
}

/// What a line's objects hold and how much of it the fields read.
#[derive(Default)]
struct Tally {
    members: Cell<usize>,
    read: Cell<usize>,
}

impl Tally {
    /// Every member of every object was read as a field (so every value
    /// in the line was parsed by the type it must have).
    fn all_read(&self) -> bool {
        self.members.get() == self.read.get()
    }
}

struct Obj<'a> {
    members: Vec<(Cow<'a, str>, &'a RawValue)>,
    /// which members were read (bit i for member i; members past 64 are
    /// never counted as read)
    read: Cell<u64>,
    tally: &'a Tally,
    at: &'a str,
}

impl<'a> Obj<'a> {
    fn new(text: &'a str, at: &'a str, tally: &'a Tally) -> R<Self> {
        let object = text
            .trim_start_matches([' ', '\t', '\n', '\r'])
            .starts_with('{');
        let members = object
            .then(|| value_as::<Members<'a>>(text))
            .flatten()
            .ok_or_else(|| format!("{at}: expected an object"))?
            .0;
        tally.members.set(tally.members.get() + members.len());
        Ok(Obj {
            members,
            read: Cell::new(0),
            tally,
            at,
        })
    }

    fn of(&self, raw: &'a RawValue, at: &'a str) -> R<Self> {
        Obj::new(raw.get(), at, self.tally)
    }

    /// The member named `key` (the last one, as in a `Value`), marked read.
    fn find(&self, key: &str) -> Option<&'a RawValue> {
        let i = self.members.iter().rposition(|(k, _)| k == key)?;
        if let Some(bit) = 1u64.checked_shl(u32::try_from(i).ok()?)
            && self.read.get() & bit == 0
        {
            self.read.set(self.read.get() | bit);
            self.tally.read.set(self.tally.read.get() + 1);
        }
        Some(self.members[i].1)
    }

    fn get(&self, key: &str) -> R<&'a RawValue> {
        self.find(key)
            .ok_or_else(|| format!("{}: missing '{key}'", self.at))
    }

    fn has(&self, key: &str) -> bool {
        self.find(key).is_some()
    }

    fn str(&self, key: &str) -> R<Cow<'a, str>> {
        text_of(self.get(key)?).ok_or_else(|| format!("{}.{key}: expected a string", self.at))
    }

    fn opt_str(&self, key: &str) -> R<Option<Cow<'a, str>>> {
        match self.find(key) {
            None => Ok(None),
            Some(raw) if is_null(raw) => Ok(None),
            Some(raw) => text_of(raw)
                .map(Some)
                .ok_or_else(|| format!("{}.{key}: expected a string or null", self.at)),
        }
    }

    fn u64(&self, key: &str) -> R<u64> {
        value_as::<u64>(self.get(key)?.get())
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
        make(self.str(key)?.into_owned()).map_err(|e| format!("{}.{key}: {e}", self.at))
    }

    fn opt_text<T, E: std::fmt::Display>(
        &self,
        key: &str,
        make: impl Fn(String) -> Result<T, E>,
    ) -> R<Option<T>> {
        self.opt_str(key)?
            .map(|v| make(v.into_owned()).map_err(|e| format!("{}.{key}: {e}", self.at)))
            .transpose()
    }

    fn uuid(&self, key: &str) -> R<Uuid> {
        Uuid::parse_str(&self.str(key)?).map_err(|e| format!("{}.{key}: {e}", self.at))
    }

    fn ids(&self, key: &str) -> R<Vec<PartnerId>> {
        value_as::<Vec<&RawValue>>(self.get(key)?.get())
            .ok_or_else(|| format!("{}.{key}: expected a list", self.at))?
            .into_iter()
            .map(|v| {
                text_of(v)
                    .and_then(|t| Uuid::parse_str(&t).ok())
                    .map(PartnerId)
                    .ok_or_else(|| format!("{}.{key}: expected partner ids", self.at))
            })
            .collect()
    }

    fn country(&self, key: &str) -> R<Option<CountryCode>> {
        self.opt_str(key)?
            .map(|c| CountryCode::new(&c).map_err(|e| format!("{}.{key}: {e}", self.at)))
            .transpose()
    }

    fn expiry(&self, key: &str) -> R<Option<ExpiryChange>> {
        let wrong = || {
            format!(
                "{}.{key}: expected null, \"cleared\" or {{\"set\": DATE}}",
                self.at
            )
        };
        match self.find(key) {
            None => Ok(None),
            Some(raw) if is_null(raw) => Ok(None),
            Some(raw) if raw.get().starts_with('{') => {
                let inner = self.of(raw, self.at)?;
                Ok(Some(ExpiryChange::Set(inner.parse("set")?)))
            }
            Some(raw) => match text_of(raw) {
                Some(t) if t == "cleared" => Ok(Some(ExpiryChange::Cleared)),
                _ => Err(wrong()),
            },
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
            let target_type = EventType::parse(&p.str("target_type")?)
                .ok_or_else(|| format!("{}.target_type: unknown event type", p.at))?;
            let q = p.of(p.get("patch")?, "payload.patch")?;
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
    let tally = Tally::default();
    let read = record_of(line, &tally);
    match read {
        Ok(_) if tally.all_read() => read,
        // a member no field read, or a refusal: the line is held to what a
        // `Value` accepts, and a refusal says first that it is not JSON
        _ => match serde_json::from_str::<Value>(line) {
            Err(e) => Err(format!("not JSON: {e}")),
            Ok(_) => read,
        },
    }
}

fn record_of(line: &str, tally: &Tally) -> R<EventRecord> {
    let r = Obj::new(line, "event", tally)?;
    let entity_obj = r.of(r.get("entity")?, "entity")?;
    let entity_id = entity_obj.uuid("id")?;
    let entity = match &*entity_obj.str("kind")? {
        "partner" => EntityId::Partner(PartnerId(entity_id)),
        "convention" => EntityId::Convention(ConventionId(entity_id)),
        other => return Err(format!("entity.kind: unknown kind '{other}'")),
    };
    let kind =
        EventType::parse(&r.str("type")?).ok_or_else(|| "type: unknown event type".to_owned())?;
    let recorded_at = DateTime::parse_from_rfc3339(&r.str("recorded_at")?)
        .map_err(|e| format!("recorded_at: {e}"))?
        .with_timezone(&Utc);
    // The store keeps microseconds: a finer time would not read back as
    // written (found by fuzzing the reader).
    if recorded_at.timestamp_subsec_nanos() % 1_000 != 0 {
        return Err("recorded_at: finer than a microsecond".into());
    }
    let digest = |key: &str| -> R<Digest> {
        Digest::from_hex(&r.str(key)?).ok_or_else(|| format!("{key}: expected 64 hex digits"))
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
        event: event_of(kind, &r.of(r.get("payload")?, "payload")?)?,
    })
}
