#!/usr/bin/env bash
# YARN: submits a sparkdl_kit job with the Python environment shipped as an archive, so the cluster
# nodes need no Python packages installed. Run from the repository root on a host with the Hadoop
# client configured (HADOOP_CONF_DIR):
#
#   cluster/yarn/submit.sh jobs/train.py --dataset hdfs:///data/digits --num-proc 4 \
#       --store hdfs:///user/$USER/sparkdl_kit/runs --output-model hdfs:///user/$USER/models/digits
#
# Environment: VENV (default .venv), ENV_ARCHIVE (default sparkdl_kit_env.tar.gz, packed once with
# venv-pack and reused), EXECUTORS (2), EXECUTOR_CORES (4), TASK_CPUS (4: one Horovod worker per executor),
# EXECUTOR_MEMORY (16g), GPUS_PER_EXECUTOR (0; 1 or more schedules yarn.io/gpu and ships
# cluster/getGpusResources.sh), DEPLOY_MODE (cluster).
# venv-pack keeps a link to the base interpreter: the nodes need Python 3.11 at the same path as here
# (else pack a conda environment with conda-pack the same way). The dataset and the run store must be
# hdfs:// (or another shared) URLs.
set -euo pipefail
[ $# -ge 1 ] || { sed -n '2,15p' "$0"; exit 2; }
JOB=$1; shift
VENV=${VENV:-.venv} ENV_ARCHIVE=${ENV_ARCHIVE:-sparkdl_kit_env.tar.gz}
EXECUTORS=${EXECUTORS:-2} EXECUTOR_CORES=${EXECUTOR_CORES:-4} TASK_CPUS=${TASK_CPUS:-4}
EXECUTOR_MEMORY=${EXECUTOR_MEMORY:-16g} GPUS_PER_EXECUTOR=${GPUS_PER_EXECUTOR:-0} DEPLOY_MODE=${DEPLOY_MODE:-cluster}
CLUSTER_DIR=$(cd "$(dirname "$0")/.." && pwd)

if [ ! -f "$ENV_ARCHIVE" ]; then   # sparkdl_kit itself is installed editable: it travels as a zip instead
  "$VENV/bin/python" -m pip install -q venv-pack
  "$VENV/bin/venv-pack" -p "$VENV" -o "$ENV_ARCHIVE" --ignore-editable-packages
fi
(cd "$CLUSTER_DIR/.." && rm -f /tmp/sparkdl_kit.zip && zip -qr /tmp/sparkdl_kit.zip sparkdl_kit -x '*/__pycache__/*')

DRIVER_CONF=()   # client mode: the driver runs here, with the local environment
[ "$DEPLOY_MODE" = client ] && DRIVER_CONF=(--conf "spark.pyspark.driver.python=$VENV/bin/python")
GPU_CONF=()
if [ "$GPUS_PER_EXECUTOR" -gt 0 ]; then
  GPU_CONF=(--files "$CLUSTER_DIR/getGpusResources.sh"
            --conf "spark.executor.resource.gpu.amount=$GPUS_PER_EXECUTOR"
            --conf spark.executor.resource.gpu.discoveryScript=./getGpusResources.sh
            --conf spark.task.resource.gpu.amount=1)
fi

exec spark-submit --master yarn --deploy-mode "$DEPLOY_MODE" \
  --archives "$ENV_ARCHIVE#environment" \
  --py-files /tmp/sparkdl_kit.zip \
  --conf spark.pyspark.python=./environment/bin/python \
  --conf spark.yarn.appMasterEnv.PYSPARK_PYTHON=./environment/bin/python \
  --conf spark.executorEnv.TF_CPP_MIN_LOG_LEVEL=2 \
  --num-executors "$EXECUTORS" --executor-cores "$EXECUTOR_CORES" --executor-memory "$EXECUTOR_MEMORY" \
  --conf "spark.task.cpus=$TASK_CPUS" \
  --conf spark.dynamicAllocation.enabled=false --conf spark.speculation=false \
  "${DRIVER_CONF[@]}" "${GPU_CONF[@]}" \
  "$JOB" "$@"
