#!/usr/bin/env bash
# Starts a real Spark standalone cluster on 127.0.0.1 from the installed pyspark package:
# one master and N workers, each a separate JVM. Records their PIDs for stop.sh.
#
#   cluster/local-standalone/start.sh [--workers 2] [--cores 1] [--memory 2g] [--port 7077]
#                                     [--webui-port 8080] [--dir /tmp/sparkdl-standalone]
#                                     [--fake-gpus-per-worker 0]
#
# --fake-gpus-per-worker K gives each worker K GPU addresses of its own (worker 1: 0..K-1,
# worker 2: K..2K-1, ...) through cluster/local-standalone/fake-gpus.sh, to test GPU scheduling
# on a machine without GPUs: submit with spark.executor.resource.gpu.amount and
# spark.task.resource.gpu.amount. Prints the master URL (spark://127.0.0.1:PORT) on its last line.
# Uses the Python on PATH (or $PYTHON) to find pyspark; executors use PYSPARK_PYTHON given to
# spark-submit/the driver.
set -euo pipefail

WORKERS=2 CORES=1 MEMORY=2g PORT=7077 WEBUI_PORT=8080 FAKE_GPUS=0
DIR=${SPARKDL_CLUSTER_DIR:-/tmp/sparkdl-standalone}
while [ $# -gt 0 ]; do
  case "$1" in
    --workers) WORKERS=$2; shift 2 ;;
    --cores) CORES=$2; shift 2 ;;
    --memory) MEMORY=$2; shift 2 ;;
    --port) PORT=$2; shift 2 ;;
    --webui-port) WEBUI_PORT=$2; shift 2 ;;
    --dir) DIR=$2; shift 2 ;;
    --fake-gpus-per-worker) FAKE_GPUS=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "start.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

for pair in "--workers $WORKERS" "--cores $CORES" "--fake-gpus-per-worker $FAKE_GPUS"; do
  set -- $pair
  case "$2" in
    ''|*[!0-9]*) echo "start.sh: $1 '$2': expected a whole number" >&2; exit 2 ;;
  esac
done
[ "$WORKERS" -ge 1 ] && [ "$CORES" -ge 1 ] || { echo "start.sh: --workers and --cores must be at least 1" >&2; exit 2; }
if ! [[ "$MEMORY" =~ ^[1-9][0-9]*[mMgG]$ ]]; then
  echo "start.sh: --memory '$MEMORY': expected a size such as 512m or 2g" >&2; exit 2
fi

PYTHON=${PYTHON:-python}
SPARK_HOME=${SPARK_HOME:-$("$PYTHON" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')}
export SPARK_HOME SPARK_LOCAL_IP=127.0.0.1 SPARK_MASTER_HOST=127.0.0.1
if [ -f "$DIR/pids" ]; then
  echo "start.sh: $DIR/pids exists: a cluster may be running. Run stop.sh --dir $DIR first." >&2
  exit 1
fi
mkdir -p "$DIR/logs" "$DIR/work"
MASTER="spark://127.0.0.1:$PORT"

wait_for() {  # wait_for SECONDS MIN_ALIVE_WORKERS: polls the master's JSON status page
  "$PYTHON" - "$1" "$2" <<'PY'
import json, os, sys, time, urllib.request
deadline, want = time.time() + float(sys.argv[1]), int(sys.argv[2])
url = "http://127.0.0.1:%s/json/" % os.environ["WEBUI_PORT"]
while time.time() < deadline:
    try:
        state = json.load(urllib.request.urlopen(url, timeout=2))
        alive = [w for w in state.get("workers", []) if w.get("state") == "ALIVE"]
        if state.get("status") == "ALIVE" and len(alive) >= want:
            sys.exit(0)
    except (OSError, ValueError):
        pass
    time.sleep(0.5)
sys.exit(1)
PY
}
export WEBUI_PORT

nohup "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.master.Master \
  --host 127.0.0.1 --port "$PORT" --webui-port "$WEBUI_PORT" >"$DIR/logs/master.log" 2>&1 &
echo "master $!" >"$DIR/pids"
if ! wait_for 60 0; then
  echo "start.sh: the master did not come up within 60 s; see $DIR/logs/master.log" >&2
  exit 1
fi

HERE=$(cd "$(dirname "$0")" && pwd)
for i in $(seq 1 "$WORKERS"); do
  props=()
  if [ "$FAKE_GPUS" -gt 0 ]; then  # the worker's own GPU addresses, read by fake-gpus.sh from the environment
    first=$(( (i - 1) * FAKE_GPUS ))
    export SPARKDL_FAKE_GPU_ADDRESSES=$(seq -s, "$first" $(( first + FAKE_GPUS - 1 )))
    { echo "spark.worker.resource.gpu.amount $FAKE_GPUS"
      echo "spark.worker.resource.gpu.discoveryScript $HERE/fake-gpus.sh"; } >"$DIR/worker-$i.conf"
    props=(--properties-file "$DIR/worker-$i.conf")
  fi
  SPARK_WORKER_DIR="$DIR/work/worker-$i" nohup "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.worker.Worker \
    --host 127.0.0.1 --cores "$CORES" --memory "$MEMORY" --webui-port 0 "${props[@]}" \
    --work-dir "$DIR/work/worker-$i" "$MASTER" >"$DIR/logs/worker-$i.log" 2>&1 &
  echo "worker-$i $!" >>"$DIR/pids"
done
if ! wait_for 90 "$WORKERS"; then
  echo "start.sh: $WORKERS worker(s) did not register within 90 s; see $DIR/logs/" >&2
  exit 1
fi
echo "$MASTER" >"$DIR/master-url"
echo "$MASTER"
