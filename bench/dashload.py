#!/usr/bin/env python3
"""bench/dashload.py: the load of the "dashboards" scenario (bench/dashboards).

    dashload.py URL [--dashboards 50] [--period 5] [--hunters 5]
                [--hunt-min 10] [--hunt-max 20] [--seconds 120] [--distinct]

Each dashboard is a thread that GETs URL/incidents every --period seconds
(first poll spread over one period); each hunter is a thread that POSTs a
KQL query to URL/hunting every --hunt-min..--hunt-max seconds (uniform).
Every thread keeps one HTTP/1.1 keep-alive connection and reconnects after
an error. Requests time out after 30 s. --distinct: dashboard i asks for
/incidents?$top=i+1, so no two share a cached answer (more calls than the
quota allows reach defgate, which must hold them back).

Prints one JSON object: per kind (incidents, hunting) the requests sent,
answers by status, X-Cache values, 429s split into upstream (the API's own
error passed through) and local (defgate's own error, whose message names
defgate), unanswered requests (timeout, reset, refused) with their errors,
and latency percentiles. A report, not an assertion: bench/dashboards
judges it. Debian's python3, standard library only.
"""
import argparse
import http.client
import json
import random
import threading
import time
import urllib.parse

QUERIES = [
    "DeviceProcessEvents | where Timestamp > ago(1h) | take 100",
    "DeviceNetworkEvents | where RemotePort == 443 | summarize count() by DeviceName | take 50",
    "AlertInfo | where Severity == 'High' | take 20",
    "IdentityLogonEvents | where ActionType == 'LogonFailed' | take 100",
    "EmailEvents | where ThreatTypes has 'Phish' | take 50",
]


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.sent = 0
        self.status = {}
        self.cache = {}
        self.upstream_429 = 0
        self.local_429 = 0
        self.unanswered = 0
        self.errors = {}
        self.lat_ms = []
        self.examples = {}

    def record(self, status, xcache, body, ms, err=None):
        with self.lock:
            self.sent += 1
            if err is not None:
                self.unanswered += 1
                self.errors[err] = self.errors.get(err, 0) + 1
                return
            self.status[str(status)] = self.status.get(str(status), 0) + 1
            self.cache[xcache or "-"] = self.cache.get(xcache or "-", 0) + 1
            self.lat_ms.append(ms)
            if status == 429:
                # defgate's own 429 names defgate in its message; the API's
                # does not (Defender: "API calls quota exceeded! ...",
                # Graph: "Too many requests.")
                kind = "local_429" if b"defgate" in body else "upstream_429"
                setattr(self, kind, getattr(self, kind) + 1)
                self.examples.setdefault(kind, body[:300].decode("utf-8", "replace"))
            elif status >= 400:
                self.examples.setdefault(str(status), body[:300].decode("utf-8", "replace"))

    def summary(self):
        lat = sorted(self.lat_ms)

        def pct(p):
            if not lat:
                return None
            return round(lat[min(len(lat) - 1, int(p / 100.0 * len(lat)))], 1)

        return {
            "sent": self.sent,
            "status": self.status,
            "x_cache": self.cache,
            "upstream_429": self.upstream_429,
            "local_429": self.local_429,
            "unanswered": self.unanswered,
            "errors": self.errors,
            "p50_ms": pct(50),
            "p99_ms": pct(99),
            "max_ms": round(lat[-1], 1) if lat else None,
            "examples": self.examples,
        }


class Client:
    def __init__(self, host, port):
        self.host, self.port, self.conn = host, port, None

    def request(self, method, path, body=None, headers=None):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            self.conn.request(method, path, body=body, headers=headers or {})
            r = self.conn.getresponse()
            data = r.read()
            if (r.getheader("Connection") or "").lower() == "close":
                self.close()
            return r.status, r.getheader("X-Cache"), data
        except Exception:
            self.close()
            raise

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def worker(stop, host, port, stats, first_delay, next_delay, method, path, body_fn):
    c = Client(host, port)
    t_next = time.monotonic() + first_delay
    while True:
        wait = t_next - time.monotonic()
        if wait > 0 and stop.wait(wait):
            break
        if stop.is_set():
            break
        t_next += next_delay()
        body = body_fn()
        hdrs = {"Content-Type": "application/json"} if body is not None else {}
        t0 = time.monotonic()
        try:
            st, xc, data = c.request(method, path, body, hdrs)
            stats.record(st, xc, data, (time.monotonic() - t0) * 1000)
        except Exception as e:  # timeout, reset, refused: unanswered
            stats.record(None, None, b"", 0, type(e).__name__)
        # a request that took longer than its period: no burst to catch up
        t_next = max(t_next, time.monotonic())
    c.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--dashboards", type=int, default=50)
    ap.add_argument("--period", type=float, default=5.0)
    ap.add_argument("--hunters", type=int, default=5)
    ap.add_argument("--hunt-min", type=float, default=10.0)
    ap.add_argument("--hunt-max", type=float, default=20.0)
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--distinct", action="store_true")
    a = ap.parse_args()
    u = urllib.parse.urlsplit(a.url)
    host, port = u.hostname, u.port or 80
    rnd = random.Random(42)
    stop = threading.Event()
    inc, hunt = Stats(), Stats()
    threads = []
    for i in range(a.dashboards):
        d = a.period * i / max(1, a.dashboards)
        path = "/incidents?%%24top=%d" % (i + 1) if a.distinct else "/incidents"
        threads.append(threading.Thread(target=worker, args=(
            stop, host, port, inc, d, lambda: a.period, "GET", path,
            lambda: None)))
    for i in range(a.hunters):
        r = random.Random(rnd.random())
        lo, hi = a.hunt_min, a.hunt_max
        threads.append(threading.Thread(target=worker, args=(
            stop, host, port, hunt, r.uniform(0, lo), lambda r=r: r.uniform(lo, hi),
            "POST", "/hunting",
            lambda r=r: json.dumps({"Query": r.choice(QUERIES)}).encode())))
    t0 = time.monotonic()
    for t in threads:
        t.start()
    time.sleep(a.seconds)
    stop.set()
    for t in threads:
        t.join(60)
    out = {
        "seconds": round(time.monotonic() - t0, 1),
        "dashboards": a.dashboards, "period_s": a.period, "distinct": a.distinct,
        "hunters": a.hunters, "hunt_every_s": [a.hunt_min, a.hunt_max],
        "incidents": inc.summary(), "hunting": hunt.summary(),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
