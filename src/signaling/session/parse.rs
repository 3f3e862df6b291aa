//! Reading one client frame: a single parse into [`ClientMsg`], and when that fails, the
//! error to answer; plus the checks on what `hello` and `rename` carry.
//!
//! A frame is parsed once. Only when it is refused is it looked at again, to name the
//! refused `type` in the error's `ref` and to tell an unknown type (`unknownType`) from a
//! known one with bad fields (`badRequest`). Whether a type is known is asked of serde's
//! own derived code (see [`is_client_type`]), not read from its error text.

use std::fmt;

use serde::de::value::MapDeserializer;
use serde::Deserialize;

use crate::signaling::protocol::{ClientMsg, ErrorCode, MAX_NAME_CHARS, PAIR_SECRET_HEX};
use crate::signaling::registry::Refusal;

/// Longest refused `type` echoed back in `ref`.
const MAX_REF_CHARS: usize = 32;

/// Why a frame was not a message, as the error to send.
#[derive(Debug, PartialEq)]
pub(super) struct Rejected {
    pub code: ErrorCode,
    pub message: &'static str,
    pub reference: Option<String>,
}

/// The message in `text`, or the error to answer.
pub(super) fn client_msg(text: &str) -> Result<ClientMsg, Rejected> {
    let e = match serde_json::from_str::<ClientMsg>(text) {
        Ok(msg) => return Ok(msg),
        Err(e) => e,
    };
    if e.is_syntax() || e.is_eof() {
        return Err(Rejected {
            code: ErrorCode::BadJson,
            message: "Message is not valid JSON.",
            reference: None,
        });
    }
    // Valid JSON that is not a message: which type did it claim?
    let kind = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text)
        .ok()
        .and_then(|m| m.get("type")?.as_str().map(str::to_string));
    let (code, message) = match &kind {
        Some(k) if is_client_type(k) => (
            ErrorCode::BadRequest,
            "Message fields are missing or invalid.",
        ),
        _ => (ErrorCode::UnknownType, "Unknown or missing message type."),
    };
    Err(Rejected {
        code,
        message,
        reference: kind.filter(|k| k.len() <= MAX_REF_CHARS),
    })
}

/// The `type` of a message, for the `ref` of an error it caused (a unit test checks each
/// name against serde's).
pub(super) fn type_name(msg: &ClientMsg) -> &'static str {
    match msg {
        ClientMsg::Hello { .. } => "hello",
        ClientMsg::Rename { .. } => "rename",
        ClientMsg::RoomCreate { .. } => "roomCreate",
        ClientMsg::RoomJoin { .. } => "roomJoin",
        ClientMsg::RoomLeave { .. } => "roomLeave",
        ClientMsg::PairStart => "pairStart",
        ClientMsg::PairJoin { .. } => "pairJoin",
        ClientMsg::PairForget { .. } => "pairForget",
        ClientMsg::Signal { .. } => "signal",
        ClientMsg::RoomInvite { .. } => "roomInvite",
        ClientMsg::RoomInviteReply { .. } => "roomInviteReply",
    }
}

/// Is `kind` one of [`ClientMsg`]'s `type` names? Deserializes `{"type": kind}` with an
/// error type that records whether serde's derived tag reader called
/// [`serde::de::Error::unknown_variant`]; any other failure (missing fields) means known.
fn is_client_type(kind: &str) -> bool {
    let map = MapDeserializer::<_, TagCheck>::new(std::iter::once(("type", kind)));
    !matches!(ClientMsg::deserialize(map), Err(TagCheck { unknown: true }))
}

#[derive(Debug)]
struct TagCheck {
    unknown: bool,
}

impl fmt::Display for TagCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.unknown {
            "unknown type"
        } else {
            "bad fields"
        })
    }
}

impl std::error::Error for TagCheck {}

impl serde::de::Error for TagCheck {
    fn custom<T: fmt::Display>(_: T) -> Self {
        TagCheck { unknown: false }
    }

    fn unknown_variant(_: &str, _: &'static [&'static str]) -> Self {
        TagCheck { unknown: true }
    }
}

/// A display name: trimmed, 1 to 40 characters, no control characters.
pub(super) fn clean_name(name: &str) -> Result<String, Refusal> {
    let name = name.trim();
    let n = name.chars().count();
    if n == 0 || n > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err((
            ErrorCode::BadRequest,
            "A name must be 1 to 40 characters, without control characters.",
        ));
    }
    Ok(name.to_string())
}

pub(super) fn is_secret(s: &str) -> bool {
    s.len() == PAIR_SECRET_HEX && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn code_of(text: &str) -> (ErrorCode, Option<String>) {
        let r = client_msg(text).unwrap_err();
        (r.code, r.reference)
    }

    #[test]
    fn refusals_name_the_type_and_tell_unknown_from_bad_fields() {
        assert_eq!(code_of("{not json"), (ErrorCode::BadJson, None));
        assert_eq!(
            code_of(r#"{"type":"pairStart"} x"#),
            (ErrorCode::BadJson, None)
        );
        let unknown = (ErrorCode::UnknownType, Some("launchMissiles".into()));
        assert_eq!(code_of(r#"{"type":"launchMissiles"}"#), unknown);
        assert_eq!(code_of(r#"{"name":"x"}"#), (ErrorCode::UnknownType, None));
        assert_eq!(code_of(r#"{"type":7}"#), (ErrorCode::UnknownType, None));
        assert_eq!(code_of(r#"["hello"]"#), (ErrorCode::UnknownType, None));
        let long = format!(r#"{{"type":"{}"}}"#, "x".repeat(33));
        assert_eq!(code_of(&long), (ErrorCode::UnknownType, None));
        let bad = (ErrorCode::BadRequest, Some("hello".into()));
        assert_eq!(code_of(r#"{"type":"hello","v":1}"#), bad);
        let bad = (ErrorCode::BadRequest, Some("signal".into()));
        assert_eq!(code_of(r#"{"type":"signal","to":5,"data":{}}"#), bad);
        assert_eq!(
            client_msg(r#"{"type":"pairStart"}"#),
            Ok(ClientMsg::PairStart)
        );
    }

    #[test]
    fn type_names_are_serdes() {
        let (s, b) = (String::new, || false);
        let all = [
            ClientMsg::Hello {
                v: 1,
                name: s(),
                kind: Default::default(),
                pairs: Vec::new(),
            },
            ClientMsg::Rename { name: s() },
            ClientMsg::RoomCreate {
                capacity: None,
                snap_on_join: b(),
            },
            ClientMsg::RoomJoin { code: s() },
            ClientMsg::RoomLeave { code: s() },
            ClientMsg::PairStart,
            ClientMsg::PairJoin { key: s() },
            ClientMsg::PairForget { secret: s() },
            ClientMsg::Signal {
                to: s(),
                data: json!({}),
            },
            ClientMsg::RoomInvite { to: s(), code: s() },
            ClientMsg::RoomInviteReply {
                to: s(),
                code: s(),
                accept: b(),
            },
        ];
        for m in all {
            let v = serde_json::to_value(&m).unwrap();
            assert_eq!(v["type"], type_name(&m), "{m:?}");
            assert!(is_client_type(type_name(&m)), "{m:?}");
        }
        assert!(!is_client_type("launchMissiles"));
        assert!(!is_client_type("Hello"));
    }
}
