//! Byte layouts: zero-copy views over frames and plain `Repr` structs with
//! `parse`/`emit`. No state, no allocation.

pub mod checksum;
pub mod tcp;
