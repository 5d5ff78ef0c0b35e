"""cluster/: the scripts and templates parse, say what they should, and fail with a reason on bad input."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import stat
import subprocess

import pytest
import yaml

from support import REPO, python_env

CLUSTER = REPO / "cluster"
SCRIPTS = sorted(CLUSTER.rglob("*.sh"))
GPU_KEYS = ("spark.executor.resource.gpu.amount", "spark.executor.resource.gpu.discoveryScript",
            "spark.task.resource.gpu.amount")


def _conf(path) -> dict[str, str]:
    """A spark-defaults.conf file as a dict (the format Spark reads: key, whitespace, value; # comments)."""
    pairs = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, value = re.split(r"\s+", line, maxsplit=1)
            pairs[key] = value
    return pairs


def _check_gpus_module():
    spec = importlib.util.spec_from_file_location("check_gpus", CLUSTER / "check_gpus.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(CLUSTER)))
def test_shell_scripts_parse_and_are_executable(script):
    checked = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    assert os.stat(script).st_mode & stat.S_IXUSR, f"{script} is not executable"


def test_gpu_defaults_schedule_one_gpu_per_task_with_the_discovery_script():
    conf = _conf(CLUSTER / "spark-defaults.gpu.conf")
    assert all(key in conf for key in GPU_KEYS)
    assert conf["spark.task.resource.gpu.amount"] == "1"
    assert conf["spark.executor.resource.gpu.discoveryScript"].endswith("/getGpusResources.sh")
    assert conf["spark.worker.resource.gpu.discoveryScript"].endswith("/getGpusResources.sh")
    assert conf["spark.dynamicAllocation.enabled"] == "false"
    cpu = _conf(CLUSTER / "spark-defaults.cpu.conf")
    assert not any("resource.gpu" in key for key in cpu) and cpu["spark.task.cpus"] == "4"


def test_discovery_script_reports_the_gpus_nvidia_smi_lists(tmp_path):
    # nvidia-smi does not exist on this machine: a stand-in prints what the real one prints for
    # `--query-gpu=index --format=csv,noheader` on a 2-GPU node.
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\nprintf '0\\n1\\n'\n")
    fake.chmod(0o755)
    env = dict(os.environ, PATH=f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    found = subprocess.run([str(CLUSTER / "getGpusResources.sh")], capture_output=True, text=True, env=env)
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout) == {"name": "gpu", "addresses": ["0", "1"]}

    fake.write_text("#!/bin/sh\nexit 0\n")
    none = subprocess.run([str(CLUSTER / "getGpusResources.sh")], capture_output=True, text=True, env=env)
    assert none.returncode == 1 and "nvidia-smi lists no GPU" in none.stderr


def test_discovery_script_without_nvidia_smi_says_what_to_do():
    env = dict(os.environ, PATH="/usr/bin:/bin")
    missing = subprocess.run([str(CLUSTER / "getGpusResources.sh")], capture_output=True, text=True, env=env)
    assert missing.returncode == 1
    assert "nvidia-smi not found" in missing.stderr and "spark.executor.resource.gpu.amount" in missing.stderr


def test_fake_gpu_script_prints_the_addresses_it_is_given():
    script = str(CLUSTER / "local-standalone" / "fake-gpus.sh")
    two = subprocess.run([script], capture_output=True, text=True,
                         env=dict(os.environ, SPARKDL_FAKE_GPU_ADDRESSES="2,3"))
    assert json.loads(two.stdout) == {"name": "gpu", "addresses": ["2", "3"]}
    default = subprocess.run([script], capture_output=True, text=True,
                             env={k: v for k, v in os.environ.items() if k != "SPARKDL_FAKE_GPU_ADDRESSES"})
    assert json.loads(default.stdout) == {"name": "gpu", "addresses": ["0"]}


@pytest.mark.parametrize("args, message", [
    (["--workers", "two"], "--workers 'two': expected a whole number"),
    (["--fake-gpus-per-worker", "-1"], "--fake-gpus-per-worker '-1': expected a whole number"),
    (["--cores", "0"], "--workers and --cores must be at least 1"),
    (["--memory", "2GB"], "--memory '2GB': expected a size such as 512m or 2g"),
    (["--nodes", "2"], "unknown option '--nodes'"),
])
def test_start_script_refuses_bad_options_before_starting_anything(tmp_path, args, message):
    out = subprocess.run(["bash", str(CLUSTER / "local-standalone" / "start.sh"), "--dir", str(tmp_path), *args],
                         capture_output=True, text=True, env=python_env(), timeout=60)
    assert out.returncode == 2 and message in out.stderr
    assert not (tmp_path / "pids").exists()


def test_stop_script_without_a_cluster_and_with_a_bad_option(tmp_path):
    stop = str(CLUSTER / "local-standalone" / "stop.sh")
    none = subprocess.run(["bash", stop, "--dir", str(tmp_path)], capture_output=True, text=True)
    assert none.returncode == 0 and f"no cluster recorded in {tmp_path}" in none.stdout
    bad = subprocess.run(["bash", stop, "--now"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown option '--now'" in bad.stderr


@pytest.mark.parametrize("name", ["cluster-gpu.json", "cluster-cpu.json"])
def test_databricks_cluster_specs_run_the_init_script_on_runtime_15_4(name):
    spec = json.loads((CLUSTER / "databricks" / name).read_text())
    assert spec["spark_version"].startswith("15.4.")           # Spark 3.5 and Python 3.11
    assert spec["init_scripts"][0]["volumes"]["destination"].endswith("/init-sparkdl-kit.sh")
    assert {"SPARKDL_KIT_WHEEL", "SPARKDL_KIT_CONSTRAINTS"} <= set(spec["spark_env_vars"])
    assert spec["spark_conf"]["spark.dynamicAllocation.enabled"] == "false"
    assert ("gpu" in spec["spark_version"]) == ("spark.task.resource.gpu.amount" in spec["spark_conf"])


def test_databricks_init_script_installs_the_pinned_stack_but_keeps_the_runtime_spark(tmp_path):
    text = (CLUSTER / "databricks" / "init-sparkdl-kit.sh").read_text()
    assert "horovod==0.28.1" in text and "tensorflow[and-cuda]==2.15.1" in text and "tensorflow-cpu==2.15.1" in text
    assert "HOROVOD_WITH_GLOO=1" in text and "--no-build-isolation" in text
    # the line that drops pyspark's pin, run on the real constraints file
    drop = re.search(r"^grep -v -i '\^pyspark==' .*$", text, re.M)
    assert drop, "the init script must keep the runtime's pyspark"
    kept = subprocess.run(["grep", "-v", "-i", "^pyspark==", str(REPO / "constraints.txt")],
                          capture_output=True, text=True).stdout
    assert "pyspark==" not in kept and "horovod==0.28.1" in kept and "pyarrow==10.0.1" in kept


def test_kubernetes_application_gives_each_executor_a_gpu_and_runs_a_job_of_this_repo():
    app = yaml.safe_load((CLUSTER / "kubernetes" / "sparkapplication-train.yaml").read_text())
    assert app["apiVersion"] == "sparkoperator.k8s.io/v1beta2" and app["kind"] == "SparkApplication"
    spec = app["spec"]
    assert spec["type"] == "Python" and spec["sparkVersion"].startswith("3.5")
    job = spec["mainApplicationFile"].split("/opt/sparkdl_kit/", 1)[1]
    assert (REPO / job).is_file()
    assert spec["executor"]["gpu"] == {"name": "nvidia.com/gpu", "quantity": 1}
    assert all(key in spec["sparkConf"] for key in GPU_KEYS)
    num_proc = int(spec["arguments"][spec["arguments"].index("--num-proc") + 1])
    assert num_proc <= spec["executor"]["instances"] * spec["executor"]["gpu"]["quantity"]


def test_yarn_submit_without_a_job_prints_its_usage():
    out = subprocess.run(["bash", str(CLUSTER / "yarn" / "submit.sh")], capture_output=True, text=True)
    assert out.returncode == 2
    assert "cluster/yarn/submit.sh jobs/train.py" in out.stdout and "venv-pack" in out.stdout


def test_check_gpus_names_what_is_wrong():
    check = _check_gpus_module()
    good = [{"rank": 0, "host": "a", "gpus": ["0"], "cuda_visible_devices": "0"},
            {"rank": 1, "host": "a", "gpus": ["1"], "cuda_visible_devices": "1"}]
    assert check.problems(good) == []
    bad = [{"rank": 0, "host": "a", "gpus": [], "cuda_visible_devices": None},
           {"rank": 1, "host": "b", "gpus": ["0"], "cuda_visible_devices": "0"},
           {"rank": 2, "host": "b", "gpus": ["0"], "cuda_visible_devices": "3"}]
    said = check.problems(bad)
    assert said[0].startswith("rank 0 on a holds no GPU: set spark.executor.resource.gpu.amount")
    assert "rank 2: CUDA_VISIBLE_DEVICES='3', expected '0'" in said
    assert "ranks 1 and 2 share GPU 0 on b" in said


def test_readme_names_every_template():
    readme = (CLUSTER / "README.md").read_text()
    files = [p for p in CLUSTER.rglob("*") if p.is_file() and p.name != "README.md" and "__pycache__" not in p.parts]
    missing = [str(p.relative_to(CLUSTER)) for p in files if str(p.relative_to(CLUSTER)) not in readme]
    assert not missing, f"cluster/README.md does not mention {missing}"
