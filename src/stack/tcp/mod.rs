//! TCP. Being written.
