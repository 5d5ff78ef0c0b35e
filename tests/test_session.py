import json
import os
import subprocess
import sys

from support import python_env, run_spark_submit

SESSION_PROBE = """
import json, os, sys
import sparkdl_kit as sdk
spark = sdk.get_session("probe", conf={"spark.ui.enabled": "false"})
print(json.dumps({
    "master": spark.sparkContext.master,
    "arrow": spark.conf.get("spark.sql.execution.arrow.pyspark.enabled"),
    "pyspark_python": os.environ.get("PYSPARK_PYTHON"),
    "executable": sys.executable,
    "worker_python": spark.sparkContext.parallelize([0], 1).map(lambda _: __import__("sys").executable).first(),
}))
spark.stop()
"""


def _last_json(text):
    return json.loads(text.strip().splitlines()[-1])


def test_get_session_defaults_to_local_cores_this_python_and_arrow(tmp_path):
    env = python_env()
    env.pop("PYSPARK_PYTHON")
    env.pop("PYSPARK_DRIVER_PYTHON")
    out = subprocess.run([sys.executable, "-c", SESSION_PROBE], capture_output=True, text=True,
                         timeout=300, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    found = _last_json(out.stdout)
    assert found["master"] == f"local[{os.cpu_count()}]"
    assert found["arrow"] == "true"
    assert found["pyspark_python"] == sys.executable
    assert found["worker_python"] == sys.executable


def test_get_session_under_spark_submit_keeps_master_and_conf(tmp_path):
    script = tmp_path / "probe.py"
    script.write_text(SESSION_PROBE)
    out = run_spark_submit(script, master="local[1]",
                           conf={"spark.sql.execution.arrow.pyspark.enabled": "false"}, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    found = _last_json(out.stdout)
    assert found["master"] == "local[1]"
    assert found["arrow"] == "false"


def test_get_session_returns_the_running_session_with_its_settings(spark):
    import sparkdl_kit as sdk

    assert sdk.get_session() is spark
    assert spark.conf.get("spark.sql.execution.arrow.pyspark.enabled") == "true"
    assert spark.sparkContext.getConf().get("spark.ui.enabled") == "false"
