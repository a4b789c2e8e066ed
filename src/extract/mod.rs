//! Email parsing and indicator extraction (pure: no I/O, no database).
