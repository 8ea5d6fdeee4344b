#!/usr/bin/env python3
"""slowupstream.py: an HTTPS (HTTP/1.1 only) stand-in for Entra and the
Defender API whose API answers take a while, so tests/t47_queue.sh can see
in which order defgate sends queued requests and how many connections it
opens. Test code only; loopback only.

  slowupstream.py CERT KEY PORTFILE LOGFILE

Token requests (POST .../oauth2/...token) get a plain token at once. API
requests: the path /api/incidents/ID?delay=MS waits MS milliseconds (default
300) before a small JSON 200. LOGFILE gets one line per event, flushed:
  conn N          a connection opened; N connections are open now
  req ID          an API request for incident ID arrived (arrival order)
"""
import os
import ssl
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rawupstream  # noqa: E402  (its listen())

lock = threading.Lock()
nconn = 0
log = None


def event(line):
    with lock:
        log.write(line + '\n')
        log.flush()


def answer(path):
    if 'oauth2' in path:
        body = b'{"token_type":"Bearer","expires_in":3600,"access_token":"slowtoken"}'
    else:
        u = urllib.parse.urlsplit(path)
        q = urllib.parse.parse_qs(u.query)
        event('req %s' % u.path.rsplit('/', 1)[-1])
        time.sleep(int(q.get('delay', ['300'])[0]) / 1000.0)
        body = b'{"incidentId":1}'
    return (b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n'
            b'Content-Length: %d\r\n\r\n' % len(body)) + body


def serve(conn):
    global nconn
    with lock:
        nconn += 1
        n = nconn
    event('conn %d' % n)
    try:
        data = b''
        while True:
            while b'\r\n\r\n' not in data:
                b = conn.recv(65536)
                if not b:
                    return
                data += b
            head, data = data.split(b'\r\n\r\n', 1)
            head = head.decode('latin-1')
            n = 0
            for line in head.split('\r\n')[1:]:
                k, _, v = line.partition(':')
                if k.strip().lower() == 'content-length':
                    n = int(v)
            while len(data) < n:
                b = conn.recv(65536)
                if not b:
                    return
                data += b
            data = data[n:]
            conn.sendall(answer(head.split(' ')[1]))
    except (OSError, ssl.SSLError):
        pass
    finally:
        with lock:
            nconn -= 1
        try:
            conn.close()
        except OSError:
            pass


if __name__ == '__main__':
    log = open(sys.argv[4], 'a')
    rawupstream.listen(sys.argv[1], sys.argv[2], sys.argv[3], serve)
