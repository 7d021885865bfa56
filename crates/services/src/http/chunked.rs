//! Chunked transfer coding decoder (RFC 9112 7.1), incremental and bounded.

/// Longest chunk-size line (size, extensions) or trailer section we read.
const MAX_LINE: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Reading hex digits of a chunk size.
    Size {
        digits: usize,
    },
    /// After the size: extensions up to the end of line.
    Ext {
        len: usize,
    },
    Data(u64),
    /// The CRLF after chunk data.
    DataEnd {
        cr: bool,
    },
    /// Trailer field lines after the last chunk; `line` bytes on this line.
    Trailer {
        line: usize,
        total: usize,
    },
    Done,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkError {
    Malformed,
    TooLarge,
}

#[derive(Clone, Debug)]
pub struct Decoder {
    state: State,
    size: u64,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder {
            state: State::Size { digits: 0 },
            size: 0,
        }
    }
}

impl Decoder {
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decode from `input`, appending data to `body` (never past `max_body`).
    /// Returns the bytes consumed; stops right after the message ends.
    pub fn decode(
        &mut self,
        input: &[u8],
        body: &mut Vec<u8>,
        max_body: usize,
    ) -> Result<usize, ChunkError> {
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            match self.state {
                State::Done => break,
                State::Size { digits } => {
                    //= https://www.rfc-editor.org/rfc/rfc9112#section-7.1
                    //# chunk-size     = 1*HEXDIG
                    if let Some(d) = (b as char).to_digit(16) {
                        self.size = self
                            .size
                            .checked_mul(16)
                            .and_then(|s| s.checked_add(u64::from(d)))
                            .ok_or(ChunkError::TooLarge)?;
                        if self.size > max_body as u64 {
                            return Err(ChunkError::TooLarge);
                        }
                        self.state = State::Size { digits: digits + 1 };
                    } else if digits == 0 {
                        return Err(ChunkError::Malformed);
                    } else {
                        self.state = State::Ext { len: 0 };
                        continue; // re-read b as part of the extension/EOL
                    }
                }
                State::Ext { len } => {
                    if b == b'\n' {
                        if body.len() as u64 + self.size > max_body as u64 {
                            return Err(ChunkError::TooLarge);
                        }
                        self.state = if self.size == 0 {
                            State::Trailer { line: 0, total: 0 }
                        } else {
                            State::Data(self.size)
                        };
                        self.size = 0;
                    } else if len >= MAX_LINE || (b != b'\r' && b != b'\t' && b < 0x20) {
                        return Err(ChunkError::Malformed);
                    } else {
                        // chunk-ext is ignored (RFC 9112 7.1.1: MUST ignore
                        // unrecognized chunk extensions).
                        self.state = State::Ext { len: len + 1 };
                    }
                }
                State::Data(left) => {
                    let n = (input.len() - i).min(usize::try_from(left).unwrap_or(usize::MAX));
                    body.extend_from_slice(&input[i..i + n]);
                    i += n;
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        State::DataEnd { cr: false }
                    } else {
                        State::Data(left)
                    };
                    continue;
                }
                State::DataEnd { cr } => match b {
                    b'\r' if !cr => self.state = State::DataEnd { cr: true },
                    b'\n' => self.state = State::Size { digits: 0 },
                    _ => return Err(ChunkError::Malformed),
                },
                State::Trailer { line, total } => {
                    if total >= MAX_LINE {
                        return Err(ChunkError::Malformed);
                    }
                    self.state = match b {
                        b'\n' if line == 0 => State::Done,
                        b'\n' => State::Trailer {
                            line: 0,
                            total: total + 1,
                        },
                        // A CR alone does not start a trailer line.
                        b'\r' => State::Trailer {
                            line,
                            total: total + 1,
                        },
                        _ => State::Trailer {
                            line: line + 1,
                            total: total + 1,
                        },
                    };
                }
            }
            i += 1;
        }
        Ok(i)
    }
}
