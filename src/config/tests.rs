//! Unit tests of the configuration layers.

use super::*;
use clap::Parser;

fn parse(args: &[&str]) -> Result<Config, ConfigError> {
    let mut all = vec!["homedrop"];
    all.extend_from_slice(args);
    Config::from_args(Args::try_parse_from(all).unwrap())
}

#[test]
fn defaults_and_flag_errors() {
    let c = parse(&[]).unwrap();
    assert_eq!(c.http.port(), 8080);
    assert_eq!(c.room_capacity, 10);
    let e = parse(&["--http", "nonsense"]).unwrap_err().to_string();
    assert!(e.contains("--http"), "{e}");
    let e = parse(&["--room-capacity", "1"]).unwrap_err().to_string();
    assert!(
        e.contains("--room-capacity") && e.contains("HOMEDROP_ROOM_CAPACITY"),
        "{e}"
    );
    let e = parse(&["--log", "a=b=c=["]).unwrap_err().to_string();
    assert!(e.contains("--log"), "{e}");
}

#[test]
fn name_and_mdns_interfaces() {
    let c = parse(&[]).unwrap();
    assert_eq!((c.name.as_str(), c.mdns), ("homedrop", true));
    let c = parse(&["--name", "kitchen", "--mdns-interface", "eth0,wlan0"]).unwrap();
    assert_eq!(c.name, "kitchen");
    assert_eq!(c.mdns_interfaces, ["eth0", "wlan0"]);
    let e = parse(&["--name", "a.b"]).unwrap_err().to_string();
    assert!(e.contains("--name"), "{e}");
}

#[test]
fn turn_flags() {
    let c = parse(&[]).unwrap();
    assert_eq!(c.turn, Some("0.0.0.0:3478".parse().unwrap()));
    assert!(c.turn_secret.is_none());
    assert!(c.relay_ip.is_ipv4() && !c.relay_ip.is_unspecified());
    assert_eq!(parse(&["--no-turn"]).unwrap().turn, None);
    let c = parse(&["--turn", "127.0.0.1:5000", "--relay-ip", "10.0.0.2"]).unwrap();
    assert_eq!(c.turn, Some("127.0.0.1:5000".parse().unwrap()));
    assert_eq!(c.relay_ip, "10.0.0.2".parse::<IpAddr>().unwrap());
    let c = parse(&["--turn-secret", "0123456789abcdef"]).unwrap();
    assert_eq!(c.turn_secret.as_deref(), Some("0123456789abcdef"));
    let e = parse(&["--turn-secret", "0123456789abcde"])
        .unwrap_err()
        .to_string();
    assert!(e.contains("--turn-secret") && !e.contains("abcde"), "{e}");
    for bad in ["::1", "0.0.0.0", "224.0.0.1", "host"] {
        let e = parse(&["--relay-ip", bad]).unwrap_err().to_string();
        assert!(e.contains("--relay-ip"), "{e}");
    }
    assert!(parse(&["--turn", "3478"]).is_err());
    let c = parse(&["--public-host", "Home.Example.org"]).unwrap();
    assert_eq!(c.public_host.as_deref(), Some("home.example.org"));
    let e = parse(&["--public-host", "bad host"])
        .unwrap_err()
        .to_string();
    assert!(e.contains("--public-host"), "{e}");
}

#[test]
fn turn_secret_is_generated_once_and_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("hd-secret-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let state = dir.join("state");
    let c = Config::for_tests(&state);
    let first = turn_secret(&c).unwrap();
    assert_eq!(first.len(), 64, "32 bytes as hex");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&state), 0o700);
    assert_eq!(mode(&state.join(TURN_SECRET_FILE)), 0o600);
    assert_eq!(turn_secret(&c).unwrap(), first, "read back on later starts");
    let given = Config {
        turn_secret: Some("given-secret-0123".into()),
        ..c.clone()
    };
    assert_eq!(turn_secret(&given).unwrap(), "given-secret-0123");
    std::fs::write(state.join(TURN_SECRET_FILE), "short\n").unwrap();
    assert!(
        turn_secret(&c).is_err(),
        "a bad file is an error, not replaced"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn file_is_below_flags() {
    let dir = std::env::temp_dir().join(format!("hd-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("c.toml");
    std::fs::write(
        &f,
        "http = \"127.0.0.1:9000\"\nroom-capacity = 3\nturn = \"127.0.0.1:3479\"\nrelay-ip = \"10.1.2.3\"\n",
    )
    .unwrap();
    let c = parse(&["--config", f.to_str().unwrap()]).unwrap();
    assert_eq!(c.http.port(), 9000);
    assert_eq!(c.room_capacity, 3);
    assert_eq!(c.turn, Some("127.0.0.1:3479".parse().unwrap()));
    assert_eq!(c.relay_ip, "10.1.2.3".parse::<IpAddr>().unwrap());
    let c = parse(&["--config", f.to_str().unwrap(), "--http", "127.0.0.1:9001"]).unwrap();
    assert_eq!(c.http.port(), 9001);
    std::fs::write(&f, "htp = \"x\"\n").unwrap();
    let e = parse(&["--config", f.to_str().unwrap()])
        .unwrap_err()
        .to_string();
    assert!(e.contains("htp") && e.contains("c.toml"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn turn_quota_flags_and_file_keys() {
    let c = parse(&[]).unwrap();
    assert_eq!((c.turn_user_quota, c.turn_total_quota), (20, 200));
    let c = parse(&["--turn-user-quota", "50", "--turn-total-quota", "16000"]).unwrap();
    assert_eq!((c.turn_user_quota, c.turn_total_quota), (50, 16000));
    for bad in ["0", "16001", "x"] {
        let e = parse(&["--turn-total-quota", bad]).unwrap_err().to_string();
        assert!(e.contains("--turn-total-quota"), "{e}");
    }
    let dir = std::env::temp_dir().join(format!("hd-quota-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("q.toml");
    std::fs::write(&f, "turn-user-quota = 3\nturn_total_quota = 0\n").unwrap();
    let e = parse(&["--config", f.to_str().unwrap()])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("turn-total-quota") && e.contains("q.toml"),
        "{e}"
    );
    std::fs::write(&f, "turn-user-quota = 3\n").unwrap();
    let c = parse(&["--config", f.to_str().unwrap()]).unwrap();
    assert_eq!(c.turn_user_quota, 3);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bandwidth_caps_from_flags_and_file() {
    let c = parse(&[]).unwrap();
    assert_eq!(
        (c.turn_allocation_bandwidth, c.turn_total_bandwidth),
        (0, 0)
    );
    let c = parse(&[
        "--turn-allocation-bandwidth",
        "1000000",
        "--turn-total-bandwidth",
        "5000000",
    ])
    .unwrap();
    assert_eq!(
        (c.turn_allocation_bandwidth, c.turn_total_bandwidth),
        (1_000_000, 5_000_000)
    );
    for bad in ["x", "12500000001", "1MB"] {
        let e = parse(&["--turn-total-bandwidth", bad])
            .unwrap_err()
            .to_string();
        assert!(e.contains("--turn-total-bandwidth"), "{e}");
    }
    let dir = std::env::temp_dir().join(format!("hd-bw-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("bw.toml");
    std::fs::write(&f, "turn_allocation_bandwidth = 250000\n").unwrap();
    let c = parse(&["--config", f.to_str().unwrap()]).unwrap();
    assert_eq!(c.turn_allocation_bandwidth, 250_000);
    std::fs::write(&f, "turn-total-bandwidth = 12500000001\n").unwrap();
    let e = parse(&["--config", f.to_str().unwrap()])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("turn-total-bandwidth") && e.contains("bw.toml"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn every_flag_has_its_variable_and_both_file_spellings() {
    use clap::CommandFactory;
    let keys = FileKey::all();
    for arg in Args::command().get_arguments() {
        let Some(flag) = arg.get_long() else { continue };
        if ["help", "version", "print-config"].contains(&flag) {
            continue;
        }
        // The variable clap reads is the one errors name.
        let env = arg.get_env().and_then(|e| e.to_str());
        assert_eq!(env, Some(env_name(flag).as_str()), "--{flag}");
        if flag == "config" {
            continue;
        }
        let snake = flag.replace('-', "_");
        assert!(FileKey::find(flag).is_some() && FileKey::find(&snake).is_some());
        assert!(
            keys.contains(&flag) && keys.contains(&snake.as_str()),
            "{flag}"
        );
    }
    assert!(FileKey::find("room-capacty").is_none());
}

#[test]
fn a_flag_false_undoes_the_files_switch_and_lists_repeat_or_split() {
    let dir = std::env::temp_dir().join(format!("hd-switch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("s.toml");
    std::fs::write(
        &f,
        "no-mdns = true\nno_turn = true\ntrusted-proxy = [\"10.0.0.1\"]\n",
    )
    .unwrap();
    let file = f.to_str().unwrap();
    let c = parse(&["--config", file]).unwrap();
    assert_eq!((c.mdns, c.turn), (false, None));
    assert_eq!(c.trusted_proxies, ["10.0.0.1".parse::<IpAddr>().unwrap()]);
    let c = parse(&["--config", file, "--no-mdns=false", "--no-turn=no"]).unwrap();
    assert!(c.mdns && c.turn.is_some());
    let c = parse(&[
        "--config",
        file,
        "--trusted-proxy",
        "10.0.0.2,10.0.0.3",
        "--trusted-proxy",
        "::1",
    ])
    .unwrap();
    assert_eq!(c.trusted_proxies.len(), 3, "flags replace the file's list");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn printed_defaults_read_back_the_same() {
    let dir = std::env::temp_dir().join(format!("hd-print-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("p.toml");
    let printed = Config {
        tls: Some(TlsFiles {
            cert: "/c.pem".into(),
            key: "/k.pem".into(),
        }),
        https: Some("0.0.0.0:8443".parse().unwrap()),
        public_host: Some("home.example.org".into()),
        mdns_interfaces: vec!["eth0".into()],
        ..Config::default()
    }
    .to_toml();
    std::fs::write(&f, &printed).unwrap();
    let again = parse(&["--config", f.to_str().unwrap()]).unwrap().to_toml();
    let body = |t: &str| t.lines().skip(1).map(String::from).collect::<Vec<_>>();
    assert_eq!(body(&again), body(&printed));
    assert!(!printed.contains("turn-secret ="), "{printed}");
    std::fs::remove_dir_all(&dir).ok();
}
