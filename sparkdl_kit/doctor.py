"""Environment preflight: versions, known incompatibilities, and what the executors' Python can import.

Run ``python -m sparkdl_kit doctor`` or call :func:`doctor`. It starts no cluster and takes seconds.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import importlib.util
import os
import platform
import re
import shutil
import subprocess
import sys
from typing import Iterable

OK, WARN, FAIL = "ok", "warn", "FAIL"

#: Modules every executor's Python must import for training and data reading.
EXECUTOR_MODULES = ("horovod", "petastorm", "tensorflow")


@dataclasses.dataclass(frozen=True)
class Finding:
    """One line of the preflight: what was checked, what was found, and the fix when it is not ok."""

    check: str
    value: str
    status: str = OK
    fix: str = ""


def doctor(executor_python: str | None = None) -> list[Finding]:
    """Checks this environment and returns the findings (see :func:`render`).

    Args:
        executor_python: the interpreter Spark executors run; by default ``PYSPARK_PYTHON``, or the
            one :func:`sparkdl_kit.get_session` would set (this interpreter).

    Example:
        >>> import sparkdl_kit as sdk
        >>> broken = [f for f in sdk.doctor() if f.status == "FAIL"]   # doctest: +SKIP
    """
    findings = [_python(), _java(), _cores()]
    versions = {name: _version(name) for name in (
        "pyspark", "tensorflow", "tensorflow-cpu", "keras", "horovod", "petastorm", "pyarrow", "numpy")}
    tf_version = versions["tensorflow"] or versions["tensorflow-cpu"]
    findings += [
        _required("Spark (pyspark)", versions["pyspark"], "pip install -c constraints.txt pyspark"),
        _required("TensorFlow", tf_version, "pip install -c constraints.txt tensorflow-cpu"),
        _keras(versions["keras"], tf_version),
        *_horovod(versions["horovod"]),
        _required("Petastorm", versions["petastorm"], "pip install -c constraints.txt petastorm"),
        _pyarrow(versions["pyarrow"], versions["petastorm"], versions["pyspark"]),
        _required("numpy", versions["numpy"], "pip install -c constraints.txt numpy"),
        _executor_python(executor_python),
        *_gpu_conf(),
    ]
    return findings


def render(findings: Iterable[Finding]) -> str:
    """Formats findings as a plain-text table, fixes listed under it."""
    findings = list(findings)
    width = max(len(f.check) for f in findings)
    lines = [f"{'check'.ljust(width)}  status  found", f"{'-' * width}  ------  -----"]
    lines += [f"{f.check.ljust(width)}  {f.status.ljust(6)}  {f.value}" for f in findings]
    fixes = [f for f in findings if f.status != OK and f.fix]
    if fixes:
        lines.append("")
        lines += [f"[{f.status}] {f.check}: {f.fix}" for f in fixes]
    broken = sum(f.status == FAIL for f in findings)
    lines.append("")
    lines.append(f"{broken} problem(s) must be fixed." if broken else "Everything required is in place.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Prints the preflight table; returns 1 when something required is broken."""
    findings = doctor()
    sys.stdout.write(render(findings) + "\n")
    return 1 if any(f.status == FAIL for f in findings) else 0


# --- the checks ----------------------------------------------------------------------------------

def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _major_minor(version: str) -> tuple[int, int]:
    m = re.match(r"(\d+)\.(\d+)", version)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def _required(check: str, version: str | None, fix: str) -> Finding:
    if version is None:
        return Finding(check, "not installed", FAIL, f"{fix}   (or run `make setup`)")
    return Finding(check, version)


def _python() -> Finding:
    v = platform.python_version()
    if sys.version_info[:2] != (3, 11):
        return Finding("Python", v, FAIL, "the pinned stack (TensorFlow 2.15, Horovod 0.28.1) needs Python 3.11")
    return Finding("Python", f"{v} ({sys.executable})")


def _java() -> Finding:
    java = os.path.join(os.environ["JAVA_HOME"], "bin", "java") if os.environ.get("JAVA_HOME") else shutil.which("java")
    if not java or not os.path.exists(java):
        return Finding("Java", "not found", FAIL,
                       "install Java 17 (Debian/Ubuntu: apt-get install openjdk-17-jre-headless) or set JAVA_HOME")
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.SubprocessError) as e:
        return Finding("Java", f"{java} does not run ({e})", FAIL, "install Java 17 or fix JAVA_HOME")
    m = re.search(r'version "(\d+)', out)
    major = int(m.group(1)) if m else 0
    if major != 17:
        return Finding("Java", f"{major or 'unknown'} ({java})", WARN if major in (8, 11) else FAIL,
                       "Spark 3.5 is tested here with Java 17: install openjdk-17 and set JAVA_HOME to it")
    return Finding("Java", f"17 ({java})")


def _cores() -> Finding:
    return Finding("CPU cores", str(os.cpu_count()))


def _keras(keras_version: str | None, tf_version: str | None) -> Finding:
    if keras_version is None:
        return Finding("Keras", "not installed", FAIL, "pip install -c constraints.txt keras==2.15.0")
    if _major_minor(keras_version)[0] >= 3 and not os.environ.get("TF_USE_LEGACY_KERAS"):
        return Finding("Keras", keras_version, FAIL,
                       "Horovod's Keras layer breaks on Keras 3 (horovod issue 4290): "
                       "use tensorflow-cpu==2.15.1 with keras==2.15.0 (constraints.txt)")
    return Finding("Keras", keras_version)


def _horovod(version: str | None) -> list[Finding]:
    if version is None:
        return [Finding("Horovod", "not installed", FAIL,
                        "run `make setup` (compiles horovod[spark]==0.28.1 with TensorFlow and Gloo)")]
    rebuild = ("rebuild it after TensorFlow is installed: HOROVOD_WITH_TENSORFLOW=1 HOROVOD_WITH_GLOO=1 "
               "pip install --no-build-isolation --no-cache-dir --force-reinstall horovod[spark]==0.28.1")
    # Importing horovod.tensorflow pulls in TensorFlow: do it in a child so a crash cannot take us down.
    probe = ("import horovod.tensorflow as h; "
             "print('gloo=%s mpi=%s' % (h.gloo_built(), h.mpi_built()))")
    ok, out = _run_python(sys.executable, probe)
    if not ok:
        return [Finding("Horovod", version),
                Finding("Horovod TensorFlow ops", f"do not load: {out}", FAIL,
                        f"Horovod was built without TensorFlow or against another TensorFlow; {rebuild}")]
    gloo = "gloo=True" in out
    return [Finding("Horovod", version), Finding("Horovod TensorFlow ops", "load"),
            Finding("Horovod Gloo", "built" if gloo else "not built", OK if gloo else FAIL,
                    "" if gloo else rebuild)]


def _pyarrow(version: str | None, petastorm: str | None, pyspark: str | None) -> Finding:
    if version is None:
        return Finding("pyarrow", "not installed", FAIL, "pip install -c constraints.txt pyarrow==10.0.1")
    pa = _major_minor(version)
    if petastorm and pa >= (15, 0):
        return Finding("pyarrow", version, FAIL,
                       "Petastorm 0.13.1 cannot read with pyarrow >= 15 ('pyarrow.filesystem' was removed): "
                       "pip install -c constraints.txt pyarrow==10.0.1")
    if pyspark and _major_minor(pyspark)[0] >= 4 and pa < (18, 0):
        return Finding("pyarrow", version, FAIL,
                       "Spark 4 needs pyarrow >= 18 for its Arrow and pandas paths; the pinned stack is "
                       "Spark 3.5 with pyarrow 10: pip install -c constraints.txt pyspark pyarrow")
    if pa >= (11, 0):
        return Finding("pyarrow", version, WARN, "horovod[spark] 0.28.1 pins pyarrow < 11: use pyarrow==10.0.1")
    return Finding("pyarrow", version)


def _executor_python(executor_python: str | None) -> Finding:
    var = os.environ.get("PYSPARK_PYTHON")
    exe = executor_python or var or sys.executable
    source = "given" if executor_python else ("PYSPARK_PYTHON" if var else "this interpreter, set by get_session()")
    check = "executor Python"
    resolved = shutil.which(exe) or exe
    probe = ("import importlib.util as u, sys; "
             f"missing = [m for m in {EXECUTOR_MODULES!r} if u.find_spec(m) is None]; "
             "print(','.join(missing)); sys.exit(1 if missing else 0)")
    ok, out = _run_python(resolved, probe)
    if ok:
        return Finding(check, f"{resolved} ({source}) imports {', '.join(EXECUTOR_MODULES)}")
    setting = "PYSPARK_PYTHON" if source == "PYSPARK_PYTHON" else "the executor Python"
    what = f"cannot import {out}" if os.path.exists(resolved) else f"does not run ({out})"
    return Finding(check, f"{resolved} ({source}) {what}", FAIL,
                   f"{setting} names an interpreter without the toolkit's stack: executors would fail with "
                   f"ModuleNotFoundError. Set PYSPARK_PYTHON={sys.executable} (the interpreter that has them), "
                   "or install the stack into that interpreter")


def _gpu_conf() -> list[Finding]:
    conf = _spark_conf()
    keys = ("spark.executor.resource.gpu.amount", "spark.task.resource.gpu.amount",
            "spark.executor.resource.gpu.discoveryScript")
    present = {k: conf[k] for k in keys if k in conf}
    if not present:
        return [Finding("GPU resources (Spark conf)", "none set: training runs on CPU")]
    findings = [Finding("GPU resources (Spark conf)", ", ".join(f"{k.split('.', 1)[1]}={v}" for k, v in present.items()))]
    script = present.get("spark.executor.resource.gpu.discoveryScript")
    if script and not os.access(script, os.X_OK):
        findings.append(Finding("GPU discovery script", script, WARN,
                                "the script is not an executable file on this machine; it must be on every executor"))
    return findings


def _spark_conf() -> dict[str, str]:
    """The Spark conf of an active session, else spark-defaults.conf; never starts a JVM."""
    try:
        from pyspark.sql import SparkSession

        active = SparkSession.getActiveSession()
    except ImportError:
        active = None
    if active is not None:
        return dict(active.sparkContext.getConf().getAll())
    conf_dir = os.environ.get("SPARK_CONF_DIR") or (
        os.path.join(os.environ["SPARK_HOME"], "conf") if os.environ.get("SPARK_HOME") else None)
    path = os.path.join(conf_dir, "spark-defaults.conf") if conf_dir else None
    conf: dict[str, str] = {}
    if path and os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                parts = line.strip().split(None, 1)
                if len(parts) == 2 and not parts[0].startswith("#"):
                    conf[parts[0]] = parts[1]
    return conf


def _run_python(exe: str, code: str) -> tuple[bool, str]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    try:
        proc = subprocess.run([exe, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    except (OSError, subprocess.SubprocessError) as e:
        return False, str(e)
    lines = (proc.stdout.strip() or proc.stderr.strip()).splitlines()
    return proc.returncode == 0, lines[-1] if lines else ""
