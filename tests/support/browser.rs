//! A headless Chromium driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`).
//!
//! A pipe rather than a TCP debugging port: the browser can run inside a network namespace
//! (through `ip netns exec`) while the test drives it from the root namespace, and nothing
//! listens on any port. Messages are JSON separated by NUL bytes: fd 3 carries commands to
//! the browser, fd 4 carries answers and events back. What a test does on homedrop's page
//! (click, fill, read a hook) is the page object's, in `page.rs`.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::TempDir;

pub const CHROMIUM: &str = "/usr/bin/chromium";

type Waiters = Arc<Mutex<HashMap<u64, Sender<Value>>>>;

/// One browser process with one page.
pub struct Browser {
    child: Child,
    to_browser: File,
    waiters: Waiters,
    events: Arc<Mutex<Vec<Value>>>,
    next_id: u64,
    session: String,
    pub downloads: PathBuf,
    _profile: TempDir,
}

fn pipe() -> (RawFd, RawFd) {
    let mut fds = [0; 2];
    // SAFETY: fds is a valid two-element array for pipe2 to fill.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2 failed");
    (fds[0], fds[1])
}

/// A home directory under `dir` whose NSS database (`.pki/nssdb`) trusts `ca` for TLS.
fn trusting_home(dir: &Path, ca: &Path) -> PathBuf {
    let home = dir.join("home");
    let db = home.join(".pki/nssdb");
    std::fs::create_dir_all(&db).unwrap();
    let db_arg = format!("sql:{}", db.display());
    let ca = ca.to_str().unwrap();
    for args in [
        vec!["-d", &db_arg, "-N", "--empty-password"],
        vec![
            "-d",
            &db_arg,
            "-A",
            "-t",
            "C,,",
            "-n",
            "homedrop-test",
            "-i",
            ca,
        ],
    ] {
        let out = Command::new("certutil")
            .args(&args)
            .output()
            .expect("certutil (apt-get install -y libnss3-tools; scripts/test.sh does)");
        assert!(out.status.success(), "certutil {args:?}: {out:?}");
    }
    home
}

impl Browser {
    /// Start Chromium, in network namespace `netns` when given.
    pub fn launch(netns: Option<&str>) -> Browser {
        Self::launch_trusting(netns, None)
    }

    /// [`Browser::launch`] with a `HOME` of its own whose NSS database trusts the CA in PEM
    /// file `ca` (with `certutil`, libnss3-tools), so certificates it signed are trusted
    /// without `--ignore-certificate-errors`.
    pub fn launch_trusting(netns: Option<&str>, ca: Option<&Path>) -> Browser {
        Self::launch_with(netns, ca, &[])
    }

    /// [`Browser::launch_trusting`] with `extra` Chromium flags after the usual ones (e.g.
    /// `--use-fake-device-for-media-stream` for tests/screen.rs); no test gets them otherwise.
    pub fn launch_with(netns: Option<&str>, ca: Option<&Path>, extra: &[&str]) -> Browser {
        assert!(
            Path::new(CHROMIUM).exists(),
            "{CHROMIUM} is missing: run the README's test command, which installs it"
        );
        if let Some(ns) = netns {
            super::netns::wait_settled(ns);
        }
        let profile = TempDir::new("chromium");
        let downloads = profile.0.join("downloads");
        std::fs::create_dir_all(&downloads).unwrap();
        let (cmd_read, cmd_write) = pipe();
        let (ev_read, ev_write) = pipe();
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, CHROMIUM]);
                c
            }
            None => Command::new(CHROMIUM),
        };
        if let Some(ca) = ca {
            cmd.env("HOME", trusting_home(&profile.0, ca));
        }
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--remote-debugging-pipe",
            "--disable-features=WebRtcHideLocalIpsWithMdns",
            "about:blank",
        ])
        .args(extra)
        .arg(format!("--user-data-dir={}", profile.0.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        // HOMEDROP_CHROMIUM_LOG=FILE: Chromium's own log (WebRTC warnings included) appended
        // to FILE, for digging into a slow or stuck browser.
        if let Ok(path) = std::env::var("HOMEDROP_CHROMIUM_LOG") {
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .expect("open HOMEDROP_CHROMIUM_LOG");
            cmd.args(["--enable-logging=stderr", "--v=0"]).stderr(log);
        }
        // SAFETY: only fcntl and dup2 (async-signal-safe) run between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                // Move both out of the way first: either may already sit at 3 or 4, and
                // dup2 onto itself would keep the close-on-exec flag.
                let (a, b) = (
                    libc::fcntl(cmd_read, libc::F_DUPFD, 10),
                    libc::fcntl(ev_write, libc::F_DUPFD, 10),
                );
                if a < 0 || b < 0 || libc::dup2(a, 3) < 0 || libc::dup2(b, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("start chromium");
        // SAFETY: we own these descriptors; the child has its own copies.
        let to_browser = unsafe {
            libc::close(cmd_read);
            libc::close(ev_write);
            File::from_raw_fd(cmd_write)
        };
        let from_browser = unsafe { File::from_raw_fd(ev_read) };
        let waiters: Waiters = Arc::default();
        let events: Arc<Mutex<Vec<Value>>> = Arc::default();
        spawn_reader(from_browser, waiters.clone(), events.clone());
        let mut b = Browser {
            child,
            to_browser,
            waiters,
            events,
            next_id: 1,
            session: String::new(),
            downloads,
            _profile: profile,
        };
        b.attach();
        b
    }

    fn attach(&mut self) {
        let targets = self.call_browser("Target.getTargets", json!({}));
        let page = targets["targetInfos"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["type"] == "page")
            .map(|t| t["targetId"].as_str().unwrap().to_string());
        let target = match page {
            Some(t) => t,
            None => self.call_browser("Target.createTarget", json!({"url":"about:blank"}))
                ["targetId"]
                .as_str()
                .unwrap()
                .to_string(),
        };
        let s = self.call_browser(
            "Target.attachToTarget",
            json!({"targetId": target, "flatten": true}),
        );
        self.session = s["sessionId"].as_str().unwrap().to_string();
        self.call("Page.enable", json!({}));
        self.call("Runtime.enable", json!({}));
        // Network errors (a failed module fetch, a refused WebSocket) reach the console
        // through the Log domain, not Runtime.
        self.call("Log.enable", json!({}));
        let dir = self.downloads.display().to_string();
        self.call_browser(
            "Browser.setDownloadBehavior",
            json!({"behavior":"allow","downloadPath":dir,"eventsEnabled":true}),
        );
    }

    /// Pid of the process started (the browser itself: `ip netns exec` execs in place).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn send(&mut self, method: &str, params: Value, session: Option<&str>) -> Value {
        self.send_raw(method, params, session)
            .unwrap_or_else(|err| panic!("{method} failed: {err}"))
    }

    /// One command; `Err` holds Chromium's error object.
    fn send_raw(
        &mut self,
        method: &str,
        params: Value,
        session: Option<&str>,
    ) -> Result<Value, Value> {
        let id = self.next_id;
        self.next_id += 1;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let (tx, rx) = channel();
        self.waiters.lock().unwrap().insert(id, tx);
        let mut bytes = msg.to_string().into_bytes();
        bytes.push(0);
        self.to_browser
            .write_all(&bytes)
            .expect("write to chromium");
        let reply = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("chromium did not answer {method}"));
        match reply.get("error") {
            Some(err) => Err(err.clone()),
            None => Ok(reply["result"].clone()),
        }
    }

    pub fn call_browser(&mut self, method: &str, params: Value) -> Value {
        self.send(method, params, None)
    }

    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.try_call(method, params)
            .unwrap_or_else(|err| panic!("{method} failed: {err}"))
    }

    /// A page command whose failure is the caller's to judge (`Err`: Chromium's error).
    pub fn try_call(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        let s = self.session.clone();
        self.send_raw(method, params, Some(&s))
    }

    pub fn goto(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url}));
        self.wait_loaded();
    }

    pub fn reload(&mut self) {
        self.call("Page.reload", json!({}));
        std::thread::sleep(Duration::from_millis(300));
        self.wait_loaded();
    }

    /// The page has loaded, and a homedrop page (it carries boot.js) has its app: one that
    /// lost a module loads itself again, and acting on the first load would act on a page
    /// about to go.
    fn wait_loaded(&mut self) {
        self.wait_for(
            "document.readyState === 'complete' && \
             (!document.querySelector('script[src$=\"/js/boot.js\"]') || typeof window.homedrop === 'object')",
            Duration::from_secs(40),
        );
    }

    /// Evaluate an expression (promises awaited) and return its JSON value.
    pub fn eval(&mut self, expr: &str) -> Value {
        self.try_eval(expr)
            .unwrap_or_else(|e| panic!("script failed: {expr}\n{e}"))
    }

    /// `eval` for a page that may be navigating on its own: `Err` (what went wrong) when the
    /// page's context went away or the script threw.
    pub fn try_eval(&mut self, expr: &str) -> Result<Value, String> {
        let params = json!({"expression": expr, "awaitPromise": true, "returnByValue": true});
        let r = self
            .try_call("Runtime.evaluate", params)
            .map_err(|e| e.to_string())?;
        match r.get("exceptionDetails") {
            Some(ex) => Err(ex.to_string()),
            None => Ok(r["result"]["value"].clone()),
        }
    }

    /// The parameters of every event `method` received so far, oldest first.
    pub fn events(&self, method: &str) -> Vec<Value> {
        let ev = self.events.lock().unwrap();
        ev.iter()
            .filter(|e| e["method"] == method)
            .map(|e| e["params"].clone())
            .collect()
    }

    /// Poll until `expr` is truthy. A failed evaluation counts as "not yet" (the page may be
    /// loading itself again) and is shown if time runs out.
    pub fn wait_for(&mut self, expr: &str, timeout: Duration) -> Value {
        poll_truthy(self, "", expr, timeout, Self::try_eval, |b| b.console())
    }

    /// Choose files on a file input, as a user picking them would.
    pub fn set_files(&mut self, selector: &str, files: &[&Path]) {
        let doc = self.call("DOM.getDocument", json!({"depth": 0}));
        let root = doc["root"]["nodeId"].clone();
        let node = self.call(
            "DOM.querySelector",
            json!({"nodeId": root, "selector": selector}),
        );
        let paths: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
        self.call(
            "DOM.setFileInputFiles",
            json!({"nodeId": node["nodeId"], "files": paths}),
        );
    }

    /// Wait for a finished download with this file name; returns its path.
    pub fn wait_download(&mut self, name: &str, timeout: Duration) -> PathBuf {
        let end = Instant::now() + timeout;
        let path = self.downloads.join(name);
        loop {
            let done = self.events.lock().unwrap().iter().any(|e| {
                e["method"] == "Browser.downloadProgress" && e["params"]["state"] == "completed"
            });
            if done && path.exists() {
                // Several downloads may be under way: wait for this one's final size to settle.
                let partial = self.downloads.read_dir().unwrap().any(|e| {
                    e.map(|e| e.file_name().to_string_lossy().ends_with(".crdownload"))
                        .unwrap_or(false)
                });
                if !partial {
                    return path;
                }
            }
            assert!(Instant::now() < end, "download {name} did not finish");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Console messages and uncaught exceptions of the page so far (for failure reports).
    /// The console's errors and uncaught exceptions so far (a page that must log none).
    pub fn errors(&self) -> Vec<String> {
        self.console()
            .into_iter()
            .filter(|l| l.starts_with("error:") || l.starts_with("exception:"))
            .collect()
    }

    pub fn console(&self) -> Vec<String> {
        let ev = self.events.lock().unwrap();
        ev.iter()
            .filter_map(|e| match e["method"].as_str()? {
                "Runtime.consoleAPICalled" => Some(format!(
                    "{}: {}",
                    e["params"]["type"].as_str().unwrap_or(""),
                    e["params"]["args"]
                        .as_array()?
                        .iter()
                        .map(|a| a["value"].to_string() + a["description"].as_str().unwrap_or(""))
                        .collect::<Vec<_>>()
                        .join(" ")
                )),
                "Runtime.exceptionThrown" => {
                    Some(format!("exception: {}", e["params"]["exceptionDetails"]))
                }
                "Log.entryAdded" => {
                    let en = &e["params"]["entry"];
                    Some(format!(
                        "log {} {}: {} {}",
                        en["source"].as_str().unwrap_or(""),
                        en["level"].as_str().unwrap_or(""),
                        en["text"].as_str().unwrap_or(""),
                        en["url"].as_str().unwrap_or("")
                    ))
                }
                _ => None,
            })
            .collect()
    }

    /// Sum of RSS of this browser and all its descendants, in bytes.
    pub fn tree_rss(&self) -> u64 {
        tree_rss(self.pid())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // A page that loaded itself again (web/js/boot.js) passes its test: say why it had to.
        let console = self.console();
        if console.iter().any(|l| l.contains("did not load")) {
            let why: Vec<&String> = console
                .iter()
                .filter(|l| l.starts_with("log network") || l.contains("did not load"))
                .collect();
            eprintln!("a page of this browser did not load at first: {why:#?}");
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_reader(from: File, waiters: Waiters, events: Arc<Mutex<Vec<Value>>>) {
    std::thread::spawn(move || {
        let mut r = BufReader::new(from);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match r.read_until(0, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            if buf.last() == Some(&0) {
                buf.pop();
            }
            let Ok(v) = serde_json::from_slice::<Value>(&buf) else {
                continue;
            };
            if let Some(id) = v.get("id").and_then(Value::as_u64) {
                if let Some(tx) = waiters.lock().unwrap().remove(&id) {
                    let _ = tx.send(v);
                }
            } else {
                let mut ev = events.lock().unwrap();
                if ev.len() < 10_000 {
                    ev.push(v);
                }
            }
        }
    });
}

/// Sum of RSS of `root` and every descendant, from /proc.
pub fn tree_rss(root: u32) -> u64 {
    tree_breakdown(root).iter().map(|(_, _, r)| r).sum()
}

/// (pid, process type, RSS) of `root` and every descendant.
pub fn tree_breakdown(root: u32) -> Vec<(u32, String, u64)> {
    let mut parent: HashMap<u32, u32> = HashMap::new();
    let mut rss: HashMap<u32, u64> = HashMap::new();
    let page = 4096u64;
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // The command name may contain spaces: fields resume after the last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        if f.len() > 22 {
            parent.insert(pid, f[1].parse().unwrap_or(0));
            rss.insert(pid, f[21].parse::<u64>().unwrap_or(0) * page);
        }
    }
    rss.iter()
        .filter(|(pid, _)| {
            let mut p = **pid;
            for _ in 0..64 {
                if p == root {
                    return true;
                }
                match parent.get(&p) {
                    Some(&pp) if pp != 0 => p = pp,
                    _ => return false,
                }
            }
            false
        })
        .map(|(pid, r)| {
            let cmd = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let kind = cmd
                .split(['\0', ' '])
                .find_map(|a| a.strip_prefix("--type="))
                .unwrap_or("browser")
                .to_string()
                + "/"
                + std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .unwrap_or_default()
                    .trim();
            (*pid, kind, *r)
        })
        .collect()
}

/// Polls `eval(b, expr)` until its value is truthy (a failed evaluation is "not yet"); when
/// `timeout` runs out, panics with `who`, the last error, the page's state and the tail of
/// `console(b)`. One loop for Chromium's [`Browser`] and Firefox's driver.
pub fn poll_truthy<B>(
    b: &mut B,
    who: &str,
    expr: &str,
    timeout: Duration,
    mut eval: impl FnMut(&mut B, &str) -> Result<Value, String>,
    console: impl FnOnce(&mut B) -> Vec<String>,
) -> Value {
    let end = Instant::now() + timeout;
    let mut failed = None;
    loop {
        let v = eval(b, expr).unwrap_or_else(|e| {
            failed = Some(e);
            Value::Null
        });
        if !(v.is_null() || v == json!(false) || v == json!(0) || v == json!("")) {
            return v;
        }
        if Instant::now() >= end {
            let state = eval(
                b,
                "({url: location.href, status: document.querySelector('[data-status]')?.dataset.state, \
                  peers: [...document.querySelectorAll('[data-peer]')].map(e => e.dataset.peerName), \
                  app: typeof window.homedrop, \
                  resources: performance.getEntriesByType('resource').length})",
            );
            let console = console(b);
            let tail = &console[console.len().saturating_sub(20)..];
            panic!(
                "{who}timed out waiting for: {expr}\nlast evaluation error: {failed:?}\n\
                 page: {state:?}\nconsole (last 20): {tail:#?}"
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
