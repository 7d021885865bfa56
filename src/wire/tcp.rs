//! TCP segment layout and options. Being written.
