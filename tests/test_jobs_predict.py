"""jobs/predict.py through spark-submit on a local master: a saved KerasModel, a plain Keras file, images, bad input."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import sparkdl_kit as sdk
from support import REPO, python_env, run_spark_submit
from test_inference_models import classifier, image_model, rows

JOB = REPO / "jobs" / "predict.py"


def test_help():
    out = subprocess.run([sys.executable, str(JOB), "--help"], capture_output=True, text=True, env=python_env())
    assert out.returncode == 0
    for flag in ("--model", "--input", "--format", "--output", "--output-format", "--feature-cols", "--keep-cols"):
        assert flag in out.stdout


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    folder = tmp_path_factory.mktemp("predict_job")
    x = rows(120, seed=8)
    pd.DataFrame({"id": np.arange(len(x)), "features": list(x), "extra": 1.5}).to_parquet(folder / "rows.parquet")
    model = classifier()
    sdk.KerasModel(model, ["features"], "label", ["a", "b", "c"]).save(str(folder / "saved"))
    model.save(folder / "plain.keras")
    return folder, x, model.predict(x, verbose=0)


@pytest.mark.slow
def test_saved_model_to_parquet_and_plain_keras_to_csv(table):
    folder, x, expected = table
    done = run_spark_submit(JOB, "--model", f"file://{folder}/saved", "--input", str(folder / "rows.parquet"),
                            "--output", str(folder / "out"), "--keep-cols", "id")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "summary: rows=120 " in done.stdout and "rows/s=" in done.stdout
    got = pd.read_parquet(folder / "out").sort_values("id")
    assert list(got.columns) == ["id", "prediction", "probability"]
    np.testing.assert_allclose(np.stack(got["probability"]), expected, rtol=1e-5, atol=1e-6)

    done = run_spark_submit(JOB, "--model", str(folder / "plain.keras"), "--input", str(folder / "rows.parquet"),
                            "--output", str(folder / "out.csv"), "--output-format", "csv", "--feature-cols",
                            "features", "--probability-col", "", "--prediction-col", "cls")
    assert done.returncode == 0, done.stderr[-3000:]
    got = pd.concat(pd.read_csv(p) for p in sorted((folder / "out.csv").glob("part-*.csv"))).sort_values("id")
    assert list(got.columns) == ["id", "features", "extra", "cls"]
    assert (got["cls"].to_numpy() == expected.argmax(1)).all()


@pytest.mark.slow
def test_image_folder(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(9)
    for i in range(4):
        Image.fromarray(rng.integers(0, 255, (12, 10, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    (tmp_path / "bad.png").write_bytes(b"nope")
    image_model().save(tmp_path / "img.keras")
    args = ["--model", str(tmp_path / "img.keras"), "--input", str(tmp_path), "--format", "images",
            "--output", str(tmp_path / "out")]
    failed = run_spark_submit(JOB, *args)
    said = failed.stdout + failed.stderr
    assert failed.returncode == 2 and "DataError" in said and "bad.png" in said
    done = run_spark_submit(JOB, *args, "--handle-invalid", "skip", "--overwrite")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "invalid rows (skip): 1" in done.stdout and "summary: rows=4 " in done.stdout
    assert list(pd.read_parquet(tmp_path / "out").columns) == ["path", "prediction", "probability"]


@pytest.mark.slow
def test_missing_model_path(table):
    folder, _, _ = table
    common = ["--input", str(folder / "rows.parquet"), "--output", str(folder / "never")]
    done = run_spark_submit(JOB, "--model", str(folder / "missing.keras"), "--feature-cols", "features", *common)
    said = done.stdout + done.stderr
    assert done.returncode == 2 and "DatasetNotFoundError" in said and "missing.keras" in said
    assert not (folder / "never").exists()
