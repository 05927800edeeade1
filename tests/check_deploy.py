#!/usr/bin/python3
"""Check deploy/ against what the binary needs (tests/t_deploy.sh).

    check_deploy.py ROOT XFERTRACE

 - the manifest parses; a DaemonSet with hostPID, not privileged, dropping
   ALL capabilities and adding a set that holds what the agent keeps after
   attaching (user/agent.c AGENT_KEEP_CAPS) plus what loading needs;
 - read-only mounts of /sys/kernel/btf, /sys/kernel/tracing, /sys/fs/cgroup;
   hostPath volumes for --dir and the --marks-socket directory, writable;
 - one port: --listen's, the containerPort, the scrape annotation and both
   probes (on /healthz) agree; requests and limits are set;
 - the binary accepts the manifest's arguments (`xfertrace ARGS --help`);
 - the Dockerfile has a build and a bookworm runtime stage, its ENTRYPOINT
   is the manifest's command, and every library `ldd XFERTRACE` names comes
   (dpkg -S) from a package the runtime stage installs, a dependency of one
   (dpkg-query Depends, followed), or a package every Debian image has
   (Priority: required).
Prints "ok   - ..." / "FAIL - ..." lines and "N passed, N failed".
"""
import os
import re
import shlex
import subprocess
import sys

import yaml

ROOT, XT = sys.argv[1], sys.argv[2]
passed = failed = 0


def check(ok, desc, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   - {desc}")
    else:
        failed += 1
        print(f"FAIL - {desc}" + (f": {detail}" if detail else ""))
    return ok


def arg_after(args, flag):
    return args[args.index(flag) + 1] if flag in args else None


def keep_caps():
    """Capabilities the agent keeps after attaching, from its source."""
    src = open(os.path.join(ROOT, "user/agent.c")).read()
    m = re.search(r"#define AGENT_KEEP_CAPS\s*\(([^\n]*)\)", src)
    return {c.replace("CAP_", "") for c in re.findall(r"CAP_[A-Z_]+", m.group(1))} if m else set()


def manifest():
    docs = list(yaml.safe_load_all(open(os.path.join(ROOT, "deploy/xfertrace-agent.yaml"))))
    ds = [d for d in docs if d and d.get("kind") == "DaemonSet"]
    check(len(ds) == 1, "manifest: one DaemonSet")
    spec = ds[0]["spec"]["template"]["spec"]
    meta = ds[0]["spec"]["template"]["metadata"]
    c = spec["containers"][0]
    check(spec.get("hostPID") is True, "hostPID: true")
    sc = c.get("securityContext", {})
    caps = sc.get("capabilities", {})
    add = set(caps.get("add", []))
    check(sc.get("privileged") is False and caps.get("drop") == ["ALL"],
          "not privileged; drops ALL capabilities")
    load = {"BPF", "PERFMON"}       # loading and attaching on 5.8+ (t_agent.sh proves it)
    need = keep_caps() | load
    check(keep_caps() and add == need, f"capabilities added = what loading needs + what the agent keeps: {sorted(need)}",
          f"manifest adds {sorted(add)}")
    mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
    vols = {v["name"]: v for v in spec.get("volumes", [])}
    for p in ("/sys/kernel/btf", "/sys/kernel/tracing", "/sys/fs/cgroup"):
        m = mounts.get(p)
        check(m and m.get("readOnly") is True and
              vols[m["name"]].get("hostPath", {}).get("path") == p,
              f"{p}: hostPath mounted read-only")
    args = c.get("args", [])
    d = arg_after(args, "--dir")
    ms = arg_after(args, "--marks-socket")
    for what, p in (("--dir", d), ("--marks-socket directory", ms and os.path.dirname(ms))):
        m = mounts.get(p)
        check(p and m and not m.get("readOnly") and "hostPath" in vols[m["name"]],
              f"{what} {p}: a writable hostPath volume")
    listen = arg_after(args, "--listen") or ""
    port = int(listen.rsplit(":", 1)[1]) if ":" in listen else None
    cports = [p["containerPort"] for p in c.get("ports", [])]
    ann = meta.get("annotations", {})
    check(listen.startswith("0.0.0.0:") and cports == [port],
          f"--listen {listen} on all addresses, containerPort {cports}")
    check(ann.get("prometheus.io/scrape") == "true" and ann.get("prometheus.io/port") == str(port)
          and ann.get("prometheus.io/path") == "/metrics", "Prometheus scrape annotations name the port and /metrics")
    for probe in ("readinessProbe", "livenessProbe"):
        g = c.get(probe, {}).get("httpGet", {})
        check(g.get("path") == "/healthz" and g.get("port") == port, f"{probe} on /healthz:{port}")
    res = c.get("resources", {})
    check(all(k in res.get(r, {}) for r in ("requests", "limits") for k in ("cpu", "memory")),
          "cpu and memory requests and limits")
    envs = {e["name"]: e for e in c.get("env", [])}
    check(envs.get("NODE_NAME", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "spec.nodeName",
          "NODE_NAME from spec.nodeName (the node label)")
    r = subprocess.run([XT] + args + ["--help"], capture_output=True, text=True)
    check(r.returncode == 0, "the binary accepts the manifest's arguments", r.stderr.strip())
    return c


def dockerfile(container):
    lines, cur = [], ""
    for ln in open(os.path.join(ROOT, "deploy/Dockerfile")):
        ln = ln.rstrip("\n")
        if ln.lstrip().startswith("#"):
            continue
        cur += ln[:-1] + " " if ln.endswith("\\") else ln
        if not ln.endswith("\\"):
            lines.append(cur.strip())
            cur = ""
    stages, st = [], None
    for ln in lines:
        if ln.upper().startswith("FROM "):
            st = {"from": ln.split()[1], "run": [], "entry": None}
            stages.append(st)
        elif st and ln.upper().startswith("RUN "):
            st["run"].append(ln[4:])
        elif st and ln.upper().startswith("ENTRYPOINT "):
            st["entry"] = yaml.safe_load(ln[11:])
    check(len(stages) >= 2, f"multi-stage Dockerfile ({len(stages)} stages)")
    rt = stages[-1]
    check(rt["from"].startswith("debian:bookworm"), f"runtime stage on Debian bookworm ({rt['from']})")
    check(rt["entry"] == container.get("command"), "ENTRYPOINT is the manifest's command",
          f"{rt['entry']} vs {container.get('command')}")
    pkgs = set()
    for r in rt["run"]:
        for cmd in r.split("&&"):
            w = shlex.split(cmd)
            if "apt-get" in w and "install" in w:
                pkgs |= {x for x in w[w.index("install") + 1:] if not x.startswith("-")}
    return pkgs


def closure(pkgs):
    seen, todo = set(), list(pkgs)
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        r = subprocess.run(["dpkg-query", "-W", "-f=${Depends}, ${Pre-Depends}", p],
                           capture_output=True, text=True)
        for alt in r.stdout.split(","):
            alt = alt.strip()
            if alt:
                todo.append(re.split(r"[ :(]", alt.split("|")[0].strip())[0])
    return seen


def libs(pkgs):
    out = subprocess.run(["ldd", XT], capture_output=True, text=True).stdout
    paths = re.findall(r"=> (/\S+)", out)
    have = closure(pkgs)
    bad = []
    for p in paths:
        real = os.path.realpath(p)
        owner = None
        for cand in (p, real, "/usr" + p if not p.startswith("/usr") else p):
            r = subprocess.run(["dpkg", "-S", cand], capture_output=True, text=True)
            if r.returncode == 0:
                owner = r.stdout.split(":")[0]
                break
        prio = subprocess.run(["dpkg-query", "-W", "-f=${Priority}", owner or "-"],
                              capture_output=True, text=True).stdout
        ok = owner and (owner in have or prio == "required")
        if not ok:
            bad.append((p, owner))
    check(paths and not bad, f"all {len(paths)} libraries ldd names come from the runtime stage's "
          f"packages {sorted(pkgs)} (or their dependencies, or required ones)", str(bad))


c = manifest()
libs(dockerfile(c))
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
