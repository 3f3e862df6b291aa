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
        ClientMsg::RoomJoinNamed { .. } => "roomJoinNamed",
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

/// Letters that draw nothing (Hangul fillers: general category Lo), removed like format
/// characters since a name made of them looks blank or pads another name unseen.
const BLANK_LETTERS: [char; 4] = ['\u{115F}', '\u{1160}', '\u{3164}', '\u{FFA0}'];

/// A display name as every other device will see it. Names are what a person goes by to
/// tell devices apart, so nothing in one may hide, reorder or imitate text:
/// - format characters (Cf: bidi overrides and isolates U+202A–202E and U+2066–2069, marks
///   U+200E/200F, zero-width U+200B–200D, U+2060–2064, U+FEFF, the soft hyphen, …) and the
///   blank Hangul fillers are removed;
/// - controls (Cc) and separators (Zs other than U+0020, Zl, Zp) become a space, and runs
///   of spaces one space; then it is trimmed;
/// - the rest is NFC-normalized, so that one look has one spelling;
/// - the result must have 1 to [`MAX_NAME_CHARS`] characters.
///
/// The classes come from the Unicode character database (`icu_properties`, compiled in).
pub(super) fn clean_name(name: &str) -> Result<String, Refusal> {
    use icu_properties::{props::GeneralCategory as Gc, CodePointMapData};
    let gc = CodePointMapData::<Gc>::new();
    let mut kept = String::with_capacity(name.len());
    for c in name.chars() {
        match gc.get(c) {
            Gc::Format => {}
            _ if BLANK_LETTERS.contains(&c) => {}
            Gc::Control | Gc::SpaceSeparator | Gc::LineSeparator | Gc::ParagraphSeparator => {
                kept.push(' ')
            }
            _ => kept.push(c),
        }
    }
    let nfc = icu_normalizer::ComposingNormalizerBorrowed::new_nfc().normalize(&kept);
    let name = nfc
        .split(' ')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let n = name.chars().count();
    if n == 0 || n > MAX_NAME_CHARS {
        return Err((
            ErrorCode::BadRequest,
            "A name must have 1 to 40 visible characters.",
        ));
    }
    Ok(name)
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
                caps: None,
            },
            ClientMsg::Rename { name: s() },
            ClientMsg::RoomCreate {
                capacity: None,
                snap_on_join: b(),
            },
            ClientMsg::RoomJoin { code: s() },
            ClientMsg::RoomJoinNamed { name: s() },
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

    fn clean(s: &str) -> Option<String> {
        clean_name(s).ok()
    }

    /// Format characters (Cf: bidi overrides, isolates and marks, zero-width, BOM, soft
    /// hyphen, language tags) and the blank Hangul fillers.
    const INVISIBLE: &str = "\u{202A}\u{202B}\u{202C}\u{202D}\u{202E}\u{2066}\u{2067}\u{2068}\u{2069}\u{200B}\u{200C}\u{200D}\u{200E}\u{200F}\u{2060}\u{2061}\u{2062}\u{2063}\u{2064}\u{FEFF}\u{00AD}\u{180E}\u{E0001}\u{3164}\u{115F}";
    /// Controls (Cc) and separators (Zs, Zl, Zp) other than U+0020.
    const SPACES: &str = "\t\n\r\u{0}\u{7}\u{1B}\u{7F}\u{85}\u{9F}\u{A0}\u{1680}\u{2000}\u{2007}\u{200A}\u{202F}\u{205F}\u{3000}\u{2028}\u{2029}";

    #[test]
    fn names_lose_format_characters() {
        for c in INVISIBLE.chars() {
            let name = clean(&format!("Dad{c}'s phone"));
            assert_eq!(name.as_deref(), Some("Dad's phone"), "{:X}", c as u32);
            assert_eq!(clean(&c.to_string()), None, "alone: {:X}", c as u32);
        }
        // "Dad's phone" spelled backwards behind a right-to-left override stays backwards.
        assert_eq!(clean("\u{202E}enohp s'daD").as_deref(), Some("enohp s'daD"));
        assert!(
            clean(&format!("{}\u{200B}", "x".repeat(40))).is_some(),
            "invisible ones do not count"
        );
    }

    #[test]
    fn controls_and_odd_separators_become_one_space() {
        for c in SPACES.chars() {
            let name = clean(&format!(" Mum{c}{c} \u{20}iPad{c}"));
            assert_eq!(name.as_deref(), Some("Mum iPad"), "{:X}", c as u32);
            assert_eq!(clean(&c.to_string()), None, "alone: {:X}", c as u32);
        }
        assert_eq!(clean("  a   b  ").as_deref(), Some("a b"), "runs collapse");
    }

    #[test]
    fn names_are_nfc_and_counted_after_it() {
        assert_eq!(clean("Rene\u{301}e").as_deref(), Some("Ren\u{E9}e"));
        assert_eq!(clean("Ren\u{E9}e"), clean("Rene\u{301}e"));
        let angstrom = clean("\u{212B}ngstr\u{F6}m");
        assert_eq!(
            angstrom.as_deref(),
            Some("\u{C5}ngstr\u{F6}m"),
            "the Angstrom sign"
        );
        // 40 decomposed é (80 characters) are 40 once composed.
        assert!(clean(&"e\u{301}".repeat(40)).is_some());
        assert!(clean(&"x".repeat(40)).is_some());
        assert!(clean(&"x".repeat(41)).is_none());
        // Ordinary letters, marks, emoji and other scripts stay.
        for ok in [
            "Amber Otter",
            "Ölçü",
            "小明的手机",
            "محمد",
            "📱 Phone",
            "Zoë's Mac",
        ] {
            assert_eq!(clean(ok).as_deref(), Some(ok));
        }
    }
}
