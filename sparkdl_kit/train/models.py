"""Small built-in Keras models, by name, for jobs/train.py and the demo: ``mlp`` and ``cnn``.

Each is a function ``(input_shape, num_classes) -> tf.keras.Model`` (uncompiled).
"""

from __future__ import annotations

from typing import Callable

from sparkdl_kit._deps import require
from sparkdl_kit.errors import ConfigError


def mlp(input_shape: tuple, num_classes: int, hidden: tuple[int, ...] = (64, 32)):
    """A multi-layer perceptron with ReLU hidden layers and a softmax output."""
    tf = require("tensorflow")
    layers = [tf.keras.layers.Input(shape=input_shape, name="features")]
    if len(input_shape) > 1:
        layers.append(tf.keras.layers.Flatten())
    layers += [tf.keras.layers.Dense(units, activation="relu") for units in hidden]
    layers.append(tf.keras.layers.Dense(num_classes, activation="softmax"))
    return tf.keras.Sequential(layers, name="mlp")


def cnn(input_shape: tuple, num_classes: int):
    """A small convolutional network for images of shape (height, width, channels), scaled from uint8."""
    tf = require("tensorflow")
    shape = tuple(input_shape) if len(input_shape) == 3 else tuple(input_shape) + (1,)
    return tf.keras.Sequential([
        tf.keras.layers.Input(shape=shape, name="features"),
        tf.keras.layers.Rescaling(1.0 / 255),
        tf.keras.layers.Conv2D(16, 3, activation="relu", padding="same"),
        tf.keras.layers.MaxPooling2D(),
        tf.keras.layers.Conv2D(32, 3, activation="relu", padding="same"),
        tf.keras.layers.GlobalAveragePooling2D(),
        tf.keras.layers.Dense(num_classes, activation="softmax"),
    ], name="cnn")


BUILT_IN: dict[str, Callable] = {"mlp": mlp, "cnn": cnn}


def built_in(name: str) -> Callable:
    """The builder registered as ``name``."""
    if name not in BUILT_IN:
        raise ConfigError(f"model={name!r}: not a built-in model ({', '.join(BUILT_IN)}); pass one of them "
                          "or 'package.module:function' returning a tf.keras.Model.")
    return BUILT_IN[name]
