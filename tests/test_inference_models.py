"""Small real models and data the inference tests share (no tests here)."""

import numpy as np
import tensorflow as tf

FEATURES = 8


def classifier(classes: int = 3, features: int = FEATURES):
    tf.keras.utils.set_random_seed(0)
    return tf.keras.Sequential([tf.keras.layers.Input(shape=(features,), name="features"),
                                tf.keras.layers.Dense(16, activation="relu"),
                                tf.keras.layers.Dense(classes, activation="softmax")])


def regressor(units: int = 1):
    tf.keras.utils.set_random_seed(1)
    return tf.keras.Sequential([tf.keras.layers.Input(shape=(FEATURES,), name="x"),
                                tf.keras.layers.Dense(8, activation="tanh"), tf.keras.layers.Dense(units)])


def binary():
    tf.keras.utils.set_random_seed(2)
    return tf.keras.Sequential([tf.keras.layers.Input(shape=(FEATURES,)), tf.keras.layers.Dense(1, activation="sigmoid")])


def image_model(height=6, width=5, channels=3, classes=2):
    tf.keras.utils.set_random_seed(3)
    return tf.keras.Sequential([tf.keras.layers.Input(shape=(height, width, channels), name="image"),
                                tf.keras.layers.Rescaling(1 / 255), tf.keras.layers.Flatten(),
                                tf.keras.layers.Dense(classes, activation="softmax")])


def rows(n: int = 300, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, FEATURES)).astype("float32")
