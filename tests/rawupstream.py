#!/usr/bin/env python3
"""rawupstream.py: an HTTPS stand-in for Entra and the Defender API that
answers with hand-written framing, so tests/t70_front.sh can check that
conflicting framing or an unasked encoding never reaches a client. Test
code only; loopback only.

  rawupstream.py CERT KEY PORTFILE

Token requests (POST .../oauth2/...token) get a plain token. API paths:
  /api/incidents/1001  chunked body (200 KB, more than the 64 KiB ring) that
                       also claims Content-Length: 5
  /api/incidents/1002  gzip body with Content-Encoding: gzip (nobody asked)
  /api/incidents/1003  two different Content-Length headers
  anything else        a small JSON 200
"""
import gzip
import socket
import ssl
import sys
import threading

BODY = b'{"value":[' + b','.join([b'{"incidentId":1}'] * 12000) + b']}'


def answer(path):
    if 'oauth2' in path:
        body = b'{"token_type":"Bearer","expires_in":3600,"access_token":"rawtoken"}'
        return (b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n'
                b'Content-Length: %d\r\n\r\n' % len(body)) + body
    if path.startswith('/api/incidents/1001'):
        chunks = b''.join(b'%x\r\n%s\r\n' % (len(BODY[i:i + 4096]), BODY[i:i + 4096])
                          for i in range(0, len(BODY), 4096))
        return (b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n'
                b'Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n'
                + chunks + b'0\r\n\r\n')
    if path.startswith('/api/incidents/1002'):
        z = gzip.compress(b'{"incidentId":1002}')
        return (b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n'
                b'Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n' % len(z)) + z
    if path.startswith('/api/incidents/1003'):
        return (b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n'
                b'Content-Length: 2\r\nContent-Length: 20\r\n\r\n{}')
    body = b'{"value":[]}'
    return (b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n'
            b'Content-Length: %d\r\n\r\n' % len(body)) + body


def serve(conn):
    try:
        data = b''
        while b'\r\n\r\n' not in data:
            b = conn.recv(65536)
            if not b:
                return
            data += b
        head = data.split(b'\r\n\r\n', 1)[0].decode('latin-1')
        n = 0
        for line in head.split('\r\n')[1:]:
            k, _, v = line.partition(':')
            if k.strip().lower() == 'content-length':
                n = int(v)
        rest = data.split(b'\r\n\r\n', 1)[1]
        while len(rest) < n:
            rest += conn.recv(65536)
        conn.sendall(answer(head.split(' ')[1]))
    except (OSError, ssl.SSLError):
        pass
    finally:
        try:
            conn.close()
        except OSError:
            pass


def listen(cert, key, portfile, serve):
    """Serve HTTPS (HTTP/1.1 only) on a free loopback port written to
    portfile, each connection on its own thread; never returns."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(['http/1.1'])
    ls = socket.socket()
    ls.bind(('127.0.0.1', 0))
    ls.listen(64)
    with open(portfile, 'w') as f:
        f.write('%d\n' % ls.getsockname()[1])
    while True:
        c, _ = ls.accept()
        try:
            c = ctx.wrap_socket(c, server_side=True)
        except (OSError, ssl.SSLError):
            c.close()
            continue
        threading.Thread(target=serve, args=(c,), daemon=True).start()


if __name__ == '__main__':
    listen(sys.argv[1], sys.argv[2], sys.argv[3], serve)
