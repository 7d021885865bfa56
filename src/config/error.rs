//! The config's one error type: every variant names the key or file and
//! the fix. Its own module, so each section's validation can use it without
//! depending on the others.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source} (check the path and permissions)")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("config is not valid TOML for xskd: {0} (see config/xskd.toml for every key)")]
    Syntax(String),
    #[error("{0}")]
    Dns(String),
    #[error("`{key}` = {value}: {fix}")]
    Invalid {
        key: &'static str,
        value: String,
        fix: String,
    },
    #[error(transparent)]
    Impair(#[from] crate::datapath::impair::ImpairConfigError),
}

impl ConfigError {
    pub(super) fn from_toml(e: toml::de::Error) -> Self {
        ConfigError::Syntax(e.to_string().trim().replace('\n', " "))
    }

    /// The key the error is about, when it is about one.
    pub fn key(&self) -> Option<&'static str> {
        match self {
            ConfigError::Invalid { key, .. } => Some(key),
            ConfigError::Impair(e) => Some(e.key()),
            _ => None,
        }
    }
}

pub(super) fn invalid(
    key: &'static str,
    value: impl std::fmt::Debug,
    fix: impl Into<String>,
) -> ConfigError {
    ConfigError::Invalid {
        key,
        value: format!("{value:?}"),
        fix: fix.into(),
    }
}
