#!/usr/bin/env python3
"""An independent mDNS / DNS-SD client for tests/mdns.rs (python-zeroconf, pinned in
scripts/test.sh). Runs inside a test namespace and prints one JSON object on stdout.

  browse  IFACE_IP TYPE WANT TIMEOUT   services of TYPE (until WANT are resolved)
  resolve IFACE_IP HOST EXPECT TIMEOUT A records of HOST, asked afresh until they are
                                       exactly EXPECT (comma separated; "-": any answer)
  follow  IFACE_IP HOST EXPECT TIMEOUT like resolve, but prints {"ready": true} first and
                                       starts when a line arrives on stdin (the test changes
                                       the address in between: python's start-up is not timed)
  gone    IFACE_IP TYPE INSTANCE TIMEOUT  prints {"seen": ...} once INSTANCE is browsed,
                                       then {"removed": ...} when its goodbye arrives
  fetch   URL                          GET URL: status and the start of the body
"""

import json
import sys
import threading
import time
import urllib.request

from zeroconf import AddressResolverIPv4, ServiceBrowser, ServiceStateChange, Zeroconf


def out(obj):
    print(json.dumps(obj), flush=True)


def browse(iface, ty, want, timeout):
    zc = Zeroconf(interfaces=[iface])
    names = set()
    lock = threading.Lock()

    def on_change(zeroconf, service_type, name, state_change):
        if state_change is ServiceStateChange.Added:
            with lock:
                names.add(name)

    ServiceBrowser(zc, ty, handlers=[on_change])
    deadline = time.monotonic() + timeout
    found = {}
    while time.monotonic() < deadline and len(found) < want:
        with lock:
            pending = [n for n in names if n not in found]
        for name in pending:
            info = zc.get_service_info(ty, name, timeout=2000)
            if info is not None and info.parsed_addresses():
                found[name] = {
                    "name": name,
                    "server": info.server,
                    "port": info.port,
                    "addresses": sorted(info.parsed_addresses()),
                    "txt": {
                        k.decode(): (v.decode() if v is not None else None)
                        for k, v in info.properties.items()
                    },
                }
        time.sleep(0.1)
    zc.close()
    out({"services": sorted(found.values(), key=lambda s: s["name"])})


def resolve(iface, host, expect, timeout):
    want = None if expect == "-" else sorted(expect.split(","))
    start = time.monotonic()
    last = []
    while time.monotonic() - start < timeout:
        # A fresh responder cache each round: only what homedrop answers now counts.
        zc = Zeroconf(interfaces=[iface])
        r = AddressResolverIPv4(host)
        r.request(zc, 1000)
        last = sorted(r.parsed_addresses())
        zc.close()
        if last and (want is None or last == want):
            out({"addresses": last, "secs": time.monotonic() - start})
            return
        time.sleep(0.2)
    out({"addresses": last, "secs": None})


def follow(iface, host, expect, timeout):
    out({"ready": True})
    sys.stdin.readline()
    resolve(iface, host, expect, timeout)


def gone(iface, ty, instance, timeout):
    zc = Zeroconf(interfaces=[iface])
    seen, removed = threading.Event(), threading.Event()

    def on_change(zeroconf, service_type, name, state_change):
        if name != instance:
            return
        if state_change is ServiceStateChange.Added:
            seen.set()
        elif state_change is ServiceStateChange.Removed:
            removed.set()

    ServiceBrowser(zc, ty, handlers=[on_change])
    out({"seen": seen.wait(timeout)})
    start = time.monotonic()
    ok = removed.wait(timeout)
    out({"removed": ok, "secs": time.monotonic() - start})
    zc.close()


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            out({"status": r.status, "body": r.read(4096).decode("utf-8", "replace")})
    except Exception as e:  # reported to the test, which fails with it
        out({"status": None, "error": str(e)})


def main(argv):
    cmd = argv[1]
    if cmd == "browse":
        browse(argv[2], argv[3], int(argv[4]), float(argv[5]))
    elif cmd == "resolve":
        resolve(argv[2], argv[3], argv[4], float(argv[5]))
    elif cmd == "follow":
        follow(argv[2], argv[3], argv[4], float(argv[5]))
    elif cmd == "gone":
        gone(argv[2], argv[3], argv[4], float(argv[5]))
    elif cmd == "fetch":
        fetch(argv[2])
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv)
