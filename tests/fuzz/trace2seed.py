#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Turn a trace file (written by `record`) into a fuzz_trace seed in its
structured form: the header JSON, a newline, then the records as written,
uncompressed. fuzz_trace writes such an input back through the real trace
writer, so mutations reach the model past the CRCs.

usage: trace2seed.py TRACE > SEED
"""
import struct
import sys
import zlib

data = open(sys.argv[1], "rb").read()
magic, ver, order, jlen, jcrc = struct.unpack_from("<8sIIII", data, 0)
if magic != b"XFERTRC\0":
    raise SystemExit("not a trace")
off = 24
header = data[off:off + jlen]
off += jlen
recs = b""
while off + 16 <= len(data):
    cmagic, raw_len, z_len, crc = struct.unpack_from("<IIII", data, off)
    off += 16
    recs += zlib.decompress(data[off:off + z_len])
    off += z_len
sys.stdout.buffer.write(header + b"\n" + recs)
