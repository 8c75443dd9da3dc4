//! Alerts: sinks and the dispatcher that drains the outbox. (Issue 5 builds them; this file fixes
//! the interface the rest of the crate uses.)

use serde::Deserialize;

/// A `[[sink]]` section of config.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkConfig {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
}

impl SinkConfig {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn validate(&self) -> Result<(), String> {
        Ok(())
    }
}
