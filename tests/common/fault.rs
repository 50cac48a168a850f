//! Fault tests: a server of the stack killed under a run, and started again afterwards.

use super::stack::stack_state;
use super::{bin, Case};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `scripts/stack up SERVER` when dropped, so that whatever a fault test killed comes back even
/// when the test fails.
pub struct RestartOnDrop(pub &'static str);

impl Drop for RestartOnDrop {
    fn drop(&mut self) {
        let root = env!("CARGO_MANIFEST_DIR");
        match Command::new(format!("{root}/scripts/stack"))
            .args(["up", self.0])
            .output()
        {
            Ok(o) if !o.status.success() => eprintln!(
                "restarting {} failed: {}",
                self.0,
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => eprintln!("restarting {}: {e}", self.0),
            _ => {}
        }
    }
}

/// The PID of a process the stack started (`pids/<name>.pid`, the leader of its process group).
pub fn stack_pid(name: &str) -> i32 {
    let f = stack_state().join("pids").join(format!("{name}.pid"));
    std::fs::read_to_string(&f)
        .unwrap_or_else(|e| panic!("{name}'s PID file {}: {e}", f.display()))
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{name}'s PID file {}: {e}", f.display()))
}

/// Sends `signal` to the process group of the stack's process `name` and waits until its leader is
/// gone (a fault test checks that the fault happened); panics after `within`. Returns the epoch ms at
/// which the signal was sent.
pub fn kill_stack_process(name: &str, signal: i32, within: Duration) -> i64 {
    let pid = stack_pid(name);
    // A stale PID file (a process already gone) would make the wait below pass at once: the process
    // must be there before the signal, and the signal must be delivered.
    assert_eq!(
        unsafe { libc::kill(pid, 0) },
        0,
        "{name} ({pid}) is not running before the fault: {}",
        std::io::Error::last_os_error()
    );
    let at = loadgen::epoch_micros() / 1000;
    // The stack starts each server in a process group of its own.
    assert_eq!(
        unsafe { libc::kill(-pid, signal) },
        0,
        "signal {signal} to {name}'s process group ({pid}): {}",
        std::io::Error::last_os_error()
    );
    let t = Instant::now();
    while unsafe { libc::kill(pid, 0) } == 0 {
        assert!(
            t.elapsed() < within,
            "{name} ({pid}) still alive {within:?} after signal {signal}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    at
}

/// A `loadgen run` started by `spawn_run`. Dropped before `finish` took it (a test that panicked
/// on the way), it kills the run (SIGKILL) and reaps it, so that no run goes on loading the servers
/// while the next test starts. Declare it after the test's `RestartOnDrop`: locals drop in reverse
/// order, so the run is gone before the server is started again.
pub struct RunGuard(Option<Child>);

impl Drop for RunGuard {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `loadgen run` of the case in the background (`--quiet`, its result in the case's folder), with
/// `-e` settings; stdout is piped for `finish`.
pub fn spawn_run(case: &Case, env: &[String]) -> RunGuard {
    let mut c = Command::new(bin());
    c.arg("run")
        .arg(case.script())
        .arg("--out")
        .arg(case.out())
        .arg("--quiet");
    for e in env {
        c.arg("-e").arg(e);
    }
    RunGuard(Some(c.stdout(Stdio::piped()).spawn().unwrap()))
}

/// Waits for a run from `spawn_run`: its exit code and what it printed.
pub fn finish(mut run: RunGuard) -> (Option<i32>, String) {
    let child = run.0.take().expect("a run is finished once");
    // Read to the end before reaping: a run that fills the pipe would otherwise never exit.
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}
