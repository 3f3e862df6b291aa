#!/usr/bin/env python3
"""A user-space delay line between two interfaces, for benchmarks: this kernel has no netem.

Usage (inside the namespace): delayline.py IF_A IF_B ONE_WAY_SECONDS

Every Ethernet frame arriving on one interface is sent out of the other after a fixed delay,
in both directions, like a long cable. Order is kept (FIFO, constant delay).
"""
import collections
import socket
import sys
import threading
import time

ETH_P_ALL = 3
PACKET_OUTGOING = 4


def packet_socket(ifname):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((ifname, 0))
    return s


def line(src, dst, delay):
    queue = collections.deque()
    ready = threading.Condition()

    def reader():
        while True:
            frame, addr = src.recvfrom(65536)
            if addr[2] == PACKET_OUTGOING:
                continue
            with ready:
                queue.append((time.monotonic() + delay, frame))
                ready.notify()

    def writer():
        while True:
            with ready:
                while not queue:
                    ready.wait()
                due, frame = queue.popleft()
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                dst.send(frame)
            except OSError:
                pass

    threading.Thread(target=reader, daemon=True).start()
    threading.Thread(target=writer, daemon=True).start()


def main():
    a, b, delay = sys.argv[1], sys.argv[2], float(sys.argv[3])
    sa, sb = packet_socket(a), packet_socket(b)
    line(sa, sb, delay)
    line(sb, sa, delay)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
