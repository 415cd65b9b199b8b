//! What the templates print: plain values, every link already a relative
//! path inside the site, every text as stored (the templates escape it).
//!
//! **Invariant:** nothing here holds markup; a stored text reaches a page
//! only through a template expression, which escapes it.

/// A link inside the site.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// a relative path (with an optional `#anchor`)
    pub href: String,
    /// the text of the link
    pub text: String,
}

/// What every page shows at its top.
#[derive(Clone, Debug)]
pub struct Frame {
    /// the way back to the site's root from this page: "" or "../"
    pub root: &'static str,
    /// the page's title
    pub title: String,
    /// which entry of the navigation this page is
    pub current: &'static str,
    /// the valid date of the view
    pub view_date: String,
    /// the log position of the view
    pub position: u64,
    /// the head of the log when published
    pub head: u64,
    /// when the event at the view's position was recorded (RFC 3339 UTC)
    pub recorded_at: String,
    /// the same, for reading
    pub recorded_label: String,
}

/// A party of a convention.
#[derive(Clone, Debug)]
pub struct PartyView {
    /// link to the partner's page
    pub link: Link,
    /// its handle
    pub handle: String,
    /// the predecessors it replaced, when it is a party by succession
    pub via: Vec<Link>,
    /// the date of that succession
    pub since: Option<String>,
}

/// One row of the index (and of the 2009 page).
#[derive(Clone, Debug)]
pub struct Row {
    /// the convention's handle
    pub handle: String,
    /// its page
    pub href: String,
    /// its parties
    pub parties: Vec<PartyView>,
    /// the instrument in French, when it is not a plain convention
    pub instrument: Option<String>,
    /// the signing date as given
    pub signed_on: String,
    /// the objectives
    pub objectives: String,
    /// the status in French, with its end date
    pub status: String,
    /// the status word (`in-force`…), for styling
    pub status_word: String,
    /// true when a date that decides the row straddles the view's date
    pub approximate: bool,
    /// folded words for the search box
    pub search: String,
}

/// A section of the index.
#[derive(Clone, Debug)]
pub struct SectionView {
    /// its anchor
    pub id: String,
    /// its heading (as in 2009)
    pub heading: String,
    /// its subtitle, if 2009 had one
    pub subtitle: Option<String>,
    /// its first column's heading (as in 2009)
    pub column: String,
    /// its rows
    pub rows: Vec<Row>,
}

/// A field value in a change.
#[derive(Clone, Debug)]
pub enum ValueView {
    /// absent
    Absent,
    /// a text
    Text(String),
    /// partners
    Parties(Vec<Link>),
}

/// One field's change.
#[derive(Clone, Debug)]
pub struct ChangeView {
    /// the field in French
    pub field: String,
    /// before
    pub before: ValueView,
    /// after
    pub after: ValueView,
}

/// One event of an audit trail.
#[derive(Clone, Debug)]
pub struct EventView {
    /// its seq
    pub seq: u64,
    /// its anchor (`e12`)
    pub anchor: String,
    /// its id
    pub id: String,
    /// its type in French
    pub label: String,
    /// its type word
    pub type_word: String,
    /// when it was recorded (RFC 3339 UTC)
    pub recorded_at: String,
    /// the same, for reading
    pub recorded_label: String,
    /// who recorded it
    pub actor: String,
    /// why
    pub reason: Option<String>,
    /// its source
    pub source: Option<String>,
    /// the date it takes effect
    pub effective_on: Option<String>,
    /// the event it corrects or retracts
    pub target: Option<Link>,
    /// the entry it belongs to (on the log page)
    pub entity: Option<Link>,
    /// the retraction that voids it
    pub voided_by: Option<Link>,
    /// the fields it changed
    pub changes: Vec<ChangeView>,
    /// whether an inclusion proof of it is published
    pub proved: bool,
}

/// One name of a partner over time.
#[derive(Clone, Debug)]
pub struct NameView {
    /// the name
    pub name: String,
    /// its short name
    pub short_name: Option<String>,
    /// from when ("" for its first name)
    pub from: Option<String>,
}

/// A published data file.
#[derive(Clone, Debug)]
pub struct DataFile {
    /// its path in the site
    pub href: String,
    /// what it is
    pub what: String,
    /// its size in bytes
    pub bytes: usize,
    /// its SHA-256, hex
    pub sha256: String,
}

/// The checkpoint, as printed and as checked in the browser.
#[derive(Clone, Debug)]
pub struct CheckpointView {
    /// the signed note, as given
    pub text: String,
    /// its origin
    pub origin: String,
    /// its tree size
    pub size: u64,
    /// its root, base64
    pub root: String,
    /// the verifier key
    pub vkey: String,
}
