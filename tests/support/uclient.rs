//! Reading coturn's `turnutils_uclient` output, shared by the relay interop tests and the
//! relay benchmark (both drive uclient against homedrop and read its summary lines).

/// The number after `key` on the last line containing it.
pub fn number_after(out: &str, key: &str) -> Option<f64> {
    let line = out.lines().rev().find(|l| l.contains(key))?;
    let rest = &line[line.find(key)? + key.len()..];
    let num: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    num.parse().ok()
}

/// uclient's summary: (lost, sent, received, average RTT ms); panics naming the missing key.
pub fn summary(out: &str) -> (f64, f64, f64, f64) {
    let get =
        |k| number_after(out, k).unwrap_or_else(|| panic!("no {k:?} in uclient output:\n{out}"));
    (
        get("Total lost packets "),
        get("tot_send_msgs="),
        get("tot_recv_msgs="),
        get("Average round trip delay "),
    )
}
