#!/usr/bin/env bash
# A GPU discovery script for machines without GPUs (tests of GPU scheduling): prints the addresses in
# $SPARKDL_FAKE_GPU_ADDRESSES (comma-separated, e.g. "0,1"; default "0") in the JSON form Spark
# expects from spark.{worker,executor}.resource.gpu.discoveryScript:
#   {"name": "gpu", "addresses": ["0", "1"]}
# start.sh --fake-gpus-per-worker K sets the variable for each worker. TensorFlow on CPU ignores
# the CUDA_VISIBLE_DEVICES these addresses end up in. For real GPUs use cluster/getGpusResources.sh.
set -euo pipefail
IFS=, read -r -a addresses <<<"${SPARKDL_FAKE_GPU_ADDRESSES:-0}"
printf '{"name": "gpu", "addresses": ['
sep=""
for a in "${addresses[@]}"; do printf '%s"%s"' "$sep" "$a"; sep=", "; done
printf ']}\n'
