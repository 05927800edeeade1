#!/usr/bin/python3
"""Read the on-CPU slices out of an xfertrace trace (docs/trace-format.md).

    xt_slices.py TRACE            summary as JSON: per pid, slices and CPU

As a module: read(path) -> (header, slices, details, lost, stats) where
slices is a list of (pid, tid, start_ns, cpu_ns).
"""
import json
import struct
import sys
import zlib

REC_STATS, REC_SLICES, REC_DETAIL, REC_LOST = 10, 14, 15, 16


def records(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"XFERTRC\0":
        raise ValueError("not an xfertrace trace")
    _, _, jlen, _ = struct.unpack_from("<IIII", data, 8)
    header = json.loads(data[24:24 + jlen])
    pos = 24 + jlen
    out = []
    while pos + 16 <= len(data):
        magic, raw_len, z_len, _ = struct.unpack_from("<IIII", data, pos)
        if magic != 0x4b435458 or pos + 16 + z_len > len(data):
            break
        raw = zlib.decompress(data[pos + 16:pos + 16 + z_len])
        pos += 16 + z_len
        p = 0
        while p + 8 <= len(raw):
            rtype, rlen = struct.unpack_from("<II", raw, p)
            if rlen < 8:
                break
            out.append((rtype, raw[p:p + rlen]))
            p += rlen
    return header, out


def read(path):
    header, recs = records(path)
    slices, details, lost, stats = [], [], [], None
    for rtype, b in recs:
        if rtype == REC_SLICES:
            _, tid, pid, n, _ = struct.unpack_from("<QIIII", b, 8)
            for i in range(n):
                s0, cpu = struct.unpack_from("<QQ", b, 32 + 16 * i)
                slices.append((pid, tid, s0, cpu))
        elif rtype == REC_DETAIL:
            ts, start, pid = struct.unpack_from("<QQI", b, 8)
            details.append((ts, pid, start))
        elif rtype == REC_LOST:
            ts, n, a, z, cpu = struct.unpack_from("<QQQQI", b, 8)
            lost.append((n, a, z, cpu))
        elif rtype == REC_STATS and len(b) >= 16 + 18 * 8:
            k = struct.unpack_from("<18Q", b, 16)
            stats = {"slices": k[16], "slices_lost": k[17]}
    return header, slices, details, lost, stats


def main():
    header, slices, details, lost, stats = read(sys.argv[1])
    per = {}
    for pid, tid, s0, cpu in slices:
        p = per.setdefault(pid, {"slices": 0, "cpu_ns": 0, "tids": set()})
        p["slices"] += 1
        p["cpu_ns"] += cpu
        p["tids"].add(tid)
    for p in per.values():
        p["tids"] = len(p["tids"])
    json.dump({"procs": {str(k): v for k, v in per.items()},
               "details": details, "lost": lost, "stats": stats},
              sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
