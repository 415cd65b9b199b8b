//! Identifiers: entity and event ids, handles, log positions and digests.
//!
//! Every id is a newtype over a UUID (v7, made outside the domain and passed
//! in), so a partner id can never be handed where a convention id is meant.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

macro_rules! uuid_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub Uuid);

        impl $name {
            /// The 16 bytes of the UUID.
            pub fn as_bytes(&self) -> &[u8; 16] {
                self.0.as_bytes()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }
    };
}

uuid_newtype!(
    /// A partner (an institution the directorate signs with).
    PartnerId
);
uuid_newtype!(
    /// A convention (a signed instrument).
    ConventionId
);
uuid_newtype!(
    /// One event of the log.
    EventId
);

/// What kind of entity a stream belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntityKind {
    /// A partner; handles `P1`, `P2`, …
    Partner,
    /// A convention; handles `C1`, `C2`, …
    Convention,
}

impl EntityKind {
    /// The letter that starts this kind's handles.
    pub fn letter(self) -> char {
        match self {
            EntityKind::Partner => 'P',
            EntityKind::Convention => 'C',
        }
    }

    /// The word used in messages.
    pub fn noun(self) -> &'static str {
        match self {
            EntityKind::Partner => "partner",
            EntityKind::Convention => "convention",
        }
    }
}

/// The entity a stream of events belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntityId {
    /// A partner's stream.
    Partner(PartnerId),
    /// A convention's stream.
    Convention(ConventionId),
}

impl EntityId {
    /// The entity's UUID, whatever its kind.
    pub fn uuid(&self) -> Uuid {
        match self {
            EntityId::Partner(p) => p.0,
            EntityId::Convention(c) => c.0,
        }
    }

    /// The entity's kind.
    pub fn kind(&self) -> EntityKind {
        match self {
            EntityId::Partner(_) => EntityKind::Partner,
            EntityId::Convention(_) => EntityKind::Convention,
        }
    }

    /// Builds an id of the given kind.
    pub fn new(kind: EntityKind, uuid: Uuid) -> Self {
        match kind {
            EntityKind::Partner => EntityId::Partner(PartnerId(uuid)),
            EntityKind::Convention => EntityId::Convention(ConventionId(uuid)),
        }
    }
}

impl fmt::Display for EntityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.uuid().hyphenated().fmt(f)
    }
}

impl From<PartnerId> for EntityId {
    fn from(id: PartnerId) -> Self {
        EntityId::Partner(id)
    }
}

impl From<ConventionId> for EntityId {
    fn from(id: ConventionId) -> Self {
        EntityId::Convention(id)
    }
}

/// A short, human handle such as `C12` or `P7`: assigned at creation in log
/// order, never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Handle {
    /// partner or convention
    pub kind: EntityKind,
    /// 1 for the first entity of its kind
    pub number: u64,
}

impl fmt::Display for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.kind.letter(), self.number)
    }
}

impl FromStr for Handle {
    type Err = ();

    /// `C12`, `c12`, `P7`; the number has no sign and no leading zero.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut chars = text.chars();
        let kind = match chars.next().map(|c| c.to_ascii_uppercase()) {
            Some('C') => EntityKind::Convention,
            Some('P') => EntityKind::Partner,
            _ => return Err(()),
        };
        let digits = chars.as_str();
        if digits.is_empty()
            || digits.starts_with('0')
            || !digits.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(());
        }
        let number = digits.parse().map_err(|_| ())?;
        Ok(Handle { kind, number })
    }
}

/// The last handle number given to each kind of entity: the source of the
/// next handle, which counts one more of its kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HandleCounters {
    partners: u64,
    conventions: u64,
}

impl HandleCounters {
    /// The counters once `partners` partners and `conventions` conventions
    /// have their handles (the highest number of each kind).
    pub fn new(partners: u64, conventions: u64) -> Self {
        HandleCounters {
            partners,
            conventions,
        }
    }

    /// The handle of the next entity of this kind, now counted; `None` if
    /// the numbers of this kind are exhausted (a counter read from damaged
    /// bytes).
    pub fn next(&mut self, kind: EntityKind) -> Option<Handle> {
        let counter = match kind {
            EntityKind::Partner => &mut self.partners,
            EntityKind::Convention => &mut self.conventions,
        };
        *counter = counter.checked_add(1)?;
        Some(Handle {
            kind,
            number: *counter,
        })
    }
}

/// A position in the log: 1 for the first event, gapless.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Seq(pub u64);

impl Seq {
    /// The position before the first event: an empty log.
    pub const ZERO: Seq = Seq(0);
    /// A position after every event: "the whole log".
    pub const MAX: Seq = Seq(u64::MAX);

    /// The next position, if there is one.
    pub fn next(self) -> Option<Seq> {
        self.0.checked_add(1).map(Seq)
    }
}

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A 32-byte digest of the hash chain.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// The digest that precedes the first event.
    pub const GENESIS: Digest = Digest([0; 32]);

    /// Lower-case hexadecimal.
    pub fn to_hex(&self) -> String {
        self.hex().to_string()
    }

    /// Lower-case hexadecimal, on the stack: blake3's encoder, two digits a
    /// byte and no formatter call per byte (this runs for every leaf of the
    /// transparency log).
    pub fn hex(&self) -> impl std::ops::Deref<Target = str> {
        blake3::Hash::from_bytes(self.0).to_hex()
    }

    /// Parses 64 hexadecimal digits.
    pub fn from_hex(text: &str) -> Option<Digest> {
        if text.len() != 64 || !text.is_ascii() {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Digest(out))
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.to_hex())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_parse_and_print() {
        let h: Handle = "c12".parse().unwrap();
        assert_eq!(h.to_string(), "C12");
        assert_eq!("P7".parse::<Handle>().unwrap().kind, EntityKind::Partner);
        for bad in [
            "",
            "C",
            "X1",
            "C01",
            "C-1",
            "C1a",
            "P99999999999999999999999",
        ] {
            assert!(bad.parse::<Handle>().is_err(), "{bad}");
        }
    }

    #[test]
    fn each_kind_of_handle_is_counted_on_its_own() {
        let mut counters = HandleCounters::new(3, 7);
        let next = |c: &mut HandleCounters, kind| c.next(kind).map(|h| h.to_string());
        assert_eq!(
            next(&mut counters, EntityKind::Partner).as_deref(),
            Some("P4")
        );
        assert_eq!(
            next(&mut counters, EntityKind::Convention).as_deref(),
            Some("C8")
        );
        assert_eq!(
            next(&mut counters, EntityKind::Partner).as_deref(),
            Some("P5")
        );
        assert_eq!(
            next(&mut counters, EntityKind::Convention).as_deref(),
            Some("C9")
        );
    }

    #[test]
    fn an_exhausted_handle_counter_gives_no_handle() {
        let mut counters = HandleCounters::new(u64::MAX, 0);
        assert_eq!(counters.next(EntityKind::Partner), None);
        assert_eq!(
            counters.next(EntityKind::Convention).map(|h| h.number),
            Some(1)
        );
    }

    #[test]
    fn digests_round_trip_through_hex() {
        let d = Digest([0xab; 32]);
        assert_eq!(Digest::from_hex(&d.to_hex()), Some(d));
        assert_eq!(Digest::from_hex("zz"), None);
        assert_eq!(Digest::from_hex(&"é".repeat(32)), None);
    }
}
