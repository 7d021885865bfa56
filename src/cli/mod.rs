//! Subcommands of the binary.

pub mod admin_client;
pub mod demo;
pub mod probe;
pub mod processor;
pub mod run;

use std::path::Path;

use anyhow::{Context, Result};
use xskd::config::Config;

pub fn check_config(file: &Path) -> Result<()> {
    let c = Config::load(file).with_context(|| format!("{}", file.display()))?;
    let cidr = c.ipv4();
    println!("{}: ok", file.display());
    println!(
        "  serve {}/{} on {} queues {:?} ({:?} XDP, zero-copy {:?})",
        cidr.addr,
        cidr.prefix_len,
        c.interface.name,
        c.interface
            .queues
            .iter()
            .map(|q| q.queue)
            .collect::<Vec<_>>(),
        c.interface.xdp_mode,
        c.interface.zero_copy
    );
    Ok(())
}
