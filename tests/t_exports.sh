#!/bin/bash
# Report exports (`report --format html|perfetto|md|csv`, issue 15) against
# the JSON report of the same trace, on generated traces (64 workers x 500
# trials: size and Chromium render of the page) and on a real traced Dask
# run (4 workers, calib.py with marks; A = two targets, B = --multi-target):
#  - CSV (trials, intervals, flows) and Markdown read back equal the JSON
#  - Perfetto JSON: required fields, B/E balance, s/f flow pairs, counters
#    that integrate to each process's bytes and CPU
#  - HTML in headless Chromium: titles and figures in the DOM, no request
#    but file:// (net log; a page that fetches is caught), each chart drawn
#    (screenshot, cropped per chart), size bound
#  - --compare A B in md and html; bad arguments and unwritable -o
. "$(dirname "$0")/lib.sh"
D=$XT_ROOT/tests/dask
CHK=$XT_ROOT/tests/check_exports.py
ST=$T_TMP/cluster.json
export PYTHONDONTWRITEBYTECODE=1

stop_cluster() {
	[ -f "$ST" ] && $PY "$D/cluster.py" stop --state "$ST" >/dev/null 2>&1
	rm -f "$ST"
}
trap 'stop_cluster; t_cleanup' EXIT

check() { t_checker "$1" $PY "$CHK" "${@:2}"; }

CHROME=(timeout 120 chromium --headless --no-sandbox --disable-gpu
	--hide-scrollbars --user-data-dir="$T_TMP/chrome" --no-first-run
	"--host-resolver-rules=MAP * ~NOTFOUND" --disable-background-networking
	--disable-component-update --disable-sync --disable-default-apps)

if [ ! -x "$XT" ]; then
	t_fail "no $XT (run make)"
	t_finish
fi
if ! command -v chromium >/dev/null || ! $PY -c "import PIL" 2>/dev/null; then
	t_fail "chromium or python3-pil missing (run tools/deps.sh)"
fi

# exports_of TAG TRACE MARKS [nohtml]: every export of one trace, checked.
exports_of() {
	local tag=$1 x=$2 mk=$3 o=$T_TMP/$1 t n
	if ! "$XT" report "$x" --marks "$mk" --format json >"$o.json" 2>"$o.err"; then
		t_fail "$tag: report --format json: $(tail -n 1 "$o.err")"
		return
	fi
	for t in trials intervals flows; do
		"$XT" report "$x" --marks "$mk" --format csv --table $t \
			-o "$o.$t.csv" 2>>"$o.err" || t_fail "$tag: csv $t"
	done
	"$XT" report "$x" --marks "$mk" --format md -o "$o.md" 2>>"$o.err" ||
		t_fail "$tag: md"
	"$XT" report "$x" --marks "$mk" --format perfetto -o "$o.pf.json" \
		2>>"$o.err" || t_fail "$tag: perfetto"
	"$XT" report "$x" --marks "$mk" --format html -o "$o.html" 2>>"$o.err" ||
		t_fail "$tag: html"
	check "$tag" --json "$o.json" --perfetto "$o.pf.json" \
		--csv-trials "$o.trials.csv" --csv-intervals "$o.intervals.csv" \
		--csv-flows "$o.flows.csv" --md "$o.md" ${ONCPU:+--expect-oncpu}
	[ "${4:-}" = nohtml ] && return
	"${CHROME[@]}" --log-net-log="$o.net.json" --dump-dom "file://$o.html" \
		>"$o.dom" 2>/dev/null
	check "$tag" --json "$o.json" --html "$o.html" --dom "$o.dom" \
		--netlog "$o.net.json" --max-bytes 5000000
	n=$($PY "$CHK" --charts "$o.html" --out "$o.charts.html" --max 8)
	"${CHROME[@]}" --screenshot="$o.charts.png" --window-size=1240,$((n * 420)) \
		"file://$o.charts.html" >/dev/null 2>&1
	check "$tag" --shot "$o.charts.png" --regions "$n"
}

# ---- generated traces ----
G=$T_TMP/g64
$PY "$XT_ROOT/tests/gen_trace.py" --workers 64 --trials 500 --out "$G"
exports_of "64x500" "$G/gen.xft" "$G/gen.log"
s=$(date +%s%N)
"${CHROME[@]}" --screenshot="$T_TMP/g64.png" --window-size=1280,4000 \
	"file://$T_TMP/64x500.html" >/dev/null 2>&1
echo "     64 workers x 500 trials: html $(stat -c %s "$T_TMP/64x500.html") B, perfetto $(stat -c %s "$T_TMP/64x500.pf.json") B, chromium screenshot $((($(date +%s%N) - s) / 1000000)) ms"

# A trace cut short: the exports cover its whole chunks, as the JSON does.
head -c 150000 "$G/gen.xft" >"$T_TMP/cut.xft"
exports_of "cut-trace" "$T_TMP/cut.xft" "$G/gen.log" nohtml
grep -q '"truncated": true' "$T_TMP/cut-trace.json"
t_check "cut trace: the JSON says truncated; exports exit 0 on it" test $? = 0

# The net log check can fail: a page that loads from the network.
echo '<html><body><img src="http://example.invalid/x.png"></body></html>' \
	>"$T_TMP/fetch.html"
"${CHROME[@]}" --log-net-log="$T_TMP/fetch.net.json" --dump-dom \
	"file://$T_TMP/fetch.html" >/dev/null 2>&1
check "" --netlog "$T_TMP/fetch.net.json"

# No marks: the exports still work and say what is missing.
"$XT" report "$G/gen.xft" --format html -o "$T_TMP/nomarks.html" &&
	grep -q "No timed trial marks" "$T_TMP/nomarks.html" &&
	"$XT" report "$G/gen.xft" --format md | grep -q "No trial marks"
t_check "without marks: html and md export bytes and CPU, and say marks are missing" \
	test $? = 0

# Bad arguments and an unwritable -o: one error line, non-zero, no file.
bad() {
	local d=$1
	shift
	if "$XT" report "$@" >"$T_TMP/bad.out" 2>"$T_TMP/bad.err"; then
		t_fail "$d: exit 0"
	elif [ "$(wc -l <"$T_TMP/bad.err")" != 1 ]; then
		t_fail "$d: want one error line, got: $(cat "$T_TMP/bad.err")"
	else
		t_pass "$d: $(cat "$T_TMP/bad.err")"
	fi
}
bad "-o into a missing directory" "$G/gen.xft" --format html -o "$T_TMP/no/r.html"
bad "csv without --table" "$G/gen.xft" --format csv
bad "--table with html" "$G/gen.xft" --format html --table trials
bad "unknown --table" "$G/gen.xft" --format csv --table nope
bad "unknown --format" "$G/gen.xft" --format pdf
bad "perfetto of --compare" --compare "$G/gen.xft" "$G/gen.xft" --format perfetto
for f in md html json; do
	"$XT" report "$G/gen.xft" --format $f >/dev/full 2>"$T_TMP/full.err"
	rc=$?
	t_check "--format $f to a full disk (/dev/full): exit $rc, one error line" \
		test $rc != 0 -a "$(wc -l <"$T_TMP/full.err")" = 1
done
t_check "no temp file left behind by a failed -o" \
	bash -c '! ls "$1"/no "$1"/*.tmp.* 2>/dev/null | grep -q .' bash "$T_TMP"

# ---- a real traced Dask run ----
if ! "$XT" check >"$T_TMP/check.out" 2>&1; then
	t_fail "xfertrace check: $(tail -n 1 "$T_TMP/check.out")"
	t_finish
fi
if ! $PY "$D/cluster.py" start --workers 4 --state "$ST" >/dev/null; then
	t_fail "cluster start (see $ST.logs)"
	t_finish
fi
t_pass "cluster: scheduler + 4 workers with nannies"
record_calib() {
	local n=$1
	shift
	"$XT" record -o "$T_TMP/$n.xft" -- $PY "$D/calib.py" --state "$ST" \
		--trials 12 --concurrency 4 --sims 8 --payload-bytes 400000 \
		--sim-ms 30 --agg-ms 10 "$@" >"$T_TMP/$n.log" 2>"$T_TMP/$n.err"
}
t_check "A: record calib.py, two targets" record_calib A --targets 2
t_check "B: record calib.py, --multi-target" record_calib B --targets 2 \
	--multi-target
stop_cluster
ONCPU=1 exports_of "dask-A" "$T_TMP/A.xft" "$T_TMP/A.log"
"${CHROME[@]}" --screenshot="$T_TMP/dask.png" --window-size=1280,2400 \
	"file://$T_TMP/dask-A.html" >/dev/null 2>&1
t_check "dask-A: full-page screenshot" test -s "$T_TMP/dask.png"
"${CHROME[@]}" --print-to-pdf="$T_TMP/dask.pdf" "file://$T_TMP/dask-A.html" \
	>/dev/null 2>&1
pages=$(grep -ao '/Count [0-9]*' "$T_TMP/dask.pdf" 2>/dev/null | sort -k2n | tail -n 1)
t_check "dask-A: prints to PDF (${pages:-no pages})" test "${pages#/Count }" -ge 2 2>/dev/null
[ -n "${T_SHOT:-}" ] && cp "$T_TMP/dask.png" "$T_SHOT"

CM=(--compare "$T_TMP/A.xft" "$T_TMP/B.xft" --marks-a "$T_TMP/A.log"
	--marks-b "$T_TMP/B.log")
"$XT" report "${CM[@]}" --format json >"$T_TMP/cmp.json" &&
	"$XT" report "${CM[@]}" --format md -o "$T_TMP/cmp.md" &&
	"$XT" report "${CM[@]}" --format html -o "$T_TMP/cmp.html"
t_check "dask: --compare A B in json, md, html" test $? = 0
"${CHROME[@]}" --dump-dom "file://$T_TMP/cmp.html" >"$T_TMP/cmp.dom" 2>/dev/null
check "dask" --compare-json "$T_TMP/cmp.json" --md-compare "$T_TMP/cmp.md" \
	--html "$T_TMP/cmp.html" --dom "$T_TMP/cmp.dom"
t_finish
