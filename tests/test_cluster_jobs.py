"""Real standalone clusters on 127.0.0.1 through spark-submit: fake GPUs, and the ETL -> train -> predict jobs."""

from __future__ import annotations

import json
import re
import urllib.request

import numpy as np
import pandas as pd
import pytest

from support import REPO, run_spark_submit

pytestmark = [pytest.mark.slow, pytest.mark.cluster, pytest.mark.horovod]

#: one task per 1-core executor on each of the two 1-core workers: two Horovod workers on two executors
ONE_TASK_PER_EXECUTOR = {"spark.executor.cores": "1", "spark.task.cpus": "1", "spark.executor.memory": "1g"}


def _last_json(out) -> dict:
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_fake_gpus_reach_worker_context_and_cuda_visible_devices(fake_gpu_cluster):
    state = json.load(urllib.request.urlopen(f"http://127.0.0.1:{fake_gpu_cluster.webui_port}/json/", timeout=10))
    offered = sorted(a for w in state["workers"] for a in w["resources"]["gpu"]["addresses"])
    assert offered == ["0", "1"], state["workers"]

    out = run_spark_submit(REPO / "cluster" / "check_gpus.py", "--num-proc", "2", master=fake_gpu_cluster.master,
                           conf={**ONE_TASK_PER_EXECUTOR, "spark.executor.resource.gpu.amount": "1",
                                 "spark.task.resource.gpu.amount": "1"}, timeout=900)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    summary = _last_json(out)
    assert summary["ok"] is True and summary["problems"] == [] and summary["master"] == fake_gpu_cluster.master
    workers = summary["workers"]
    assert [w["rank"] for w in workers] == [0, 1]
    assert sorted(a for w in workers for a in w["gpus"]) == ["0", "1"]       # one distinct GPU per worker
    for w in workers:
        assert len(w["gpus"]) == 1 and w["cuda_visible_devices"] == w["gpus"][0]
        assert w["tensorflow_gpus"] == 0 and w["tensorflow_sum"] == 16.0      # CPU TensorFlow ignores the pinning
    assert "CUDA_VISIBLE_DEVICES=0" in out.stdout and "CUDA_VISIBLE_DEVICES=1" in out.stdout


def test_etl_train_predict_jobs_on_two_executors(standalone_cluster, tmp_path):
    from sklearn.datasets import load_digits

    digits = load_digits()
    raw = tmp_path / "digits.parquet"
    pd.DataFrame({"id": np.arange(len(digits.target)), "features": list((digits.data / 16.0).astype("float32")),
                  "label": digits.target}).to_parquet(raw)
    dataset, model = f"file://{tmp_path}/dataset", f"file://{tmp_path}/model"

    etl = run_spark_submit(REPO / "jobs" / "etl.py", "--input", f"file://{raw}", "--format", "parquet",
                           "--feature-cols", "features", "--label-col", "label", "--validation", "0.2",
                           "--output", dataset, master=standalone_cluster, conf=ONE_TASK_PER_EXECUTOR, timeout=600)
    assert etl.returncode == 0, etl.stdout[-2000:] + etl.stderr[-4000:]
    rows = {m.group(1): int(m.group(2)) for m in
            (re.search(r"split (\w+)\s+rows=(\d+)", line) for line in etl.stdout.splitlines()) if m}
    assert set(rows) == {"train", "validation"} and sum(rows.values()) == 1797
    assert 0.15 < rows["validation"] / 1797 < 0.25

    train = run_spark_submit(REPO / "jobs" / "train.py", "--dataset", dataset, "--model", "mlp", "--epochs", "8",
                             "--batch-size", "32", "--learning-rate", "0.002", "--num-proc", "2",
                             "--store", f"file://{tmp_path}/runs", "--run-id", "cluster-e2e",
                             "--output-model", model, "--metrics-json", str(tmp_path / "metrics.json"),
                             master=standalone_cluster, conf=ONE_TASK_PER_EXECUTOR, timeout=900)
    assert train.returncode == 0, train.stdout[-2000:] + train.stderr[-4000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["epochs"] == 8 and metrics["run_id"] == "cluster-e2e"
    assert metrics["val_accuracy"] > 0.85, metrics
    assert "[rank 1]" in train.stderr or "[rank 1]" in train.stdout     # both workers ran and reported

    predict = run_spark_submit(REPO / "jobs" / "predict.py", "--model", model, "--input", f"file://{raw}",
                               "--output", f"file://{tmp_path}/predictions", "--keep-cols", "id,label",
                               master=standalone_cluster, conf=ONE_TASK_PER_EXECUTOR, timeout=600)
    assert predict.returncode == 0, predict.stdout[-2000:] + predict.stderr[-4000:]
    assert "summary: rows=1797 " in predict.stdout
    got = pd.read_parquet(tmp_path / "predictions")
    assert len(got) == 1797 and sorted(got["id"]) == list(range(1797))
    assert (got["prediction"] == got["label"]).mean() > 0.85
