//! A user-space delay line between two interfaces of one namespace: this kernel has no netem
//! (and no fq qdisc, so no BPF earliest-departure-time pacing either).
//!
//! Every Ethernet frame arriving on one interface leaves through the other a fixed time later,
//! in both directions, like a long cable: FIFO with a constant delay keeps order, and nothing
//! is dropped (the capture buffers are large, the queue in between is unbounded). Per
//! direction one thread reads an `AF_PACKET` socket into a timed queue and one thread writes
//! the queue out when each frame is due. The threads enter the namespace with `setns`; the
//! sockets stay in it. Frames are copied as captured, so the caller turns checksum and
//! segmentation offloads off (see `Lan::delay`).

use std::collections::VecDeque;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

/// `linux/if_packet.h`: skip frames this socket (or any other on the host) sends.
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;
/// `linux/if_packet.h`: hand frames straight to the driver.
const PACKET_QDISC_BYPASS: libc::c_int = 20;
/// Capture buffer per socket: ~0.5 s of 60 MB/s, so a descheduled reader loses nothing.
const SOCKET_BUFFER: libc::c_int = 32 << 20;
/// How often blocked threads look at the stop flag.
const POLL: Duration = Duration::from_millis(100);

/// A running delay line; stopped (threads joined, sockets closed) when dropped.
pub struct DelayLine {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl DelayLine {
    /// Join `a` and `b` (interfaces in namespace `netns`) with `one_way` delay each way.
    pub fn start(netns: &str, a: &str, b: &str, one_way: Duration) -> io::Result<DelayLine> {
        let (netns, a, b) = (netns.to_string(), a.to_string(), b.to_string());
        let (sa, sb) = super::netns::in_netns(&netns, move || {
            Ok::<_, io::Error>((PacketSocket::bind(&a)?, PacketSocket::bind(&b)?))
        })?;
        let (sa, sb) = (Arc::new(sa), Arc::new(sb));
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for (src, dst) in [(sa.clone(), sb.clone()), (sb, sa)] {
            threads.extend(direction(src, dst, one_way, &stop));
        }
        Ok(DelayLine { stop, threads })
    }
}

impl Drop for DelayLine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Frames waiting for their departure time, oldest first.
#[derive(Default)]
struct Queue {
    frames: Mutex<VecDeque<(Instant, Vec<u8>)>>,
    ready: Condvar,
}

/// The reader and writer threads of one direction.
fn direction(
    src: Arc<PacketSocket>,
    dst: Arc<PacketSocket>,
    delay: Duration,
    stop: &Arc<AtomicBool>,
) -> [JoinHandle<()>; 2] {
    let queue = Arc::new(Queue::default());
    let (q, s) = (queue.clone(), stop.clone());
    let reader = std::thread::spawn(move || {
        realtime();
        let mut buf = vec![0u8; 65536];
        while !s.load(Ordering::Relaxed) {
            let Ok((n, arrived)) = src.recv(&mut buf) else {
                continue;
            };
            let due = arrived + delay;
            q.frames.lock().unwrap().push_back((due, buf[..n].to_vec()));
            q.ready.notify_one();
        }
    });
    let s = stop.clone();
    let writer = std::thread::spawn(move || {
        realtime();
        let mut batch = Vec::new();
        while !s.load(Ordering::Relaxed) {
            take_due(&queue, &mut batch);
            for frame in batch.drain(..) {
                // A full device queue would be loss: retry rather than drop.
                while let Err(e) = dst.send(&frame) {
                    let full = e.raw_os_error() == Some(libc::ENOBUFS)
                        || e.kind() == io::ErrorKind::WouldBlock;
                    if !full || s.load(Ordering::Relaxed) {
                        break;
                    }
                    std::thread::sleep(Duration::from_micros(50));
                }
            }
        }
    });
    [reader, writer]
}

/// Run this thread under SCHED_FIFO, as the kernel's own netem timer would: a delay line
/// that wakes late on a loaded machine releases its frames in bursts that the receiving
/// browser's small UDP buffer (128 KiB in Chromium) drops. Both threads block between
/// frames, so this costs no CPU. Best effort: without the privilege the line still works.
fn realtime() {
    let param = libc::sched_param { sched_priority: 10 };
    // SAFETY: sched_setscheduler(2) on the calling thread with a valid param.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) } != 0 {
        eprintln!("delay line: no SCHED_FIFO ({})", io::Error::last_os_error());
    }
}

/// Wait until the oldest frame is due (or `POLL` passes), then move every due frame out.
fn take_due(queue: &Queue, batch: &mut Vec<Vec<u8>>) {
    let mut frames = queue.frames.lock().unwrap();
    let Some(&(due, _)) = frames.front() else {
        let _ = queue.ready.wait_timeout(frames, POLL).unwrap();
        return;
    };
    let now = Instant::now();
    if due > now {
        drop(frames);
        std::thread::sleep(due - now);
        frames = queue.frames.lock().unwrap();
    }
    let now = Instant::now();
    while frames.front().is_some_and(|(due, _)| *due <= now) {
        batch.push(frames.pop_front().unwrap().1);
    }
}

/// A raw socket bound to one interface, seeing only frames that arrive on it.
struct PacketSocket(OwnedFd);

impl PacketSocket {
    fn bind(ifname: &str) -> io::Result<PacketSocket> {
        let proto = (libc::ETH_P_ALL as u16).to_be();
        // SAFETY: plain socket(2); the fd is owned right after.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, proto as libc::c_int) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh, valid descriptor nobody else owns.
        let sock = PacketSocket(unsafe { OwnedFd::from_raw_fd(fd) });
        sock.set(libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, SOCKET_BUFFER)?;
        sock.set(libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, SOCKET_BUFFER)?;
        sock.set(libc::SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)?;
        sock.set(libc::SOL_PACKET, PACKET_QDISC_BYPASS, 1)?;
        sock.set(libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, 1)?;
        let tv = libc::timeval {
            tv_sec: 0,
            tv_usec: POLL.as_micros() as libc::suseconds_t,
        };
        sock.setopt(libc::SOL_SOCKET, libc::SO_RCVTIMEO, &tv)?;
        let name = CString::new(ifname).map_err(io::Error::other)?;
        // SAFETY: name is a valid C string.
        let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if index == 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: sockaddr_ll is plain data; all-zero is a valid start.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = proto;
        addr.sll_ifindex = index as i32;
        let len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        // SAFETY: addr is a valid sockaddr_ll of `len` bytes.
        let rc = unsafe { libc::bind(fd, &addr as *const _ as *const libc::sockaddr, len) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(sock)
    }

    fn set(&self, level: libc::c_int, name: libc::c_int, value: libc::c_int) -> io::Result<()> {
        self.setopt(level, name, &value)
    }

    fn setopt<T>(&self, level: libc::c_int, name: libc::c_int, value: &T) -> io::Result<()> {
        let len = std::mem::size_of::<T>() as libc::socklen_t;
        // SAFETY: value points to a live T of `len` bytes.
        let rc = unsafe {
            libc::setsockopt(
                self.0.as_raw_fd(),
                level,
                name,
                value as *const T as *const libc::c_void,
                len,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// One frame and when the kernel received it (so a reader that runs late still keeps
    /// the frames' spacing).
    fn recv(&self, buf: &mut [u8]) -> io::Result<(usize, Instant)> {
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        let mut control = [0u64; 16];
        // SAFETY: msghdr is plain data; all-zero is a valid start.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control);
        // SAFETY: msg points to live iov/control buffers of the stated sizes.
        let n = unsafe { libc::recvmsg(self.0.as_raw_fd(), &mut msg, 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let now = (Instant::now(), SystemTime::now());
        Ok((n as usize, stamp(&msg).map_or(now.0, |at| since(now, at))))
    }

    fn send(&self, frame: &[u8]) -> io::Result<()> {
        // SAFETY: frame is valid for reads of frame.len() bytes; the socket is bound, so no
        // destination address is needed.
        let n = unsafe { libc::send(self.0.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// The SCM_TIMESTAMPNS control message of a received frame, if any.
fn stamp(msg: &libc::msghdr) -> Option<SystemTime> {
    // SAFETY: walking the control buffer recvmsg filled, with the kernel's own macros.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                let ts = std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const libc::timespec);
                let d = Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32);
                return Some(SystemTime::UNIX_EPOCH + d);
            }
            c = libc::CMSG_NXTHDR(msg, c);
        }
    }
    None
}

/// The monotonic instant of wall-clock time `at`, given a (monotonic, wall) pair taken now.
fn since((mono, wall): (Instant, SystemTime), at: SystemTime) -> Instant {
    let ago = wall.duration_since(at).unwrap_or_default();
    mono.checked_sub(ago.min(Duration::from_secs(1)))
        .unwrap_or(mono)
}
