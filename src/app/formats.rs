//! The written forms the command line prints besides its tables: the
//! published lists (text and Markdown, with their French headings) and the
//! escaping of a cell for CSV and Markdown. They are made in the transfer
//! layer; the application layer offers them so that the command line has
//! one door.

pub use crate::transfer::Section;
pub use crate::transfer::csv::neutralise_cell;
pub use crate::transfer::report::{
    ReportRow, grouped, headings, markdown, markdown_cell, partner_cell, text,
};
