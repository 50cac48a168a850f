//! Small shared helpers: duration strings, wall-clock time, host facts.

#[cfg(test)]
pub mod fuzz;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Parses a duration as scripts and flags write it: `"500us"`, `"50ms"`, `"1.5s"`, `"2m"`, `"1h"`,
/// and combinations such as `"1m30s"`. A bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(secs) = s.parse::<f64>() {
        return secs_to_duration(secs).ok_or_else(|| format!("'{text}' is not a valid duration"));
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("'{text}' has a number without a unit (us, ms, s, m, h)"))?;
        if num_len == 0 {
            return Err(format!(
                "'{text}' is not a duration such as 500ms, 1.5s, 2m, 1h"
            ));
        }
        let value: f64 = rest[..num_len]
            .parse()
            .map_err(|_| format!("'{text}': bad number '{}'", &rest[..num_len]))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            other => {
                return Err(format!(
                    "'{text}': unknown unit '{other}' (use us, ms, s, m or h)"
                ))
            }
        };
        total += value * scale;
        rest = &rest[unit_len..];
    }
    secs_to_duration(total).ok_or_else(|| format!("'{text}' is not a valid duration"))
}

fn secs_to_duration(secs: f64) -> Option<Duration> {
    if (0.0..1e12).contains(&secs) {
        Some(Duration::from_secs_f64(secs))
    } else {
        None
    }
}

/// Formats a duration the way it would be written in a script (`1m30s`, `250ms`).
pub fn format_duration(d: Duration) -> String {
    let us = d.as_micros();
    if us == 0 {
        return "0s".into();
    }
    if us.is_multiple_of(1_000_000) {
        let s = us / 1_000_000;
        let (h, m, s) = (s / 3600, (s % 3600) / 60, s % 60);
        let mut out = String::new();
        if h > 0 {
            out += &format!("{h}h");
        }
        if m > 0 {
            out += &format!("{m}m");
        }
        if s > 0 {
            out += &format!("{s}s");
        }
        out
    } else if us.is_multiple_of(1000) {
        format!("{}ms", us / 1000)
    } else {
        format!("{us}us")
    }
}

/// Microseconds since the Unix epoch.
pub fn epoch_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// RFC 3339 time with milliseconds, UTC.
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

/// Parses an RFC 3339 time (`2026-12-01T10:00:00Z`, `2026-12-01T11:00:00.5+01:00`): humantime
/// reads the UTC forms; a numeric offset is applied here, so no date crate is needed for it.
pub fn parse_rfc3339(s: &str) -> Result<SystemTime, String> {
    let bad =
        |why: &str| format!("'{s}' is not an RFC 3339 time ({why}), e.g. 2026-12-01T10:00:00Z");
    let t = s.trim();
    if !t.is_ascii() {
        // (the offset below is cut out by byte positions)
        return Err(bad("a character that is not ASCII"));
    }
    let b = t.as_bytes();
    // A numeric offset ends the text: [+-]HH:MM after the seconds.
    let (base, offset_s) = if b.len() > 25 || (b.len() == 25 && b[19] != b'.') {
        let (base, off) = t.split_at(t.len() - 6);
        let ob = off.as_bytes();
        let digits = |r: std::ops::Range<usize>| off[r].parse::<i64>().ok();
        match (ob[0], ob[3], digits(1..3), digits(4..6)) {
            (sign @ (b'+' | b'-'), b':', Some(h), Some(m)) if h < 24 && m < 60 => {
                let secs = (h * 3600 + m * 60) * if sign == b'+' { 1 } else { -1 };
                (format!("{base}Z"), secs)
            }
            _ => (t.to_string(), 0),
        }
    } else {
        (t.to_string(), 0)
    };
    let utc =
        humantime::parse_rfc3339_weak(&base).map_err(|e| bad(&e.to_string().to_lowercase()))?;
    // Local time = UTC + offset, so UTC = local - offset.
    let d = Duration::from_secs(offset_s.unsigned_abs());
    Ok(if offset_s >= 0 { utc - d } else { utc + d })
}

/// An error's text followed by its causes' (`a: b: c`): the clients' own texts are terse.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

/// Number of CPU cores this process may use.
pub fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Total memory of the host in bytes, from /proc/meminfo (0 when unknown).
pub fn memory_bytes() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// CPU time (user + system) this process has used so far.
pub fn process_cpu_time() -> Duration {
    // SAFETY: getrusage writes into the struct we own; RUSAGE_SELF is always valid.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    if rc != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, (t.tv_usec as u32) * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// A setting's (or header's) value for keys and messages: the value itself, or for a secret (a key
/// naming a password, secret, token, JAAS config, TLS private key, OAUTHBEARER setting, API key, an
/// Authorization or Cookie header) `<hidden xxxxxxxx>`, a hash of it, so that two different secrets
/// still differ. The hash is keyed per process: equal within a run, and not a way to test guesses
/// against a result file offline.
pub fn hide_secret(key: &str, value: &str) -> String {
    if is_secret(key) {
        use std::hash::BuildHasher;
        static KEY: std::sync::OnceLock<std::collections::hash_map::RandomState> =
            std::sync::OnceLock::new();
        let h = KEY.get_or_init(Default::default).hash_one(value);
        format!("<hidden {:08x}>", h as u32)
    } else {
        value.to_string()
    }
}

/// Whether a setting's (or header's) key names a secret ([`hide_secret`]).
fn is_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    // `ssl.key` and the keys under it (ssl.key.pem, ssl.key.password), not ssl.keystore.location
    k.ends_with("ssl.key")
        || k.contains("ssl.key.")
        || [
            "password",
            "secret",
            "token",
            "jaas",
            "authorization",
            "cookie",
            "oauthbearer",
            "api-key",
            "apikey",
            "api_key",
        ]
        .iter()
        .any(|s| k.contains(s))
}

/// `url` as messages show it: credentials in it (`http://user:password@host/`) are secrets, so the
/// password, or a user without one (often a token), is replaced by a hash of it ([`hide_secret`]).
/// Works on text that does not parse as a URL too.
pub fn shown_url(url: &str) -> std::borrow::Cow<'_, str> {
    let start = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[start..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let Some(at) = authority.rfind('@') else {
        return url.into();
    };
    // the secret: after the user's ':' if there is one, else the whole user part
    let from = start + authority[..at].find(':').map_or(0, |i| i + 1);
    let to = start + at;
    format!(
        "{}{}{}",
        &url[..from],
        hide_secret("password", &url[from..to]),
        &url[to..]
    )
    .into()
}

/// Resident set size of this process now, in bytes (`/proc/self/statm`; 0 where there is none).
pub fn rss_bytes() -> u64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .unwrap_or(0);
    // SAFETY: sysconf only reads a system constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * u64::try_from(page).unwrap_or(4096)
}

/// Peak resident set size of this process in bytes.
pub fn peak_rss_bytes() -> u64 {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    if rc != 0 {
        return 0;
    }
    usage.ru_maxrss as u64 * 1024
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_with_offsets() {
        let at = |s| super::parse_rfc3339(s).map(super::rfc3339);
        assert_eq!(
            at("2026-12-01T10:00:00Z").unwrap(),
            "2026-12-01T10:00:00.000Z"
        );
        assert_eq!(
            at("2026-12-01T10:00:00.250Z").unwrap(),
            "2026-12-01T10:00:00.250Z"
        );
        assert_eq!(
            at("2026-12-01T11:30:00+01:30").unwrap(),
            "2026-12-01T10:00:00.000Z"
        );
        assert_eq!(
            at("2026-12-01T08:00:00.5-02:00").unwrap(),
            "2026-12-01T10:00:00.500Z"
        );
        assert!(at("2026-12-01 10:00")
            .unwrap_err()
            .contains("not an RFC 3339 time"));
        assert!(at("tomorrow").is_err());
        // A character of two bytes where the offset's sign goes: an error, not a panic.
        assert!(at("2026-12-01T10:00:00\u{b1}01:00")
            .unwrap_err()
            .contains("not ASCII"));
        assert!(at("2026-12-01T10:00:00.123456\u{e9}").is_err());
    }

    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        assert_eq!(parse_duration("500us").unwrap(), Duration::from_micros(500));
        assert_eq!(parse_duration("50ms").unwrap(), Duration::from_millis(50));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
    }

    #[test]
    fn rejects_bad_durations_with_a_reason() {
        assert!(parse_duration("10x")
            .unwrap_err()
            .contains("unknown unit 'x'"));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("ms").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn secrets_are_hidden_by_a_hash_keyed_for_this_process() {
        for key in [
            "sasl.password",
            "ssl.key.pem",
            "ssl.key.password",
            "ssl.key",
            "sasl.oauthbearer.config",
            "x-api-key",
            "ApiKey",
            "api_key",
            "Authorization",
            "sasl.jaas.config",
        ] {
            let shown = hide_secret(key, "hunter2");
            assert!(shown.starts_with("<hidden "), "{key}: {shown}");
            assert!(!shown.contains("hunter2"), "{key}: {shown}");
            // the same secret is shown the same within a run; another one otherwise
            assert_eq!(shown, hide_secret("password", "hunter2"));
            assert_ne!(shown, hide_secret(key, "hunter3"));
        }
        for key in ["ssl.keystore.location", "linger.ms", "monkey"] {
            assert_eq!(hide_secret(key, "v"), "v", "{key}");
        }
        // Not the hash of fixed keys, as it was: the same in every run, so a result file's hash
        // of a weak password could be brute-forced offline.
        use std::hash::{Hash, Hasher};
        let mut fixed = std::collections::hash_map::DefaultHasher::new();
        "hunter2".hash(&mut fixed);
        assert_ne!(
            hide_secret("password", "hunter2"),
            format!("<hidden {:08x}>", fixed.finish() as u32)
        );
    }

    #[test]
    fn credentials_in_urls_are_hidden() {
        for (url, kept, hidden) in [
            (
                "http://user:pw1@127.0.0.1:8080/x?a@b",
                "http://user:<hidden ",
                "pw1",
            ),
            ("https://tok2@h/", "https://<hidden ", "tok2"),
            ("user:pw3@[::1]:99999/", "user:<hidden ", "pw3"),
        ] {
            let shown = shown_url(url);
            assert!(shown.starts_with(kept), "{shown}");
            assert!(!shown.contains(hidden), "{shown}");
        }
        assert_ne!(shown_url("http://u:a@h/"), shown_url("http://u:b@h/"));
        for url in ["http://127.0.0.1:1/p@q", "http://[::1]:80/", "not a url"] {
            assert_eq!(shown_url(url), url);
        }
    }

    #[test]
    fn formats_round_trip() {
        for s in ["1m30s", "250ms", "500us", "1h", "2s"] {
            assert_eq!(format_duration(parse_duration(s).unwrap()), s);
        }
    }
}
