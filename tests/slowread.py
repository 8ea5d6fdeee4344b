#!/usr/bin/env python3
"""slowread.py: a client that reads an answer slowly or not at all, for the
shared-answer tests (tests/t94_share.sh). Test code only.

  slowread.py PORT PATH stall SECS   read nothing for SECS, then the rest
  slowread.py PORT PATH close BYTES  read BYTES of the answer, then hang up
  slowread.py PORT PATH rate BPS     read BPS bytes a second to the end
Prints "GOT <body bytes> OF <Content-Length> <complete|short> <sha256>"; a
chunked answer is decoded ("OF chunked"): complete when its last chunk
arrived.
"""
import hashlib
import socket
import sys
import time


def dechunk(data):
    """The body of chunked data, and 1 when its last chunk arrived."""
    parts, pos = [], 0
    while True:
        end = data.find(b'\r\n', pos)
        if end < 0:
            return b''.join(parts), 0
        try:
            n = int(data[pos:end].split(b';')[0], 16)
        except ValueError:
            return b''.join(parts), 0
        pos = end + 2
        if n == 0:
            # no trailers: the empty line ends the message
            return b''.join(parts), int(data[pos:pos + 2] == b'\r\n')
        parts.append(data[pos:pos + n])
        if data[pos + n:pos + n + 2] != b'\r\n':
            return b''.join(parts), 0
        pos += n + 2


def main():
    port, path, mode, arg = int(sys.argv[1]), sys.argv[2], sys.argv[3], \
        int(sys.argv[4])
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # a small window: the daemon's writes block soon
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(('127.0.0.1', port))
    s.sendall(('GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close'
               '\r\n\r\n' % path).encode())
    if mode == 'stall':
        time.sleep(arg)
    data = bytearray()
    s.settimeout(20)
    step = arg if mode == 'rate' else 65536
    try:
        while True:
            b = s.recv(step)
            if not b:
                break
            data += b
            if mode == 'close' and len(data) >= arg:
                s.close()
                print('CLOSED after %d' % len(data))
                return
            if mode == 'rate':
                time.sleep(1)
    except (socket.timeout, ConnectionError):
        pass
    head, _, body = data.partition(b'\r\n\r\n')
    cl, chunked = -1, False
    for line in head.split(b'\r\n'):
        if line.lower().startswith(b'content-length:'):
            cl = int(line.split(b':')[1])
        if line.lower().replace(b' ', b'') == b'transfer-encoding:chunked':
            chunked = True
    if chunked:
        body, last = dechunk(body)
        print('GOT %d OF chunked %s %s' % (
            len(body), 'complete' if last else 'short',
            hashlib.sha256(body).hexdigest()))
        return
    print('GOT %d OF %d %s %s' % (len(body), cl,
                                  'complete' if len(body) == cl else 'short',
                                  hashlib.sha256(body).hexdigest()))


main()
