"""jobs/etl.py through spark-submit on a local master: a CSV, a folder of images, and bad input."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import sparkdl_kit as sdk
from support import REPO, python_env, run_spark_submit

JOB = REPO / "jobs" / "etl.py"


def test_help():
    out = subprocess.run([sys.executable, str(JOB), "--help"], capture_output=True, text=True, env=python_env())
    assert out.returncode == 0
    for flag in ("--input", "--format", "--feature-cols", "--label-col", "--output", "--validation", "--overwrite",
                 "--row-group-size-mb", "--image-size"):
        assert flag in out.stdout


@pytest.mark.slow
def test_csv_to_dataset(tmp_path):
    from sklearn.datasets import load_iris

    iris = load_iris(as_frame=True).frame.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
    iris["species"] = iris["target"].map(dict(enumerate(["setosa", "versicolor", "virginica"])))
    iris.drop(columns="target").to_csv(tmp_path / "iris.csv", index=False)
    out = "file://" + str(tmp_path / "iris_ds")
    args = ["--input", str(tmp_path / "iris.csv"), "--format", "csv", "--label-col", "species",
            "--feature-cols", "sepal_length,sepal_width,petal_length,petal_width", "--output", out,
            "--validation", "0.2", "--row-group-size-mb", "1"]
    done = run_spark_submit(JOB, *args)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "split train" in done.stdout and "split validation" in done.stdout and "time:" in done.stdout
    assert "feature features: float32 (4,)" in done.stdout and "num_classes=3" in done.stdout
    ds = sdk.Dataset.load(out)
    assert ds.row_count("train") + ds.row_count("validation") == 150
    assert ds.label_mapping == ["setosa", "versicolor", "virginica"]
    again = run_spark_submit(JOB, *args)
    said = again.stdout + again.stderr       # spark-submit passes the Python driver's stderr on to stdout
    assert again.returncode == 2 and "DatasetExistsError" in said and "--overwrite" in said
    replaced = run_spark_submit(JOB, *args, "--overwrite", "--validation", "none")
    assert replaced.returncode == 0, replaced.stderr[-3000:]
    assert sdk.Dataset.load(out).splits == ["train"]


@pytest.mark.slow
def test_image_folder_to_dataset(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(1)
    for label in ("circle", "square"):
        (tmp_path / "imgs" / label).mkdir(parents=True)
        for i in range(4):
            pixels = rng.integers(0, 255, (10, 14, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "imgs" / label / f"{i}.png")
    (tmp_path / "imgs" / "square" / "bad.jpg").write_bytes(b"\xff\xd8 truncated")
    out = "file://" + str(tmp_path / "img_ds")
    args = ["--input", str(tmp_path / "imgs"), "--format", "images", "--image-size", "8x6", "--output", out]
    failed = run_spark_submit(JOB, *args)
    said = failed.stdout + failed.stderr
    assert failed.returncode == 2 and "bad.jpg" in said and "--skip-bad-images" in said
    done = run_spark_submit(JOB, *args, "--skip-bad-images")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "1 unreadable image(s)" in done.stdout and "feature image: uint8 (8, 6, 3)" in done.stdout
    ds = sdk.Dataset.load(out)
    assert ds.row_count("train") == 8 and ds.label_mapping == ["circle", "square"]


@pytest.mark.slow
def test_missing_input_fails_with_the_path(tmp_path):
    done = run_spark_submit(JOB, "--input", str(tmp_path / "nothing.csv"), "--format", "csv",
                            "--output", str(tmp_path / "out"))
    assert done.returncode == 2
    said = done.stdout + done.stderr
    assert "DatasetNotFoundError" in said and "nothing.csv" in said
    assert not (tmp_path / "out").exists()
