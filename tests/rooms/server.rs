//! homedrop for the rooms test: the release binary in the LAN's router namespace, and a scan
//! of its memory for text it must never hold.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::support::netns::Lan;
use crate::support::release_binary;

/// homedrop in the router namespace, its stderr kept in a file; killed when dropped.
pub(super) struct Server {
    child: Child,
}

impl Server {
    pub(super) fn start(lan: &Lan, http: &str, log: &Path) -> Server {
        let child = Command::new("ip")
            .args(["netns", "exec", &lan.router])
            .arg(release_binary())
            .args(["--http", http, "--no-mdns", "--no-turn", "--log", "debug"])
            // Its pairing key goes beside the log, not into the working directory.
            .arg("--state-dir")
            .arg(log.with_extension("state"))
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(log.with_extension("out")).unwrap())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .expect("start homedrop");
        Server { child }
    }

    /// Whether `needle` occurs anywhere in the server's readable memory.
    pub(super) fn memory_contains(&self, needle: &[u8]) -> bool {
        use std::io::{Read, Seek, SeekFrom};
        let pid = self.child.id();
        let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
        let mut mem = std::fs::File::open(format!("/proc/{pid}/mem")).unwrap();
        for line in maps.lines() {
            let mut f = line.split_whitespace();
            let (Some(range), Some(perms)) = (f.next(), f.next()) else {
                continue;
            };
            if !perms.starts_with('r') || line.ends_with("[vvar]") || line.ends_with("[vsyscall]") {
                continue;
            }
            let Some((lo, hi)) = range.split_once('-') else {
                continue;
            };
            let lo = u64::from_str_radix(lo, 16).unwrap();
            let hi = u64::from_str_radix(hi, 16).unwrap();
            let mut buf = vec![0u8; (hi - lo) as usize];
            if mem.seek(SeekFrom::Start(lo)).is_err() || mem.read_exact(&mut buf).is_err() {
                continue;
            }
            if buf.windows(needle.len()).any(|w| w == needle) {
                return true;
            }
        }
        false
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
