//! pactum: an event-sourced registry of partnership conventions.
//!
//! Every signing, amendment, termination, rename and correction is an event
//! appended to an embedded sled database; every view (current, as of a date,
//! as recorded on a date, the audit trail) is a fold of those events.
//! Dependencies point one way: `cli → app → {store, projection, transfer} →
//! domain`, and `app → transparency` (the Merkle tree, checkpoints and
//! proofs, which depends on nothing of pactum). See `docs/architecture.md`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod app;
pub mod domain;
pub mod projection;
pub mod site;
pub mod store;
pub mod transfer;
pub mod transparency;
