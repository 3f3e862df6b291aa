//! UPnP IGD: find the router by SSDP (an `M-SEARCH` to 239.255.255.250:1900), read its
//! device description for the WANIPConnection (or WANPPPConnection) control URL, then
//! `AddPortMapping`, `DeletePortMapping` and `GetExternalIPAddress` as SOAP over HTTP/1.1.
//!
//! The HTTP here is a request, `Connection: close`, and a response read to its end (at most
//! [`MAX_RESPONSE`] bytes, chunked or not) on a plain TCP stream to a LAN address: the
//! router's answers are a few hundred bytes of fixed XML, read by looking for the element
//! names (no XML library for four elements).

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use super::state::{address_problem, Port, Problem};
use super::{Failure, Granted};

const SSDP: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(239, 255, 255, 250), 1900);
const SEARCH_FOR: [&str; 2] = [
    "urn:schemas-upnp-org:device:InternetGatewayDevice:1",
    "urn:schemas-upnp-org:device:InternetGatewayDevice:2",
];
const SERVICES: [&str; 3] = [
    "urn:schemas-upnp-org:service:WANIPConnection:2",
    "urn:schemas-upnp-org:service:WANIPConnection:1",
    "urn:schemas-upnp-org:service:WANPPPConnection:1",
];
/// How long SSDP answers are awaited.
const SEARCH_WAIT: Duration = Duration::from_secs(2);
/// Longest wait for one HTTP exchange with the router.
const HTTP_WAIT: Duration = Duration::from_secs(4);
/// Largest description or SOAP answer read.
const MAX_RESPONSE: usize = 64 * 1024;
/// What the router shows next to the mappings.
const DESCRIPTION: &str = "homedrop";

/// A router's WAN connection service.
#[derive(Debug, Clone)]
pub struct Igd {
    /// The router's HTTP address (from the SSDP `LOCATION`).
    addr: SocketAddrV4,
    control: String,
    service: &'static str,
    /// Our address towards the router: the `NewInternalClient` of the mappings.
    pub local: Ipv4Addr,
}

/// Search the LAN for an Internet Gateway Device; `None` when none answers in time.
pub async fn discover() -> Option<Igd> {
    let sock = UdpSocket::bind(SocketAddr::from(([0, 0, 0, 0], 0)))
        .await
        .ok()?;
    let _ = sock.set_multicast_ttl_v4(2);
    for st in SEARCH_FOR {
        let msg = format!(
            "M-SEARCH * HTTP/1.1\r\nHOST: {SSDP}\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: {st}\r\n\r\n"
        );
        let _ = sock.send_to(msg.as_bytes(), SSDP).await;
    }
    let deadline = tokio::time::Instant::now() + SEARCH_WAIT;
    let mut buf = [0u8; 2048];
    while let Ok(Ok((n, from))) = tokio::time::timeout_at(deadline, sock.recv_from(&mut buf)).await
    {
        let text = String::from_utf8_lossy(&buf[..n]);
        let Some((addr, path)) = location(&text) else {
            continue;
        };
        // Only a description on the host that answered: another LAN device cannot send us
        // to a third address.
        if SocketAddr::V4(addr).ip() != from.ip() {
            continue;
        }
        if let Some(igd) = describe(addr, &path).await {
            return Some(igd);
        }
    }
    None
}

/// The `LOCATION: http://a.b.c.d:port/path` header of an SSDP answer.
fn location(answer: &str) -> Option<(SocketAddrV4, String)> {
    let line = answer
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("location:"))?;
    let url = line["location:".len()..].trim();
    let rest = url.strip_prefix("http://")?;
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr: SocketAddrV4 = match hostport.parse() {
        Ok(a) => a,
        Err(_) => SocketAddrV4::new(hostport.parse().ok()?, 80),
    };
    Some((addr, path.to_string()))
}

/// Read the device description at `addr` `path` for a WAN connection service.
async fn describe(addr: SocketAddrV4, path: &str) -> Option<Igd> {
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let (status, body, local) = http(addr, req.as_bytes()).await.ok()?;
    if status != 200 {
        return None;
    }
    let (service, control) = control_url(&body)?;
    let control = match control.strip_prefix("http://") {
        // An absolute URL: its path (the host must be the router anyway).
        Some(rest) => rest.find('/').map(|i| rest[i..].to_string())?,
        None if control.starts_with('/') => control,
        None => format!("/{control}"),
    };
    Some(Igd {
        addr,
        control,
        service,
        local,
    })
}

/// The first WAN connection service's type and control URL in a device description.
fn control_url(xml: &str) -> Option<(&'static str, String)> {
    for block in xml.split("<service>").skip(1) {
        let block = block.split("</service>").next().unwrap_or(block);
        let Some(ty) = element(block, "serviceType") else {
            continue;
        };
        if let Some(known) = SERVICES.iter().find(|s| **s == ty.trim()) {
            return Some((known, element(block, "controlURL")?.trim().to_string()));
        }
    }
    None
}

/// The text of the first `<name>…</name>` (any namespace prefix) in `xml`.
fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = xml.find(&format!("{name}>"))? + name.len() + 1;
    let len = xml[open..].find("</")?;
    Some(&xml[open..open + len])
}

impl Igd {
    /// One SOAP action; `Ok(body)` on 200, else the UPnP error code (0 when none given).
    async fn soap(&self, action: &str, args: &str) -> Result<String, Failure> {
        let body = format!(
            "<?xml version=\"1.0\"?>\r\n<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" \
             s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body>\
             <u:{action} xmlns:u=\"{}\">{args}</u:{action}></s:Body></s:Envelope>\r\n",
            self.service
        );
        let req = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: text/xml; charset=\"utf-8\"\r\n\
             SOAPAction: \"{}#{action}\"\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.control,
            self.addr,
            self.service,
            body.len()
        );
        let (status, answer, _) = http(self.addr, req.as_bytes())
            .await
            .map_err(|_| Failure::NoAnswer)?;
        if status == 200 {
            return Ok(answer);
        }
        let code = element(&answer, "errorCode").and_then(|c| c.trim().parse().ok());
        Err(Failure::Upnp(code.unwrap_or(0)))
    }

    /// The router's external address; 0.0.0.0 (no address of its own) as a problem.
    pub async fn external_ip(&self) -> Result<Ipv4Addr, Failure> {
        let body = self.soap("GetExternalIPAddress", "").await?;
        let ip: Ipv4Addr = element(&body, "NewExternalIPAddress")
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(Ipv4Addr::UNSPECIFIED);
        match address_problem(ip) {
            Some(p) => Err(Failure::Problem(p)),
            None => Ok(ip),
        }
    }

    /// Forward `port` to us for `lease` seconds (0: for good).
    pub async fn add(&self, port: Port, lease: u32) -> Result<Granted, Failure> {
        let args = format!(
            "<NewRemoteHost></NewRemoteHost><NewExternalPort>{p}</NewExternalPort>\
             <NewProtocol>{t}</NewProtocol><NewInternalPort>{p}</NewInternalPort>\
             <NewInternalClient>{}</NewInternalClient><NewEnabled>1</NewEnabled>\
             <NewPortMappingDescription>{DESCRIPTION}</NewPortMappingDescription>\
             <NewLeaseDuration>{lease}</NewLeaseDuration>",
            self.local,
            p = port.port,
            t = port.transport.upper()
        );
        match self.soap("AddPortMapping", &args).await {
            Ok(_) => Ok(Granted {
                external_port: port.port,
                lifetime: lease,
                public_ip: None,
            }),
            Err(Failure::Upnp(code)) => Err(upnp_problem(code, port)),
            Err(e) => Err(e),
        }
    }

    /// Remove the forward of `port`.
    pub async fn delete(&self, port: Port) -> Result<(), Failure> {
        let args = format!(
            "<NewRemoteHost></NewRemoteHost><NewExternalPort>{}</NewExternalPort>\
             <NewProtocol>{}</NewProtocol>",
            port.port,
            port.transport.upper()
        );
        self.soap("DeletePortMapping", &args).await.map(|_| ())
    }
}

/// UPnP errors (IGD v2 §2.5): 718 the port is someone else's, 725 only permanent leases.
fn upnp_problem(code: u16, port: Port) -> Failure {
    match code {
        718 | 724 | 728 => Failure::Problem(Problem::PortTaken(port)),
        725 => Failure::Upnp(725),
        729 => Failure::Problem(Problem::NoPublicAddress),
        c => Failure::Problem(Problem::Refused(format!("UPnP error {c}"))),
    }
}

/// One HTTP exchange: the status, the body, and our address on that connection.
async fn http(addr: SocketAddrV4, req: &[u8]) -> io::Result<(u16, String, Ipv4Addr)> {
    let exchange = async {
        let mut s = TcpStream::connect(addr).await?;
        let local = match s.local_addr()? {
            SocketAddr::V4(a) => *a.ip(),
            SocketAddr::V6(_) => return Err(io::Error::other("not IPv4")),
        };
        s.write_all(req).await?;
        let mut raw = Vec::new();
        (&mut s)
            .take(MAX_RESPONSE as u64)
            .read_to_end(&mut raw)
            .await?;
        let (status, body) = parse_response(&raw).ok_or_else(|| io::Error::other("bad HTTP"))?;
        Ok((status, body, local))
    };
    tokio::time::timeout(HTTP_WAIT, exchange)
        .await
        .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()))
}

/// Status and body (de-chunked when `Transfer-Encoding: chunked`) of a whole response.
fn parse_response(raw: &[u8]) -> Option<(u16, String)> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase().starts_with("transfer-encoding:")
            && l.to_ascii_lowercase().contains("chunked")
    });
    if !chunked {
        return Some((status, body.to_string()));
    }
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        if size == 0 || after.len() < size {
            break;
        }
        out.push_str(after.get(..size)?);
        rest = after.get(size..)?.trim_start_matches("\r\n");
    }
    Some((status, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssdp_location_and_description_are_read() {
        let answer = "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nLocation: http://192.168.1.1:5000/rootDesc.xml\r\nST: x\r\n\r\n";
        let (addr, path) = location(answer).unwrap();
        assert_eq!(addr.to_string(), "192.168.1.1:5000");
        assert_eq!(path, "/rootDesc.xml");
        let xml = "<root><service><serviceType>urn:schemas-upnp-org:service:Layer3Forwarding:1</serviceType>\
                   <controlURL>/ctl/L3F</controlURL></service><device><service><serviceType>\
                   urn:schemas-upnp-org:service:WANIPConnection:1</serviceType><controlURL>/ctl/IPConn</controlURL>\
                   </service></device></root>";
        let (service, control) = control_url(xml).unwrap();
        assert_eq!(service, "urn:schemas-upnp-org:service:WANIPConnection:1");
        assert_eq!(control, "/ctl/IPConn");
    }

    #[test]
    fn responses_plain_and_chunked() {
        let plain = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 9\r\n\r\n<errorCode>718</errorCode>";
        let (status, body) = parse_response(plain).unwrap();
        assert_eq!(status, 500);
        assert_eq!(element(&body, "errorCode"), Some("718"));
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n<a>1<\r\n3\r\n/a>\r\n0\r\n\r\n";
        assert_eq!(
            parse_response(chunked).unwrap(),
            (200, "<a>1</a>".to_string())
        );
        let port = Port {
            transport: super::super::state::Transport::Tcp,
            port: 443,
        };
        assert!(matches!(
            upnp_problem(718, port),
            Failure::Problem(Problem::PortTaken(_))
        ));
    }
}
