//! TCP segment layout (RFC 9293 section 3.1) and options (RFC 9293 3.2,
//! RFC 7323, RFC 2018).
//!
//! `TcpPacket` is a zero-copy view validated once by `new_checked`; after
//! that no accessor can panic. `TcpRepr` is the parsed, checksum-verified,
//! flag-validated form the state machine sees.

use std::fmt;
use std::net::Ipv4Addr;
use std::ops::{Add, AddAssign, Sub};

use crate::wire::checksum;

/// Why a byte sequence is not an acceptable TCP segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TcpError {
    #[error("segment shorter than the 20-byte TCP header")]
    Truncated,
    #[error("data offset below 5 words or past the end of the segment")]
    BadHeaderLen,
    #[error("checksum does not verify")]
    BadChecksum,
    #[error("invalid flag combination")]
    BadFlags,
    #[error("segment too long for the 16-bit pseudo-header length")]
    TooLong,
}

/// A TCP sequence number: arithmetic modulo 2^32, compared per RFC 9293 3.4.
//= https://www.rfc-editor.org/rfc/rfc9293#section-3.4.1
//# all arithmetic dealing with sequence numbers must be performed modulo 2^32
///
/// The ordering is only meaningful for numbers less than 2^31 apart, which
/// the window rules guarantee for any two numbers the stack compares.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SeqNumber(pub u32);

impl SeqNumber {
    /// Signed distance `self - other`, valid within 2^31.
    pub fn diff(self, other: SeqNumber) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }

    pub fn max(self, other: SeqNumber) -> SeqNumber {
        if self > other {
            self
        } else {
            other
        }
    }

    pub fn min(self, other: SeqNumber) -> SeqNumber {
        if self < other {
            self
        } else {
            other
        }
    }
}

impl fmt::Debug for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl PartialOrd for SeqNumber {
    fn partial_cmp(&self, other: &SeqNumber) -> Option<std::cmp::Ordering> {
        Some(self.diff(*other).cmp(&0))
    }
}

impl Add<u32> for SeqNumber {
    type Output = SeqNumber;
    fn add(self, rhs: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_add(rhs))
    }
}

impl Add<usize> for SeqNumber {
    type Output = SeqNumber;
    fn add(self, rhs: usize) -> SeqNumber {
        // Lengths in a segment or window never exceed 2^31; truncation is the modulo.
        SeqNumber(self.0.wrapping_add(rhs as u32))
    }
}

impl AddAssign<u32> for SeqNumber {
    fn add_assign(&mut self, rhs: u32) {
        *self = *self + rhs;
    }
}

impl AddAssign<usize> for SeqNumber {
    fn add_assign(&mut self, rhs: usize) {
        *self = *self + rhs;
    }
}

impl Sub<u32> for SeqNumber {
    type Output = SeqNumber;
    fn sub(self, rhs: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_sub(rhs))
    }
}

impl Sub<SeqNumber> for SeqNumber {
    type Output = u32;
    /// Forward distance from `rhs` to `self` (modulo 2^32).
    fn sub(self, rhs: SeqNumber) -> u32 {
        self.0.wrapping_sub(rhs.0)
    }
}

mod field {
    use std::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const SEQ: Range<usize> = 4..8;
    pub const ACK: Range<usize> = 8..12;
    pub const OFF_FLAGS: Range<usize> = 12..14;
    pub const WINDOW: Range<usize> = 14..16;
    pub const CHECKSUM: Range<usize> = 16..18;
    pub const URGENT: Range<usize> = 18..20;
}

pub const HEADER_LEN: usize = 20;
pub const MAX_OPTIONS_LEN: usize = 40;

pub mod flags {
    pub const FIN: u16 = 0x001;
    pub const SYN: u16 = 0x002;
    pub const RST: u16 = 0x004;
    pub const PSH: u16 = 0x008;
    pub const ACK: u16 = 0x010;
    pub const URG: u16 = 0x020;
    pub const ECE: u16 = 0x040;
    pub const CWR: u16 = 0x080;
}

/// Option kinds (IANA "TCP Option Kind Numbers").
mod kind {
    pub const EOL: u8 = 0;
    pub const NOP: u8 = 1;
    pub const MSS: u8 = 2;
    pub const WSCALE: u8 = 3;
    pub const SACK_PERM: u8 = 4;
    pub const SACK: u8 = 5;
    pub const TIMESTAMP: u8 = 8;
}

/// A read/write view over a TCP segment (header, options, payload).
#[derive(Debug, Clone)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// Wrap without checks; accessors may panic until `check_len` passes.
    pub fn new_unchecked(buffer: T) -> Self {
        TcpPacket { buffer }
    }

    /// Wrap and validate the header length, so no accessor can panic.
    pub fn new_checked(buffer: T) -> Result<Self, TcpError> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    pub fn check_len(&self) -> Result<(), TcpError> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(TcpError::Truncated);
        }
        let hl = self.header_len();
        if hl < HEADER_LEN || hl > len {
            return Err(TcpError::BadHeaderLen);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn u16_at(&self, r: std::ops::Range<usize>) -> u16 {
        let b = &self.buffer.as_ref()[r];
        u16::from_be_bytes([b[0], b[1]])
    }

    fn u32_at(&self, r: std::ops::Range<usize>) -> u32 {
        let b = &self.buffer.as_ref()[r];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    pub fn src_port(&self) -> u16 {
        self.u16_at(field::SRC_PORT)
    }
    pub fn dst_port(&self) -> u16 {
        self.u16_at(field::DST_PORT)
    }
    pub fn seq_number(&self) -> SeqNumber {
        SeqNumber(self.u32_at(field::SEQ))
    }
    pub fn ack_number(&self) -> SeqNumber {
        SeqNumber(self.u32_at(field::ACK))
    }
    /// Header length in bytes, from the data offset.
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::OFF_FLAGS.start] >> 4) * 4
    }
    /// The 9 flag bits (NS is not interpreted; RFC 3540 is historic).
    pub fn flags(&self) -> u16 {
        self.u16_at(field::OFF_FLAGS) & 0x01ff
    }
    pub fn fin(&self) -> bool {
        self.flags() & flags::FIN != 0
    }
    pub fn syn(&self) -> bool {
        self.flags() & flags::SYN != 0
    }
    pub fn rst(&self) -> bool {
        self.flags() & flags::RST != 0
    }
    pub fn psh(&self) -> bool {
        self.flags() & flags::PSH != 0
    }
    pub fn ack(&self) -> bool {
        self.flags() & flags::ACK != 0
    }
    pub fn window_len(&self) -> u16 {
        self.u16_at(field::WINDOW)
    }
    pub fn checksum(&self) -> u16 {
        self.u16_at(field::CHECKSUM)
    }
    pub fn urgent_at(&self) -> u16 {
        self.u16_at(field::URGENT)
    }
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.header_len()]
    }
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
    /// Length of the whole segment in sequence space: payload plus SYN and FIN.
    pub fn segment_len(&self) -> usize {
        self.payload().len() + usize::from(self.syn()) + usize::from(self.fin())
    }

    /// True when the checksum over pseudo-header and segment verifies.
    pub fn verify_checksum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        let data = self.buffer.as_ref();
        let Ok(len) = u16::try_from(data.len()) else {
            return false;
        };
        let s = checksum::add(
            checksum::pseudo_header(src, dst, 6, len),
            checksum::sum(data),
        );
        checksum::fold(s) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
    fn set_u16(&mut self, r: std::ops::Range<usize>, v: u16) {
        self.buffer.as_mut()[r].copy_from_slice(&v.to_be_bytes());
    }
    fn set_u32(&mut self, r: std::ops::Range<usize>, v: u32) {
        self.buffer.as_mut()[r].copy_from_slice(&v.to_be_bytes());
    }
    pub fn set_src_port(&mut self, v: u16) {
        self.set_u16(field::SRC_PORT, v)
    }
    pub fn set_dst_port(&mut self, v: u16) {
        self.set_u16(field::DST_PORT, v)
    }
    pub fn set_seq_number(&mut self, v: SeqNumber) {
        self.set_u32(field::SEQ, v.0)
    }
    pub fn set_ack_number(&mut self, v: SeqNumber) {
        self.set_u32(field::ACK, v.0)
    }
    /// Set data offset (bytes, a multiple of 4) and flags together.
    pub fn set_header_len_and_flags(&mut self, header_len: usize, flags: u16) {
        let off = ((header_len / 4) as u16) << 12;
        self.set_u16(field::OFF_FLAGS, off | (flags & 0x01ff))
    }
    pub fn set_window_len(&mut self, v: u16) {
        self.set_u16(field::WINDOW, v)
    }
    pub fn set_checksum(&mut self, v: u16) {
        self.set_u16(field::CHECKSUM, v)
    }
    pub fn set_urgent_at(&mut self, v: u16) {
        self.set_u16(field::URGENT, v)
    }
    pub fn options_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        &mut self.buffer.as_mut()[HEADER_LEN..hl]
    }
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        &mut self.buffer.as_mut()[hl..]
    }
    /// Compute and store the checksum over the whole buffer.
    pub fn fill_checksum(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        self.set_checksum(0);
        let data = self.buffer.as_ref();
        let len = u16::try_from(data.len()).unwrap_or(u16::MAX);
        let s = checksum::add(
            checksum::pseudo_header(src, dst, 6, len),
            checksum::sum(data),
        );
        self.set_checksum(checksum::finish(s));
    }
}

/// One parsed option. Malformed known options are reported as `Unknown`
/// (with their kind) so the caller can skip them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpOption<'a> {
    EndOfList,
    NoOperation,
    MaxSegmentSize(u16),
    WindowScale(u8),
    SackPermitted,
    SackRange([Option<(SeqNumber, SeqNumber)>; 4]),
    Timestamp { tsval: u32, tsecr: u32 },
    Unknown { kind: u8, data: &'a [u8] },
}

/// Iterator over the options area. Stops at EOL and at the first option whose
/// length is impossible (< 2 or past the end): what follows cannot be framed.
pub struct TcpOptions<'a> {
    rest: &'a [u8],
}

impl<'a> TcpOptions<'a> {
    pub fn new(options: &'a [u8]) -> Self {
        TcpOptions { rest: options }
    }
}

impl<'a> Iterator for TcpOptions<'a> {
    type Item = TcpOption<'a>;

    fn next(&mut self) -> Option<TcpOption<'a>> {
        let (&k, tail) = self.rest.split_first()?;
        match k {
            kind::EOL => {
                self.rest = &[];
                Some(TcpOption::EndOfList)
            }
            kind::NOP => {
                self.rest = tail;
                Some(TcpOption::NoOperation)
            }
            _ => {
                let len = usize::from(*tail.first()?);
                if len < 2 || len > self.rest.len() {
                    self.rest = &[];
                    return None;
                }
                let data = &self.rest[2..len];
                self.rest = &self.rest[len..];
                Some(match (k, data.len()) {
                    (kind::MSS, 2) => {
                        TcpOption::MaxSegmentSize(u16::from_be_bytes([data[0], data[1]]))
                    }
                    (kind::WSCALE, 1) => TcpOption::WindowScale(data[0]),
                    (kind::SACK_PERM, 0) => TcpOption::SackPermitted,
                    (kind::TIMESTAMP, 8) => TcpOption::Timestamp {
                        tsval: u32::from_be_bytes([data[0], data[1], data[2], data[3]]),
                        tsecr: u32::from_be_bytes([data[4], data[5], data[6], data[7]]),
                    },
                    (kind::SACK, n) if n > 0 && n % 8 == 0 && n <= 32 => {
                        let mut blocks = [None; 4];
                        for (slot, c) in blocks.iter_mut().zip(data.chunks_exact(8)) {
                            let l = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
                            let r = u32::from_be_bytes([c[4], c[5], c[6], c[7]]);
                            *slot = Some((SeqNumber(l), SeqNumber(r)));
                        }
                        TcpOption::SackRange(blocks)
                    }
                    _ => TcpOption::Unknown { kind: k, data },
                })
            }
        }
    }
}

/// The control bits the state machine distinguishes; ACK is `TcpRepr::ack`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    None,
    Syn,
    Fin,
    Rst,
}

/// A parsed TCP segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpRepr<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: SeqNumber,
    pub ack: Option<SeqNumber>,
    pub control: Control,
    pub psh: bool,
    /// The raw 16-bit window field (unscaled).
    pub window_len: u16,
    pub mss: Option<u16>,
    pub window_scale: Option<u8>,
    pub sack_permitted: bool,
    pub sack_ranges: [Option<(SeqNumber, SeqNumber)>; 4],
    pub timestamp: Option<(u32, u32)>,
    pub payload: &'a [u8],
}

impl<'a> TcpRepr<'a> {
    /// Parse and verify a segment that arrived from `src` to `dst`.
    pub fn parse(
        packet: &TcpPacket<&'a [u8]>,
        src: Ipv4Addr,
        dst: Ipv4Addr,
    ) -> Result<TcpRepr<'a>, TcpError> {
        packet.check_len()?;
        let whole: &'a [u8] = packet.buffer;
        if whole.len() > usize::from(u16::MAX) {
            return Err(TcpError::TooLong);
        }
        if !packet.verify_checksum(src, dst) {
            return Err(TcpError::BadChecksum);
        }
        let f = packet.flags();
        let control = match (
            f & flags::SYN != 0,
            f & flags::FIN != 0,
            f & flags::RST != 0,
        ) {
            // SYN+FIN and SYN+RST have no meaning and are scanner/evasion probes.
            (true, true, _) | (true, _, true) => return Err(TcpError::BadFlags),
            (true, false, false) => Control::Syn,
            // RST+FIN: the reset takes precedence.
            (false, _, true) => Control::Rst,
            (false, true, false) => Control::Fin,
            (false, false, false) => Control::None,
        };
        if f & (flags::FIN | flags::SYN | flags::RST | flags::PSH | flags::ACK | flags::URG) == 0 {
            // A "null" segment: no control bits at all (nmap -sN).
            return Err(TcpError::BadFlags);
        }
        let mut repr = TcpRepr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            seq: packet.seq_number(),
            ack: (f & flags::ACK != 0).then(|| packet.ack_number()),
            control,
            psh: f & flags::PSH != 0,
            window_len: packet.window_len(),
            mss: None,
            window_scale: None,
            sack_permitted: false,
            sack_ranges: [None; 4],
            timestamp: None,
            payload: &whole[packet.header_len()..],
        };
        // Duplicates: the first occurrence wins, later ones are ignored.
        let (mut seen_sack, mut seen_perm) = (false, false);
        for opt in TcpOptions::new(packet.options()) {
            match opt {
                TcpOption::MaxSegmentSize(m) if repr.mss.is_none() => repr.mss = Some(m),
                TcpOption::WindowScale(s) if repr.window_scale.is_none() => {
                    repr.window_scale = Some(s)
                }
                TcpOption::SackPermitted if !seen_perm => {
                    seen_perm = true;
                    repr.sack_permitted = true
                }
                TcpOption::SackRange(r) if !seen_sack => {
                    seen_sack = true;
                    repr.sack_ranges = r
                }
                TcpOption::Timestamp { tsval, tsecr } if repr.timestamp.is_none() => {
                    repr.timestamp = Some((tsval, tsecr))
                }
                _ => {}
            }
        }
        Ok(repr)
    }

    fn sack_count(&self) -> usize {
        self.sack_ranges.iter().flatten().count()
    }

    /// How many SACK blocks fit next to the other options.
    fn sack_blocks_emitted(&self) -> usize {
        let other = self.options_len_without_sack();
        let room = MAX_OPTIONS_LEN.saturating_sub(other + 4) / 8;
        self.sack_count().min(room)
    }

    fn options_len_without_sack(&self) -> usize {
        let mut n = 0;
        if self.mss.is_some() {
            n += 4;
        }
        if self.timestamp.is_some() || self.sack_permitted {
            // SACK-permitted shares a word-aligned slot with timestamps, or
            // is NOP-padded alone.
            n += if self.timestamp.is_some() { 12 } else { 4 };
        }
        if self.window_scale.is_some() {
            n += 4;
        }
        n
    }

    pub fn header_len(&self) -> usize {
        let sack = self.sack_blocks_emitted();
        let sack_len = if sack > 0 { 4 + 8 * sack } else { 0 };
        HEADER_LEN + self.options_len_without_sack() + sack_len
    }

    pub fn buffer_len(&self) -> usize {
        self.header_len() + self.payload.len()
    }

    /// Length in sequence space.
    pub fn segment_len(&self) -> usize {
        self.payload.len() + usize::from(matches!(self.control, Control::Syn | Control::Fin))
    }

    pub fn flags(&self) -> u16 {
        let mut f = match self.control {
            Control::None => 0,
            Control::Syn => flags::SYN,
            Control::Fin => flags::FIN,
            Control::Rst => flags::RST,
        };
        if self.ack.is_some() {
            f |= flags::ACK;
        }
        if self.psh {
            f |= flags::PSH;
        }
        f
    }

    /// Write header and options (no payload, no checksum) into a buffer of
    /// at least `header_len()` bytes.
    pub fn emit_header<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut TcpPacket<T>) {
        let hl = self.header_len();
        packet.set_src_port(self.src_port);
        packet.set_dst_port(self.dst_port);
        packet.set_seq_number(self.seq);
        packet.set_ack_number(self.ack.unwrap_or_default());
        packet.set_header_len_and_flags(hl, self.flags());
        packet.set_window_len(self.window_len);
        packet.set_checksum(0);
        packet.set_urgent_at(0);
        let opts = packet.options_mut();
        let mut i = 0;
        let mut put = |bytes: &[u8]| {
            opts[i..i + bytes.len()].copy_from_slice(bytes);
            i += bytes.len();
        };
        if let Some(m) = self.mss {
            let m = m.to_be_bytes();
            put(&[kind::MSS, 4, m[0], m[1]]);
        }
        match (self.sack_permitted, self.timestamp) {
            (true, Some(_)) => put(&[kind::SACK_PERM, 2]),
            (true, None) => put(&[kind::NOP, kind::NOP, kind::SACK_PERM, 2]),
            (false, Some(_)) => put(&[kind::NOP, kind::NOP]),
            (false, None) => {}
        }
        if let Some((val, ecr)) = self.timestamp {
            put(&[kind::TIMESTAMP, 10]);
            put(&val.to_be_bytes());
            put(&ecr.to_be_bytes());
        }
        if let Some(s) = self.window_scale {
            put(&[kind::NOP, kind::WSCALE, 3, s]);
        }
        let sack = self.sack_blocks_emitted();
        if sack > 0 {
            put(&[kind::NOP, kind::NOP, kind::SACK, (2 + 8 * sack) as u8]);
            for (l, r) in self.sack_ranges.iter().flatten().take(sack) {
                put(&l.0.to_be_bytes());
                put(&r.0.to_be_bytes());
            }
        }
    }

    /// Write the whole segment, checksum included, into a buffer of exactly
    /// `buffer_len()` bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut TcpPacket<T>,
        src: Ipv4Addr,
        dst: Ipv4Addr,
    ) {
        self.emit_header(packet);
        packet.payload_mut()[..self.payload.len()].copy_from_slice(self.payload);
        packet.fill_checksum(src, dst);
    }
}

#[cfg(test)]
mod tests;
