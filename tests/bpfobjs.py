#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""BPF objects a process holds, from /proc/PID/fdinfo and bpftool.

  ids PID                  {"prog": [...], "map": [...], "link": [...]}
  alive KIND ID...         the IDs of that kind (prog, map, link) that still
                           exist, one per line
  entries PID MAP [TGID..] "TOTAL MATCHING MAX": entries of the map named MAP
                           held by PID, those whose value's tgid is one of
                           TGIDs, and the map's max_entries
  memlock PID              "BYTES N": bytes_memlock summed over PID's maps
  misses PID               runs of PID's programs the kernel skipped
                           (recursion_misses: a program already running on
                           that CPU), summed
"""
import glob
import json
import subprocess
import sys


def ids(pid):
    out = {"prog": set(), "map": set(), "link": set()}
    for f in glob.glob("/proc/%d/fdinfo/*" % pid):
        try:
            lines = open(f).read().splitlines()
        except OSError:
            continue
        for line in lines:
            k, _, v = line.partition(":")
            if k in ("prog_id", "map_id", "link_id"):
                out[k[:-3]].add(int(v))
    return {k: sorted(v) for k, v in out.items()}


def show(kind, i):
    r = subprocess.run(["bpftool", kind, "show", "id", str(i), "-j"],
                       capture_output=True, text=True)
    if r.returncode:
        return None
    try:
        return json.loads(r.stdout)
    except ValueError:
        return None


def find_map(pid, name):
    for i in ids(pid)["map"]:
        m = show("map", i)
        if m and m.get("name") == name:
            return m
    return None


def entries(pid, name, tgids):
    m = find_map(pid, name)
    if not m:
        sys.exit("no map %s in pid %d" % (name, pid))
    r = subprocess.run(["bpftool", "map", "dump", "id", str(m["id"]), "-j"],
                       capture_output=True, text=True, check=True)
    d = json.loads(r.stdout) or []
    match = 0
    for e in d:
        v = e.get("formatted", {}).get("value", {})
        if v.get("tgid") in tgids:
            match += 1
    print(len(d), match, m["max_entries"])


def main():
    cmd, a = sys.argv[1], sys.argv[2:]
    if cmd == "ids":
        print(json.dumps(ids(int(a[0]))))
    elif cmd == "alive":
        for i in a[1:]:
            if show(a[0], int(i)) is not None:
                print(i)
    elif cmd == "entries":
        entries(int(a[0]), a[1], set(int(x) for x in a[2:]))
    elif cmd == "memlock":
        ms = [show("map", i) for i in ids(int(a[0]))["map"]]
        ms = [m for m in ms if m]
        print(sum(m.get("bytes_memlock", 0) for m in ms), len(ms))
    elif cmd == "misses":
        ps = [show("prog", i) for i in ids(int(a[0]))["prog"]]
        print(sum(p.get("recursion_misses", 0) for p in ps if p))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
