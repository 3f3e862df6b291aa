//! The artifacts of `scripts/build-static.sh`: static musl binaries for x86-64 and aarch64,
//! the aarch64 one actually serving under qemu, the `.deb` packages, and `Cross.toml`.
//!
//! Building for aarch64 takes minutes on CI's two cores, so the tests do not build:
//! `scripts/test.sh` runs `scripts/build-static.sh` once before `cargo test`, and these tests
//! check what it produced (a missing artifact fails with the command that makes it).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use stun::agent::TransactionId;
use stun::message::{Getter, Message, BINDING_REQUEST, BINDING_SUCCESS};
use stun::xoraddr::XorMappedAddress;

use crate::support::{free_port, TempDir};

const X86: &str = "x86_64-unknown-linux-musl";
const ARM: &str = "aarch64-unknown-linux-musl";
/// Largest accepted stripped binary (10 MB).
const MAX_BYTES: u64 = 10_000_000;
/// A hook only the real page has (see docs/testing.md).
const PAGE_MARKER: &str = "data-peer-list";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target"))
}

/// An artifact of the build script; fails clearly when it was not built.
fn artifact(path: PathBuf) -> PathBuf {
    assert!(
        path.exists(),
        "{} is missing: run `bash scripts/build-static.sh` first (scripts/test.sh does)",
        path.display()
    );
    path
}

fn static_binary(target: &str) -> PathBuf {
    artifact(target_dir().join(target).join("release/homedrop"))
}

/// The .deb cargo-deb made for a Debian architecture (`amd64`, `arm64`).
fn deb(arch: &str) -> PathBuf {
    let dir = target_dir().join("debian");
    let suffix = format!("_{arch}.deb");
    let found = std::fs::read_dir(&dir).ok().and_then(|d| {
        d.filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().ends_with(&suffix))
    });
    artifact(found.unwrap_or_else(|| dir.join(format!("homedrop_*{suffix}"))))
}

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e} (scripts/test.sh installs it)"));
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `file`'s description of a binary: static, the right machine, no interpreter.
fn assert_static(bin: &Path, machine: &str) {
    let desc = run("file", &["-L", &bin.to_string_lossy()]);
    assert!(
        desc.contains("statically linked") || desc.contains("static-pie linked"),
        "not static: {desc}"
    );
    assert!(
        !desc.contains("interpreter"),
        "has an ELF interpreter: {desc}"
    );
    assert!(desc.contains(machine), "not {machine}: {desc}");
}

#[test]
fn static_binaries_are_static_and_at_most_10_mb() {
    for (target, machine) in [(X86, "x86-64"), (ARM, "ARM aarch64")] {
        let bin = static_binary(target);
        assert_static(&bin, machine);
        let size = std::fs::metadata(&bin).unwrap().len();
        assert!(size <= MAX_BYTES, "{}: {size} bytes", bin.display());
        // Stripped: no symbol table left (the release profile strips).
        let desc = run("file", &[&bin.to_string_lossy()]);
        assert!(desc.contains(", stripped"), "not stripped: {desc}");
    }
    // The x86-64 one runs here as is: no loader, no shared libraries needed.
    let help = run(&static_binary(X86).to_string_lossy(), &["--help"]);
    assert!(help.contains("--turn-secret"), "{help}");
}

/// A child process killed when dropped (the test failing midway).
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// GET `path` over plain HTTP/1.1; `None` while nothing listens yet.
fn http_get(addr: SocketAddr, path: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
    let req = format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).ok()?;
    let mut body = Vec::new();
    s.read_to_end(&mut body).ok()?;
    Some(String::from_utf8_lossy(&body).into_owned())
}

/// A hand-built STUN Binding request; returns the XOR-MAPPED-ADDRESS of the success answer.
fn stun_binding(server: SocketAddr, sock: &UdpSocket) -> SocketAddr {
    let mut req = Message::new();
    req.build(&[Box::new(TransactionId::new()), Box::new(BINDING_REQUEST)])
        .unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut buf = [0u8; 1500];
    for _ in 0..10 {
        sock.send_to(&req.raw, server).unwrap();
        let Ok(n) = sock.recv(&mut buf) else { continue };
        let mut resp = Message::new();
        resp.raw = buf[..n].to_vec();
        resp.decode().expect("a STUN message");
        assert_eq!(resp.transaction_id, req.transaction_id);
        assert_eq!(resp.typ, BINDING_SUCCESS, "{resp}");
        let mut xma = XorMappedAddress::default();
        xma.get_from(&resp).expect("XOR-MAPPED-ADDRESS");
        return SocketAddr::new(xma.ip, xma.port);
    }
    panic!("no answer to a STUN Binding from {server}");
}

#[test]
fn aarch64_binary_serves_the_page_and_stun_under_qemu() {
    let bin = static_binary(ARM);
    let state = TempDir::new("qemu");
    let http: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let turn: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let child = Command::new("qemu-aarch64-static")
        .arg(&bin)
        .args(["--http", &http.to_string(), "--turn", &turn.to_string()])
        .args(["--no-mdns", "--relay-ip", "127.0.0.1", "--log", "warn"])
        .args(["--turn-secret", "qemu-test-secret-0123456789"])
        .arg("--state-dir")
        .arg(&state.0)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("qemu-aarch64-static (scripts/test.sh installs qemu-user-static)");
    let mut child = Killed(child);

    // Emulated, it starts in well under a second here; allow a slow CI a minute.
    let deadline = Instant::now() + Duration::from_secs(60);
    let page = loop {
        if let Some(page) = http_get(http, "/") {
            break page;
        }
        if let Some(status) = child.0.try_wait().unwrap() {
            panic!("homedrop under qemu exited: {status}");
        }
        assert!(Instant::now() < deadline, "nothing served on {http}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(page.starts_with("HTTP/1.1 200"), "{page:.200}");
    assert!(
        page.contains(PAGE_MARKER),
        "not the web client: {page:.400}"
    );

    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mapped = stun_binding(turn, &sock);
    assert_eq!(mapped, sock.local_addr().unwrap(), "XOR-MAPPED-ADDRESS");
}

/// Runs the package's real postinst as dpkg does on install (`configure`, plus the old
/// version on upgrade), with systemd present: a private mount namespace with a tmpfs on
/// /run holding /run/systemd/system (what the script tests), and the systemd tools it calls
/// replaced by stubs that record their arguments. Returns the recorded calls, one per line.
/// (A real install needs systemd as PID 1, which this machine and CI do not have.)
fn run_postinst(deb: &Path, old_version: &[&str]) -> String {
    let dir = TempDir::new("postinst");
    let control = dir.0.join("control");
    run(
        "dpkg-deb",
        &["-e", &deb.to_string_lossy(), &control.to_string_lossy()],
    );
    let stubs = dir.0.join("bin");
    std::fs::create_dir(&stubs).unwrap();
    let log = dir.0.join("calls");
    for tool in ["deb-systemd-helper", "deb-systemd-invoke", "systemctl"] {
        let stub = format!("#!/bin/sh\necho \"{tool} $*\" >> '{}'\n", log.display());
        std::fs::write(stubs.join(tool), stub).unwrap();
        run("chmod", &["755", &stubs.join(tool).to_string_lossy()]);
    }
    let script = format!(
        "mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/system && \
         PATH='{}':\"$PATH\" sh '{}' configure {}",
        stubs.display(),
        control.join("postinst").display(),
        old_version.join(" ")
    );
    run(
        "unshare",
        &["--mount", "--propagation", "private", "sh", "-c", &script],
    );
    std::fs::read_to_string(&log).unwrap_or_default()
}

/// `dpkg-deb --contents` lines ending in `path`.
fn listed<'a>(contents: &'a str, path: &str) -> Option<&'a str> {
    contents.lines().find(|l| l.ends_with(&format!(" {path}")))
}

/// The package's file list and control data: binary, unit and conffile; no shared libraries.
fn check_contents_and_control(deb: &Path, arch: &str) {
    let d = deb.to_string_lossy();
    let contents = run("dpkg-deb", &["--contents", &d]);
    let bin = listed(&contents, "./usr/bin/homedrop").expect("binary listed");
    assert!(
        bin.starts_with("-rwxr-xr-x 0/0") || bin.starts_with("-rwxr-xr-x root/root"),
        "{bin}"
    );
    assert!(listed(&contents, "./usr/lib/systemd/system/homedrop.service").is_some());
    assert!(listed(&contents, "./etc/homedrop/homedrop.toml").is_some());
    let info = run("dpkg-deb", &["--info", &d]);
    assert!(info.contains(&format!("Architecture: {arch}")), "{info}");
    for script in ["postinst", "prerm", "postrm", "conffiles"] {
        assert!(info.contains(script), "no {script}: {info}");
    }
    assert!(
        !info.contains("libc6"),
        "a static binary needs no libc: {info}"
    );
    let conffiles = run("dpkg-deb", &["--info", &d, "conffiles"]);
    assert!(
        conffiles
            .lines()
            .any(|l| l == "/etc/homedrop/homedrop.toml"),
        "{conffiles}"
    );
}

/// Unpacked: the very unit and config of the repository, and a static binary.
fn check_unpacked(deb: &Path, machine: &str) {
    let root = TempDir::new("deb");
    run(
        "dpkg-deb",
        &["-x", &deb.to_string_lossy(), &root.0.to_string_lossy()],
    );
    for (inside, ours) in [
        (
            "usr/lib/systemd/system/homedrop.service",
            "systemd/homedrop.service",
        ),
        ("etc/homedrop/homedrop.toml", "systemd/homedrop.toml"),
    ] {
        let a = std::fs::read(root.0.join(inside)).unwrap();
        assert_eq!(a, std::fs::read(repo().join(ours)).unwrap(), "{inside}");
    }
    assert_static(&root.0.join("usr/bin/homedrop"), machine);
    // The unit starts exactly the packaged binary, which reads the packaged config by default.
    let unit = std::fs::read_to_string(root.0.join("usr/lib/systemd/system/homedrop.service"));
    let unit = unit.unwrap();
    assert!(
        unit.lines()
            .any(|l| l.starts_with("ExecStart=/usr/bin/homedrop")),
        "{unit}"
    );
    assert!(unit.contains("WantedBy=multi-user.target"), "{unit}");
}

#[test]
fn debs_hold_the_binary_the_unit_and_the_config_and_enable_and_start_it() {
    for (arch, machine) in [("amd64", "x86-64"), ("arm64", "ARM aarch64")] {
        let deb = deb(arch);
        check_contents_and_control(&deb, arch);
        check_unpacked(&deb, machine);
        // Installing: enabled, then started; upgrading: restarted.
        let calls = run_postinst(&deb, &[]);
        for call in [
            "deb-systemd-helper enable homedrop.service",
            "systemctl --system daemon-reload",
            "deb-systemd-invoke start homedrop.service",
        ] {
            assert!(calls.lines().any(|l| l == call), "no `{call}` in {calls}");
        }
        let upgrade = run_postinst(&deb, &["0.0.9-1"]);
        assert!(
            upgrade
                .lines()
                .any(|l| l == "deb-systemd-invoke restart homedrop.service"),
            "an upgrade restarts it: {upgrade}"
        );
    }
    // The binary reads the packaged config with no flag, and accepts it.
    assert_eq!(
        homedrop::config::DEFAULT_CONFIG_FILE,
        "/etc/homedrop/homedrop.toml"
    );
    let args = homedrop::config::Args {
        config: Some(repo().join("systemd/homedrop.toml")),
        ..Default::default()
    };
    homedrop::config::Config::from_args(args).expect("the example config is valid");
}

#[test]
fn cross_toml_covers_the_three_targets() {
    let text = std::fs::read_to_string(repo().join("Cross.toml")).expect("Cross.toml");
    let cross: toml::Table = toml::from_str(&text).unwrap();
    let targets = cross["target"].as_table().expect("[target.*] tables");
    for t in [X86, ARM, "armv7-unknown-linux-musleabihf"] {
        let table = targets
            .get(t)
            .and_then(|v| v.as_table())
            .unwrap_or_else(|| panic!("no [target.{t}]"));
        // Only keys cross-rs knows for a target.
        for key in table.keys() {
            assert!(
                [
                    "image",
                    "pre-build",
                    "env",
                    "dockerfile",
                    "build-std",
                    "runner",
                    "zig"
                ]
                .contains(&key.as_str()),
                "[target.{t}] {key} is not a cross-rs key"
            );
        }
        let image = table["image"].as_str().expect("image");
        assert!(
            image.starts_with(&format!("ghcr.io/cross-rs/{t}:")),
            "{image}"
        );
    }
    let default = cross["build"]["default-target"].as_str().unwrap();
    assert!(targets.contains_key(default), "{default}");
}
