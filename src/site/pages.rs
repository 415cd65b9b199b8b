//! The site's pages as askama templates (`src/site/templates/`). askama
//! escapes every `{{ … }}` of an `.html` template for HTML, attributes
//! included; no template here marks a value `safe`, so every stored text
//! (names, objectives, reasons, sources, actors) is printed escaped.

use askama::Template;

use super::model::{
    CheckpointView, DataFile, EventView, Frame, Link, NameView, PartyView, Row, SectionView,
    ValueView,
};

/// The index: the conventions by section, as the 2009 page.
#[derive(Template)]
#[template(path = "index.html")]
pub struct IndexPage<'a> {
    /// the page's top
    pub frame: &'a Frame,
    /// the sections
    pub sections: &'a [SectionView],
    /// how many conventions
    pub total: usize,
}

/// One convention.
#[derive(Template)]
#[template(path = "convention.html")]
pub struct ConventionPage<'a> {
    /// the page's top
    pub frame: &'a Frame,
    /// its handle
    pub handle: String,
    /// the page's heading
    pub heading: String,
    /// whether it exists at the view
    pub exists: bool,
    /// its instrument in French
    pub instrument: String,
    /// its parties
    pub parties: Vec<PartyView>,
    /// its signing date
    pub signed_on: String,
    /// its objectives
    pub objectives: String,
    /// its status in French
    pub status: String,
    /// its status word
    pub status_word: String,
    /// whether the view is approximate
    pub approximate: bool,
    /// its expiry
    pub expires_on: Option<String>,
    /// its official reference
    pub official_ref: Option<String>,
    /// its version
    pub version: u64,
    /// its id
    pub id: String,
    /// its audit trail
    pub events: Vec<EventView>,
    /// the checkpoint, when published
    pub checkpoint: Option<&'a CheckpointView>,
    /// its events' proofs as JSON
    pub proofs_json: String,
    /// the proofs file
    pub proofs_href: String,
}

/// A partner in the list of partners.
#[derive(Clone, Debug)]
pub struct PartnerRow {
    /// link to its page
    pub link: Link,
    /// its handle
    pub handle: String,
    /// its kind in French
    pub kind: String,
    /// how many conventions it is a party of at the view
    pub conventions: usize,
}

/// The list of partners.
#[derive(Template)]
#[template(path = "partners.html")]
pub struct PartnersPage<'a> {
    /// the page's top
    pub frame: &'a Frame,
    /// the partners
    pub partners: Vec<PartnerRow>,
}

/// One partner.
#[derive(Template)]
#[template(path = "partner.html")]
pub struct PartnerPage<'a> {
    /// the page's top
    pub frame: &'a Frame,
    /// its handle
    pub handle: String,
    /// its id
    pub id: String,
    /// its name at the view
    pub name: String,
    /// its short name
    pub short_name: Option<String>,
    /// its kind in French
    pub kind: String,
    /// its country
    pub country: Option<String>,
    /// its status in French, when the registry gives one
    pub status: Option<String>,
    /// the partners it took over from
    pub predecessors: Vec<Link>,
    /// the partners that took over from it
    pub successors: Vec<Link>,
    /// its names over time
    pub names: Vec<NameView>,
    /// its conventions at the view
    pub conventions: Vec<Row>,
    /// the first column's heading of its conventions
    pub column: &'static str,
    /// its audit trail
    pub events: Vec<EventView>,
    /// the checkpoint, when published
    pub checkpoint: Option<&'a CheckpointView>,
    /// its events' proofs as JSON
    pub proofs_json: String,
    /// the proofs file
    pub proofs_href: String,
}

/// A row of 2009 beside the same convention today.
#[derive(Clone, Debug)]
pub struct Pair {
    /// as recorded at the import
    pub then: Row,
    /// its partner cell then
    pub then_parties: String,
    /// today, if it is in today's view
    pub now: Option<Row>,
    /// its partner cell today
    pub now_parties: String,
    /// nothing printed differs
    pub unchanged: bool,
}

/// A section of the 2009 list.
#[derive(Clone, Debug)]
pub struct Section2009 {
    /// its heading
    pub heading: String,
    /// its subtitle
    pub subtitle: Option<String>,
    /// its first column
    pub column: String,
    /// its rows
    pub pairs: Vec<Pair>,
}

/// The 2009 list beside today's.
#[derive(Template)]
#[template(path = "list2009.html")]
pub struct List2009Page<'a> {
    /// the page's top
    pub frame: &'a Frame,
    /// the last seq of the import, when the registry holds it
    pub imported_at: Option<u64>,
    /// the sections as published
    pub sections: Vec<Section2009>,
    /// conventions in today's view that were not in the 2009 list
    pub added: Vec<Row>,
}

/// The global log.
#[derive(Template)]
#[template(path = "journal.html")]
pub struct JournalPage<'a> {
    /// the page's top
    pub frame: &'a Frame,
    /// every event
    pub events: Vec<EventView>,
}

/// The data files and the checkpoint.
#[derive(Template)]
#[template(path = "data.html")]
pub struct DataPage<'a> {
    /// the page's top
    pub frame: &'a Frame,
    /// the data files
    pub files: Vec<DataFile>,
    /// the checkpoint
    pub checkpoint: Option<&'a CheckpointView>,
}
