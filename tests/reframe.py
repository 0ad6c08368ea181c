#!/usr/bin/env python3
"""reframe.py FILE KIND: puts a matching cache frame (host/cachefile.h: "# varcl-cache 1 KIND LENGTH CRC32") around
FILE's body, replacing the frame it has, as a file written by varcl with the same contents would have. The tests
edit framed tuning files and reframe them, so that the edit reaches the parser instead of the checksum test."""
import sys
import zlib

path, kind = sys.argv[1], sys.argv[2]
raw = open(path, 'rb').read()
body = raw.split(b'\n', 1)[1] if raw.startswith(b'# varcl-cache ') else raw
open(path, 'wb').write(b'# varcl-cache 1 %s %d %08x\n' % (kind.encode(), len(body), zlib.crc32(body)) + body)
