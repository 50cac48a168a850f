//! `elasticsearch.client{...}`'s settings, read and checked without Lua.

use super::client::Settings;
use crate::bindings::config::{Secs, Strings};
use std::time::Duration;

/// `elasticsearch.client{...}`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    pub url: Option<String>,
    pub urls: Option<Strings>,
    pub timeout: Option<Secs>,
    pub healthcheck: Option<bool>,
    /// Documents per second, shared by every VU (`name` tells two limiters apart).
    pub rate_limit: Option<f64>,
    pub burst: Option<u32>,
    pub name: Option<String>,
}

impl ClientConfig {
    pub fn settings(&self) -> Result<Settings, String> {
        let urls = match (&self.urls, &self.url) {
            (Some(u), _) => u.clone().into_vec(),
            (None, Some(u)) => vec![u.clone()],
            (None, None) => vec!["http://127.0.0.1:9200".to_string()],
        };
        let timeout = self.timeout.map_or(Duration::from_secs(30), |t| t.0);
        let settings = Settings { urls, timeout };
        settings.validate()?;
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::config::from_json;
    use serde_json::json;

    fn config(v: serde_json::Value) -> Result<Settings, String> {
        from_json::<ClientConfig>("elasticsearch.client", v)?.settings()
    }

    #[test]
    fn client_config_from_literals() {
        let s = config(json!({})).unwrap();
        assert_eq!(s.urls, ["http://127.0.0.1:9200"]);
        assert_eq!(s.timeout, Duration::from_secs(30));
        let s =
            config(json!({ "urls": ["http://a:9200", "http://b:9200"], "timeout": "2s" })).unwrap();
        assert_eq!(s.urls.len(), 2);
        assert_eq!(s.timeout, Duration::from_secs(2));
        assert_eq!(
            config(json!({ "url": "http://c:9200" })).unwrap().urls,
            ["http://c:9200"]
        );
        let e = config(json!({ "url": "not a url" })).unwrap_err();
        assert!(e.contains("bad url 'not a url'"), "{e}");
        let e = config(json!({ "rate": 5 })).unwrap_err();
        assert!(
            e.ends_with("valid: burst, healthcheck, name, rate_limit, timeout, url, urls"),
            "{e}"
        );
    }
}
