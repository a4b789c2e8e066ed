//! STIX 2.1 as pure data: identifiers, timestamps, objects, patterns, markings and validation.
//! This module does no I/O (schemas are embedded at compile time).

pub mod id;
pub mod marking;
pub mod objects;
pub mod pattern;
pub mod schema;
pub mod timestamp;
