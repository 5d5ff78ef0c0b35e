"""Deep Learning Pipelines (``sparkdl``) and dist-keras inference names over sparkdl_kit's inference layer.

Deep Learning Pipelines: :class:`KerasImageFileTransformer` (image files -> model output vectors),
:class:`KerasTransformer` (array column -> model output array) and :func:`registerKerasImageUDF` (a SQL
function over image structs, image bytes or paths). dist-keras: :class:`ModelPredictor` (features ->
model output vector) and :class:`LabelIndexTransformer` (output vector -> class index). All of them run
the model in Arrow batches inside Spark tasks, loaded once per Python worker
(:meth:`sparkdl_kit.KerasModel.transform`, :func:`sparkdl_kit.predict_udf`).

Example:
    >>> from sparkdl_kit.compat.dlp import KerasImageFileTransformer
    >>> t = KerasImageFileTransformer(inputCol="uri", outputCol="predictions", modelFile="/models/m.h5",
    ...                               imageLoader=load_and_preprocess)            # doctest: +SKIP
    >>> t.transform(uri_df).select("uri", "predictions").show()                  # doctest: +SKIP
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np
from pyspark import keyword_only
from pyspark.ml import Transformer

from sparkdl_kit.compat._common import active_spark, raw_outputs
from sparkdl_kit.errors import ConfigError, DataError

OUTPUT_MODES = ("vector",)

__all__ = ["KerasImageFileTransformer", "KerasTransformer", "registerKerasImageUDF", "ModelPredictor",
           "LabelIndexTransformer"]


def load_images(loader: Callable[[str], Any], uris):
    """pandas UDF body: ``loader(uri)`` for each uri, flattened to float32 (the shape is the model's)."""
    import pandas as pd

    return pd.Series([None if u is None else np.asarray(loader(u), dtype=np.float32).reshape(-1) for u in uris])


class _KerasStage(Transformer):
    """A Transformer holding plain settings (copied along with the stage, as Params would be)."""

    def _check_settings(self, **settings: Any) -> None:
        missing = [name for name, value in settings.items() if value is None]
        if missing:
            raise ConfigError(f"{type(self).__name__}: {', '.join(missing)} not set; pass "
                              f"{', '.join(f'{m}=...' for m in missing)}.")


class KerasImageFileTransformer(_KerasStage):
    """Deep Learning Pipelines' transformer: image URIs -> the Keras model's output as a Spark ML vector.

    Args:
        inputCol: the column of image paths/URIs.
        outputCol: the output column (a dense vector of the model's raw outputs).
        modelFile: a Keras model file (``.h5``/``.keras``), a SavedModel folder or a ``KerasModel`` folder;
            a ``tf.keras.Model`` object is accepted too.
        imageLoader: ``uri -> numpy array`` shaped like the model's input (a leading batch axis of 1 is
            fine), run in Spark tasks. Without it, images are decoded and resized to the model's input
            by the toolkit's own decoder.
        outputMode: ``"vector"`` (the only mode).

    Example:
        >>> KerasImageFileTransformer(inputCol="uri", outputCol="p", modelFile="m.h5").transform(df)  # doctest: +SKIP
    """

    @keyword_only
    def __init__(self, inputCol: str | None = None, outputCol: str | None = None, modelFile: Any = None,  # noqa: N803
                 imageLoader: Callable | None = None, outputMode: str = "vector"):
        super().__init__()
        if outputMode not in OUTPUT_MODES:
            raise ConfigError(f"outputMode={outputMode!r}: expected 'vector' (the model's outputs as a dense "
                              "vector); image outputs are not supported.")
        if imageLoader is not None and not callable(imageLoader):
            raise ConfigError(f"imageLoader={imageLoader!r}: expected a function uri -> numpy array.")
        self.inputCol, self.outputCol, self.modelFile = inputCol, outputCol, modelFile
        self.imageLoader, self.outputMode = imageLoader, outputMode

    def _transform(self, dataset):
        from pyspark.sql.functions import pandas_udf

        from sparkdl_kit.inference.model_ref import load_keras

        self._check_settings(inputCol=self.inputCol, outputCol=self.outputCol, modelFile=self.modelFile)
        model = load_keras(self.modelFile)
        if self.imageLoader is None:
            return raw_outputs(dataset, model, self.inputCol, self.outputCol, as_vector=True)
        loaded = f"__{self.inputCol}_loaded"
        loader = pandas_udf(functools.partial(load_images, self.imageLoader), "array<float>")
        out = raw_outputs(dataset.withColumn(loaded, loader(self.inputCol)), model, loaded, self.outputCol,
                          as_vector=True)
        return out.drop(loaded)


class KerasTransformer(_KerasStage):
    """Deep Learning Pipelines' ``KerasTransformer``: a 1-D array column -> the model's output array.

    Example:
        >>> KerasTransformer(inputCol="features", outputCol="out", modelFile="m.h5").transform(df)  # doctest: +SKIP
    """

    @keyword_only
    def __init__(self, inputCol: str | None = None, outputCol: str | None = None, modelFile: Any = None):  # noqa: N803
        super().__init__()
        self.inputCol, self.outputCol, self.modelFile = inputCol, outputCol, modelFile

    def _transform(self, dataset):
        from sparkdl_kit.inference.model_ref import load_keras

        self._check_settings(inputCol=self.inputCol, outputCol=self.outputCol, modelFile=self.modelFile)
        return raw_outputs(dataset, load_keras(self.modelFile), self.inputCol, self.outputCol)


def _image_array(value, preprocessor, shape: tuple[int, int, int]) -> np.ndarray | None:
    """One image (Spark image struct as a dict, bytes or a path) as a flat float32 array of the model's shape."""
    from sparkdl_kit.etl.images import decode_one

    h, w, c = shape
    if value is None:
        return None
    if isinstance(value, dict):       # Spark's image struct: BGR(A) bytes, row-major
        if preprocessor is not None:
            return np.asarray(preprocessor(value["origin"]), dtype=np.float32).reshape(-1)
        pixels = np.frombuffer(value["data"], np.uint8).reshape(value["height"], value["width"], value["nChannels"])
        if pixels.shape[2] >= 3:
            pixels = pixels[:, :, [2, 1, 0, 3][:pixels.shape[2]]]
        if pixels.shape != (h, w, c):
            raise DataError(f"image {value['origin']}: {pixels.shape[0]}x{pixels.shape[1]}x{pixels.shape[2]}, but "
                            f"the model takes {h}x{w}x{c}. Fix: pass a preprocessor that loads and resizes it.")
        return pixels.astype(np.float32).reshape(-1)
    if preprocessor is not None:
        return np.asarray(preprocessor(value), dtype=np.float32).reshape(-1)
    content, path = (value, None) if isinstance(value, (bytes, bytearray)) else (None, value)
    raw = decode_one(content, path, h, w, c)
    return np.frombuffer(raw, np.uint8).astype(np.float32)


def image_udf_body(predict: Callable, preprocessor, shape: tuple[int, int, int], images):
    """pandas UDF body of :func:`registerKerasImageUDF`: images -> model inputs -> the prediction UDF's body."""
    import pandas as pd

    values = images.to_dict("records") if isinstance(images, pd.DataFrame) else list(images)
    return predict(pd.Series([_image_array(v, preprocessor, shape) for v in values]))


def registerKerasImageUDF(udf_name: str, keras_model_or_file_path: Any,  # noqa: N802 -- the sparkdl name
                          preprocessor: Callable | None = None):
    """Registers a SQL function ``udf_name(image)`` returning the model's raw output for each image.

    The column may hold Spark image structs (``spark.read.format("image")``; BGR is turned into RGB),
    image bytes or paths. ``preprocessor(path) -> numpy array`` shaped like the model's input replaces
    the decoding (for structs it gets the ``origin``). The result is a double for a one-unit model, else
    an ``array<float>``. Returns the UDF, usable in the DataFrame API too.

    Example:
        >>> registerKerasImageUDF("digit_scores", "/models/digits_image.keras")      # doctest: +SKIP
        >>> spark.sql("SELECT digit_scores(image) FROM images")                      # doctest: +SKIP
    """
    from pyspark.sql.functions import pandas_udf

    from sparkdl_kit.inference import predict_udf
    from sparkdl_kit.inference.model_ref import load_keras
    from sparkdl_kit.inference.schema import model_inputs

    model = load_keras(keras_model_or_file_path)
    inputs = model_inputs(model)
    shape = tuple(int(d) for d in inputs[0].shape[1:]) if len(inputs) == 1 else ()
    if len(shape) != 3 or None in shape:
        raise ConfigError(f"registerKerasImageUDF: the model takes inputs of shape {shape or 'several'}; expected "
                          "one image input of shape (height, width, channels).")
    inner = predict_udf(model, "prediction", task="regressor")
    udf = pandas_udf(functools.partial(image_udf_body, inner.func, preprocessor, shape), inner.returnType)
    active_spark().udf.register(udf_name, udf)
    return udf


class ModelPredictor:
    """dist-keras' ``ModelPredictor``: appends the model's output (a dense vector) for ``features_col``.

    Example:
        >>> predicted = ModelPredictor(keras_model=model, features_col="features").predict(df)   # doctest: +SKIP
    """

    def __init__(self, keras_model, features_col: str = "features", output_col: str = "prediction",
                 batch_size: int = 1024):
        self.keras_model = keras_model
        self.features_col = features_col
        self.output_col = output_col
        self.batch_size = batch_size

    def predict(self, dataframe):
        """``dataframe`` with ``output_col`` appended."""
        return raw_outputs(dataframe, self.keras_model, self.features_col, self.output_col, as_vector=True)


class LabelIndexTransformer:
    """dist-keras' ``LabelIndexTransformer``: the index of the largest value of a prediction vector (a double).

    Example:
        >>> indexed = LabelIndexTransformer(output_dim=10).transform(predicted)   # doctest: +SKIP
    """

    def __init__(self, output_dim: int, input_col: str = "prediction", output_col: str = "prediction_index"):
        self.output_dim = output_dim
        self.input_col = input_col
        self.output_col = output_col

    def transform(self, dataframe):
        """``dataframe`` with ``output_col`` appended."""
        from pyspark.ml.functions import vector_to_array
        from pyspark.ml.linalg import VectorUDT
        from pyspark.sql import functions as F

        values = F.col(self.input_col)
        if isinstance(dataframe.schema[self.input_col].dataType, VectorUDT):
            values = vector_to_array(values)
        scores = f"__{self.output_col}_scores"
        index = F.expr(f"array_position(`{scores}`, array_max(`{scores}`)) - 1").cast("double")
        return dataframe.withColumn(scores, values).withColumn(self.output_col, index).drop(scores)
