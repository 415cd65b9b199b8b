//! Audit and integrity (filled in with the audit work).
