#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# deploy/: the DaemonSet manifest grants what the binary needs (mounts,
# capabilities, port) and the Dockerfile's runtime stage carries every
# library the binary links (tests/check_deploy.py).
. "$(dirname "$0")/lib.sh"
[ -x "$XT" ] || { t_fail "no $XT (run make)"; t_finish; }
$PY -c 'import yaml' 2>/dev/null || { t_fail "python3-yaml is needed (tools/deps.sh)"; t_finish; }
t_checker "" $PY "$XT_ROOT/tests/check_deploy.py" "$XT_ROOT" "$XT"
t_finish
