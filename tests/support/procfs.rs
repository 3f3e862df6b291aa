//! Reading /proc for the tests and benches that measure a process: memory from
//! /proc/PID/status, CPU time from /proc/PID/stat.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Field `name` (e.g. `"VmRSS:"`) of /proc/`pid`/status in KiB, `None` if the field is
/// missing; panics if the process is gone (a measured process must be running).
pub fn status_kib(pid: u32, name: &str) -> Option<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let line = status.lines().find(|l| l.starts_with(name))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// User + system CPU time (all threads) in clock ticks, from the text of /proc/PID/stat.
pub fn cpu_ticks(stat: &str) -> Option<u64> {
    // Fields after the ")" of the command name (which may hold spaces): utime is the 12th,
    // stime the 13th.
    let (_, rest) = stat.rsplit_once(')')?;
    let mut f = rest.split_whitespace().skip(11);
    let utime: u64 = f.next()?.parse().ok()?;
    let stime: u64 = f.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Peak of a browser's process-tree RSS (bytes), sampled every 100 ms in the background
/// (`HOMEDROP_RSS_DEBUG` prints each new peak's large processes).
pub struct RssWatch {
    peak: Arc<AtomicU64>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl RssWatch {
    pub fn start(pid: u32) -> RssWatch {
        let peak = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (p, s) = (peak.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                let parts = super::browser::tree_breakdown(pid);
                let sum: u64 = parts.iter().map(|x| x.2).sum();
                if sum > p.fetch_max(sum, Ordering::Relaxed)
                    && std::env::var_os("HOMEDROP_RSS_DEBUG").is_some()
                {
                    let mut v: Vec<String> = parts
                        .iter()
                        .filter(|x| x.2 > 20 * (1024 * 1024))
                        .map(|x| format!("{}={}M", x.1, x.2 / (1024 * 1024)))
                        .collect();
                    v.sort();
                    eprintln!("peak {} MiB: {}", sum / (1024 * 1024), v.join(" "));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        RssWatch {
            peak,
            stop,
            handle: Some(handle),
        }
    }

    pub fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        self.peak.load(Ordering::Relaxed)
    }
}
