//! Protocol state, sans-IO: frames and `now` in, frames out.

pub mod drop_reason;
pub mod tcp;

pub use drop_reason::{DropCounters, DropReason};
