"""docs/migrating.md: every ```python ours block runs, in order, in one namespace, and does what it says."""

import re

import numpy as np
import pytest

from support import REPO

DOC = REPO / "docs" / "migrating.md"
FENCE = re.compile(r"^```python (ours|theirs)\n(.*?)^```$", re.S | re.M)


def blocks(kind: str) -> list[str]:
    return [code for tag, code in FENCE.findall(DOC.read_text()) if tag == kind]


def test_every_project_has_their_call_and_ours():
    text = DOC.read_text()
    sections = re.split(r"^## ", text, flags=re.M)[1:]
    assert [s.splitlines()[0] for s in sections] == [
        "Databricks HorovodRunner", "Elephas", "TensorFlowOnSpark",
        "Horovod's `horovod.spark.keras.KerasEstimator`", "Deep Learning Pipelines (`sparkdl`)", "dist-keras"]
    for section in sections:
        assert "```python theirs" in section and "```python ours" in section and "What differs:" in section, \
            section.splitlines()[0]
    assert len(blocks("ours")) == 8
    assert len(re.findall(r"^```python", text, flags=re.M)) == len(blocks("ours")) + len(blocks("theirs"))


@pytest.mark.slow
@pytest.mark.horovod
def test_our_examples_run_as_written(spark):
    namespace = {"__name__": "migrating_md"}      # not importable: cloudpickle ships its functions by value
    for code in blocks("ours"):
        exec(compile(code, str(DOC), "exec"), namespace)
    ns = namespace
    x_test, y_test = ns["x_test"], ns["y_test"]

    def hits(predicted):
        return float(np.mean(np.asarray(predicted) == y_test[:len(predicted)]))

    assert hits(ns["model"].predict(x_test, verbose=0).argmax(axis=1)) > 0.8          # HorovodRunner
    assert ns["acc"] > 0.8 and ns["probabilities"].shape == (len(x_test), 10)       # Elephas SparkModel
    assert np.allclose(ns["again"].predict(x_test[:5]), ns["probabilities"][:5], atol=1e-5)
    pairs = ns["label_and_prediction"]                                              # TensorFlowOnSpark
    assert len(pairs) == len(x_test) and np.mean([a == b for a, b in pairs]) > 0.7
    scores = ns["scores"]                                                           # registerKerasImageUDF
    assert len(scores) == 20 and np.mean([int(np.argmax(r.scores)) == r.label for r in scores]) > 0.7
    assert ns["accuracy"] > 0.8 and ns["predictions"].count() == len(x_test)       # dist-keras
