//! Applications running inside the workers on the stack's API.

pub mod dns;
