//! A headless Chromium driven over the Chrome DevTools Protocol, without a crate for it:
//! `chromium --headless --remote-debugging-pipe` reads commands on file descriptor 3 and writes
//! answers and events on 4, each a JSON message ended by a NUL byte. Enough for the dashboard's
//! browser test: open a page (a target), evaluate script in it, take a screenshot, close it.

use serde_json::{json, Value};
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::FromRawFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const CHROMIUM: &str = "/usr/bin/chromium";

pub struct Browser {
    child: Child,
    commands: File,
    answers: mpsc::Receiver<Value>,
    next_id: u64,
    _profile: tempfile::TempDir,
}

/// A page open in the browser: its target and the session attached to it.
pub struct Page {
    pub target: String,
    pub session: String,
}

/// Two pipes with close-on-exec set: (read end, write end) each.
fn pipe() -> (i32, i32) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array we own.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", std::io::Error::last_os_error());
    (fds[0], fds[1])
}

impl Browser {
    /// Starts Chromium (Debian's package, `/usr/bin/chromium`); a missing browser fails the test
    /// by name, so that CI cannot skip the browser test silently.
    pub fn launch() -> Browser {
        assert!(
            Path::new(CHROMIUM).exists(),
            "{CHROMIUM} is missing: install the Debian package 'chromium' (scripts/setup does)"
        );
        let (cmd_r, cmd_w) = pipe();
        let (ans_r, ans_w) = pipe();
        let profile = tempfile::tempdir().unwrap();
        let mut c = Command::new(CHROMIUM);
        c.args([
            "--headless",
            "--no-sandbox",
            "--remote-debugging-pipe",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--window-size=1400,1000",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("about:blank")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        // SAFETY: only async-signal-safe calls between fork and exec. The pipe ends are first
        // copied above 10 (F_DUPFD clears close-on-exec) so that dup2 onto 3 and 4 cannot overwrite
        // one of them, and a descriptor already numbered 3 or 4 still loses close-on-exec.
        unsafe {
            c.pre_exec(move || {
                let r = libc::fcntl(cmd_r, libc::F_DUPFD, 10);
                let w = libc::fcntl(ans_w, libc::F_DUPFD, 10);
                if r < 0 || w < 0 || libc::dup2(r, 3) < 0 || libc::dup2(w, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(r);
                libc::close(w);
                Ok(())
            });
        }
        let child = c.spawn().expect("chromium starts");
        // SAFETY: the descriptors are ours; each is wrapped once, and the child's ends closed here.
        let (commands, answers_file) = unsafe {
            libc::close(cmd_r);
            libc::close(ans_w);
            (File::from_raw_fd(cmd_w), File::from_raw_fd(ans_r))
        };
        let (tx, answers) = mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(answers_file);
            let mut buf = Vec::new();
            while r.read_until(0, &mut buf).map(|n| n > 0).unwrap_or(false) {
                if buf.last() == Some(&0) {
                    buf.pop();
                }
                if let Ok(v) = serde_json::from_slice::<Value>(&buf) {
                    if tx.send(v).is_err() {
                        return;
                    }
                }
                buf.clear();
            }
        });
        Browser {
            child,
            commands,
            answers,
            next_id: 1,
            _profile: profile,
        }
    }

    /// Sends a command (to a page's session, or to the browser) and waits for its answer; events
    /// that arrive meanwhile are dropped. An error answer panics with the method's name.
    pub fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&msg).unwrap();
        bytes.push(0);
        self.commands
            .write_all(&bytes)
            .expect("chromium takes commands");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = self
                .answers
                .recv_timeout(left)
                .unwrap_or_else(|e| panic!("no answer from chromium to {method}: {e}"));
            if v["id"] == json!(id) {
                if let Some(err) = v.get("error") {
                    panic!("chromium: {method} failed: {err}");
                }
                return v["result"].clone();
            }
        }
    }

    /// Opens `url` in a new target and attaches to it.
    pub fn open(&mut self, url: &str) -> Page {
        let t = self.call(None, "Target.createTarget", json!({"url": url}));
        let target = t["targetId"].as_str().expect("a target id").to_string();
        let a = self.call(
            None,
            "Target.attachToTarget",
            json!({"targetId": target, "flatten": true}),
        );
        let session = a["sessionId"].as_str().expect("a session id").to_string();
        Page { target, session }
    }

    pub fn close(&mut self, page: Page) {
        self.call(None, "Target.closeTarget", json!({"targetId": page.target}));
    }

    /// The value of a JavaScript expression in the page (promises awaited).
    pub fn eval(&mut self, page: &Page, expression: &str) -> Value {
        let r = self.call(
            Some(&page.session),
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        );
        if let Some(e) = r.get("exceptionDetails") {
            panic!("the page threw on `{expression}`: {e}");
        }
        r["result"]["value"].clone()
    }

    /// Evaluates `expression` every 100 ms until it is true; panics naming `what` after `timeout`.
    pub fn wait_for(&mut self, page: &Page, expression: &str, timeout: Duration, what: &str) {
        let t = Instant::now();
        // Until the page has loaded, its elements are missing: that is "not yet", not an error.
        let guarded =
            format!("(() => {{ try {{ return {expression}; }} catch (e) {{ return false; }} }})()");
        while self.eval(page, &guarded) != json!(true) {
            assert!(t.elapsed() < timeout, "after {timeout:?}: {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A PNG of the whole page (its full height, 1400 px wide), written to `path`.
    pub fn screenshot(&mut self, page: &Page, path: &Path) {
        let height = self
            .eval(page, "document.documentElement.scrollHeight")
            .as_u64()
            .unwrap_or(1000)
            .clamp(200, 8000);
        self.call(
            Some(&page.session),
            "Emulation.setDeviceMetricsOverride",
            json!({"width": 1400, "height": height, "deviceScaleFactor": 1, "mobile": false}),
        );
        let r = self.call(
            Some(&page.session),
            "Page.captureScreenshot",
            json!({"format": "png"}),
        );
        use base64::Engine as _;
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().expect("screenshot data"))
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self
            .commands
            .write_all(b"{\"id\":0,\"method\":\"Browser.close\"}\0");
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
