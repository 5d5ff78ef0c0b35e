import subprocess
import sys
import venv

import pytest

import sparkdl_kit as sdk
from sparkdl_kit.doctor import FAIL, OK, Finding, _keras, _pyarrow, render
from support import python_env


def test_doctor_finds_the_pinned_stack_healthy():
    findings = sdk.doctor()
    by_check = {f.check: f for f in findings}
    assert [f for f in findings if f.status == FAIL] == []
    for check in ("Python", "Java", "Spark (pyspark)", "TensorFlow", "Keras", "Horovod",
                  "Horovod TensorFlow ops", "Horovod Gloo", "Petastorm", "pyarrow", "numpy",
                  "CPU cores", "executor Python", "GPU resources (Spark conf)"):
        assert check in by_check, check
    assert by_check["pyarrow"].value == "10.0.1"
    assert by_check["Horovod Gloo"].value == "built"
    assert by_check["Keras"].value.startswith("2.15")


def test_doctor_cli_prints_a_table_and_exits_zero():
    out = subprocess.run([sys.executable, "-m", "sparkdl_kit", "doctor"], capture_output=True, text=True,
                         timeout=120, env=python_env())
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Horovod Gloo" in out.stdout and "Everything required is in place." in out.stdout


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory):
    """A real interpreter without the stack: a fresh virtual environment with nothing installed."""
    where = tmp_path_factory.mktemp("bare-venv")
    venv.EnvBuilder(with_pip=False).create(where)
    return str(where / "bin" / "python")


def test_doctor_fails_when_executor_python_cannot_import_horovod(bare_python):
    out = subprocess.run([sys.executable, "-m", "sparkdl_kit", "doctor"], capture_output=True, text=True,
                         timeout=120, env=python_env(PYSPARK_PYTHON=bare_python))
    assert out.returncode == 1
    assert "cannot import horovod,petastorm,tensorflow" in out.stdout
    assert f"Set PYSPARK_PYTHON={sys.executable}" in out.stdout
    assert "PYSPARK_PYTHON names an interpreter without the toolkit's stack" in out.stdout


def test_render_lists_fixes_under_the_table():
    text = render([Finding("pyarrow", "16.0.0", FAIL, "use pyarrow 10"), Finding("numpy", "1.26.4", OK)])
    assert "[FAIL] pyarrow: use pyarrow 10" in text
    assert "1 problem(s) must be fixed." in text


@pytest.mark.parametrize("pyarrow, petastorm, pyspark, fix", [
    ("16.0.0", "0.13.1", "3.5.9", "Petastorm 0.13.1 cannot read with pyarrow >= 15"),
    ("15.0.2", "0.13.1", "3.5.9", "Petastorm 0.13.1 cannot read with pyarrow >= 15"),
    ("14.0.1", None, "4.0.1", "Spark 4 needs pyarrow >= 18"),
])
def test_known_incompatibilities_are_flagged_with_the_fix(pyarrow, petastorm, pyspark, fix):
    finding = _pyarrow(pyarrow, petastorm, pyspark)
    assert finding.status == FAIL and fix in finding.fix and "constraints.txt" in finding.fix


def test_keras_3_with_horovod_is_flagged(monkeypatch):
    monkeypatch.delenv("TF_USE_LEGACY_KERAS", raising=False)
    finding = _keras("3.3.3", "2.16.1")
    assert finding.status == FAIL and "horovod issue 4290" in finding.fix
    assert _keras("2.15.0", "2.15.1").status == OK
