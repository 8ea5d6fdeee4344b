#!/usr/bin/env python3
"""rawhttp.py: raw HTTP/1.1 over a loopback socket for the desync probes
(tests/t70_front.sh). Test code only.

  rawhttp.py send PORT BYTES [--src ADDR] [--shut] [--wait S] [--reset S]
      BYTES is a Python bytes literal body, e.g. 'GET / HTTP/1.1\\r\\n...'.
      Prints one line per response: "STATUS <code> <content-type>
      <x-cache or ->", then "BODY <first response body>", then
      "END closed|open|reset". --shut half-closes (shutdown(SHUT_WR)) after
      sending; --wait reads for up to S seconds (2 by default); --reset
      waits S seconds instead of reading, then resets the connection
      (SO_LINGER 0) and prints "END reset-sent".
  rawhttp.py slots PORT N SRC_BAD SRC_GOOD
      Holds N idle connections from SRC_BAD, then sends GET /healthz from
      SRC_GOOD; prints "GOOD <code>" or "GOOD none".
"""
import ast
import socket
import struct
import sys
import time


def connect(port, src=None, timeout=3.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if src:
        s.bind((src, 0))
    s.connect(('127.0.0.1', port))
    return s


def read_all(s):
    out, end = b'', 'open'
    try:
        while True:
            b = s.recv(65536)
            if not b:
                end = 'closed'
                break
            out += b
    except socket.timeout:
        pass
    except ConnectionResetError:
        end = 'reset'
    return out, end


def responses(data):
    """Split a byte stream into (status, headers, body) by Content-Length."""
    res = []
    while data.startswith(b'HTTP/'):
        head, sep, rest = data.partition(b'\r\n\r\n')
        if not sep:
            break
        lines = head.split(b'\r\n')
        status = int(lines[0].split()[1])
        hdrs = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(b':')
            hdrs[k.strip().lower().decode()] = v.strip().decode('latin-1')
        n = int(hdrs.get('content-length', '0'))
        if status < 200:
            n = 0
        res.append((status, hdrs, rest[:n]))
        data = rest[n:]
    return res


def cmd_send(argv):
    port, raw = int(argv[0]), ast.literal_eval("b'" + argv[1] + "'")
    src = argv[argv.index('--src') + 1] if '--src' in argv else None
    wait = float(argv[argv.index('--wait') + 1]) if '--wait' in argv else 2.0
    s = connect(port, src, timeout=wait)
    s.sendall(raw)
    if '--shut' in argv:
        s.shutdown(socket.SHUT_WR)
    if '--reset' in argv:
        time.sleep(float(argv[argv.index('--reset') + 1]))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     struct.pack('ii', 1, 0))
        s.close()
        print('END reset-sent')
        return
    out, end = read_all(s)
    s.close()
    rs = responses(out)
    for st, h, _ in rs:
        print('STATUS %d %s %s' % (st, h.get('content-type', '-'),
                                   h.get('x-cache', '-')))
    print('BODY ' + (rs[0][2].decode('latin-1') if rs else ''))
    print('END ' + end)


def cmd_slots(argv):
    port, n, bad, good = int(argv[0]), int(argv[1]), argv[2], argv[3]
    held = []
    for _ in range(n):
        try:
            s = connect(port, bad)
            s.sendall(b'GET /healthz HTTP/1.1\r\nHost: localhost\r\n')
            held.append(s)
        except OSError:
            pass
    time.sleep(0.3)
    code = 'none'
    try:
        s = connect(port, good, timeout=3.0)
        s.sendall(b'GET /healthz HTTP/1.1\r\nHost: localhost\r\n'
                  b'Connection: close\r\n\r\n')
        out, _ = read_all(s)
        rs = responses(out)
        if rs:
            code = str(rs[0][0])
    except OSError:
        pass
    print('GOOD ' + code)
    for s in held:
        s.close()


if __name__ == '__main__':
    {'send': cmd_send, 'slots': cmd_slots}[sys.argv[1]](sys.argv[2:])
