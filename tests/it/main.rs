//! The integration tests: one binary, one module per area.

mod audit;
mod cli;
mod compact;
mod decide;
mod exchange;
mod fold;
mod golden;
mod hardening;
mod property;
mod reliability;
mod site;
mod succession;
mod support;
mod transparency;
mod upgrade;
mod ux;
