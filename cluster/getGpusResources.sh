#!/usr/bin/env bash
# GPU discovery script for Spark executors and standalone workers: prints the GPUs nvidia-smi sees,
# in the JSON form Spark reads from spark.{executor,worker}.resource.gpu.discoveryScript:
#   {"name": "gpu", "addresses": ["0", "1"]}
# Install it at the same path on every node (e.g. /opt/sparkdl_kit/getGpusResources.sh), executable.
# On YARN and Kubernetes, where the container already limits the GPUs, the indexes nvidia-smi prints
# inside the container are the right ones. Exits non-zero (so the executor fails to start, with this
# message in its log) when nvidia-smi is missing or sees no GPU.
set -euo pipefail
if ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "getGpusResources.sh: nvidia-smi not found on $(hostname): install the NVIDIA driver, or do not set" \
       "spark.executor.resource.gpu.amount on CPU-only nodes" >&2
  exit 1
fi
indexes=$(nvidia-smi --query-gpu=index --format=csv,noheader | tr -d ' ' | grep -E '^[0-9]+$' || true)
if [ -z "$indexes" ]; then
  echo "getGpusResources.sh: nvidia-smi lists no GPU on $(hostname)" >&2
  exit 1
fi
printf '{"name": "gpu", "addresses": [%s]}\n' "$(printf '"%s"\n' $indexes | paste -sd, - | sed 's/,/, /g')"
