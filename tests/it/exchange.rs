//! Import, export, report (filled in with the exchange work).
