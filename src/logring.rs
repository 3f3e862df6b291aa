//! The last lines homedrop logged, kept in memory for the household's diagnostics view
//! (`GET /api/logs`, home-group devices only): a tracing [`Layer`] installed beside the
//! stderr one formats each event into one line and keeps the newest in a ring bounded by
//! count ([`MAX_LINES`]) and by bytes ([`MAX_BYTES`]), each line cut at [`MAX_LINE_BYTES`].
//!
//! The lines are homedrop's own (its modules' events, up to DEBUG, through the same `--log`
//! filter as stderr; the libraries' lines stay on stderr only), so what homedrop never logs
//! (device names, message texts, room codes, pairing keys, credentials) is never here
//! either: `tests/diag.rs` checks that.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// Most lines kept.
pub const MAX_LINES: usize = 500;
/// Most bytes kept, all lines together.
pub const MAX_BYTES: usize = 256 * 1024;
/// Longest line kept, in bytes (a longer one is cut and ends in "…").
pub const MAX_LINE_BYTES: usize = 512;

/// The newest lines, oldest first, within both bounds.
#[derive(Debug)]
pub struct Ring {
    lines: VecDeque<String>,
    bytes: usize,
    max_lines: usize,
    max_bytes: usize,
}

impl Ring {
    pub const fn new(max_lines: usize, max_bytes: usize) -> Ring {
        Ring {
            lines: VecDeque::new(),
            bytes: 0,
            max_lines,
            max_bytes,
        }
    }

    /// Adds a line (cut at [`MAX_LINE_BYTES`]), dropping the oldest ones over a bound.
    pub fn push(&mut self, mut line: String) {
        cut(&mut line, MAX_LINE_BYTES.min(self.max_bytes));
        self.bytes += line.len();
        self.lines.push_back(line);
        while self.lines.len() > self.max_lines || self.bytes > self.max_bytes {
            match self.lines.pop_front() {
                Some(old) => self.bytes -= old.len(),
                None => break,
            }
        }
    }

    /// A copy of the lines, oldest first.
    pub fn lines(&self) -> Vec<String> {
        self.lines.iter().cloned().collect()
    }

    /// Bytes held by the lines.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

/// Cuts `line` to at most `max` bytes on a character boundary, marking the cut with "…".
fn cut(line: &mut String, max: usize) {
    if line.len() <= max {
        return;
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    line.truncate(end);
    line.push('…');
}

/// The process's ring, which [`layer`] fills.
static RING: Mutex<Ring> = Mutex::new(Ring::new(MAX_LINES, MAX_BYTES));

fn lock(ring: &Mutex<Ring>) -> MutexGuard<'_, Ring> {
    // A panic while pushing leaves a consistent ring (or one line short): keep going.
    ring.lock().unwrap_or_else(|p| p.into_inner())
}

/// The process's recent lines, oldest first.
pub fn recent() -> Vec<String> {
    lock(&RING).lines()
}

/// The layer that keeps every event that passes the subscriber's filter in the ring.
pub fn layer() -> RingLayer {
    RingLayer { ring: &RING }
}

/// Formats events into lines of a ring ([`layer`] for the process's).
pub struct RingLayer {
    ring: &'static Mutex<Ring>,
}

impl RingLayer {
    /// A layer writing into another ring than the process's (tests).
    pub fn into_ring(ring: &'static Mutex<Ring>) -> RingLayer {
        RingLayer { ring }
    }
}

impl<S: Subscriber> Layer<S> for RingLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if !kept(event.metadata()) {
            return;
        }
        let line = format_line(event, SystemTime::now());
        lock(self.ring).push(line);
    }
}

/// Only homedrop's own lines, and none at TRACE: the libraries' debug and trace output (a
/// WebSocket library may show frames, which carry names and texts) stays on stderr, for
/// whoever runs homedrop with `--log trace` on purpose.
fn kept(meta: &tracing::Metadata<'_>) -> bool {
    let target = meta.target();
    let ours = target == "homedrop" || target.starts_with("homedrop::");
    ours && *meta.level() != tracing::Level::TRACE
}

/// `2026-12-02T18:14:53.123Z  INFO target: message key=value …`, control characters as spaces.
fn format_line(event: &Event<'_>, now: SystemTime) -> String {
    let meta = event.metadata();
    let mut v = Fields::default();
    event.record(&mut v);
    let mut line = format!(
        "{} {:>5} {}: {}",
        stamp(now),
        meta.level(),
        meta.target(),
        v.message
    );
    line.push_str(&v.fields);
    line.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[derive(Default)]
struct Fields {
    message: String,
    fields: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
}

/// UTC time as RFC 3339 with milliseconds (days to a civil date: the proleptic Gregorian
/// calendar's era arithmetic).
fn stamp(now: SystemTime) -> String {
    let d = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn the_ring_keeps_the_newest_lines_within_count_and_bytes() {
        let mut r = Ring::new(3, 1024);
        for i in 0..10 {
            r.push(format!("line {i}"));
        }
        assert_eq!(r.lines(), ["line 7", "line 8", "line 9"]);
        assert_eq!(r.bytes(), 18);

        let mut r = Ring::new(100, 1000);
        for i in 0..50 {
            r.push(format!("{i:03}{}", "x".repeat(97)));
        }
        assert!(r.bytes() <= 1000, "{}", r.bytes());
        assert_eq!(r.lines().len(), 10);
        assert!(r.lines()[0].starts_with("040"), "{:?}", r.lines()[0]);
    }

    #[test]
    fn a_long_line_is_cut_on_a_character_boundary() {
        let mut r = Ring::new(10, MAX_BYTES);
        r.push("é".repeat(2 * MAX_LINE_BYTES));
        let line = &r.lines()[0];
        assert!(line.len() <= MAX_LINE_BYTES, "{}", line.len());
        assert!(line.ends_with('…'));
        assert_eq!(r.bytes(), line.len());
    }

    #[test]
    fn the_process_ring_stays_within_its_bounds() {
        let mut r = Ring::new(MAX_LINES, MAX_BYTES);
        for i in 0..5 * MAX_LINES {
            r.push(format!("{i} {}", "y".repeat(2 * MAX_LINE_BYTES)));
        }
        assert!(r.lines().len() <= MAX_LINES);
        assert!(r.bytes() <= MAX_BYTES);
        assert!(r.lines().iter().all(|l| l.len() <= MAX_LINE_BYTES));
    }

    #[test]
    fn events_become_one_line_with_their_fields() {
        static TEST_RING: Mutex<Ring> = Mutex::new(Ring::new(10, 4096));
        let subscriber = tracing_subscriber::registry().with(RingLayer::into_ring(&TEST_RING));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(peer = "abcd1234", group = "home", n = 3u32, "session ended");
            tracing::warn!("two\nlines");
            tracing::info!(target: "tokio_tungstenite", "a library's line");
            tracing::info!(target: "homedropper", "not ours either");
            tracing::trace!("too fine");
        });
        let lines = lock(&TEST_RING).lines();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines[0].ends_with(
                " INFO homedrop::logring::tests: session ended peer=\"abcd1234\" group=\"home\" n=3"
            ),
            "{}",
            lines[0]
        );
        assert!(lines[1].contains(" WARN ") && lines[1].ends_with("two lines"));
    }

    #[test]
    fn stamps_are_utc_rfc3339() {
        let t = UNIX_EPOCH + Duration::from_millis(1_796_235_293_123);
        assert_eq!(stamp(t), "2026-12-02T18:14:53.123Z");
        assert_eq!(stamp(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(stamp(leap), "2000-02-29T00:00:00.000Z");
    }
}
