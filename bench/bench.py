#!/usr/bin/python3
"""xfertrace overhead benchmark (run through bench/run.sh, as root).

Runs small workloads (build/bench/*) with no tracer, under xfertrace
(record, top -b, agent) and under an equivalent bpftrace script
(bench/xfer_counts.bt), in interleaved pairs, and reports per workload and
condition: the wall-time ratio against no tracer (median, min, max over
the pairs), the in-kernel cost per event of the tracer's BPF programs per
hook (run_time_ns / run_cnt with kernel.bpf_stats_enabled=1), events per
second, the tracer's own CPU per second, its peak RSS and BPF map memory.
See docs/performance.md for how to read the output.

Environment:
  BENCH_PAIRS=N        pairs per workload and condition (default 9; 3 for
                       a quick run)
  BENCH_DASK=0|short|1 Dask calibration workload: skip, short (default), full
  BENCH_CONDITIONS=a,b restrict to these conditions (none is always run)
  BENCH_AA=1           also a second no-tracer condition, none-aa (noise floor)
  BENCH_WORKLOADS=a,b  restrict to these workloads
  BENCH_EXTRA=n=cmd;.. more tracers, e.g. bpftrace recording slices too:
                       'bpftrace-slices=bpftrace bench/slices.bt'
  BENCH_REPEAT=N       runs per block: a condition's turn in a pair
                       (default 3; the block counts with its median)
  BENCH_TARGET_S=S     wall time one workload run is scaled to (default 0.25)
  BENCH_CONN_SECS=S    length of the 1000-connection run (default 3)
  BENCH_NICE=N         nice level of the workloads, tracers and Dask cluster
                       alike (default -20: shields the runs from other load)
  BENCH_STATS=0        leave kernel.bpf_stats_enabled alone: wall-time
                       ratios without the statistics' own cost, no ns/event
  BENCH_OUT=FILE       results file (default bench/results.md)
  XFERTRACE=PATH       tracer binary (default build/xfertrace)
"""
import ctypes
import datetime
import json
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH_BIN = os.path.join(ROOT, "build", "bench")
XT = os.environ.get("XFERTRACE", os.path.join(ROOT, "build", "xfertrace"))
BT_PROG = os.path.join(ROOT, "bench", "xfer_counts.bt")
PY = "/usr/bin/python3"
CLK_TCK = os.sysconf("SC_CLK_TCK")
STATS_SYSCTL = "/proc/sys/kernel/bpf_stats_enabled"
MSG_STATS = ("on typical hardware the statistics add about 20 ns per "
             "program run")

PIN_CPU = str(max(0, (os.cpu_count() or 1) - 1))
SETTLE_S = 0.2      # after a tracer exits: let deferred kernel work finish

# name, binary, fixed args, default number of ops (scaled at calibration).
WORKLOADS = [
    ("stream-64k", "tcp_stream", ["-s", "65536", "-c", PIN_CPU + "," +
                                  PIN_CPU, "-b", "4194304"], 15000,
     "loopback TCP stream, 64 KiB writes, both ends on CPU " + PIN_CPU +
     ", 4 MiB socket buffers"),
    ("stream-1k", "tcp_stream", ["-s", "1024", "-c", PIN_CPU + "," +
                                 PIN_CPU], 150000,
     "loopback TCP stream, 1 KiB writes, both ends on CPU " + PIN_CPU),
    ("tcp-rr", "tcp_pingpong", ["-s", "64"], 10000,
     "TCP ping-pong, 64 B messages"),
    ("tcp-rr-pinned", "tcp_pingpong", ["-s", "64", "-c", PIN_CPU], 15000,
     "TCP ping-pong, 64 B, both ends on CPU " + PIN_CPU),
    ("pipe-rr", "pipe_pingpong", ["-s", "64"], 50000,
     "pipe ping-pong, 64 B"),
    ("pipe-rr-pinned", "pipe_pingpong", ["-s", "64", "-c", PIN_CPU], 40000,
     "pipe ping-pong, 64 B, both ends on CPU " + PIN_CPU),
    ("pipe-rr-pinned-detail", "pipe_pingpong",
     ["-s", "64", "-c", PIN_CPU, "-L"], 40000,
     "pipe ping-pong, 64 B, both ends on CPU " + PIN_CPU + ", each with a "
     "listening socket: xfertrace records their on-CPU slices (the "
     "default `record --detail`); compare with pipe-rr-pinned"),
]
CONN_WORKLOAD = "conns-1000"

# Targets: (workload, condition) -> max median wall-time ratio.
RATIO_TARGETS = {
    ("stream-64k", "record"): 1.02,
    ("stream-1k", "record"): 1.12,
    ("tcp-rr-pinned", "record"): 1.08,
    ("pipe-rr-pinned", "record"): 1.08,
}
CPU_TARGET_PCT = 1.0
RSS_TARGET_MIB = 32.0

ALL_CONDITIONS = ["none", "none-aa", "floor", "record", "top", "agent",
                  "bpftrace"]
NO_TRACER = ("none", "none-aa")
XT_CONDITIONS = ("record", "top", "agent")


def extra_conditions():
    """BENCH_EXTRA='name=command;name2=command2': more tracers to compare,
    each a command that attaches and runs until SIGINT."""
    out = {}
    for item in os.environ.get("BENCH_EXTRA", "").split(";"):
        name, sep, cmd = item.partition("=")
        name = name.strip()
        if not item.strip():
            continue
        if not sep or not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name) or \
                name in ALL_CONDITIONS or not cmd.strip():
            sys.exit(f"bench: BENCH_EXTRA: bad entry '{item}' "
                     f"(want name=command)")
        out[name] = shlex.split(cmd)
    return out


EXTRA = extra_conditions()


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def env_int(name, default):
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        sys.exit(f"bench: {name} must be an integer")


def env_float(name, default):
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        sys.exit(f"bench: {name} must be a number")


# ---------------------------------------------------------------- BPF stats

class Stats:
    """kernel.bpf_stats_enabled, on only while a run measures per-event
    cost.

    The statistics wrap every BPF program run in two clock reads, which on
    a VM cost far more than the ~20 ns of typical hardware; runs timed for
    the wall-time ratios have them off, and each traced block ends with
    one more run with them on, for ns/event. They are switched with a
    BPF_ENABLE_STATS fd (refcounted in the kernel) where the kernel has
    it, else with the sysctl. The sysctl is 0 for the bench and gets its
    old value back at the end.
    """

    def __init__(self):
        self.old = None
        self.fd = -1
        self.by_sysctl = False

    @staticmethod
    def write(val):
        with open(STATS_SYSCTL, "w") as f:
            f.write(val + "\n")

    @staticmethod
    def enabled():
        """The sysctl's own setting. It does not show a BPF_ENABLE_STATS
        fd that another process holds; nothing does."""
        with open(STATS_SYSCTL) as f:
            return f.read().strip() == "1"

    def take(self):
        with open(STATS_SYSCTL) as f:
            self.old = f.read().strip()
        self.write("0")

    def on(self):
        if self.fd >= 0 or self.by_sysctl:
            return
        self.fd = bpf_enable_stats_fd()
        if self.fd < 0:
            self.write("1")
            self.by_sysctl = True

    def off(self):
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if self.by_sysctl:
            self.write("0")
            self.by_sysctl = False

    def restore(self):
        self.off()
        if self.old is not None:
            try:
                self.write(self.old)
            except OSError as e:
                log(f"bench: could not restore {STATS_SYSCTL}: {e}")
            self.old = None


def bpf_enable_stats_fd():
    nr = {"x86_64": 321, "aarch64": 280, "ppc64le": 361, "s390x": 351,
          "riscv64": 280}.get(platform.machine())
    if nr is None:
        return -1
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        attr = ctypes.c_uint32(0)          # BPF_STATS_RUN_TIME
        fd = libc.syscall(nr, 32, ctypes.byref(attr), 4)  # BPF_ENABLE_STATS
    except OSError:
        return -1
    return fd if fd >= 0 else -1


def read_fdinfo(pid, fd):
    out = {}
    with open(f"/proc/{pid}/fdinfo/{fd}") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k.strip()] = v.strip()
    return out


def bpf_fds(pid):
    """BPF objects a process holds: progs {id: (run_time_ns, run_cnt)},
    maps {id: memlock}, links [fdinfo dicts], and the perf_event fd count."""
    progs, maps, links, perf = {}, {}, [], 0
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if not target.startswith("anon_inode:"):
                continue
            if target == "anon_inode:[perf_event]":
                perf += 1
                continue
            if target not in ("anon_inode:bpf-prog", "anon_inode:bpf-map",
                              "anon_inode:bpf_link"):
                continue
            info = read_fdinfo(pid, fd)
        except OSError:
            continue
        if target == "anon_inode:bpf-prog" and "prog_id" in info:
            progs[int(info["prog_id"])] = (int(info.get("run_time_ns", 0)),
                                           int(info.get("run_cnt", 0)))
        elif target == "anon_inode:bpf-map" and "map_id" in info:
            maps[int(info["map_id"])] = int(info.get("memlock", 0))
        elif target == "anon_inode:bpf_link":
            links.append(info)
    return {"progs": progs, "maps": maps, "links": links, "perf": perf}


def bpftool_json(*args):
    try:
        r = subprocess.run(["bpftool", "--json", *args], capture_output=True,
                           text=True, timeout=30)
        return json.loads(r.stdout) if r.returncode == 0 and r.stdout else []
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return []


def prog_stats_bpftool(ids):
    out = {}
    for p in bpftool_json("prog", "show"):
        if p.get("id") in ids:
            out[p["id"]] = (p.get("run_time_ns", 0), p.get("run_cnt", 0))
    return out


def hook_group(hook):
    h = (hook or "").lower()
    if "switch" in h:
        return "sched"
    if "send" in h or "recv" in h:
        return "tcp"
    return "other"


def describe_progs(pid, objs):
    """prog id -> {name, type, hook, group} for a tracer process."""
    hooks = {}
    for link in objs["links"]:
        if "prog_id" not in link:
            continue
        hooks[int(link["prog_id"])] = (link.get("tp_name")
                                       or link.get("target_name")
                                       or link.get("link_type"))
    for e in bpftool_json("perf", "show"):
        if e.get("pid") == pid and "prog_id" in e:
            hooks[e["prog_id"]] = (e.get("tracepoint") or e.get("func")
                                   or e.get("fd_type"))
    ids = set(objs["progs"]) | set(hooks)
    desc = {}
    for p in bpftool_json("prog", "show"):
        if p.get("id") in ids:
            desc[p["id"]] = {"name": p.get("name", "?"),
                             "type": p.get("type", "?"),
                             "map_ids": p.get("map_ids", [])}
    for i in ids:
        d = desc.setdefault(i, {"name": "?", "type": "?", "map_ids": []})
        d["hook"] = hooks.get(i) or d["name"]
        d["group"] = hook_group(d["hook"])
    return desc


def foreign_hook_progs(own_ids):
    """BPF programs of other processes on the hooks we measure."""
    n = 0
    for link in bpftool_json("link", "show"):
        if link.get("prog_id") in own_ids:
            continue
        if hook_group(link.get("tp_name", "")) != "other":
            n += 1
    for e in bpftool_json("perf", "show"):
        if e.get("prog_id") in own_ids:
            continue
        if hook_group(e.get("tracepoint") or e.get("func") or "") != "other":
            n += 1
    return n


# ---------------------------------------------------------------- /proc

def proc_cpu_s(pid):
    """utime + stime of a whole process (all threads), seconds."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rfind(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_status_kib(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def machine_info():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = proc_meminfo_gib()
    return {"nproc": os.cpu_count(), "cpu": model, "mem_gib": mem,
            "kernel": platform.release(),
            "date": datetime.datetime.now(datetime.timezone.utc)
            .strftime("%Y-%m-%d %H:%M UTC")}


def proc_meminfo_gib():
    try:
        with open("/proc/meminfo") as f:
            kib = int(f.readline().split()[1])
        return round(kib / 1048576, 1)
    except (OSError, ValueError, IndexError):
        return None


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def tool_version(argv):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        return (r.stdout or r.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"


# ---------------------------------------------------------------- tracers

class Unavailable(Exception):
    pass


class Tracer:
    """One running tracer process for one session."""

    # With statistics off run_cnt stays 0: then only wait for stable fds.
    require_run = True

    xt = XT     # the copy of the binary this run uses, see Bench.__init__

    def __init__(self, cond, tmp, tag, argv=None):
        self.cond = cond
        self.tmp = tmp
        self.out_path = os.path.join(tmp, f"{tag}.out")
        self.err_path = os.path.join(tmp, f"{tag}.err")
        self.file = None
        env = dict(os.environ)
        if argv:
            pass
        elif cond == "record":
            self.file = os.path.join(tmp, f"{tag}.xft")
            argv = [self.xt, "record", "-o", self.file]
        elif cond == "top":
            argv = [self.xt, "top", "-b", "-d", "1"]
        elif cond == "agent":
            argv = [self.xt, "agent", "--dir", os.path.join(tmp, f"{tag}.agent")]
        elif cond == "floor":
            argv = [os.path.join(BENCH_BIN, "floor_loader")]
        elif cond in EXTRA:
            argv = EXTRA[cond]
        elif cond == "bpftrace":
            argv = ["bpftrace", BT_PROG]
            env["BPFTRACE_MAP_KEYS_MAX"] = "65536"
        else:
            raise ValueError(cond)
        self.argv = argv
        self.proc = None
        self.env = env
        self.desc = {}
        self.t_start = None

    def start(self, timeout=40.0):
        if self.argv[0] == self.xt and not os.access(self.xt, os.X_OK):
            raise Unavailable(f"{XT} not built")
        if not shutil.which(self.argv[0]):
            raise Unavailable(f"{self.argv[0]} not found")
        with open(self.out_path, "wb") as out, \
                open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err, env=self.env,
                                         start_new_session=True)
        try:
            self.wait_attached(timeout)
        except BaseException:
            self.stop()
            raise
        self.t_start = time.monotonic()

    def last_error(self):
        try:
            with open(self.err_path, errors="replace") as f:
                lines = [ln.strip() for ln in f if ln.strip()
                         and "RLIMIT_MEMLOCK" not in ln]
            return lines[-1] if lines else "no message"
        except OSError:
            return "no message"

    def wait_attached(self, timeout):
        """Attached = has BPF programs, one of them has run (sched_switch
        fires all the time), and its BPF fds stopped changing (0.45 s)."""
        end = time.monotonic() + timeout
        last, stable = None, 0
        while time.monotonic() < end:
            rc = self.proc.poll()
            if rc is not None:
                raise Unavailable(f"exited with status {rc}: "
                                  f"{self.last_error()}")
            objs = bpf_fds(self.proc.pid)
            if objs and objs["progs"]:
                key = (tuple(sorted(objs["progs"])), len(objs["links"]),
                       objs["perf"], len(objs["maps"]))
                ran = not self.require_run or \
                    any(c > 0 for _, c in objs["progs"].values())
                stable = stable + 1 if key == last and ran else 0
                last = key
                if stable >= 3:
                    time.sleep(0.2)
                    self.desc = describe_progs(self.proc.pid,
                                               bpf_fds(self.proc.pid))
                    return
            time.sleep(0.15)
        self.stop()
        raise Unavailable(f"not attached after {timeout:.0f} s")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def snapshot(self):
        pid = self.proc.pid
        objs = bpf_fds(pid) or {"progs": {}, "maps": {}}
        progs = dict(objs["progs"])
        missing = set(self.desc) - set(progs)
        if missing:
            progs.update(prog_stats_bpftool(missing))
        return {"t": time.monotonic(), "cpu": proc_cpu_s(pid),
                "progs": progs}

    def memory(self):
        """(peak RSS KiB, BPF map bytes) of the tracer now."""
        pid = self.proc.pid
        objs = bpf_fds(pid) or {"maps": {}}
        maps = dict(objs["maps"])
        want = {m for d in self.desc.values() for m in d["map_ids"]}
        if want - set(maps):
            for m in bpftool_json("map", "show"):
                if m.get("id") in want and m["id"] not in maps:
                    maps[m["id"]] = m.get("bytes_memlock", 0)
        return proc_status_kib(pid, "VmHWM"), sum(maps.values())

    def stop(self, timeout=20.0):
        """SIGINT, wait; returns the exit status (None if it was killed)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def output_bytes(self):
        path = self.file or self.out_path
        try:
            return os.path.getsize(path)
        except OSError:
            return 0

    def cleanup(self):
        for p in (self.file, self.out_path, self.err_path):
            if p:
                try:
                    os.unlink(p)
                except OSError:
                    pass


def delta(desc, s0, s1):
    """Per-group and per-program (ns, events) between two snapshots."""
    progs, hooks = {}, {}
    for pid_, d in desc.items():
        a, b = s0["progs"].get(pid_), s1["progs"].get(pid_)
        if a is None or b is None:
            continue
        dt, dc = b[0] - a[0], b[1] - a[1]
        progs[pid_] = (dt, dc)
        h = hooks.setdefault(d["hook"], [0, 0, d["group"]])
        h[0] += dt
        h[1] = max(h[1], dc)     # kprobe+kretprobe pairs: one event
    groups = {"tcp": [0, 0], "sched": [0, 0], "other": [0, 0]}
    for ns, ev, g in hooks.values():
        groups[g][0] += ns
        groups[g][1] += ev
    cpu = None
    if s0["cpu"] is not None and s1["cpu"] is not None:
        cpu = s1["cpu"] - s0["cpu"]
    return {"groups": groups, "progs": progs, "cpu_s": cpu,
            "interval": s1["t"] - s0["t"]}


# ---------------------------------------------------------------- workloads

WALL_RE = re.compile(r"\bwall_s=([0-9.]+)")
CPU_RE = re.compile(r"\bcpu_s=([0-9.]+)")
OPS_RE = re.compile(r"\bops=([0-9]+)")


def run_workload(argv, timeout=120):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    m, o = WALL_RE.search(r.stdout), OPS_RE.search(r.stdout)
    c = CPU_RE.search(r.stdout)
    if r.returncode != 0 or not m:
        raise RuntimeError(f"{' '.join(argv)}: status {r.returncode}: "
                           f"{(r.stderr or r.stdout).strip()[-200:]}")
    return (float(m.group(1)), int(o.group(1)) if o else 0,
            float(c.group(1)) if c else None)


class Bench:
    def __init__(self):
        self.pairs = max(1, env_int("BENCH_PAIRS", 9))
        self.target_s = env_float("BENCH_TARGET_S", 0.25)
        self.conn_secs = env_float("BENCH_CONN_SECS", 3)
        self.dask_mode = os.environ.get("BENCH_DASK", "short").strip().lower()
        want = os.environ.get("BENCH_CONDITIONS")
        conds = [c for c in ALL_CONDITIONS if c != "none-aa"] + list(EXTRA)
        if want:
            conds = ["none"] + [c for c in ALL_CONDITIONS + list(EXTRA)
                                if c in want.split(",") and c != "none"]
        elif os.environ.get("BENCH_AA", "0") not in ("", "0"):
            conds.insert(1, "none-aa")
        self.conditions = conds
        want = os.environ.get("BENCH_WORKLOADS")
        self.workloads = [w for w in WORKLOADS
                          if not want or w[0] in want.split(",")]
        self.run_conns = not want or CONN_WORKLOAD in want.split(",")
        self.ops = {}
        self.samples = []       # dicts: workload, cond, pair, wall, ops, d
        self.blocks = []        # median of each block of runs, see aba()
        self.repeat = max(1, env_int("BENCH_REPEAT", 3))
        self.sessions = []      # dicts: cond, pair, rss_kib, map_bytes, ...
        self.dask = None
        self.skipped = {}       # cond -> reason
        self.descs = {}         # cond -> {prog id: desc}, every session
        self.floor = {}         # "empty"/"clock" -> ns per run
        self.st = None          # Stats, unless BENCH_STATS=0
        self.counting = False   # BPF statistics on now
        self.stats_held = False
        self.notes = []
        self.foreign = 0
        self.tmp = tempfile.mkdtemp(prefix="xfertrace-bench.")
        # Every session runs the same binary, even if it is rebuilt now.
        self.xt_info = "not built"
        if os.access(XT, os.X_OK):
            Tracer.xt = os.path.join(self.tmp, "xfertrace")
            shutil.copy2(XT, Tracer.xt)
            st = os.stat(XT)
            built = time.strftime("%Y-%m-%d %H:%M UTC",
                                  time.gmtime(st.st_mtime))
            self.xt_info = (f"{os.path.relpath(XT, ROOT)}, built {built}, "
                            f"{st.st_size} bytes")
        self.worked = set()     # conditions that started at least once
        self.load_start = loadavg()
        self.load_end = None

    # ---- helpers
    def stats_on(self):
        if self.st:
            self.st.on()
            self.counting = True

    def stats_off(self):
        if self.st:
            self.st.off()
            self.counting = False
            if Stats.enabled() and not self.stats_held:
                self.stats_held = True
                self.notes.append("kernel.bpf_stats_enabled was set to 1 "
                                  "during the run by something else: "
                                  "timed runs after that include the "
                                  "statistics' cost")

    def argv(self, w):
        name, binary, args, _, _ = w
        return [os.path.join(BENCH_BIN, binary), *args, "-n",
                str(self.ops[name])]

    def conn_argv(self):
        return [os.path.join(BENCH_BIN, "conn_trickle"), "-c", "1000",
                "-d", str(self.conn_secs)]

    def calibrate(self):
        for w in self.workloads:
            name, _, _, n, _ = w
            self.ops[name] = n
            # Fastest of two: scale for a quiet machine, not a busy moment.
            wall = min(run_workload(self.argv(w))[0] for _ in range(2))
            scaled = int(n * self.target_s / max(wall, 1e-3))
            self.ops[name] = max(n // 20, min(n * 20, scaled), 1)
            log(f"  calibrate {name}: {n} ops took {wall:.2f} s -> "
                f"{self.ops[name]} ops")

    def measure_floor(self):
        """ns/run of an empty sched_switch program, and of one that reads
        the clock once: what any tracer pays here before doing work."""
        if "bpftrace" in self.skipped:
            return
        wl = next((w for w in self.workloads if w[0] == "pipe-rr-pinned"),
                  None)
        argv = self.argv(wl) if wl else [
            os.path.join(BENCH_BIN, "pipe_pingpong"), "-c", PIN_CPU]
        progs = (("empty", "tracepoint:sched:sched_switch { }"),
                 ("clock", "tracepoint:sched:sched_switch "
                  "{ if (nsecs == 1) { printf(\"x\"); } }"))
        for name, text in progs:
            t = Tracer("bpftrace", self.tmp, f"floor-{name}",
                       argv=["bpftrace", "-e", text])
            self.stats_on()
            try:
                t.start()
                s0 = t.snapshot()
                run_workload(argv)
                d = delta(t.desc, s0, t.snapshot())
            except (Unavailable, RuntimeError) as e:
                log(f"  floor {name}: {e}")
                return
            finally:
                self.stats_off()
                t.stop()
                t.cleanup()
            ns, n = d["groups"]["sched"]
            if n:
                self.floor[name] = ns / n

    def order(self, pair):
        conds = [c for c in self.conditions if c not in self.skipped]
        k = pair % len(conds)
        return conds[k:] + conds[:k]

    def traced_order(self, pair):
        """The conditions other than none, rotated each pair."""
        conds = [c for c in self.conditions
                 if c != "none" and c not in self.skipped]
        if not conds:
            return []
        k = pair % len(conds)
        return conds[k:] + conds[:k]

    # ---- one workload, every condition, each between two untraced blocks
    def aba(self, w, pair):
        """none, C1, none, C2, none, ...: each traced block is compared with
        the untraced blocks right before and right after it (ABA), so the
        machine drifting between runs cancels out. A block is BENCH_REPEAT
        runs and counts with its median, which drops a run that a burst of
        other load hit."""
        prev = self.block(w, pair, "none", self.untraced_block(w, pair))
        for cond in self.traced_order(pair):
            got = self.session(cond, pair, [w] * self.repeat)
            time.sleep(SETTLE_S)
            nxt = self.block(w, pair, "none", self.untraced_block(w, pair))
            blk = self.block(w, pair, cond, got)
            if blk:
                blk["base_wall"] = mean_of(prev, nxt, "wall")
                blk["base_cpu"] = mean_of(prev, nxt, "cpu")
            prev = nxt

    def untraced_block(self, w, pair):
        got = [self.one_run(w[0], self.argv(w), "none", pair, None)
               for _ in range(self.repeat)]
        return [g for g in got if g]

    def block(self, w, pair, cond, got):
        """Median wall and CPU time of one block of runs."""
        if not got:
            return None
        cpus = [g["cpu"] for g in got if g["cpu"] is not None]
        blk = {"workload": w[0], "cond": cond, "pair": pair,
               "wall": statistics.median(g["wall"] for g in got),
               "cpu": statistics.median(cpus) if cpus else None}
        self.blocks.append(blk)
        return blk

    # ---- one session: one tracer instance, the given workloads once each
    def session(self, cond, pair, workloads, conns=False):
        """Returns the samples it took."""
        tracer = None
        if cond not in NO_TRACER:
            tracer = Tracer(cond, self.tmp, f"{cond}-{pair}")
            self.stats_on()     # "attached" includes "a program has run"
            try:
                tracer.start()
            except Unavailable as e:
                tracer.cleanup()
                if cond in self.worked:
                    self.notes.append(f"{cond} (pair {pair + 1}) did not "
                                      f"start: {e}")
                    return []
                self.skipped[cond] = str(e)
                log(f"  {cond}: skipped ({e})")
                return []
            finally:
                self.stats_off()
            self.worked.add(cond)
            own = set(tracer.desc)
            self.descs.setdefault(cond, {}).update(tracer.desc)
            self.foreign = max(self.foreign, foreign_hook_progs(own))
        t0 = time.monotonic()
        got = []
        try:
            for w in workloads:
                got.append(self.one_run(w[0], self.argv(w), cond, pair,
                                        tracer))
            if workloads and tracer and self.st:
                self.cost_run(workloads[0], cond, pair, tracer,
                              [g for g in got if g])
            if conns:
                self.stats_on()
                self.one_run(CONN_WORKLOAD, self.conn_argv(), cond, pair,
                             tracer)
        finally:
            self.stats_off()
            if tracer:
                name = workloads[0][0] if workloads else CONN_WORKLOAD
                self.end_session(tracer, cond, pair, t0, name)
        return [g for g in got if g]

    def cost_run(self, w, cond, pair, tracer, timed):
        """One more run with the BPF statistics on: ns/event and events/s.
        Its wall time against the block's says what the statistics
        themselves cost here; it is not in the wall-time ratios."""
        self.stats_on()
        smp = self.one_run(w[0], self.argv(w), cond, pair, tracer)
        self.stats_off()
        if smp and timed:
            smp["stats_rel"] = smp["wall"] / statistics.median(
                g["wall"] for g in timed)

    def one_run(self, name, argv, cond, pair, tracer):
        if tracer and not tracer.alive():
            return None
        s0 = tracer.snapshot() if tracer else None
        try:
            wall, ops, cpu = run_workload(argv)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            self.notes.append(f"{name} under {cond} (pair {pair + 1}): {e}")
            log(f"  {name}/{cond}: FAILED {e}")
            return None
        d = None
        if tracer:
            if not tracer.alive():
                self.notes.append(f"{cond} died during {name} "
                                  f"(pair {pair + 1})"
                                  f": {tracer.last_error()}")
                return None
            d = delta(tracer.desc, s0, tracer.snapshot())
        smp = {"workload": name, "cond": cond, "pair": pair, "wall": wall,
               "ops": ops, "cpu": cpu, "d": d, "cost": self.counting}
        self.samples.append(smp)
        return smp

    def end_session(self, tracer, cond, pair, t0, workload):
        rss = maps = None
        if tracer.alive():
            rss, maps = tracer.memory()
        secs = time.monotonic() - t0
        out = tracer.output_bytes()
        rc = tracer.stop()
        if rc != 0:
            self.notes.append(f"{cond} (pair {pair + 1}) exit status {rc}: "
                              f"{tracer.last_error()}")
        self.sessions.append({"cond": cond, "pair": pair, "rss_kib": rss,
                              "workload": workload,
                              "map_bytes": maps, "secs": secs,
                              "out_bytes": out, "desc": tracer.desc})
        tracer.cleanup()

    def run(self):
        log(f"bench: calibrating (target {self.target_s} s per run)")
        self.calibrate()
        if self.st:
            log("bench: floor (empty BPF program on sched_switch)")
            self.measure_floor()
        for pair in range(self.pairs):
            for w in self.workloads:
                log(f"bench: pair {pair + 1}/{self.pairs}: {w[0]}")
                self.aba(w, pair)
            if not self.run_conns:
                continue
            for cond in self.traced_order(pair):
                if cond not in NO_TRACER:
                    log(f"bench: pair {pair + 1}/{self.pairs}: "
                        f"{CONN_WORKLOAD} {cond}")
                    self.session(cond, pair, [], conns=True)
        if self.dask_mode not in ("0", "no", "off", "skip"):
            self.dask = DaskBench(self).run()
        self.load_end = loadavg()

    def cleanup(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


# ---------------------------------------------------------------- dask

DASK_TRIALS_RE = re.compile(r"calib\.py: (\d+) trials in ([0-9.]+) s")


class DaskBench:
    """Calibration-like Dask workload (tests/dask/calib.py) on a local
    cluster (tests/dask/cluster.py), in trials per minute."""

    def __init__(self, bench):
        self.b = bench
        self.dir = os.path.join(ROOT, "tests", "dask")
        full = bench.dask_mode in ("1", "full", "yes")
        self.pairs = bench.pairs if full else min(3, bench.pairs)
        self.trials = 48 if full else 20
        self.state = os.path.join(bench.tmp, "dask-cluster.json")
        self.samples = []
        self.skipped = None

    def calib_argv(self, log_path):
        return [PY, os.path.join(self.dir, "calib.py"), "--state", self.state,
                "--trials", str(self.trials), "--concurrency", "4",
                "--sims", "8", "--targets", "2", "--payload-bytes", "200000",
                "--sim-ms", "20", "--agg-ms", "10", "--dask-log", log_path]

    def run(self):
        for f in ("cluster.py", "calib.py"):
            if not os.path.exists(os.path.join(self.dir, f)):
                return self.skip(f"tests/dask/{f} not found")
        log("bench: dask: starting a 2-worker cluster")
        self.b.stats_on()
        try:
            r = subprocess.run([PY, os.path.join(self.dir, "cluster.py"),
                                "start", "--workers", "2", "--state",
                                self.state, "--timeout", "90"],
                               capture_output=True, text=True, timeout=150)
            if r.returncode != 0:
                return self.skip("cluster.py start failed: " +
                                 last_line(r.stderr))
            self.pairs_loop()
        except (OSError, subprocess.TimeoutExpired) as e:
            return self.skip(f"{e}")
        finally:
            self.b.stats_off()
            if os.path.exists(self.state):
                subprocess.run([PY, os.path.join(self.dir, "cluster.py"),
                                "stop", "--state", self.state],
                               capture_output=True, timeout=120)
        return self

    def skip(self, reason):
        self.skipped = reason
        print(f"dask workload: skipped ({reason})", flush=True)
        return self

    def pairs_loop(self):
        # Warm-up (not measured): the first trials after start-up are slow.
        subprocess.run(self.calib_argv(os.devnull)[:-2] + ["--trials", "8"],
                       capture_output=True, timeout=600)
        for pair in range(self.pairs):
            for cond in self.b.order(pair):
                if cond == "none-aa":
                    continue
                log(f"bench: dask pair {pair + 1}/{self.pairs}: {cond}")
                if not self.one(cond, pair) and cond == "none":
                    return

    def one(self, cond, pair):
        tracer = None
        if cond != "none":
            tracer = Tracer(cond, self.b.tmp, f"dask-{cond}-{pair}")
            try:
                tracer.start()
            except Unavailable as e:
                log(f"  dask/{cond}: skipped ({e})")
                return False
            self.b.descs.setdefault(cond, {}).update(tracer.desc)
        log_path = os.path.join(self.b.tmp, f"dask-{cond}-{pair}.json")
        try:
            s0 = tracer.snapshot() if tracer else None
            r = subprocess.run(self.calib_argv(log_path), capture_output=True,
                               text=True, timeout=600)
            d = delta(tracer.desc, s0, tracer.snapshot()) if tracer else None
        except subprocess.TimeoutExpired:
            r, d = None, None
        finally:
            if tracer:
                tracer.stop()
                tracer.cleanup()
        wall, n = self.parse(r, log_path)
        if wall is None:
            msg = "calib.py failed" + (f": {last_line(r.stderr)}" if r
                                       else ": timeout")
            if cond == "none":
                self.skip(msg)
            else:
                self.b.notes.append(f"dask under {cond}: {msg}")
            return False
        self.samples.append({"workload": "dask-calib", "cond": cond,
                             "pair": pair, "wall": wall, "ops": n,
                             "cpu": None, "d": d, "cost": self.b.counting})
        return True

    @staticmethod
    def parse(r, log_path):
        if r is None or r.returncode != 0:
            return None, None
        try:
            with open(log_path) as f:
                doc = json.load(f)
            os.unlink(log_path)
            return float(doc["wall_s"]), len(doc.get("trials", []))
        except (OSError, ValueError, KeyError):
            pass
        m = DASK_TRIALS_RE.search(r.stderr)
        if m:
            return float(m.group(2)), int(m.group(1))
        return None, None


def last_line(text):
    lines = [ln for ln in (text or "").strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "no message"


# ---------------------------------------------------------------- report

def fmt(v, spec, none="-"):
    return none if v is None else format(v, spec)


def counted(samples):
    """The runs the BPF statistics were on for."""
    return [s for s in samples if s["d"] and s.get("cost")]


def pooled(samples, group):
    ss = counted(samples)
    ns = sum(s["d"]["groups"][group][0] for s in ss)
    ev = sum(s["d"]["groups"][group][1] for s in ss)
    return (ns / ev) if ev else None, ev


def mean_of(a, b, key):
    """Mean of key over the untraced runs around a traced one (either may
    have failed: then the other alone)."""
    v = [x[key] for x in (a, b) if x and x.get(key)]
    return sum(v) / len(v) if v else None


def ratios(samples, wl, cond, key="wall"):
    """Traced / untraced: blocks against their ABA neighbours, else (Dask)
    each run against its pair's untraced run."""
    base = {s["pair"]: s[key] for s in samples
            if s["workload"] == wl and s["cond"] == "none"}
    out = []
    for s in samples:
        if s["workload"] != wl or s["cond"] != cond or s[key] is None:
            continue
        ref = s.get("base_" + key, base.get(s["pair"]))
        if ref:
            out.append(s[key] / ref)
    return out


def cpu_pct(samples):
    cpu = sum(s["d"]["cpu_s"] for s in samples
              if s["d"] and s["d"]["cpu_s"] is not None)
    t = sum(s["d"]["interval"] for s in samples if s["d"])
    return 100.0 * cpu / t if t else None


def events_per_s(samples):
    ss = counted(samples)
    ev = sum(sum(g[1] for g in s["d"]["groups"].values()) for s in ss)
    t = sum(s["d"]["interval"] for s in ss)
    return ev / t if t and ev else None


def bpf_pct(samples):
    """Time spent in the tracer's BPF programs, % of one CPU."""
    ss = counted(samples)
    ns = sum(sum(g[0] for g in s["d"]["groups"].values()) for s in ss)
    t = sum(s["d"]["interval"] for s in ss)
    return 100.0 * ns / 1e9 / t if t and ns else None


def met(ok):
    return "met" if ok else "MISSED"


class Report:
    def __init__(self, b):
        self.b = b
        self.samples = list(b.samples)
        if b.dask:
            self.samples += b.dask.samples
        self.conds = [c for c in b.conditions
                      if any(s["cond"] == c for s in self.samples)]
        self.tracers = [c for c in self.conds if c != "none"]
        self.real = [c for c in self.conds if c not in NO_TRACER]
        self.lines = []

    def out(self, line=""):
        self.lines.append(line)

    def sel(self, wl=None, cond=None):
        return [s for s in self.samples
                if (wl is None or s["workload"] == wl)
                and (cond is None or s["cond"] == cond)]

    def bt_cost(self, group):
        if "bpftrace" not in self.tracers:
            return None
        return pooled([s for s in self.sel(cond="bpftrace")
                       if s["workload"] not in (CONN_WORKLOAD, "dask-calib")],
                      group)[0]

    def render(self, info):
        b = self.b
        self.out("# xfertrace overhead benchmark")
        self.out()
        self.out(f"- machine: {info['nproc']} CPUs, {info['cpu']}, "
                 f"{info['mem_gib']} GiB RAM; kernel {info['kernel']}")
        self.out(f"- date: {info['date']}; load average at start "
                 f"{b.load_start}, at end {b.load_end}")
        self.out(f"- {b.pairs} pairs per workload and condition, "
                 f"{b.repeat} runs per block: untraced and traced blocks "
                 f"alternate (none, C1, none, C2, ...; order of the "
                 f"conditions rotated each pair); bpftrace: "
                 f"{tool_version(['bpftrace', '--version'])}; "
                 f"bpftool: {tool_version(['bpftool', 'version'])}")
        self.out(f"- xfertrace: {b.xt_info}")
        self.out(f"- workloads, tracers and the Dask cluster all run at nice "
                 f"{info['nice']} (BENCH_NICE)")
        if info["stats"]:
            self.out("- BPF statistics (kernel.bpf_stats_enabled) are off "
                     "for the timed runs and on for one extra run at the "
                     "end of each traced block, which gives ns/event and "
                     "events/s (and for the 1,000-connection and Dask "
                     f"runs); {MSG_STATS}; 'stats cost' says what they add "
                     "to a run here")
        else:
            self.out("- BENCH_STATS=0: BPF statistics left as they were "
                     "(normally off), so the ratios are without their "
                     "cost and the ns/event columns are empty")
        if b.floor.get("empty"):
            clk = b.floor.get("clock")
            self.out(f"- an empty bpftrace program on sched_switch "
                     f"measures {b.floor['empty']:.0f} ns per run here "
                     f"(mostly the statistics' own clock reads)" +
                     (f"; one bpf_ktime_get_ns() adds "
                      f"{clk - b.floor['empty']:.0f} ns" if clk else ""))
        if b.foreign:
            self.out(f"- WARNING: up to {b.foreign} BPF program(s) of other "
                     f"processes were attached to the same hooks during the "
                     f"run; they slow every condition, including none")
        for c, why in b.skipped.items():
            self.out(f"- {c}: skipped ({why})")
        self.out()
        self.workload_table()
        self.main_table()
        self.summary_table()
        self.conn_table()
        self.memory_table()
        self.dask_table()
        self.prog_table()
        if b.notes:
            self.out("## Notes")
            self.out()
            for n in b.notes[:40]:
                self.out(f"- {n}")
            self.out()
        return "\n".join(self.lines) + "\n"

    def workload_table(self):
        self.out("## Workloads (no tracer)")
        self.out()
        ref = next((c for c in ("record", "top", "agent", "bpftrace")
                    if c in self.real), None)
        self.out("Events per operation as counted by the " +
                 (f"{ref} condition's BPF programs (machine-wide, so "
                  f"background activity adds to them)." if ref else
                  "tracers (none ran)."))
        self.out()
        self.out("none spread = fastest and slowest run without a tracer, "
                 "relative to their median: how much the machine alone "
                 "moves the numbers.")
        self.out()
        self.out("| workload | what | ops per run | median wall s | ops/s | "
                 "none spread | TCP events/op | switches/op |")
        self.out("|---|---|--:|--:|--:|--:|--:|--:|")
        for name, _, _, _, what in self.b.workloads:
            ss = self.sel(name, "none")
            if not ss:
                continue
            wall = statistics.median(s["wall"] for s in ss)
            per = [None, None]
            rs = counted(self.sel(name, ref)) if ref else []
            ops = sum(s["ops"] for s in rs)
            if ops:
                per = [sum(s["d"]["groups"][g][1] for s in rs) / ops
                       for g in ("tcp", "sched")]
            lo = min(s["wall"] for s in ss) / wall
            hi = max(s["wall"] for s in ss) / wall
            self.out(f"| {name} | {what} | {self.b.ops[name]} | "
                     f"{wall:.3f} | {ss[0]['ops'] / wall:,.0f} | "
                     f"{lo:.2f}-{hi:.2f} | "
                     f"{fmt(per[0], '.2f')} | {fmt(per[1], '.2f')} |")
        self.out()

    def row_targets(self, wl, cond, med, cost_tcp, cost_sched):
        res = []
        lim = RATIO_TARGETS.get((wl, cond))
        if lim is not None and med is not None:
            res.append(f"ratio <= {lim}: {met(med <= lim)}")
        return "; ".join(res)

    def main_table(self):
        self.out("## Overhead per workload")
        self.out()
        self.out("Wall-time ratio = median run time of a block under the "
                 "tracer / mean of the medians of the untraced blocks just "
                 "before and after it (n = blocks). ns/event = BPF run_time_ns / run_cnt "
                 "of the tracer's programs on that hook, pooled over the "
                 "pairs. BPF CPU = time in those programs per second, "
                 "tracer CPU = the tracer process's utime+stime per second, "
                 "both in % of one CPU. CPU ratio = user+system CPU time "
                 "of the workload's two processes under the tracer / "
                 "without (median), less sensitive to other load than "
                 "wall time. peak RSS and BPF maps: the tracer process's "
                 "VmHWM and its maps' memlock at the end of each session, "
                 "worst session. over floor = median ratio minus the floor "
                 "condition's (empty BPF programs on the same send, "
                 "receive and switch hooks): what the tracer adds over "
                 "what any BPF tracer on these hooks pays here. "
                 "stats cost = wall time of the run with BPF "
                 "statistics on / median of its block's (median over "
                 "blocks).")
        self.out()
        self.out("| workload | condition | n | median ratio | min | max | "
                 "over floor | CPU ratio | ns/TCP event | ns/switch | "
                 "events/s | BPF CPU % | tracer CPU % | peak RSS MiB | "
                 "BPF maps MiB | stats cost | target |")
        self.out("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
                 "--:|--:|--:|---|")
        for name, *_ in self.b.workloads:
            for cond in self.tracers:
                ss = self.sel(name, cond)
                if not ss:
                    continue
                r = ratios(self.b.blocks, name, cond)
                med = statistics.median(r) if r else None
                fr = ratios(self.b.blocks, name, "floor")
                over = None
                if cond not in ("floor", "none-aa") and fr and med:
                    over = med - statistics.median(fr)
                rc = ratios(self.b.blocks, name, cond, "cpu")
                cmed = statistics.median(rc) if rc else None
                tcp = pooled(ss, "tcp")[0]
                sch = pooled(ss, "sched")[0]
                tgt = self.row_targets(name, cond, med, tcp, sch)
                rel = [x["stats_rel"] for x in ss if x.get("stats_rel")]
                srel = statistics.median(rel) if rel else None
                self.out(f"| {name} | {cond} | {len(r)} | "
                         f"{fmt(med, '.3f')} | "
                         f"{fmt(min(r) if r else None, '.3f')} | "
                         f"{fmt(max(r) if r else None, '.3f')} | "
                         f"{fmt(over, '+.3f')} | "
                         f"{fmt(cmed, '.3f')} | "
                         f"{fmt(tcp, '.0f')} | {fmt(sch, '.0f')} | "
                         f"{fmt(events_per_s(ss), ',.0f')} | "
                         f"{fmt(bpf_pct(ss), '.2f')} | "
                         f"{fmt(cpu_pct(ss), '.2f')} | "
                         f"{self.session_mem(name, cond)} | "
                         f"{fmt(srel, '.3f')} | {tgt} |")
        self.out()

    def session_mem(self, wl, cond):
        """Worst peak RSS and BPF map memory of the sessions of wl, cond."""
        ses = [s for s in self.b.sessions
               if s["cond"] == cond and s.get("workload") == wl]
        rss = [s["rss_kib"] for s in ses if s["rss_kib"] is not None]
        maps = [s["map_bytes"] for s in ses if s["map_bytes"] is not None]
        return (f"{fmt(max(rss) / 1024 if rss else None, '.1f')} | "
                f"{fmt(max(maps) / 1048576 if maps else None, '.1f')}")

    def summary_table(self):
        self.out("## In-kernel cost per event, all workloads pooled")
        self.out()
        floor = self.b.floor.get("empty")
        note = ""
        if floor:
            note = (f" 'minus floor' subtracts the {floor:.0f} ns an empty "
                    f"program measures here from both sides (for "
                    f"information; the target uses the plain figures).")
        self.out("Target: xfertrace's ns per TCP event and per context "
                 "switch <= half of bpftrace's. The per-workload runs "
                 "above, pooled (not conns-1000, not Dask)." + note)
        self.out()
        self.out("| condition | ns/TCP event | TCP events | ns/switch | "
                 "switches | ns/other event | other events | vs bpftrace "
                 "(TCP, switch) | minus floor | target |")
        self.out("|---|--:|--:|--:|--:|--:|--:|---|---|---|")
        bt_tcp, bt_sch = self.bt_cost("tcp"), self.bt_cost("sched")
        for cond in self.real:
            ss = [s for s in self.sel(cond=cond)
                  if s["workload"] not in (CONN_WORKLOAD, "dask-calib")]
            tcp, ntcp = pooled(ss, "tcp")
            sch, nsch = pooled(ss, "sched")
            oth, noth = pooled(ss, "other")
            vs, vsf, tgt = "-", "-", ""
            if cond != "bpftrace" and bt_tcp and bt_sch and tcp and sch:
                vs = f"{tcp / bt_tcp:.2f}x, {sch / bt_sch:.2f}x"
                if cond in XT_CONDITIONS:
                    tgt = (f"TCP {met(tcp <= bt_tcp / 2)}, "
                           f"switch {met(sch <= bt_sch / 2)}")
                if floor and min(bt_tcp, bt_sch) > floor:
                    vsf = (f"{max(tcp - floor, 0) / (bt_tcp - floor):.2f}x, "
                           f"{max(sch - floor, 0) / (bt_sch - floor):.2f}x")
            self.out(f"| {cond} | {fmt(tcp, '.0f')} | {ntcp:,} | "
                     f"{fmt(sch, '.0f')} | {nsch:,} | {fmt(oth, '.0f')} | "
                     f"{noth:,} | {vs} | {vsf} | {tgt} |")
        self.out()

    def conn_table(self):
        rows = [(c, self.sel(CONN_WORKLOAD, c)) for c in self.real]
        rows = [(c, ss) for c, ss in rows if ss]
        if not rows:
            return
        self.out(f"## 1,000 live loopback connections "
                 f"(conn_trickle: 1 message of 64 B per connection per "
                 f"second each way, {self.b.conn_secs:g} s per run, "
                 f"tracer at its default interval)")
        self.out()
        self.out("| condition | runs | events/s | tracer CPU % | "
                 "ns/TCP event | peak RSS MiB | BPF maps MiB | target |")
        self.out("|---|--:|--:|--:|--:|--:|--:|---|")
        for cond, ss in rows:
            cpu = cpu_pct(ss)
            tgt = ""
            if cond == "record" and cpu is not None:
                tgt = f"CPU < {CPU_TARGET_PCT:g}%: {met(cpu < CPU_TARGET_PCT)}"
            self.out(f"| {cond} | {len(ss)} | "
                     f"{fmt(events_per_s(ss), ',.0f')} | {fmt(cpu, '.2f')} | "
                     f"{fmt(pooled(ss, 'tcp')[0], '.0f')} | "
                     f"{self.session_mem(CONN_WORKLOAD, cond)} | {tgt} |")
        self.out()

    def memory_table(self):
        if not self.b.sessions:
            return
        self.out("## Tracer process: CPU, memory, output")
        self.out()
        self.out("CPU over every workload run of every session; peak RSS "
                 "(VmHWM) and BPF map memory (memlock of its maps) at the "
                 "end of each session, worst session shown.")
        self.out()
        self.out("| condition | sessions | tracer CPU % | peak RSS MiB | "
                 "BPF maps MiB | output KiB/s | target |")
        self.out("|---|--:|--:|--:|--:|--:|---|")
        for cond in self.real:
            ses = [s for s in self.b.sessions if s["cond"] == cond]
            if not ses:
                continue
            ss = [s for s in self.sel(cond=cond)
                  if s["workload"] != "dask-calib"]
            cpu = cpu_pct(ss)
            rss = max((s["rss_kib"] or 0 for s in ses), default=0) / 1024
            maps = max((s["map_bytes"] or 0 for s in ses),
                       default=0) / 1048576
            outr = sum(s["out_bytes"] for s in ses) / 1024 / \
                max(sum(s["secs"] for s in ses), 1e-9)
            tgt = ""
            if cond == "record":
                ok = "no data" if cpu is None else met(cpu < CPU_TARGET_PCT)
                tgt = (f"CPU < {CPU_TARGET_PCT:g}%: {ok}, "
                       f"RSS < {RSS_TARGET_MIB:g} MiB: "
                       f"{met(rss < RSS_TARGET_MIB)}")
            self.out(f"| {cond} | {len(ses)} | {fmt(cpu, '.2f')} | "
                     f"{rss:.1f} | {maps:.1f} | {outr:.1f} | {tgt} |")
        self.out()

    def dask_table(self):
        d = self.b.dask
        if d is None:
            return
        self.out("## Dask calibration workload (tests/dask/calib.py)")
        self.out()
        if d.skipped:
            self.out(f"dask workload: skipped ({d.skipped})")
            self.out()
            return
        self.out(f"2 workers with nannies, {d.trials} trials per run "
                 f"(concurrency 4, 8 sims x 200 kB, 2 targets), "
                 f"{d.pairs} pairs.")
        self.out()
        self.out("| condition | runs | trials/min (median) | median ratio | "
                 "min | max | ns/TCP event | ns/switch | events/s | "
                 "tracer CPU % |")
        self.out("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
        for cond in self.conds:
            ss = self.sel("dask-calib", cond)
            if not ss:
                continue
            tpm = statistics.median(60 * s["ops"] / s["wall"] for s in ss)
            r = ratios(self.samples, "dask-calib", cond) \
                if cond != "none" else []
            self.out(f"| {cond} | {len(ss)} | {tpm:.1f} | "
                     f"{fmt(statistics.median(r) if r else None, '.3f')} | "
                     f"{fmt(min(r) if r else None, '.3f')} | "
                     f"{fmt(max(r) if r else None, '.3f')} | "
                     f"{fmt(pooled(ss, 'tcp')[0], '.0f')} | "
                     f"{fmt(pooled(ss, 'sched')[0], '.0f')} | "
                     f"{fmt(events_per_s(ss), ',.0f')} | "
                     f"{fmt(cpu_pct(ss), '.2f')} |")
        self.out()

    def prog_table(self):
        self.out("## Per BPF program (all workloads pooled)")
        self.out()
        self.out("| condition | program | type | hook | runs | ns/run |")
        self.out("|---|---|---|---|--:|--:|")
        for cond in self.real:
            agg = {}
            for s in self.sel(cond=cond):
                if not s["d"]:
                    continue
                for pid_, (ns, n) in s["d"]["progs"].items():
                    a = agg.setdefault(pid_, [0, 0])
                    a[0] += ns
                    a[1] += n
            desc = self.b.descs.get(cond, {})
            rows = {}
            for pid_, (ns, n) in agg.items():
                d = desc.get(pid_, {"name": "?", "type": "?", "hook": "?"})
                key = (d["name"], d["type"], d["hook"])
                r = rows.setdefault(key, [0, 0])
                r[0] += ns
                r[1] += n
            for (name, typ, hook), (ns, n) in sorted(rows.items()):
                self.out(f"| {cond} | {name} | {typ} | {hook} | {n:,} | "
                         f"{fmt(ns / n if n else None, '.0f')} |")
        self.out()


# ---------------------------------------------------------------- main

def preflight():
    if os.geteuid() != 0:
        sys.exit("bench: must run as root (BPF, sysctl)")
    missing = [w[1] for w in WORKLOADS + [("", "conn_trickle")]
               if not os.access(os.path.join(BENCH_BIN, w[1]), os.X_OK)]
    if missing:
        sys.exit(f"bench: build/bench/{missing[0]} missing (make all)")
    if not shutil.which("bpftool"):
        sys.exit("bench: bpftool not found")


def main():
    preflight()
    stats = Stats()
    bench = Bench()
    if not shutil.which("bpftrace"):
        bench.skipped["bpftrace"] = "bpftrace not in PATH"

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    info = machine_info()
    nice = env_int("BENCH_NICE", -20)
    try:
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    except OSError as e:
        log(f"bench: cannot set nice {nice}: {e}")
    info["nice"] = os.getpriority(os.PRIO_PROCESS, 0)
    info["stats"] = os.environ.get("BENCH_STATS", "1") != "0"
    try:
        if info["stats"]:
            stats.take()
            bench.st = stats
        Tracer.require_run = info["stats"]
        bench.run()
    except KeyboardInterrupt:
        log("bench: interrupted; reporting what was measured")
        bench.notes.append("run interrupted")
    finally:
        stats.restore()
        bench.cleanup()
    if bench.load_end is None:
        bench.load_end = loadavg()
    text = Report(bench).render(info)
    sys.stdout.write(text)
    out = os.environ.get("BENCH_OUT", os.path.join(ROOT, "bench",
                                                   "results.md"))
    with open(out, "w") as f:
        f.write(text)
    log(f"bench: wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
