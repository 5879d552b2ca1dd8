#!/usr/bin/env bash
# The 30-minute soak (issue 14): icegrt serve on the default model, then loadtests.soak at 80% of the
# streaming capacity measured first (closed loop at c=16 for 60 s), with malformed, slow and
# disconnecting clients beside it; then the figure. Run from the repository root on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/../../.."
R=loadtests/results/soak-30min-2026-12-06
PORT=${PORT:-8077}
DATA=$(mktemp -d)
.venv/bin/icegrt serve --model SmolLM2-135M-Instruct --api-key soak-key --port "$PORT" --data-dir "$DATA" \
  > "$R/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$DATA"' EXIT
until curl -sf "http://127.0.0.1:$PORT/ready" >/dev/null; do
  kill -0 $SERVER || { echo "server exited; see $R/server.log"; exit 1; }
  sleep 2
done
set +e
.venv/bin/python -m loadtests.soak --base-url "http://127.0.0.1:$PORT" --api-key soak-key --server-pid $SERVER \
  --duration 1800 --window-s 30 --calibrate-s 60 --calibrate-concurrency 16 --out "$R/soak.json"
code=$?
set -e
.venv/bin/python -m loadtests.soak_plot "$R/soak.json"
echo "server log: $(grep -c Traceback "$R/server.log") tracebacks, $(grep -c ' 500 \|"status": 500' "$R/server.log") 500s"
exit $code
