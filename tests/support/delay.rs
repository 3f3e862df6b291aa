//! A user-space delay line between two interfaces of a namespace, for benchmarks.
//!
//! This kernel has no netem qdisc (`tc ... netem` answers "Specified qdisc kind is
//! unknown"), so added latency is made here instead: two raw packet sockets (AF_PACKET)
//! forward every Ethernet frame from one interface to the other after a fixed delay, in
//! both directions, like a cable with a long propagation time. Order is kept (FIFO with a
//! constant delay). Offloads are turned off on the links so no frame exceeds the MTU.

use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

const ETH_P_ALL: u16 = 0x0003;
const PACKET_OUTGOING: u8 = 4;

/// A packet socket bound to one interface inside namespace `ns`.
fn packet_socket(ns: &str, ifname: &str) -> i32 {
    let (ns, ifname) = (ns.to_string(), ifname.to_string());
    // setns affects only the calling thread: open the socket from a thread that joined the
    // namespace; the socket stays in that namespace wherever it is used afterwards.
    std::thread::spawn(move || unsafe {
        let nsf = std::fs::File::open(format!("/run/netns/{ns}")).expect("open netns");
        use std::os::fd::AsRawFd;
        assert_eq!(libc::setns(nsf.as_raw_fd(), libc::CLONE_NEWNET), 0, "setns");
        let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW, (ETH_P_ALL).to_be() as i32);
        assert!(fd >= 0, "packet socket");
        let name = std::ffi::CString::new(ifname).unwrap();
        let index = libc::if_nametoindex(name.as_ptr());
        assert!(index > 0, "no such interface");
        let mut addr: libc::sockaddr_ll = std::mem::zeroed();
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = ETH_P_ALL.to_be();
        addr.sll_ifindex = index as i32;
        let rc = libc::bind(fd, &addr as *const _ as *const libc::sockaddr, std::mem::size_of::<libc::sockaddr_ll>() as u32);
        assert_eq!(rc, 0, "bind packet socket");
        fd
    })
    .join()
    .unwrap()
}

fn reader(from: i32, delay: Duration) -> Receiver<(Instant, Vec<u8>)> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        loop {
            // SAFETY: buf and addr outlive the call; sizes are passed correctly.
            let (n, addr) = unsafe {
                let mut addr: libc::sockaddr_ll = std::mem::zeroed();
                let mut len = std::mem::size_of::<libc::sockaddr_ll>() as u32;
                let n = libc::recvfrom(from, buf.as_mut_ptr().cast(), buf.len(), 0, &mut addr as *mut _ as *mut libc::sockaddr, &mut len);
                (n, addr)
            };
            if n < 0 {
                break;
            }
            if addr.sll_pkttype == PACKET_OUTGOING {
                continue;
            }
            if tx.send((Instant::now() + delay, buf[..n as usize].to_vec())).is_err() {
                break;
            }
        }
    });
    rx
}

fn writer(to: i32, rx: Receiver<(Instant, Vec<u8>)>) {
    std::thread::spawn(move || {
        while let Ok((due, frame)) = rx.recv() {
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            // SAFETY: frame is a valid buffer of its length.
            let rc = unsafe { libc::send(to, frame.as_ptr().cast(), frame.len(), 0) };
            if rc < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ENXIO) {
                break;
            }
        }
    });
}

/// Forward frames between interfaces `a` and `b` of namespace `ns`, `one_way` late each way.
pub fn delay_line(ns: &str, a: &str, b: &str, one_way: Duration) {
    let (fa, fb) = (packet_socket(ns, a), packet_socket(ns, b));
    writer(fb, reader(fa, one_way));
    writer(fa, reader(fb, one_way));
}
