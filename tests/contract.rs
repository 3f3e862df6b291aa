//! The web client and the server agree on every signaling message name.
//!
//! `web/js/protocol.js` lists each name once (`ClientMsg`, `ServerMsg`, `ErrorCode`, and the
//! fields of `Caps`); the serde types of `src/signaling/protocol.rs` are the wire contract. This test reads the JS file
//! from disk and compares both ways, so a message added (or renamed) on one side only fails.
//!
//! The Rust names are read from serde itself, twice: by serializing one sample of every
//! variant (the `match`es below have no `_` arm, so a new variant does not compile until it is
//! named there and given a sample), and from the list serde gives in its "unknown variant"
//! error, which holds every variant whether or not a sample exists. Both must agree.

use std::collections::BTreeSet;

use homedrop::signaling::protocol::{
    Caps, ClientMsg, DeviceKind, ErrorCode, ServerMsg, PROTOCOL_VERSION,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

const PROTOCOL_JS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/web/js/protocol.js");

/// One sample of every `ClientMsg` variant.
fn client_samples() -> Vec<ClientMsg> {
    let s = || String::from("x");
    let all = vec![
        ClientMsg::Hello {
            v: PROTOCOL_VERSION,
            name: s(),
            kind: DeviceKind::Phone,
            pairs: vec![],
            caps: None,
        },
        ClientMsg::Rename { name: s() },
        ClientMsg::RoomCreate {
            capacity: None,
            snap_on_join: false,
        },
        ClientMsg::RoomJoin { code: s() },
        ClientMsg::RoomJoinNamed { name: s() },
        ClientMsg::RoomLeave { code: s() },
        ClientMsg::PairStart,
        ClientMsg::PairJoin { key: s() },
        ClientMsg::PairForget { secret: s() },
        ClientMsg::Signal {
            to: s(),
            data: Value::Null,
        },
        ClientMsg::RoomInvite { to: s(), code: s() },
        ClientMsg::RoomInviteReply {
            to: s(),
            code: s(),
            accept: true,
        },
    ];
    for m in &all {
        // No `_` arm: a new variant stops this from compiling until it has a sample above.
        match m {
            ClientMsg::Hello { .. }
            | ClientMsg::Rename { .. }
            | ClientMsg::RoomCreate { .. }
            | ClientMsg::RoomJoin { .. }
            | ClientMsg::RoomJoinNamed { .. }
            | ClientMsg::RoomLeave { .. }
            | ClientMsg::PairStart
            | ClientMsg::PairJoin { .. }
            | ClientMsg::PairForget { .. }
            | ClientMsg::Signal { .. }
            | ClientMsg::RoomInvite { .. }
            | ClientMsg::RoomInviteReply { .. } => {}
        }
    }
    all
}

/// One sample of every `ServerMsg` variant.
fn server_samples() -> Vec<ServerMsg> {
    let s = || String::from("x");
    let all = vec![
        ServerMsg::Welcome {
            v: PROTOCOL_VERSION,
            id: s(),
            ice_servers: vec![],
            max_message_bytes: 1,
        },
        ServerMsg::Peers { peers: vec![] },
        ServerMsg::RoomJoined {
            code: s(),
            token: s(),
            capacity: 2,
            members: 1,
            snap_on_join: false,
            name: Some(s()),
        },
        ServerMsg::RoomLeft { code: s() },
        ServerMsg::PairKey {
            key: s(),
            token: s(),
            expires_in_secs: 1,
        },
        ServerMsg::Paired {
            secret: s(),
            peer_name: s(),
        },
        ServerMsg::Signal {
            from: s(),
            data: Value::Null,
        },
        ServerMsg::IceServers {
            ice_servers: vec![],
            expires_in_secs: 1,
        },
        ServerMsg::RoomInvited {
            from: s(),
            from_name: s(),
            code: s(),
        },
        ServerMsg::RoomInviteAnswer {
            from: s(),
            from_name: s(),
            code: s(),
            accept: true,
        },
        ServerMsg::Restarting,
        ServerMsg::error(ErrorCode::BadJson, "x"),
    ];
    for m in &all {
        // No `_` arm: a new variant stops this from compiling until it has a sample above.
        match m {
            ServerMsg::Welcome { .. }
            | ServerMsg::Peers { .. }
            | ServerMsg::RoomJoined { .. }
            | ServerMsg::RoomLeft { .. }
            | ServerMsg::PairKey { .. }
            | ServerMsg::Paired { .. }
            | ServerMsg::Signal { .. }
            | ServerMsg::IceServers { .. }
            | ServerMsg::RoomInvited { .. }
            | ServerMsg::RoomInviteAnswer { .. }
            | ServerMsg::Restarting
            | ServerMsg::Error { .. } => {}
        }
    }
    all
}

/// Every `ErrorCode`.
fn error_samples() -> Vec<ErrorCode> {
    use ErrorCode::*;
    let all = vec![
        BadJson,
        UnknownType,
        TooLarge,
        RateLimited,
        HelloFirst,
        BadVersion,
        BadRequest,
        RoomFull,
        NoSuchRoom,
        BadPairKey,
        NotAllowed,
    ];
    for c in &all {
        // No `_` arm: a new code stops this from compiling until it is listed above.
        match c {
            BadJson | UnknownType | TooLarge | RateLimited | HelloFirst | BadVersion
            | BadRequest | RoomFull | NoSuchRoom | BadPairKey | NotAllowed => {}
        }
    }
    all
}

/// The `type` of each sample as serde writes it.
fn tags<T: Serialize>(samples: &[T]) -> BTreeSet<String> {
    samples
        .iter()
        .map(|m| {
            let v = serde_json::to_value(m).unwrap();
            v["type"].as_str().expect("a `type` field").to_string()
        })
        .collect()
}

/// The names serde lists when it refuses an unknown one (every variant of the enum).
fn serde_variants<T: DeserializeOwned>(unknown: &str) -> BTreeSet<String> {
    let err = match serde_json::from_str::<T>(unknown) {
        Ok(_) => panic!("{unknown} was accepted"),
        Err(e) => e.to_string(),
    };
    let (_, list) = err
        .split_once("expected")
        .unwrap_or_else(|| panic!("no list of variants in {err:?}"));
    list.split('`')
        .skip(1)
        .step_by(2)
        .map(String::from)
        .collect()
}

/// The Rust side: (name of the JS object, names), checked against serde's own list.
fn rust_names() -> Vec<(&'static str, BTreeSet<String>)> {
    let client = tags(&client_samples());
    let server = tags(&server_samples());
    let errors: BTreeSet<String> = error_samples()
        .iter()
        .map(|c| {
            serde_json::to_value(c)
                .unwrap()
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let unknown = r#"{"type":"-no-such-type-"}"#;
    assert_eq!(
        client,
        serde_variants::<ClientMsg>(unknown),
        "ClientMsg samples"
    );
    assert_eq!(
        server,
        serde_variants::<ServerMsg>(unknown),
        "ServerMsg samples"
    );
    assert_eq!(
        errors,
        serde_variants::<ErrorCode>(r#""-no-such-code-""#),
        "ErrorCode samples"
    );
    vec![
        ("ClientMsg", client),
        ("ServerMsg", server),
        ("ErrorCode", errors),
        ("Caps", caps_fields()),
    ]
}

/// The field names of `hello.caps` (and of the peer list's `caps`), as serde writes them.
fn caps_fields() -> BTreeSet<String> {
    let sample = Caps {
        webrtc: true,
        store: true,
    };
    // No `..`: a new field stops this from compiling until it is named here.
    let Caps {
        webrtc: _,
        store: _,
    } = sample;
    let value = serde_json::to_value(sample).unwrap();
    value.as_object().unwrap().keys().cloned().collect()
}

/// The names of `export const <object> = Object.freeze({ name: 'name', ... });` in the JS.
fn js_names(js: &str, object: &str) -> Result<BTreeSet<String>, String> {
    let start = format!("export const {object} = Object.freeze({{");
    let body = js
        .split_once(&start)
        .and_then(|(_, rest)| rest.split_once("});"))
        .map(|(body, _)| body)
        .ok_or_else(|| format!("web/js/protocol.js has no `{start} ... }});`"))?;
    let mut names = BTreeSet::new();
    for line in body.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let entry = line.trim_end_matches(',');
        let parsed = entry.split_once(':').and_then(|(key, value)| {
            let value = value.trim().strip_prefix('\'')?.strip_suffix('\'')?;
            (key.trim() == value).then(|| value.to_string())
        });
        match parsed {
            Some(name) => names.insert(name),
            None => return Err(format!("{object}: not a `name: 'name',` line: {line:?}")),
        };
    }
    Ok(names)
}

/// Every disagreement between the JS text and the serde enums, one line each.
fn mismatches(js: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (object, rust) in rust_names() {
        let js_set = match js_names(js, object) {
            Ok(set) => set,
            Err(e) => {
                out.push(e);
                continue;
            }
        };
        for name in rust.difference(&js_set) {
            out.push(format!(
                "{object}: `{name}` is in src/signaling/protocol.rs but not in web/js/protocol.js"
            ));
        }
        for name in js_set.difference(&rust) {
            out.push(format!(
                "{object}: `{name}` is in web/js/protocol.js but not in src/signaling/protocol.rs"
            ));
        }
    }
    let version = format!("export const PROTOCOL_VERSION = {PROTOCOL_VERSION};");
    if !js.contains(&version) {
        out.push(format!("web/js/protocol.js lacks `{version}`"));
    }
    out
}

fn protocol_js() -> String {
    std::fs::read_to_string(PROTOCOL_JS).expect("read web/js/protocol.js")
}

#[test]
fn protocol_js_lists_exactly_the_serde_names() {
    let found = mismatches(&protocol_js());
    assert!(found.is_empty(), "{}", found.join("\n"));
}

/// The check itself: one name taken out of the JS and one name added must both be reported.
#[test]
fn a_name_on_one_side_only_is_reported() {
    let js = protocol_js();
    let removed = js.replacen("  pairStart: 'pairStart',\n", "", 1);
    assert_ne!(removed, js, "the sample line is in protocol.js");
    let broken = removed.replacen(
        "  restarting: 'restarting',\n",
        "  restarting: 'restarting',\n  goodbye: 'goodbye',\n",
        1,
    );
    assert_ne!(broken, removed, "the anchor line is in protocol.js");
    let found = mismatches(&broken);
    assert_eq!(
        found,
        vec![
            "ClientMsg: `pairStart` is in src/signaling/protocol.rs but not in web/js/protocol.js"
                .to_string(),
            "ServerMsg: `goodbye` is in web/js/protocol.js but not in src/signaling/protocol.rs"
                .to_string(),
        ]
    );
    let renamed = js.replacen("  tooLarge: 'tooLarge',", "  tooLarge: 'tooBig',", 1);
    assert_eq!(
        mismatches(&renamed),
        vec!["ErrorCode: not a `name: 'name',` line: \"tooLarge: 'tooBig',\"".to_string()]
    );
}
