//! What to open: the startup log lists every URL homedrop answers on, and a terminal gets a
//! QR code of the best one.
//!
//! Why: an appliance has no screen; whoever starts it (by hand over SSH, or reading the
//! journal) needs the address to type or scan. The URLs are the mDNS name (when advertised,
//! see [`crate::mdns`]) and each LAN address of the interfaces mDNS uses. The QR code goes to
//! stdout only when stdout is a terminal (never into the journal or a pipe); the page itself
//! offers a QR code of its own URL ("Show a QR code for this page", `data-share-page`).

use std::io::IsTerminal;
use std::net::{IpAddr, SocketAddr};

use qrcode::{Color, QrCode};

use crate::config::Config;
use crate::net::{is_lan_interface, is_unspecified, url_for_host};

/// Light modules around the code, in modules (the QR specification asks for 4).
pub const QUIET_ZONE: usize = 4;

/// The URLs homedrop can be opened at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Urls {
    /// `http://<name>.local/` when mDNS is on.
    pub mdns: Option<String>,
    /// `(interface, URL)` for each LAN address, IPv4 first.
    pub lan: Vec<(String, String)>,
}

impl Urls {
    /// The URL for the QR code: the first LAN IPv4 address, because Android resolves
    /// `.local` names only in recent versions (and Linux only with nss-mdns) while an IP
    /// address opens everywhere; the mDNS name when there is no LAN address.
    pub fn best(&self) -> Option<&str> {
        self.lan
            .first()
            .map(|(_, u)| u.as_str())
            .or(self.mdns.as_deref())
    }
}

fn url_for_ip(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(v4) => url_for_host(&v4.to_string(), port),
        IpAddr::V6(v6) => url_for_host(&format!("[{v6}]"), port),
    }
}

/// Addresses a browser on the LAN can use: IPv4 first, then IPv6 except link-local (a URL
/// cannot carry the zone a link-local address needs).
pub fn lan_addrs(named: &[String]) -> Vec<(String, IpAddr)> {
    let mut addrs: Vec<(String, IpAddr)> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .filter(|i| is_lan_interface(&i.name, i.is_loopback(), named))
        .map(|i| (i.name.clone(), i.ip()))
        .filter(|(_, ip)| match ip {
            IpAddr::V4(_) => true,
            IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) != 0xfe80,
        })
        .collect();
    addrs.sort_by_key(|(_, ip)| ip.is_ipv6());
    addrs
}

/// The URLs for a server bound to `bound` with this configuration; `lan` as from
/// [`lan_addrs`]. A server bound to one address is only reachable there.
pub fn urls(config: &Config, bound: SocketAddr, lan: Vec<(String, IpAddr)>) -> Urls {
    let port = bound.port();
    let lan = if is_unspecified(bound.ip()) {
        lan.into_iter()
            .map(|(name, ip)| (name, url_for_ip(ip, port)))
            .collect()
    } else {
        vec![("--http".to_string(), url_for_ip(bound.ip(), port))]
    };
    Urls {
        mdns: config
            .mdns
            .then(|| url_for_host(&format!("{}.local", config.name), port)),
        lan,
    }
}

/// Log every URL and, when stdout is a terminal, print a QR code of the best one.
pub fn announce(config: &Config, bound: SocketAddr) {
    let urls = urls(config, bound, lan_addrs(&config.mdns_interfaces));
    if let Some(u) = &urls.mdns {
        tracing::info!("open {u} (mDNS name)");
    }
    for (iface, u) in &urls.lan {
        tracing::info!("open {u} ({iface})");
    }
    if urls.lan.is_empty() && urls.mdns.is_none() {
        tracing::warn!("no LAN address found; homedrop listens on {bound}");
    }
    let Some(best) = urls.best() else { return };
    if std::io::stdout().is_terminal() {
        if let Some(qr) = qr_text(best) {
            println!("\nScan to open {best}\n{qr}");
        }
    }
}

/// A QR code of `data` drawn with Unicode half blocks, two modules per character row, with a
/// [`QUIET_ZONE`]. Light modules are drawn as ink and dark ones as blanks, as `qrencode -t
/// UTF8` does: on the usual dark terminal that shows dark modules on a light code (phone
/// scanners read the inverse on a light terminal too).
pub fn qr_text(data: &str) -> Option<String> {
    let code = QrCode::new(data.as_bytes()).ok()?;
    let width = code.width();
    let colors = code.to_colors();
    let dark = |x: usize, y: usize| {
        let (x, y) = (x.wrapping_sub(QUIET_ZONE), y.wrapping_sub(QUIET_ZONE));
        x < width && y < width && colors[y * width + x] == Color::Dark
    };
    let size = width + 2 * QUIET_ZONE;
    let mut out = String::with_capacity(size * size * 2);
    for y in (0..size).step_by(2) {
        for x in 0..size {
            out.push(match (dark(x, y), dark(x, y + 1)) {
                (false, false) => '█',
                (false, true) => '▀',
                (true, false) => '▄',
                (true, true) => ' ',
            });
        }
        out.push('\n');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Read the drawing back into modules (true = dark).
    fn decode(text: &str) -> Vec<Vec<bool>> {
        let mut rows = Vec::new();
        for line in text.lines() {
            let (mut top, mut bottom) = (Vec::new(), Vec::new());
            for c in line.chars() {
                let (t, b) = match c {
                    '█' => (false, false),
                    '▀' => (false, true),
                    '▄' => (true, false),
                    ' ' => (true, true),
                    other => panic!("unexpected {other:?}"),
                };
                top.push(t);
                bottom.push(b);
            }
            rows.push(top);
            rows.push(bottom);
        }
        rows
    }

    #[test]
    fn qr_drawing_is_the_crates_matrix_inside_a_light_quiet_zone() {
        let url = "http://192.168.1.23:8080/";
        let code = QrCode::new(url.as_bytes()).unwrap();
        let (w, colors) = (code.width(), code.to_colors());
        let drawn = decode(&qr_text(url).unwrap());
        let size = w + 2 * QUIET_ZONE;
        assert_eq!(drawn.len(), size.div_ceil(2) * 2);
        assert!(drawn.iter().all(|r| r.len() == size));
        for (y, row) in drawn.iter().enumerate() {
            for (x, &is_dark) in row.iter().enumerate() {
                let inside = (QUIET_ZONE..QUIET_ZONE + w).contains(&x)
                    && (QUIET_ZONE..QUIET_ZONE + w).contains(&y);
                let want = inside && colors[(y - QUIET_ZONE) * w + (x - QUIET_ZONE)] == Color::Dark;
                assert_eq!(is_dark, want, "module ({x}, {y})");
            }
        }
        // The three finder patterns start right after the quiet zone.
        assert!(drawn[QUIET_ZONE][QUIET_ZONE]);
        assert!(drawn[QUIET_ZONE][QUIET_ZONE + w - 1]);
        assert!(!drawn[QUIET_ZONE - 1][QUIET_ZONE]);
    }

    #[test]
    fn urls_list_the_mdns_name_and_each_lan_address_and_prefer_ipv4() {
        let mut config = Config {
            name: "kitchen".into(),
            ..Config::default()
        };
        let lan = vec![
            ("eth0".to_string(), "192.168.1.5".parse().unwrap()),
            ("eth0".to_string(), "2001:db8::5".parse().unwrap()),
        ];
        let u = urls(&config, "0.0.0.0:8080".parse().unwrap(), lan.clone());
        assert_eq!(u.mdns.as_deref(), Some("http://kitchen.local:8080/"));
        assert_eq!(
            u.lan,
            vec![
                ("eth0".to_string(), "http://192.168.1.5:8080/".to_string()),
                ("eth0".to_string(), "http://[2001:db8::5]:8080/".to_string()),
            ]
        );
        assert_eq!(u.best(), Some("http://192.168.1.5:8080/"));
        config.mdns = false;
        let u = urls(&config, "10.0.0.7:80".parse().unwrap(), lan);
        assert_eq!(u.mdns, None);
        assert_eq!(u.best(), Some("http://10.0.0.7/"));
        let u = urls(&config, "0.0.0.0:80".parse().unwrap(), Vec::new());
        assert_eq!(u.best(), None);
    }
}
