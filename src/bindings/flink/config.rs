//! `flink.cluster{...}`'s settings, read and checked without Lua.

use super::client::Settings;
use crate::bindings::config::Secs;
use std::time::Duration;

/// `flink.cluster{...}`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    pub url: Option<String>,
    pub timeout: Option<Secs>,
    pub healthcheck: Option<bool>,
}

impl ClusterConfig {
    pub fn settings(&self) -> Result<Settings, String> {
        let url = self.url.as_deref().unwrap_or("http://127.0.0.1:8081");
        let timeout = self.timeout.map_or(Duration::from_secs(30), |t| t.0);
        Settings::new(url, timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::config::from_json;
    use serde_json::json;

    fn config(v: serde_json::Value) -> Result<Settings, String> {
        from_json::<ClusterConfig>("flink.cluster", v)?.settings()
    }

    #[test]
    fn cluster_config_from_literals() {
        let s = config(json!({})).unwrap();
        assert_eq!(s.url, "http://127.0.0.1:8081");
        assert_eq!(s.timeout, Duration::from_secs(30));
        let s = config(json!({ "url": "http://jm:8081/", "timeout": "2s" })).unwrap();
        assert_eq!(
            (s.url.as_str(), s.timeout),
            ("http://jm:8081", Duration::from_secs(2))
        );
        for (bad, says) in [
            (json!({ "url": "not a url" }), "flink: bad url 'not a url'"),
            (json!({ "timeout": "soon" }), "flink.cluster: timeout: "),
            (
                json!({ "ulr": "http://jm:8081" }),
                "unknown option 'ulr'; valid: healthcheck, timeout, url",
            ),
        ] {
            let e = config(bad).unwrap_err();
            assert!(e.contains(says), "{e}");
        }
    }
}
