//! The one error type of the `wire` layer.
//!
//! Every variant names a way a byte sequence from the wire can be wrong, so
//! the stack can map it to a drop reason without looking at the bytes again.

/// Why a buffer could not be viewed or parsed as a protocol unit.
#[derive(thiserror::Error, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The buffer is shorter than the fixed header (or a length it declares).
    #[error("buffer too short for the header")]
    Truncated,
    /// A checksum field does not match the bytes it covers.
    #[error("checksum mismatch")]
    BadChecksum,
    /// An IP version field other than 4.
    #[error("unsupported IP version")]
    BadVersion,
    /// An IPv4 header length below 20 bytes or past the end of the buffer.
    #[error("bad IPv4 header length")]
    BadHeaderLen,
    /// An IPv4 total length below the header length or past the buffer.
    #[error("bad IPv4 total length")]
    BadTotalLen,
    /// A UDP length field below 8 or past the end of the buffer.
    #[error("bad length field")]
    BadLength,
    /// The bytes violate the format (e.g. a bad option walk or address text).
    #[error("malformed field")]
    Malformed,
    /// Well-formed, but a variant this stack does not implement.
    #[error("unsupported protocol variant")]
    Unsupported,
}

/// `Result` with the `wire` [`Error`].
pub type Result<T> = core::result::Result<T, Error>;
