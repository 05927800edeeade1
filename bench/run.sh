#!/bin/sh
# xfertrace overhead benchmark; see docs/performance.md for the figures.
# Run as root from anywhere (normally through `make bench`). Writes the
# table to stdout and to bench/results.md.
#   BENCH_PAIRS=3 bench/run.sh     quick run (default 7 pairs)
#   BENCH_DASK=0|short|1           Dask workload: skip / short (default) / full
set -e
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
	echo "bench: must run as root (BPF programs, sysctl)" >&2
	exit 1
fi
for b in tcp_stream tcp_pingpong pipe_pingpong conn_trickle; do
	if [ ! -x "build/bench/$b" ]; then
		make -s bench-bins
		break
	fi
done
exec /usr/bin/python3 bench/bench.py "$@"
