"""docs/migrating.md: every ```python ours block runs as written, and does what it says."""

import re

import numpy as np
import pytest

from compat_helpers import (DIST_KERAS, DLP, DOC, ELEPHAS, HOROVOD_RUNNER, NATIVE, TFOS, doc_blocks, doc_sections,
                            migrating_examples, weights_accuracy)


def test_every_project_has_their_call_and_ours():
    text = DOC.read_text()
    sections = re.split(r"^## ", text, flags=re.M)[1:]
    assert [s.splitlines()[0] for s in sections] == [
        "Horovod's `horovod.spark.keras.KerasEstimator`", "Databricks HorovodRunner", "Elephas", "TensorFlowOnSpark",
        "Deep Learning Pipelines (`sparkdl`)", "dist-keras"]
    for section in sections:
        assert "```python theirs" in section and "```python ours" in section and "What differs:" in section, \
            section.splitlines()[0]
    assert len(re.findall(r"^```python", text, flags=re.M)) == len(doc_blocks("ours")) + len(doc_blocks("theirs"))
    assert sum(len(v) for v in doc_sections().values()) == len(doc_blocks("ours")) == 8


def check_native(ns):
    assert ns["predictions"].count() == len(ns["x_test"])


def check_horovod_runner(ns):
    assert weights_accuracy(ns, ns["weights"]) > 0.9


def check_elephas(ns):
    assert ns["acc"] > 0.9 and ns["probabilities"].shape == (len(ns["x_test"]), 10)
    assert ns["elephas_predictions"].count() == len(ns["x_test"])


def check_tfos(ns):
    pairs = ns["label_and_prediction"]
    assert len(pairs) == len(ns["x_test"]) and np.mean([a == b for a, b in pairs]) > 0.9


def check_dlp(ns):
    assert ns["predictions"].count() == 20
    assert len(ns["scores"]) == 20 and np.mean([int(np.argmax(r.scores)) == r.label for r in ns["scores"]]) > 0.8


def check_dist_keras(ns):
    assert ns["accuracy"] > 0.9 and ns["predictions"].count() == len(ns["x_test"])


@pytest.mark.slow
@pytest.mark.horovod
@pytest.mark.parametrize("section, check", [
    (NATIVE, check_native), (HOROVOD_RUNNER, check_horovod_runner), (ELEPHAS, check_elephas), (TFOS, check_tfos),
    (DLP, check_dlp), (DIST_KERAS, check_dist_keras)],
    ids=["native", "horovod_runner", "elephas", "tfos", "dlp", "dist_keras"])
def test_our_examples_run_as_written(spark, section, check):
    check(migrating_examples(spark, section))      # each section after the setup and the native section
