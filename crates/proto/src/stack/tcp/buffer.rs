//! A byte ring, allocated once per connection and grown only by
//! autotuning (`autotune`).

#[derive(Debug)]
pub(crate) struct RingBuffer {
    buf: Box<[u8]>,
    head: usize,
    len: usize,
}

impl RingBuffer {
    pub fn new(capacity: usize) -> Self {
        RingBuffer {
            buf: vec![0; capacity].into_boxed_slice(),
            head: 0,
            len: 0,
        }
    }

    /// A ring with no storage (allocates nothing).
    pub fn empty() -> Self {
        RingBuffer {
            buf: Vec::new().into_boxed_slice(),
            head: 0,
            len: 0,
        }
    }

    pub fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }

    pub fn capacity(&self) -> usize {
        self.buf.len()
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn free(&self) -> usize {
        self.capacity() - self.len
    }

    /// Append as much of `data` as fits; returns the bytes taken.
    pub fn push(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.free());
        let cap = self.capacity();
        if n == 0 {
            return 0;
        }
        let tail = (self.head + self.len) % cap;
        let first = n.min(cap - tail);
        self.buf[tail..tail + first].copy_from_slice(&data[..first]);
        self.buf[..n - first].copy_from_slice(&data[first..n]);
        self.len += n;
        n
    }

    /// Copy up to `out.len()` bytes starting `offset` bytes in, without consuming.
    pub fn peek(&self, offset: usize, out: &mut [u8]) -> usize {
        if offset >= self.len {
            return 0;
        }
        let n = out.len().min(self.len - offset);
        let cap = self.capacity();
        let start = (self.head + offset) % cap;
        let first = n.min(cap - start);
        out[..first].copy_from_slice(&self.buf[start..start + first]);
        out[first..n].copy_from_slice(&self.buf[..n - first]);
        n
    }

    /// Write into free space `offset` bytes past the end without making it
    /// readable (out-of-order data); returns the bytes written.
    pub fn write_at(&mut self, offset: usize, data: &[u8]) -> usize {
        if offset >= self.free() {
            return 0;
        }
        let n = data.len().min(self.free() - offset);
        let cap = self.capacity();
        let start = (self.head + self.len + offset) % cap;
        let first = n.min(cap - start);
        self.buf[start..start + first].copy_from_slice(&data[..first]);
        self.buf[..n - first].copy_from_slice(&data[first..n]);
        n
    }

    /// Make `n` bytes written by `write_at` readable.
    pub fn commit(&mut self, n: usize) {
        self.len += n.min(self.free());
    }

    pub fn consume(&mut self, n: usize) -> usize {
        let n = n.min(self.len);
        if n > 0 {
            self.head = (self.head + n) % self.capacity();
            self.len -= n;
        }
        n
    }

    /// Reallocate with `capacity` bytes (never smaller), keeping the
    /// readable bytes and whatever `write_at` left in the free space after
    /// them (out-of-order data) at the same offsets.
    pub fn grow(&mut self, capacity: usize) {
        let cap = self.capacity();
        if capacity <= cap {
            return;
        }
        let mut buf = vec![0; capacity].into_boxed_slice();
        // The whole old ring from `head` on, wrapped part last: offsets
        // past the readable end stay where `write_at` put them.
        buf[..cap - self.head].copy_from_slice(&self.buf[self.head..]);
        buf[cap - self.head..cap].copy_from_slice(&self.buf[..self.head]);
        self.buf = buf;
        self.head = 0;
    }

    pub fn pop(&mut self, out: &mut [u8]) -> usize {
        let n = self.peek(0, out);
        self.consume(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ring_wraps_and_preserves_order() {
        let mut r = RingBuffer::new(8);
        assert_eq!(r.push(b"abcdef"), 6);
        let mut o = [0u8; 4];
        assert_eq!(r.pop(&mut o), 4);
        assert_eq!(&o, b"abcd");
        assert_eq!(r.push(b"ghijklmn"), 6);
        let mut all = [0u8; 8];
        assert_eq!(r.peek(1, &mut all), 7);
        assert_eq!(&all[..7], b"fghijkl");
        assert_eq!(r.free(), 0);
    }

    #[test]
    fn grow_keeps_readable_and_out_of_order_bytes_in_place() {
        let mut r = RingBuffer::new(8);
        assert_eq!(r.push(b"abcdef"), 6);
        let mut o = [0u8; 5];
        assert_eq!(r.pop(&mut o), 5);
        // Readable "f" then "gh" wrapping, and out-of-order "XY" after a gap.
        assert_eq!(r.push(b"gh"), 2);
        assert_eq!(r.write_at(1, b"XY"), 2);
        r.grow(32);
        assert_eq!(r.capacity(), 32);
        assert_eq!(r.len(), 3);
        assert_eq!(r.free(), 29);
        assert_eq!(r.write_at(0, b"i"), 1);
        r.commit(3);
        let mut all = [0u8; 6];
        assert_eq!(r.pop(&mut all), 6);
        assert_eq!(&all, b"fghiXY");
        r.grow(16);
        assert_eq!(r.capacity(), 32, "never shrinks");
    }

    proptest! {
        #[test]
        fn ring_behaves_like_a_deque(ops in proptest::collection::vec((any::<bool>(), 0usize..20), 0..50)) {
            let mut r = RingBuffer::new(16);
            let mut model = std::collections::VecDeque::new();
            let mut next = 0u8;
            for (push, n) in ops {
                if push {
                    let data: Vec<u8> = (0..n).map(|_| { next = next.wrapping_add(1); next }).collect();
                    let took = r.push(&data);
                    model.extend(&data[..took]);
                    prop_assert_eq!(took, n.min(16 - (model.len() - took)));
                } else {
                    let mut out = vec![0; n];
                    let got = r.pop(&mut out);
                    let want: Vec<u8> = model.drain(..got.min(model.len())).collect();
                    prop_assert_eq!(&out[..got], &want[..]);
                }
                prop_assert_eq!(r.len(), model.len());
            }
        }
    }
}
