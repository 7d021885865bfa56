//! Facts about a network interface read from sysfs.

use std::fs;

/// The interface's MAC address, from /sys/class/net/IFACE/address.
pub fn mac_address(iface: &str) -> Option<[u8; 6]> {
    let text = fs::read_to_string(format!("/sys/class/net/{iface}/address")).ok()?;
    xskd_proto::wire::EthernetAddress::parse(text.trim()).map(|m| m.0)
}

/// Number of rx queues the interface has.
pub fn rx_queue_count(iface: &str) -> Option<u32> {
    let dir = fs::read_dir(format!("/sys/class/net/{iface}/queues")).ok()?;
    let n = dir
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("rx-"))
        .count();
    u32::try_from(n).ok()
}

pub fn exists(iface: &str) -> bool {
    fs::metadata(format!("/sys/class/net/{iface}")).is_ok()
}
