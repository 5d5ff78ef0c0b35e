#!/bin/bash
# Databricks cluster init script: installs sparkdl_kit and its pinned stack into the cluster's Python
# on every node (driver and workers) before Spark starts. For Databricks Runtime 15.4 LTS (Spark 3.5,
# Python 3.11), CPU or GPU (ML) runtimes. The runtime's own pyspark is kept.
#
# Upload this file, constraints.txt and a sparkdl_kit wheel (`pip wheel --no-deps .`) to a Unity Catalog
# volume or workspace files, and point cluster.json's init_scripts and spark_env_vars at them:
#   SPARKDL_KIT_WHEEL        the sparkdl_kit wheel
#   SPARKDL_KIT_CONSTRAINTS  the project's constraints.txt
# Horovod is compiled on each node (about 6 minutes on 4 cores); to save that time, build the wheel once
# (`pip wheel --no-build-isolation horovod==0.28.1` with the variables below) and set HOROVOD_WHEEL to it.
set -euo pipefail
PIP=(/databricks/python/bin/pip install --disable-pip-version-check -q)
: "${SPARKDL_KIT_WHEEL:?set SPARKDL_KIT_WHEEL in the cluster's spark_env_vars}"
: "${SPARKDL_KIT_CONSTRAINTS:?set SPARKDL_KIT_CONSTRAINTS in the cluster's spark_env_vars}"

# The runtime brings its own Spark: keep every pin but pyspark's.
grep -v -i '^pyspark==' "$SPARKDL_KIT_CONSTRAINTS" >/tmp/sparkdl-kit-constraints.txt
C=(-c /tmp/sparkdl-kit-constraints.txt)

if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  TF="tensorflow[and-cuda]==2.15.1"; GPU_FLAGS=(HOROVOD_GPU_OPERATIONS=NCCL)
else
  TF="tensorflow-cpu==2.15.1"; GPU_FLAGS=()
fi
"${PIP[@]}" "${C[@]}" cmake "$TF" keras petastorm pyarrow numpy pandas h5py fsspec cloudpickle

if [ -n "${HOROVOD_WHEEL:-}" ]; then
  "${PIP[@]}" "${C[@]}" --no-deps "$HOROVOD_WHEEL"
else
  env HOROVOD_WITH_TENSORFLOW=1 HOROVOD_WITH_GLOO=1 HOROVOD_WITHOUT_MPI=1 HOROVOD_WITHOUT_PYTORCH=1 \
      HOROVOD_WITHOUT_MXNET=1 "${GPU_FLAGS[@]}" MAKEFLAGS="-j$(nproc)" \
    "${PIP[@]}" "${C[@]}" --no-build-isolation horovod==0.28.1
fi
"${PIP[@]}" "${C[@]}" --no-deps "$SPARKDL_KIT_WHEEL"
/databricks/python/bin/python -c 'import horovod.tensorflow as h, petastorm, sparkdl_kit, tensorflow as tf
assert h.gloo_built(), "Horovod was built without Gloo"
print("sparkdl_kit stack ready: tensorflow", tf.__version__)'
