"""notebooks/: the Jupyter notebooks run headless in a fresh kernel; the Databricks one runs with the tests' `spark`."""

from __future__ import annotations

import json
import logging
import os
import runpy
import sys

import pytest

from support import REPO, python_env

NOTEBOOKS = REPO / "notebooks"
JUPYTER = sorted(NOTEBOOKS.glob("*.ipynb"))
DATABRICKS = NOTEBOOKS / "databricks" / "digits_databricks.py"
KERNEL = "sparkdl-kit-tests"


@pytest.fixture(scope="module")
def kernels(tmp_path_factory):
    """A folder with one kernel spec: this interpreter running ipykernel (whatever kernels the machine has)."""
    folder = tmp_path_factory.mktemp("kernels")
    (folder / KERNEL).mkdir()
    (folder / KERNEL / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "sparkdl_kit tests", "language": "python"}))
    return folder


def execute_notebook(path, kernels, workdir):
    """Runs every cell of the notebook at ``path`` in a new kernel; raises CellExecutionError on a cell error."""
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    manager = KernelManager(kernel_name=KERNEL, kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]))
    client = NotebookClient(nb, km=manager, timeout=900, startup_timeout=180,
                            resources={"metadata": {"path": str(workdir)}})
    client.execute(env=python_env(SPARKDL_NOTEBOOK_DIR=str(workdir)))
    return nb


def outputs(nb) -> tuple[str, int]:
    """All the text a notebook printed, and the number of images it showed."""
    text, images = [], 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            text.append(out.get("text", "") or out.get("data", {}).get("text/plain", ""))
            images += "image/png" in out.get("data", {})
    return "\n".join(text), images


@pytest.mark.parametrize("path", JUPYTER, ids=lambda p: p.name)
def test_committed_notebooks_carry_no_outputs(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code and all(c["outputs"] == [] and c["execution_count"] is None for c in code)
    assert path.stat().st_size < 30_000


def test_databricks_notebook_is_in_source_format_and_uses_the_given_spark():
    text = DATABRICKS.read_text()
    assert text.startswith("# Databricks notebook source\n")
    assert text.count("\n# COMMAND ----------\n") >= 5
    assert "get_session" not in text and "\nspark =" not in text     # `spark` comes from the environment


@pytest.mark.slow
@pytest.mark.notebook
def test_a_cell_error_fails_the_run(kernels, tmp_path):
    import nbformat
    from nbclient.exceptions import CellExecutionError

    broken = tmp_path / "broken.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("ready = True"),
        nbformat.v4.new_code_cell("raise ValueError('cell 2 is broken')"),
        nbformat.v4.new_code_cell("print('never runs')")]), broken)
    with pytest.raises(CellExecutionError, match="cell 2 is broken"):
        execute_notebook(broken, kernels, tmp_path)
    ran = nbformat.read(broken, as_version=4)        # the file on disk is left as it was
    assert all(not c.outputs for c in ran.cells)


@pytest.mark.slow
@pytest.mark.horovod
@pytest.mark.notebook
@pytest.mark.parametrize(argnames="name, printed, plots, written, least", ids=["digits", "images"], argvalues=[
    ("digits_end_to_end.ipynb", ["final validation accuracy:", "held-out accuracy:", "saved to"], 2,
     "model/model.keras", 1),                       # plots: training curves and the confusion matrix
    ("image_classification.ipynb", ["image shape: (16, 16, 1)", "held-out images:"], 1,
     "images/train/*/*.png", 1500),                  # plot: held-out images with their predictions
])
def test_jupyter_notebook_runs_headless(kernels, tmp_path, name, printed, plots, written, least):
    nb = execute_notebook(NOTEBOOKS / name, kernels, tmp_path)
    text, images = outputs(nb)
    assert all(p in text for p in printed), text[-3000:]
    assert images == plots
    assert len(list(tmp_path.glob(written))) >= least


@pytest.mark.slow
@pytest.mark.horovod
@pytest.mark.notebook
def test_databricks_notebook_runs_as_a_script_with_spark(spark, tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.setenv("SPARKDL_NOTEBOOK_DIR", str(tmp_path))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))   # restored after
    toolkit_logger = logging.getLogger("sparkdl_kit")     # the notebook calls sdk.log_to_stderr(): undone after
    saved = toolkit_logger.level, toolkit_logger.propagate, list(toolkit_logger.handlers)
    try:
        done = runpy.run_path(str(DATABRICKS), init_globals={"spark": spark}, run_name="__main__")
    finally:
        toolkit_logger.setLevel(saved[0])
        toolkit_logger.propagate = saved[1]
        toolkit_logger.handlers[:] = saved[2]
    assert done["accuracy"] > 0.8 and done["model"].history["val_accuracy"][-1] > 0.8
    assert done["WORKDIR"] == str(tmp_path) and (tmp_path / "model" / "model.keras").is_file()
    assert not spark.sparkContext._jsc.sc().isStopped()     # the notebook leaves the cluster's session running
