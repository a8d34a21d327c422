//! Rows 3 and 4: process start → signed-in session, and the peak RSS of that process, for the
//! native subject (`byoa-cold-start`) and Dynamic's JavaScript SDK in Node
//! (`benches/js/cold-start.mjs`), both signing in against the same emulator with a JWT from the
//! same issuer.
//!
//! Wall time runs from just before `spawn` to the child's exit as reaped by `wait4(2)`, which also
//! gives its peak resident set (`ru_maxrss`), so no wrapper process stands between. Runs alternate
//! between the two subjects after one untimed warm-up each (page cache warm: this is a cold
//! *process*, not a cold disk).

use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::BoxResult;

/// One program to start, with its arguments, working directory and a name for errors.
pub struct Subject {
    pub name: &'static str,
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub dir: PathBuf,
}

/// One completed run.
#[derive(Debug, Clone)]
pub struct Run {
    pub wall: Duration,
    pub max_rss_kib: u64,
    /// The JSON line the subject printed on success.
    pub report: Value,
}

/// `runs` timed runs of each subject, interleaved, after one warm-up each.
pub fn measure(
    subjects: &[&Subject],
    fixture: &Path,
    scratch: &Path,
    runs: usize,
) -> BoxResult<Vec<Vec<Run>>> {
    for subject in subjects {
        run_once(subject, fixture, scratch)?;
    }
    let mut results = vec![Vec::with_capacity(runs); subjects.len()];
    for i in 0..runs {
        for k in 0..subjects.len() {
            // Rotate the order so that neither always follows the other.
            let index = (k + i) % subjects.len();
            results[index].push(run_once(subjects[index], fixture, scratch)?);
        }
    }
    Ok(results)
}

fn run_once(subject: &Subject, fixture: &Path, scratch: &Path) -> BoxResult<Run> {
    let out_path = scratch.join(format!("{}.stdout", subject.name));
    let err_path = scratch.join(format!("{}.stderr", subject.name));
    let mut command = Command::new(&subject.program);
    command
        .args(&subject.args)
        .current_dir(&subject.dir)
        .env("BYOA_BENCH_FIXTURE", fixture)
        .stdin(Stdio::null())
        .stdout(File::create(&out_path)?)
        .stderr(File::create(&err_path)?);
    let started = Instant::now();
    let child = command.spawn().map_err(|e| {
        format!(
            "{}: cannot start {}: {e}",
            subject.name,
            subject.program.display()
        )
    })?;
    let (status, max_rss_kib) = reap(child.id())?;
    let wall = started.elapsed();
    let stdout = std::fs::read_to_string(&out_path)?;
    if status != 0 {
        let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
        return Err(format!(
            "{} exited with status {status}: {}{}",
            subject.name,
            tail(&stdout),
            tail(&stderr)
        )
        .into());
    }
    let report: Value = stdout
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str(line).ok())
        .ok_or_else(|| format!("{} printed no JSON line: {}", subject.name, tail(&stdout)))?;
    if report["signedIn"] != Value::Bool(true) {
        return Err(format!("{} did not sign in: {report}", subject.name).into());
    }
    Ok(Run {
        wall,
        max_rss_kib,
        report,
    })
}

/// Waits for `pid` and returns its exit status (or 128 + signal) and peak RSS in KiB.
fn reap(pid: u32) -> BoxResult<(i32, u64)> {
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for the kernel to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `pid` is our unreaped child; both out-pointers are valid for the call.
        let reaped = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
        if reaped == pid as libc::pid_t {
            break;
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("wait4: {error}").into());
        }
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    };
    // Linux reports ru_maxrss in KiB.
    Ok((code, usage.ru_maxrss as u64))
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(8)..].join("\n")
}
