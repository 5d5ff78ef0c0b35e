#!/usr/bin/env bash
# Stops the cluster start.sh started, by the PIDs it recorded (never by name), workers and their
# executors included; removes the fake-GPU worker settings start.sh wrote.
#   cluster/local-standalone/stop.sh [--dir /tmp/sparkdl-standalone]
set -uo pipefail
DIR=${SPARKDL_CLUSTER_DIR:-/tmp/sparkdl-standalone}
case "${1:-}" in
  --dir) DIR=$2 ;;
  -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
  "") ;;
  *) echo "stop.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
esac
[ -f "$DIR/pids" ] || { echo "stop.sh: no cluster recorded in $DIR"; exit 0; }

# spark-class execs the JVM, so a recorded PID is the JVM; its children (executors) go with it.
descendants() { local c; for c in $(pgrep -P "$1" 2>/dev/null); do descendants "$c"; echo "$c"; done; }
pids=()
while read -r _name pid; do
  pids+=($(descendants "$pid") "$pid")
done <"$DIR/pids"
kill "${pids[@]}" 2>/dev/null
for _ in $(seq 1 40); do
  alive=0; for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
  [ $alive = 0 ] && break; sleep 0.25
done
kill -9 "${pids[@]}" 2>/dev/null
rm -f "$DIR/pids" "$DIR/master-url" "$DIR"/worker-*.conf
echo "stop.sh: stopped ${#pids[@]} process(es)"
