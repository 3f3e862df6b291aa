//! Offer/answer between two benchmark pages, SDP carried by the driver (no trickle ICE).
//!
//! Both the transfer bench's raw channel and the relay bench's page script expose the same
//! three calls on a page object: `offer(cfg)`, `answer(cfg, offer)` and `accept(answer)`,
//! each returning once ICE gathering is complete (`sdp.js`) or the channel is open.

use serde_json::Value;

use super::support::browser::Browser;

/// Defines `benchGathered(pc)`; evaluate before the page script that uses it.
pub const JS: &str = include_str!("sdp.js");

/// `a` offers, `b` answers, `a` accepts, through page object `obj` with RTCConfiguration
/// `cfg`; returns when `a`'s data channel is open.
pub fn negotiate(a: &mut Browser, b: &mut Browser, obj: &str, cfg: &Value) {
    let offer = a.eval(&format!("{obj}.offer({cfg})"));
    let answer = b.eval(&format!(
        "{obj}.answer({cfg}, {})",
        serde_json::to_string(&offer).unwrap()
    ));
    a.eval(&format!(
        "{obj}.accept({})",
        serde_json::to_string(&answer).unwrap()
    ));
}
