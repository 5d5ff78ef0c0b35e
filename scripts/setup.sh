#!/usr/bin/env bash
# Builds the project's environment in .venv/ on a fresh machine; a second run takes seconds.
#   1. Python 3.11 and Java 17 (installs an OpenJDK 17 runtime through apt when root);
#   2. .venv/ with the pinned stack from constraints.txt;
#   3. Horovod compiled against that TensorFlow, with Gloo, without build isolation;
#   4. sparkdl_kit in editable mode with its test and notebook extras.
# A failure before the environment is complete removes the half-made .venv/.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
STAMP="$VENV/.setup-complete"
PYTHON="${PYTHON:-python3.11}"

die() { echo "setup: $*" >&2; exit 1; }

# --- Python 3.11 -----------------------------------------------------------------------------
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
command -v "$PYTHON" >/dev/null 2>&1 || die "no Python found. Install Python 3.11 and rerun, or set PYTHON=/path/to/python3.11."
pyver=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
[ "$pyver" = "3.11" ] || die "$PYTHON is Python $pyver; the stack (TensorFlow 2.15, Horovod 0.28.1) needs Python 3.11. Install it and rerun with PYTHON=/path/to/python3.11."

# --- Java 17 ---------------------------------------------------------------------------------
java_major() { "$1" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1; }
find_java17() {
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ] && [ "$(java_major "$JAVA_HOME/bin/java")" = 17 ]; then
    echo "$JAVA_HOME/bin/java"; return
  fi
  if command -v java >/dev/null 2>&1 && [ "$(java_major java)" = 17 ]; then command -v java; return; fi
  for j in "${SETUP_JVM_DIRS:-/usr/lib/jvm}"/*17*/bin/java; do [ -x "$j" ] && { echo "$j"; return; }; done
}
JAVA=$(find_java17 || true)
if [ -z "$JAVA" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: Java 17 not found; installing openjdk-17-jre-headless through apt"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless procps >/dev/null
    JAVA=$(find_java17 || true)
  fi
  [ -n "$JAVA" ] || die "Java 17 is required by Spark 3.5 and was not found. Install it (Debian/Ubuntu: sudo apt-get install openjdk-17-jre-headless) or set JAVA_HOME to a Java 17, then rerun."
fi

# --- The environment -------------------------------------------------------------------------
inputs_hash=$(cat constraints.txt setup.cfg pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$inputs_hash" ] && [ -x "$VENV/bin/python" ]; then
  echo "setup: .venv is up to date (Python $pyver, $("$JAVA" -version 2>&1 | head -n1))"
  exit 0
fi

fresh=0
[ -d "$VENV" ] || fresh=1
cleanup() { [ "$fresh" = 1 ] && [ ! -f "$STAMP" ] && rm -rf "$VENV"; }
trap 'status=$?; [ $status -ne 0 ] && { cleanup; echo "setup: failed (exit $status); see the messages above" >&2; }; exit $status' EXIT

start=$(date +%s)
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
export PATH="$PWD/$VENV/bin:$PATH"

echo "setup: installing the pinned stack (constraints.txt)"
"${PIP[@]}" install -q -c constraints.txt pip==24.3.1 wheel setuptools cmake
"${PIP[@]}" install -q -c constraints.txt tensorflow-cpu keras numpy pyarrow pandas pyspark petastorm \
  scikit-learn protobuf cloudpickle

if ! "$VENV/bin/python" -c 'import horovod.tensorflow as h; assert h.gloo_built()' >/dev/null 2>&1; then
  echo "setup: building Horovod 0.28.1 with TensorFlow and Gloo (about 6 minutes the first time; pip keeps the wheel)"
  HOROVOD_WITH_TENSORFLOW=1 HOROVOD_WITH_GLOO=1 HOROVOD_WITHOUT_MPI=1 \
  HOROVOD_WITHOUT_PYTORCH=1 HOROVOD_WITHOUT_MXNET=1 MAKEFLAGS="-j$(nproc)" \
    "${PIP[@]}" install -q --no-build-isolation -c constraints.txt "horovod[spark]"
fi

echo "setup: installing sparkdl_kit (editable) with its test and notebook extras"
"${PIP[@]}" install -q -c constraints.txt --no-build-isolation -e ".[test,notebooks]"

"$VENV/bin/python" -c 'import horovod.tensorflow as h, petastorm, pyspark, tensorflow; assert h.gloo_built()'
echo "$inputs_hash" > "$STAMP"
echo "setup: done in $(( $(date +%s) - start )) s"
