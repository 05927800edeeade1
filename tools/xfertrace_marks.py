"""Send trial/timing marks to a running xfertrace (stdlib only).

Each mark is one text line (UTF-8, no trailing newline) sent as one UNIX
datagram (SOCK_DGRAM) to the marks socket: $XFERTRACE_MARKS, or
/run/xfertrace/marks.sock. The lines are the ones the throughput
diagnostic plan already logs (SIM_TIMING:, AGG_TIMING:) plus
TRIAL_BEGIN / TRIAL_END, so xfertrace can line its byte and CPU counts up
with trials. When no socket exists or nobody listens, every call is a
silent no-op: the failure is cached and the socket is retried at most every
RETRY_S seconds. Sends never block (a full receiver queue drops the mark).

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
the workers reach the node's xfertrace.
"""
import contextlib
import os
import socket
import threading
import time

DEFAULT_PATH = "/run/xfertrace/marks.sock"
RETRY_S = 5.0
MAX_DGRAM = 4096

__all__ = ["mark", "trial", "sim_timing", "agg_timing", "sim_timing_line",
           "agg_timing_line", "socket_path"]


def socket_path():
    return os.environ.get("XFERTRACE_MARKS") or DEFAULT_PATH


class _Sender:
    """One non-blocking datagram socket per process; failure is cached."""

    def __init__(self):
        self.lock = threading.Lock()
        self.sock = None
        self.down_until = {}    # path -> monotonic time of next retry

    def reset(self):
        self.lock = threading.Lock()
        self.sock = None
        self.down_until = {}

    def send(self, path, data):
        now = time.monotonic()
        if self.down_until.get(path, 0.0) > now:
            return False
        with self.lock:
            try:
                if self.sock is None:
                    self.sock = socket.socket(socket.AF_UNIX,
                                              socket.SOCK_DGRAM)
                    self.sock.setblocking(False)
                self.sock.sendto(data, path)
                self.down_until.pop(path, None)
                return True
            except BlockingIOError:
                return False            # receiver busy: drop this mark
            except OSError:
                # ENOENT, ECONNREFUSED (nobody bound), EACCES, ...
                self.down_until[path] = now + RETRY_S
                return False


_sender = _Sender()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_sender.reset)


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
