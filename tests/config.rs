//! Configuration through the real binary: precedence flags > environment > file > defaults
//! (read back with `--print-config`), exit status 2 naming the key and file for bad files,
//! and the shipped example config.

use std::path::Path;
use std::process::{Command, Output};

use clap::CommandFactory;
use homedrop::config::Args;

use crate::support::{binary, TempDir};

const EXAMPLE: &str = include_str!("../systemd/homedrop.toml");

/// Run the binary with only the given HOMEDROP_* variables (none inherited from the caller).
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(binary());
    for (k, _) in std::env::vars() {
        if k.starts_with("HOMEDROP_") || k == "STATE_DIRECTORY" {
            cmd.env_remove(k);
        }
    }
    cmd.args(args).envs(env.iter().copied()).output().unwrap()
}

/// `--print-config` parsed back as TOML.
fn effective(file: &Path, args: &[&str], env: &[(&str, &str)]) -> toml::Table {
    let mut all = vec!["--config", file.to_str().unwrap(), "--print-config"];
    all.extend_from_slice(args);
    let out = run(&all, env);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.parse().unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn get<'a>(t: &'a toml::Table, key: &str) -> &'a toml::Value {
    t.get(key)
        .unwrap_or_else(|| panic!("{key} missing from {t:?}"))
}

#[test]
fn precedence_is_flags_then_env_then_file_then_defaults() {
    let dir = TempDir::new("config");
    let empty = dir.0.join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    let d = effective(&empty, &[], &[]);
    assert_eq!(get(&d, "http").as_str(), Some("0.0.0.0:8080"));
    assert_eq!(get(&d, "room-capacity").as_integer(), Some(10));
    assert_eq!(get(&d, "max-connections").as_integer(), Some(1024));
    assert_eq!(get(&d, "log").as_str(), Some("info"));
    assert_eq!(get(&d, "turn").as_str(), Some("0.0.0.0:3478"));
    assert_eq!(get(&d, "no-mdns").as_bool(), Some(false));

    let file = dir.0.join("homedrop.toml");
    std::fs::write(
        &file,
        "http = \"127.0.0.1:8001\"\nlog = \"debug\"\nroom-capacity = 3\nmax-connections = 30\n\
         no-mdns = true\nno_turn = true\n",
    )
    .unwrap();
    let env = [
        ("HOMEDROP_ROOM_CAPACITY", "4"),
        ("HOMEDROP_MAX_CONNECTIONS", "40"),
        ("HOMEDROP_NO_TURN", "false"),
        ("HOMEDROP_NO_MDNS", "false"),
    ];
    let layers = effective(&file, &["--max-connections", "50", "--no-mdns"], &env);
    assert_eq!(
        get(&layers, "http").as_str(),
        Some("127.0.0.1:8001"),
        "file"
    );
    assert_eq!(get(&layers, "log").as_str(), Some("debug"), "file");
    assert_eq!(get(&layers, "room-capacity").as_integer(), Some(4), "env");
    assert_eq!(get(&layers, "no-turn").as_bool(), Some(false), "env");
    assert_eq!(
        get(&layers, "turn").as_str(),
        Some("0.0.0.0:3478"),
        "default"
    );
    assert_eq!(
        get(&layers, "max-connections").as_integer(),
        Some(50),
        "flag"
    );
    assert_eq!(get(&layers, "no-mdns").as_bool(), Some(true), "flag");

    // The printed configuration is itself a config file that reads back the same.
    let printed = dir.0.join("printed.toml");
    std::fs::write(&printed, toml::to_string(&layers).unwrap()).unwrap();
    assert_eq!(effective(&printed, &[], &[]), layers);
}

#[test]
fn unknown_key_and_bad_value_exit_2_naming_key_and_file() {
    let dir = TempDir::new("config-bad");
    let file = dir.0.join("mine.toml");
    let cases = [
        (
            "http = \"127.0.0.1:8001\"\nroom-capacty = 3\n",
            "room-capacty",
        ),
        ("room-capacity = 51\n", "room-capacity"),
        ("max-connections = \"many\"\n", "max-connections"),
        ("relay-ip = \"::1\"\n", "relay-ip"),
    ];
    for (text, key) in cases {
        std::fs::write(&file, text).unwrap();
        let out = run(&["--config", file.to_str().unwrap()], &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(
            err.contains(&format!("`{key}`")) && err.contains("mine.toml"),
            "{text:?}: {err}"
        );
    }
    // A bad environment value names its variable.
    let out = run(
        &["--config", "/dev/null"],
        &[("HOMEDROP_ROOM_CAPACITY", "0")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("HOMEDROP_ROOM_CAPACITY"));
    // Via HOMEDROP_CONFIG too, and a missing file named explicitly is an error.
    let out = run(&[], &[("HOMEDROP_CONFIG", file.to_str().unwrap())]);
    assert_eq!(out.status.code(), Some(2));
    let missing = dir.0.join("missing.toml");
    let out = run(&["--config", missing.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.toml"));
}

/// The example with every `# key = value` line switched on.
fn example_uncommented() -> (String, Vec<String>) {
    let mut keys = Vec::new();
    let mut text = String::new();
    for line in EXAMPLE.lines() {
        let line = line
            .strip_prefix("# ")
            .filter(|l| is_setting(l))
            .unwrap_or(line);
        if is_setting(line) {
            keys.push(line.split('=').next().unwrap().trim().to_string());
        }
        text.push_str(line);
        text.push('\n');
    }
    (text, keys)
}

fn is_setting(line: &str) -> bool {
    line.split_once(" = ").is_some_and(|(k, _)| {
        !k.is_empty() && k.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
    })
}

#[test]
fn example_config_parses_and_documents_every_flag() {
    let dir = TempDir::new("config-example");
    let shipped = dir.0.join("homedrop.toml");
    std::fs::write(&shipped, EXAMPLE).unwrap();
    let c = effective(&shipped, &[], &[]);
    assert_eq!(
        get(&c, "http").as_str(),
        Some("0.0.0.0:80"),
        "the appliance serves port 80"
    );

    let (all_on, keys) = example_uncommented();
    let on = dir.0.join("all-on.toml");
    std::fs::write(&on, &all_on).unwrap();
    let c = effective(&on, &[], &[]);
    assert_eq!(get(&c, "relay-ip").as_str(), Some("192.168.1.10"));
    assert_eq!(get(&c, "trusted-proxy").as_array().map(Vec::len), Some(1));

    let not_keys = ["config", "print-config", "help", "version"];
    for arg in Args::command().get_arguments() {
        let Some(flag) = arg.get_long() else { continue };
        if not_keys.contains(&flag) {
            continue;
        }
        assert!(
            keys.iter().any(|k| k == flag),
            "--{flag} has no key in systemd/homedrop.toml"
        );
        // ... and a comment explaining it, naming the flag.
        assert!(
            EXAMPLE.contains(&format!("`--{flag}`")),
            "--{flag} not explained"
        );
    }
}

/// `--remote` turns the TLS port on: 443 under systemd (`$STATE_DIRECTORY` set), else 8443;
/// `--https` (here from the file) names it instead; without `--remote` there is none.
#[test]
fn remote_turns_the_tls_port_on() {
    let dir = TempDir::new("config-remote");
    let empty = dir.0.join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    let off = effective(&empty, &[], &[]);
    assert_eq!(get(&off, "remote").as_bool(), Some(false));
    assert!(off.get("https").is_none(), "{off:?}");
    let plain = effective(&empty, &["--remote"], &[]);
    assert_eq!(get(&plain, "https").as_str(), Some("0.0.0.0:8443"));
    let state = dir.0.join("state");
    let systemd = [("STATE_DIRECTORY", state.to_str().unwrap())];
    let unit = effective(&empty, &[], &[("HOMEDROP_REMOTE", "true"), systemd[0]]);
    assert_eq!(get(&unit, "https").as_str(), Some("0.0.0.0:443"));
    let file = dir.0.join("remote.toml");
    std::fs::write(&file, "remote = true\nhttps = \"127.0.0.1:9443\"\n").unwrap();
    let given = effective(&file, &[], &systemd);
    assert_eq!(get(&given, "https").as_str(), Some("127.0.0.1:9443"));
    assert_eq!(get(&given, "remote").as_bool(), Some(true));
}
