//! The real binary: flags, exit codes, help.

use std::process::Command;

use crate::support::binary;

#[test]
fn invalid_values_exit_2_with_one_line_naming_the_flag() {
    let cases: &[(&[&str], &str)] = &[
        (&["--http", "not-an-address"], "--http"),
        (&["--room-capacity", "1000"], "--room-capacity"),
        (&["--max-connections", "x"], "--max-connections"),
        (&["--log", "=[bad"], "--log"),
        (&["--trusted-proxy", "proxy.example"], "--trusted-proxy"),
        (&["--turn", "3478"], "--turn"),
        (&["--turn-secret", "too-short"], "--turn-secret"),
        (&["--relay-ip", "::1"], "--relay-ip"),
        (&["--relay-ip", "0.0.0.0"], "--relay-ip"),
    ];
    for (args, flag) in cases {
        let out = Command::new(binary()).args(*args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(err.contains(flag), "{err}");
    }
    let out = Command::new(binary())
        .env("HOMEDROP_HTTP", "nope")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--http"));
}

#[test]
fn help_documents_every_flag() {
    let out = Command::new(binary()).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--http",
        "--state-dir",
        "--no-mdns",
        "--config",
        "--log",
        "--trusted-proxy",
        "--room-capacity",
        "--max-connections",
        "--turn",
        "--no-turn",
        "--turn-secret",
        "--relay-ip",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
    assert!(help.contains("HOMEDROP_HTTP"), "env vars are documented");
}
