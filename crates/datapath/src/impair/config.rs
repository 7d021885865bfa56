//! The `[impair]` configuration: what each direction does to the frames
//! it passes, and validation whose errors name the key.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Seeded link impairment for both directions. Everything defaults to
/// "off": an empty `[impair]` section passes every frame untouched.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ImpairConfig {
    /// One seed drives both directions (each derives its own stream), so a
    /// run replays exactly given the same frames and the same `set_now` calls.
    pub seed: u64,
    /// Frames from the wire, before the stack sees them.
    pub rx: DirectionImpair,
    /// Frames the stack sends, before they reach the wire.
    pub tx: DirectionImpair,
}

/// A drop pattern: let `pass` frames through, drop the next `drop`, repeat.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DropBurst {
    pub pass: u64,
    pub drop: u64,
}

/// What happens to the frames of one direction. The stages run in this
/// order: drop (pattern, then probability), corrupt, duplicate, delay and
/// rate limit (the held queue), reorder (at the moment a frame would leave).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DirectionImpair {
    /// Probability that a frame is lost.
    pub drop: f64,
    /// Drop exactly every Nth frame (the Nth, 2Nth, ...), counted over all
    /// frames that enter this direction.
    pub drop_every: Option<u64>,
    /// Drop in bursts: `{ pass = 100, drop = 5 }`.
    pub drop_burst: Option<DropBurst>,
    /// Probability that a frame is sent twice (identical bytes).
    pub duplicate: f64,
    /// Probability that a frame is held back while `reorder_gap` later
    /// frames overtake it.
    pub reorder: f64,
    /// Frames that overtake a reordered one (0 counts as 1).
    pub reorder_gap: u32,
    /// A reordered frame leaves after this long even if no frames follow.
    pub reorder_timeout_us: u64,
    /// Probability that one bit of the IPv4 packet is flipped. Only IPv4
    /// frames are corrupted, and only bytes a checksum covers (never the
    /// Ethernet header or padding, never a UDP packet without checksum's
    /// payload), so the receiver can always tell.
    pub corrupt: f64,
    /// Fixed delay added to every frame.
    pub delay_us: u64,
    /// Extra delay, uniform in `0..=jitter_us`; frames may reorder by it.
    pub jitter_us: u64,
    /// Token bucket rate; frames wait in the held queue for their turn.
    pub rate_bytes_per_sec: Option<u64>,
    /// Bytes that may go out back to back above the rate (bucket depth
    /// beyond one frame); 0 = strict pacing.
    pub rate_burst_bytes: u64,
    /// Bound of the held queue (delayed, rate-limited and reordered frames
    /// together); preallocated. Over it the frame is dropped and counted.
    pub queue_frames: usize,
}

/// Largest accepted `queue_frames`, so a typo cannot reserve gigabytes.
pub const MAX_QUEUE_FRAMES: usize = 1 << 16;

impl Default for DirectionImpair {
    fn default() -> Self {
        DirectionImpair {
            drop: 0.0,
            drop_every: None,
            drop_burst: None,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_gap: 1,
            reorder_timeout_us: 1_000,
            corrupt: 0.0,
            delay_us: 0,
            jitter_us: 0,
            rate_bytes_per_sec: None,
            rate_burst_bytes: 0,
            queue_frames: 1024,
        }
    }
}

impl DirectionImpair {
    /// True when this direction changes anything at all.
    pub fn is_active(&self) -> bool {
        self.drop > 0.0
            || self.drop_every.is_some()
            || self.drop_burst.is_some_and(|b| b.drop > 0)
            || self.duplicate > 0.0
            || self.corrupt > 0.0
            || self.needs_queue()
    }

    /// True when frames may be held, so the pool must exist.
    pub fn needs_queue(&self) -> bool {
        self.reorder > 0.0
            || self.delay_us > 0
            || self.jitter_us > 0
            || self.rate_bytes_per_sec.is_some()
    }
}

#[derive(Debug, Error, PartialEq)]
pub enum ImpairConfigError {
    #[error("`{key}` = {value}: must be a probability between 0 and 1")]
    Probability { key: &'static str, value: f64 },
    #[error("`{key}` = {value}: {fix}")]
    Invalid {
        key: &'static str,
        value: String,
        fix: &'static str,
    },
}

impl ImpairConfigError {
    /// The key the error is about.
    pub fn key(&self) -> &'static str {
        match self {
            ImpairConfigError::Probability { key, .. } | ImpairConfigError::Invalid { key, .. } => {
                key
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Dir {
    Rx,
    Tx,
}

macro_rules! key {
    ($dir:expr, $field:literal) => {
        match $dir {
            Dir::Rx => concat!("impair.rx.", $field),
            Dir::Tx => concat!("impair.tx.", $field),
        }
    };
}

fn probability(key: &'static str, value: f64) -> Result<(), ImpairConfigError> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(ImpairConfigError::Probability { key, value })
    }
}

fn invalid(key: &'static str, value: impl std::fmt::Debug, fix: &'static str) -> ImpairConfigError {
    ImpairConfigError::Invalid {
        key,
        value: format!("{value:?}"),
        fix,
    }
}

impl ImpairConfig {
    pub fn validate(&self) -> Result<(), ImpairConfigError> {
        validate_dir(&self.rx, Dir::Rx)?;
        validate_dir(&self.tx, Dir::Tx)
    }

    /// True when either direction changes anything.
    pub fn is_active(&self) -> bool {
        self.rx.is_active() || self.tx.is_active()
    }
}

fn validate_dir(d: &DirectionImpair, dir: Dir) -> Result<(), ImpairConfigError> {
    probability(key!(dir, "drop"), d.drop)?;
    probability(key!(dir, "duplicate"), d.duplicate)?;
    probability(key!(dir, "reorder"), d.reorder)?;
    probability(key!(dir, "corrupt"), d.corrupt)?;
    if d.drop_every == Some(0) {
        return Err(invalid(
            key!(dir, "drop_every"),
            0,
            "must be at least 1 (1 drops every frame); leave it out to disable",
        ));
    }
    if let Some(b) = d.drop_burst {
        if b.pass == 0 && b.drop == 0 {
            return Err(invalid(
                key!(dir, "drop_burst"),
                b,
                "pass + drop must be at least 1; leave it out to disable",
            ));
        }
    }
    if d.rate_bytes_per_sec == Some(0) {
        return Err(invalid(
            key!(dir, "rate_bytes_per_sec"),
            0,
            "must be at least 1; leave it out for no rate limit",
        ));
    }
    if d.queue_frames == 0 || d.queue_frames > MAX_QUEUE_FRAMES {
        return Err(invalid(
            key!(dir, "queue_frames"),
            d.queue_frames,
            "must be between 1 and 65536",
        ));
    }
    Ok(())
}
