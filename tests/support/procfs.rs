//! Reading /proc for the tests and benches that measure a process: memory from
//! /proc/PID/status, CPU time from /proc/PID/stat.

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
