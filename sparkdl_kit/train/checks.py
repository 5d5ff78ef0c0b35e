"""Driver-side checks that a model, a loss and a dataset fit together, before any worker starts."""

from __future__ import annotations

from typing import Any

from sparkdl_kit.errors import SchemaError

_ONE_HOT_LOSSES = {"categorical_crossentropy", "categoricalcrossentropy", "categorical_hinge"}
_SPARSE_LOSSES = {"sparse_categorical_crossentropy", "sparsecategoricalcrossentropy"}
_BINARY_LOSSES = {"binary_crossentropy", "binarycrossentropy", "hinge", "squared_hinge", "binary_focal_crossentropy"}


def check_model_matches_dataset(model, dataset, loss: Any) -> None:
    """Raises SchemaError when the model's inputs, its output or the loss do not fit the dataset."""
    _check_inputs(model, dataset)
    _check_loss(model, dataset, loss)


def _shape(dims) -> tuple:
    return tuple(None if d is None else int(d) for d in dims)


def _compatible(expected: tuple, actual: tuple) -> bool:
    return len(expected) == len(actual) and all(e is None or e == a for e, a in zip(expected, actual))


def _check_inputs(model, dataset) -> None:
    cols = list(dataset.feature_cols)
    inputs = list(model.inputs or [])
    if not inputs:
        return  # a subclassed model that was never built: Keras checks shapes on the first batch
    if len(inputs) != len(cols):
        raise SchemaError(
            f"the model has {len(inputs)} input(s) but the dataset has {len(cols)} feature column(s) "
            f"({', '.join(cols)}). Give one feature column per model input (feature_cols=[...]), or "
            "combine columns into one array column in the ETL.")
    by_name = {t.name.split(":")[0]: t for t in inputs}
    for i, col in enumerate(cols):
        tensor = by_name.get(col, inputs[i])
        expected = _shape(tensor.shape[1:])
        actual = tuple(dataset.feature_shapes[col])
        if not _compatible(expected, actual):
            raise SchemaError(
                f"feature column '{col}' holds values of shape {actual} per row, but the model's input "
                f"'{tensor.name.split(':')[0]}' expects {expected}. Build the model with "
                f"Input(shape={actual}) or choose the feature column(s) that match its input.")


def _loss_name(loss: Any) -> str:
    name = loss if isinstance(loss, str) else getattr(loss, "name", None) or getattr(loss, "__name__", "")
    return str(name).lower()


def _check_loss(model, dataset, loss: Any) -> None:
    classes = dataset.num_classes
    if classes is None or not model.outputs:
        return
    name = _loss_name(loss)
    units = model.outputs[0].shape[-1]
    label = f"label column '{dataset.label_col}' holds integer class ids 0..{classes - 1}"
    if name in _ONE_HOT_LOSSES:
        raise SchemaError(f"loss='{name}' expects one-hot labels, but the {label}. Use "
                          "loss='sparse_categorical_crossentropy', which takes class ids.")
    if name in _SPARSE_LOSSES and units is not None and units < classes:
        raise SchemaError(f"the {label}, but the model outputs {units} value(s) per row. Give its last "
                          f"layer {classes} units (Dense({classes}, activation='softmax')).")
    if name in _BINARY_LOSSES and classes > 2:
        raise SchemaError(f"loss='{name}' is for two classes, but the {label} ({classes} classes). Use "
                          "loss='sparse_categorical_crossentropy' with a softmax output.")
