//! The config sections the datapath reads: `[umem]` and the interface's
//! XDP attach mode. The daemon's config schema embeds them; validation of
//! their ranges lives with the rest of the schema (config/validate.rs).

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum XdpMode {
    /// Driver mode (XDP_FLAGS_DRV_MODE): the fast path; veth supports it.
    #[default]
    Native,
    /// SKB mode (XDP_FLAGS_SKB_MODE): works on any driver, slower.
    Generic,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ZeroCopy {
    /// Try zero-copy, fall back to copy mode when the driver can't.
    #[default]
    Auto,
    On,
    Off,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct UmemConfig {
    /// Frames per queue's UMEM.
    pub frame_count: u32,
    /// Bytes per frame: 2048 or 4096.
    pub frame_size: u32,
    pub fill_ring: u32,
    pub completion_ring: u32,
    pub rx_ring: u32,
    pub tx_ring: u32,
    /// Frames taken off the rx ring per loop iteration.
    pub batch: u32,
}

impl Default for UmemConfig {
    fn default() -> Self {
        UmemConfig {
            frame_count: 8192,
            frame_size: 4096,
            fill_ring: 2048,
            completion_ring: 2048,
            rx_ring: 2048,
            tx_ring: 2048,
            batch: 64,
        }
    }
}
