"""Send trial/timing marks to a running xfertrace (stdlib only).

Each mark is one text line (UTF-8, no trailing newline) sent as one UNIX
datagram (SOCK_DGRAM) to the marks socket: $XFERTRACE_MARKS, or
/run/xfertrace/marks.sock. The lines are the ones the throughput
diagnostic plan already logs (SIM_TIMING:, AGG_TIMING:) plus
TRIAL_BEGIN / TRIAL_END, so xfertrace can line its byte and CPU counts up
with trials. When no socket exists or nobody listens, every call is a
silent no-op: the failure is cached and the socket is retried after
RETRY_S seconds, or at once when the socket file changes (one stat() per
mark meanwhile). A send waits at most SEND_TIMEOUT_S for room in the
tracer's queue. Marks a listening tracer could not take (queue full,
permission denied, ...) are counted (dropped()): one stderr line names the
first loss, one at exit gives the total.

The lines to add to the plan's wire.py worker_loop:

    import xfertrace_marks as xm

    def worker_loop(worker_id):
        while not stop_flag.is_set() and not adapter.finished():
            params = adapter.ask(n=1)[0]
            with xm.trial(params.param_id):              # + this line
                sim_futures = sim_service.submit_replicates(...)
                ...
                all_agg_results = sim_service.gather(...)
            adapter.tell([final_result])

and next to the existing log calls in dask_simulation.py:

    line = xm.sim_timing(param_id, seed, duration_ms, worker.address)
    logger.info(line)          # same text as before, now also a mark

    line = xm.agg_timing(run_id, param_id, target, len(sim_returns),
                         n_outputs, total_inline_mb, max_single_kb,
                         duration_ms, worker.address)
    logger.info(line)

On Kubernetes, mount the node's /run/xfertrace into the pods (hostPath) so
the workers reach the node's xfertrace; a pod that does not run as root
needs the socket's group (record --marks-group GID, and the GID in the
pod's securityContext.supplementalGroups). See docs/marks-access.md.
"""
import atexit
import contextlib
import errno
import os
import socket
import sys
import threading
import time

DEFAULT_PATH = "/run/xfertrace/marks.sock"
RETRY_S = 5.0
MAX_DGRAM = 4096
# How long one mark may wait for room in the tracer's queue (the kernel
# queues only net.unix.max_dgram_qlen datagrams, often 10). After one
# such timeout the tracer is taken as stuck: sends stop waiting until
# one goes through again, so a worker is never slowed for long.
SEND_TIMEOUT_S = 0.2
# No tracer listens: stay silent, these are not losses.
_ABSENT = (errno.ENOENT, errno.ECONNREFUSED, errno.ENOTDIR)

__all__ = ["mark", "trial", "sim_timing", "agg_timing", "sim_timing_line",
           "agg_timing_line", "socket_path", "dropped"]


def socket_path():
    return os.environ.get("XFERTRACE_MARKS") or DEFAULT_PATH


class _Sender:
    """One datagram socket per process, connected to the tracer's socket.

    Marks that a listening tracer could not take (queue full past
    SEND_TIMEOUT_S, permission denied, ...) are counted; the first one
    is reported on stderr at once, and the total at exit.
    """

    def __init__(self):
        self.reset()

    def reset(self):
        self.lock = threading.Lock()
        self.sock = None
        self.peer = None
        self.down_until = {}    # path -> (retry time, counted?, file sig)
        self.stuck = False      # last send timed out: do not wait again
        self.lost = 0
        self.why = None

    def _lose(self, path, why):
        self.lost += 1
        if self.why is None:
            self.why = why
            print(f"xfertrace_marks: marks for {path} are being lost "
                  f"({why}); the count is printed at exit",
                  file=sys.stderr, flush=True)

    def _connect(self, path):
        if self.sock is not None:
            self.sock.close()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.peer = None
        self.sock.connect(path)
        self.peer = path

    def _send_once(self, path, data):
        if self.peer != path:
            self._connect(path)
        self.sock.settimeout(0.0 if self.stuck else SEND_TIMEOUT_S)
        self.sock.send(data)

    @staticmethod
    def _sig(path):
        """What the socket file is now: a new tracer makes a new one."""
        try:
            st = os.stat(path)
            return (st.st_ino, st.st_ctime_ns)
        except OSError:
            return None

    def send(self, path, data):
        now = time.monotonic()
        until, counted, sig = self.down_until.get(path, (0.0, False, None))
        # Retry early when the socket file changed (a tracer started).
        if until > now and self._sig(path) == sig:
            if counted:
                self.lost += 1
            return False
        with self.lock:
            try:
                try:
                    self._send_once(path, data)
                except ConnectionRefusedError:
                    # The tracer restarted: reach the new socket.
                    self.peer = None
                    self._send_once(path, data)
                self.down_until.pop(path, None)
                self.stuck = False
                return True
            except (BlockingIOError, socket.timeout):
                self.stuck = True
                self._lose(path, "the tracer's queue stayed full")
                return False
            except OSError as e:
                self.peer = None
                counted = e.errno not in _ABSENT
                self.down_until[path] = (now + RETRY_S, counted,
                                         self._sig(path))
                if counted:
                    self._lose(path, os.strerror(e.errno or 0))
                return False

    def report(self):
        if self.lost:
            print(f"xfertrace_marks: {self.lost} marks could not be sent "
                  f"({self.why})", file=sys.stderr, flush=True)


_sender = _Sender()
atexit.register(_sender.report)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_sender.reset)


def dropped():
    """Marks a listening tracer could not take, in this process so far."""
    return _sender.lost


def mark(line, path=None):
    """Send one line; returns True if it was handed to a listener."""
    data = str(line).rstrip("\n").encode("utf-8", "replace")[:MAX_DGRAM]
    return _sender.send(path or socket_path(), data)


@contextlib.contextmanager
def trial(param_id, path=None):
    """Marks TRIAL_BEGIN / TRIAL_END param_id=... around a trial."""
    mark(f"TRIAL_BEGIN param_id={param_id}", path)
    try:
        yield
    finally:
        mark(f"TRIAL_END param_id={param_id}", path)


def sim_timing_line(param_id, seed, duration_ms, worker):
    return (f"SIM_TIMING: param_id={param_id} seed={seed} "
            f"duration_ms={duration_ms:.1f} worker={worker}")


def agg_timing_line(run_id, param_id, target, n_sim_returns, n_outputs,
                    total_inline_mb, max_single_kb, duration_ms, worker):
    return (f"AGG_TIMING: run_id={run_id} param_id={param_id} "
            f"target={target} n_sim_returns={n_sim_returns} "
            f"n_outputs={n_outputs} total_inline_mb={total_inline_mb:.2f} "
            f"max_single_kb={max_single_kb:.1f} "
            f"duration_ms={duration_ms:.1f} worker={worker}")


def sim_timing(param_id, seed, duration_ms, worker, path=None):
    """Send a SIM_TIMING: mark; returns the line (log it as before)."""
    line = sim_timing_line(param_id, seed, duration_ms, worker)
    mark(line, path)
    return line


def agg_timing(run_id, param_id, target, n_sim_returns, n_outputs,
               total_inline_mb, max_single_kb, duration_ms, worker,
               path=None):
    """Send an AGG_TIMING: mark (MB = 1e6 bytes, kB = 1e3 bytes)."""
    line = agg_timing_line(run_id, param_id, target, n_sim_returns,
                           n_outputs, total_inline_mb, max_single_kb,
                           duration_ms, worker)
    mark(line, path)
    return line
