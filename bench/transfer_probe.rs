//! What the transfer bench measures around each run besides its rate: UDP receive-buffer
//! drops, the CPU the browsers and the delay line used, and the priorities it gives the
//! browsers so the shared machine's load does not set the numbers.

use std::time::Instant;

use crate::support::netns::{rcvbuf_errors, Lan};
use crate::support::procfs;

/// UDP datagrams the hosts' kernels dropped because a socket's receive buffer was full
/// (`RcvbufErrors` in each host namespace's /proc/net/snmp): Chromium asks for small UDP
/// buffers, so this is where SCTP packets get lost when a browser falls behind.
fn udp_drops(lan: &Lan) -> u64 {
    lan.hosts.iter().map(|ns| rcvbuf_errors(ns)).sum()
}

/// The processes in the hosts' namespaces (the browsers), as `ip netns pids` lists them.
fn host_pids(lan: &Lan) -> Vec<String> {
    let mut pids = Vec::new();
    for ns in &lan.hosts {
        let out = std::process::Command::new("ip")
            .args(["netns", "pids", ns])
            .output()
            .expect("ip netns pids");
        pids.extend(
            String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .map(str::to_owned),
        );
    }
    pids
}

/// Run every process in the hosts' namespaces (the browsers) at nice -10, and their
/// network services under SCHED_FIFO. This machine
/// is shared; a browser that waits for a CPU overflows the small UDP receive buffer Chromium
/// asks for (128 KiB), and each lost SCTP packet halves the congestion window, which regrows
/// by one packet per round trip: at 40 ms that noise, not the protocol, would set the
/// numbers. All variants get the same treatment.
pub fn prioritize(lan: &Lan) {
    for pid in host_pids(lan) {
        let pid = pid.as_str();
        // Nice values are per thread on Linux: every thread of the process.
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        let tids: Vec<String> = tasks
            .flatten()
            .map(|t| t.file_name().to_string_lossy().into_owned())
            .collect();
        let _ = std::process::Command::new("renice")
            .args(["-n", "-10", "-p"])
            .args(&tids)
            .stdout(std::process::Stdio::null())
            .status();
        // The network service reads the UDP sockets: real-time, as if it had a core of
        // its own (it only moves packets to the renderer, so it cannot hog one), and above
        // the delay line's threads (priority 10), which otherwise kept a receiving browser
        // from its socket long enough to overflow Chromium's 128 KiB buffer.
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains("network.mojom.NetworkService") {
            let _ = std::process::Command::new("chrt")
                .args(["-a", "-f", "-p", "20", pid])
                .stdout(std::process::Stdio::null())
                .status();
        }
    }
}

/// Counters of the hosts' namespaces at one moment, to diff around a run.
pub struct Probe {
    drops: u64,
    cpu_secs: f64,
    /// CPU used by this process: the delay line's threads, next to nothing else.
    line_secs: f64,
    at: Instant,
    /// Wall-clock time of day (UTC, HHMMSS as Chromium's log stamps it), to match a run
    /// with the browsers' own log (`HOMEDROP_CHROMIUM_LOG`).
    pub clock: String,
}

impl Probe {
    pub fn take(lan: &Lan) -> Probe {
        Probe {
            drops: udp_drops(lan),
            cpu_secs: cpu_secs(lan),
            line_secs: own_cpu_secs(),
            at: Instant::now(),
            clock: clock(),
        }
    }

    pub fn drops_to(&self, later: &Probe) -> u64 {
        later.drops - self.drops
    }

    /// CPU used by the browsers between the two probes, in cores (2.0 = both of this VM's).
    pub fn cores_to(&self, later: &Probe) -> f64 {
        (later.cpu_secs - self.cpu_secs) / later.at.duration_since(self.at).as_secs_f64()
    }

    /// CPU used by the delay line between the two probes, in cores.
    pub fn line_cores_to(&self, later: &Probe) -> f64 {
        (later.line_secs - self.line_secs) / later.at.duration_since(self.at).as_secs_f64()
    }
}

/// CPU seconds (user + system) this process has used, all threads.
fn own_cpu_secs() -> f64 {
    // SAFETY: rusage is plain data; getrusage fills it for RUSAGE_SELF.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: u is a live rusage.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(u.ru_utime) + secs(u.ru_stime)
}

/// The time of day, UTC, as HHMMSS.
fn clock() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        % 86400;
    format!("{:02}{:02}{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// CPU seconds (user + system) used so far by every process in the hosts' namespaces.
fn cpu_secs(lan: &Lan) -> f64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let mut ticks = 0u64;
    for pid in host_pids(lan) {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        ticks += procfs::cpu_ticks(&stat).unwrap_or(0);
    }
    ticks as f64 / hz
}
