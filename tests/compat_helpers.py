"""Shared pieces of the compat tests: the programs of docs/migrating.md, run once per test process.

The examples of docs/migrating.md are the representative programs: each is written in its project's
documented style, trains on scikit-learn's digits and predicts. They run once, in order, in one
namespace, and every compat test file checks its entry point's results from there against the native
``sdk.KerasEstimator`` example of the same page (same data, same seeded model, same settings).
Module-level functions here are shipped to Horovod workers by name (tests/ is on their path).
"""

from __future__ import annotations

import re

import numpy as np

from support import REPO

DOC = REPO / "docs" / "migrating.md"
FENCE = re.compile(r"^```python (ours|theirs)\n(.*?)^```$", re.S | re.M)
_CACHE: dict = {}


def doc_blocks(kind: str) -> list[str]:
    """The fenced ```python <kind> blocks of docs/migrating.md, in order."""
    return [code for tag, code in FENCE.findall(DOC.read_text()) if tag == kind]


#: Sections of docs/migrating.md (their titles' first word), in page order.
NATIVE, HOROVOD_RUNNER, ELEPHAS, TFOS, DLP, DIST_KERAS = "Horovod's", "Databricks", "Elephas", "TensorFlowOnSpark", \
    "Deep", "dist-keras"


def doc_sections() -> dict[str, list[str]]:
    """The ```python ours blocks of each ``## `` section, keyed by the title's first word ("" for the setup)."""
    sections: dict[str, list[str]] = {}
    for i, part in enumerate(re.split(r"^## ", DOC.read_text(), flags=re.M)):
        key = part.split(None, 1)[0] if i else ""
        sections[key] = [code for tag, code in FENCE.findall(part if i else part + "\n") if tag == "ours"]
    return sections


def migrating_examples(spark, section: str) -> dict:
    """The namespace after running one section's ```python ours blocks of docs/migrating.md.

    Every section starts from the namespace of the setup block and the native ``KerasEstimator``
    section (run once per process); each section runs at most once per process.
    """
    sections = doc_sections()
    if "base" not in _CACHE:
        namespace = {"__name__": "migrating_md"}   # not importable: cloudpickle ships its functions by value
        for code in sections[""] + sections[NATIVE]:
            exec(compile(code, str(DOC), "exec"), namespace)
        _CACHE["base"] = namespace
    if section == NATIVE:
        return _CACHE["base"]
    if section not in _CACHE:
        namespace = dict(_CACHE["base"])
        for code in sections[section]:
            exec(compile(code, str(DOC), "exec"), namespace)
        _CACHE[section] = namespace
    return _CACHE[section]


def accuracy(df, prediction_col: str = "prediction", label_col: str = "label") -> float:
    """The fraction of rows whose prediction equals the label."""
    rows = df.select(label_col, prediction_col).collect()
    return float(np.mean([float(r[0]) == float(r[1]) for r in rows]))


def native_accuracy(spark) -> float:
    """Test accuracy of the page's native ``sdk.KerasEstimator`` example."""
    if "native" not in _CACHE:
        ns = migrating_examples(spark, NATIVE)
        _CACHE["native"] = accuracy(ns["keras_model"].transform(ns["test_df"]))
    return _CACHE["native"]


def weights_accuracy(ns: dict, weights) -> float:
    """Test accuracy of the page's model with ``weights``."""
    model = ns["build_model"]()
    model.set_weights(weights)
    return float((model.predict(ns["x_test"], verbose=0).argmax(axis=1) == ns["y_test"]).mean())


def fail_on_rank_1():
    import horovod.tensorflow as hvd

    hvd.init()
    if hvd.rank() == 1:
        raise ValueError("rank 1 gives up on purpose")
    return hvd.rank()


def tfos_describe_ctx(args, ctx):
    """An InputMode.TENSORFLOW map_fun that writes what its ctx says to ``<args>/worker-<n>.json``."""
    import json
    import os

    fields = {k: getattr(ctx, k) for k in ("worker_num", "num_workers", "task_index", "job_name", "executor_id",
                                          "log_dir")}
    fields["mgr"] = ctx.mgr
    with open(os.path.join(args, f"worker-{ctx.worker_num}.json"), "w") as f:
        json.dump(fields, f)
