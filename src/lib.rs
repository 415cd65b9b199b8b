//! pactum: an event-sourced registry of partnership conventions.
//!
//! Every signing, amendment, termination, rename and correction is an event
//! appended to an embedded sled database; every view (current, as of a date,
//! as recorded on a date, the audit trail) is a fold of those events.
//! Dependencies point one way: `cli → app → {store, projection, transfer} →
//! domain` (`cli` is the command line the `pactum` binary runs), and `app → transparency` (the Merkle tree, checkpoints and
//! proofs, which depends on nothing of pactum). See `docs/architecture.md`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod app;
// In the command line a doc comment is help text (clap reads it): a
// command's variant and a flattened field take theirs from the `Args`
// struct they hold, and a doc comment on them would replace it.
#[allow(missing_docs)]
pub mod cli;
pub mod domain;
pub mod projection;
pub mod site;
pub mod store;
pub mod transfer;
pub mod transparency;
