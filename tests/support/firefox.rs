//! A headless Firefox ESR (Debian's `firefox-esr`) driven over WebDriver BiDi by a small
//! node script, `tests/firefox/driver.mjs` (puppeteer-core, installed by the README's test
//! command into `tests/firefox/node_modules`; it never downloads a browser).
//!
//! The driver takes one JSON command a line on stdin and answers one a line on stdout, so
//! this side stays as plain as the Chromium pipe of `browser.rs`. In a network namespace the
//! driver itself runs under `ip netns exec` (Firefox's BiDi server listens on 127.0.0.1
//! inside the namespace). [`Firefox`] is a [`PageObject`]: tests drive it with the same hook
//! methods as a Chromium [`Page`](super::page::Page) (`open`, `click`, `fill`, `data`,
//! `wait_hook`, `set_files`, `wait_download`).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::page::PageObject;
use super::TempDir;

pub const FIREFOX: &str = "/usr/bin/firefox-esr";

/// The driver's folder (package.json, package-lock.json, driver.mjs, node_modules).
fn driver_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/firefox")
}

/// One Firefox process with one page, behind its node driver.
pub struct Firefox {
    driver: Child,
    to_driver: Option<ChildStdin>,
    answers: Receiver<Value>,
    next_id: u64,
    pid: u32,
    pub downloads: PathBuf,
    _profile: TempDir,
}

impl Firefox {
    /// Start Firefox with a fresh profile, in network namespace `netns` when given.
    pub fn launch(netns: Option<&str>) -> Firefox {
        let dir = driver_dir();
        assert!(
            Path::new(FIREFOX).exists() && dir.join("node_modules/puppeteer-core").exists(),
            "{FIREFOX} or puppeteer-core in {} is missing: run the README's test command, \
             which installs them",
            dir.display()
        );
        if let Some(ns) = netns {
            super::netns::wait_settled(ns);
        }
        let profile = TempDir::new("firefox");
        let (prof, downloads) = (profile.0.join("profile"), profile.0.join("downloads"));
        for d in [&prof, &downloads] {
            std::fs::create_dir_all(d).unwrap();
        }
        let script = dir.join("driver.mjs");
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, "node"]);
                c
            }
            None => Command::new("node"),
        };
        cmd.arg(&script)
            .arg(&prof)
            .arg(&downloads)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut driver = cmd.spawn().expect("start node (tests/firefox/driver.mjs)");
        let to_driver = driver.stdin.take();
        let from_driver = driver.stdout.take().unwrap();
        let (tx, answers) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(from_driver).lines() {
                let Ok(line) = line else { break };
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    if tx.send(v).is_err() {
                        break;
                    }
                }
            }
        });
        let ready = answers
            .recv_timeout(Duration::from_secs(90))
            .expect("Firefox's driver did not start within 90 s");
        let pid = ready["pid"]
            .as_u64()
            .expect("driver's ready line names a pid") as u32;
        Firefox {
            driver,
            to_driver,
            answers,
            next_id: 1,
            pid,
            downloads,
            _profile: profile,
        }
    }

    /// One driver command; `Err` holds the driver's error text.
    pub fn command(&mut self, mut msg: Value) -> Result<Value, String> {
        let id = self.next_id;
        self.next_id += 1;
        msg["id"] = json!(id);
        let cmd = msg["cmd"].as_str().unwrap_or("?").to_string();
        let stdin = self.to_driver.as_mut().expect("driver closed");
        writeln!(stdin, "{msg}").expect("write to Firefox's driver");
        stdin.flush().expect("flush to Firefox's driver");
        let end = Instant::now() + Duration::from_secs(90);
        loop {
            let left = end.saturating_duration_since(Instant::now());
            let reply = match self.answers.recv_timeout(left) {
                Ok(v) => v,
                Err(RecvTimeoutError::Timeout) => panic!("Firefox did not answer {cmd}"),
                Err(RecvTimeoutError::Disconnected) => panic!("Firefox's driver exited ({cmd})"),
            };
            // An answer to an earlier command (none should be late: each is awaited).
            if reply["id"] != json!(id) {
                continue;
            }
            return match reply.get("error") {
                Some(e) => Err(e.as_str().unwrap_or_default().to_string()),
                None => Ok(reply["ok"].clone()),
            };
        }
    }

    /// Console messages and uncaught exceptions of the page so far (for failure reports).
    pub fn console(&mut self) -> Vec<String> {
        let v = self.command(json!({"cmd": "console"})).unwrap_or_default();
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|l| l.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl PageObject for Firefox {
    fn start(netns: Option<&str>) -> Firefox {
        Firefox::launch(netns)
    }

    /// A page that does not load (homedrop not up yet) is the caller's to retry: the failed
    /// navigation leaves an error page, which `load` tells from homedrop's.
    fn goto(&mut self, url: &str) {
        let _ = self.command(json!({"cmd": "goto", "url": url}));
        // As Chromium's `goto`: a homedrop page (it carries boot.js) has its app, since one
        // that lost a module loads itself again.
        self.wait_for(
            "document.readyState === 'complete' && \
             (!document.querySelector('script[src$=\"/js/boot.js\"]') || typeof window.homedrop === 'object')",
            Duration::from_secs(40),
        );
    }

    fn try_eval(&mut self, expr: &str) -> Result<Value, String> {
        self.command(json!({"cmd": "eval", "expr": expr}))
    }

    fn wait_for(&mut self, expr: &str, timeout: Duration) -> Value {
        let eval = |b: &mut Self, e: &str| b.try_eval(e);
        super::browser::poll_truthy(self, "Firefox: ", expr, timeout, eval, |b| b.console())
    }

    fn set_files(&mut self, selector: &str, files: &[&Path]) {
        let paths: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
        self.command(json!({"cmd": "setFiles", "selector": selector, "files": paths}))
            .unwrap_or_else(|e| panic!("set files on {selector}: {e}"));
    }

    /// Firefox writes `NAME.part` beside the (empty) final file and renames it over the file
    /// when done: finished is the file there, no `.part` left and its size settled.
    fn wait_download(&mut self, name: &str, timeout: Duration) -> PathBuf {
        let end = Instant::now() + timeout;
        let path = self.downloads.join(name);
        let mut last = None;
        loop {
            let partial = self.downloads.read_dir().unwrap().any(|e| {
                e.map(|e| e.file_name().to_string_lossy().ends_with(".part"))
                    .unwrap_or(false)
            });
            let size = std::fs::metadata(&path).ok().map(|m| m.len());
            if !partial && size.is_some() && size == last {
                return path;
            }
            last = if partial { None } else { size };
            assert!(
                Instant::now() < end,
                "Firefox: download {name} did not finish"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    fn pid(&self) -> u32 {
        self.pid
    }
}

impl Drop for Firefox {
    fn drop(&mut self) {
        // stdin closing makes the driver close the browser and exit.
        drop(self.to_driver.take());
        let end = Instant::now() + Duration::from_secs(15);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.driver.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // SAFETY: kill(2) on the pid of the browser this driver started.
        unsafe { libc::kill(self.pid as i32, libc::SIGKILL) };
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
