//! Which processor the daemon's workers run. Temporary: the bare reflector
//! until the stack is wired in.

use anyhow::Result;
use xskd::config::Config;
use xskd::worker::reflector::Reflector;

pub struct Setup;

impl Setup {
    pub fn from_config(_config: &Config) -> Result<Self> {
        Ok(Setup)
    }

    pub fn make(&self, _queue: u32) -> Result<Reflector> {
        Ok(Reflector::default())
    }
}
