# Databricks notebook source
# MAGIC %md
# MAGIC # Digits, end to end, on Databricks: ETL, distributed training, inference
# MAGIC
# MAGIC The flow of `notebooks/digits_end_to_end.ipynb` as a Databricks source notebook (import it with
# MAGIC *Workspace > Import*). `spark` is the cluster's session. The cluster needs the pinned stack: create
# MAGIC it from `cluster/databricks/cluster-gpu.json` or `cluster-cpu.json`, whose init script installs it.
# MAGIC Files go under `/dbfs/tmp/sparkdl_kit/digits` (DBFS, reachable from every node); elsewhere
# MAGIC (`python digits_databricks.py` with a `spark` session) under a temporary folder.

# COMMAND ----------

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")   # TensorFlow's C++ start-up lines on the driver

import tempfile

import matplotlib.pyplot as plt
import pandas as pd
from pyspark.sql import functions as F
from sklearn.datasets import load_digits
from sklearn.metrics import confusion_matrix

import sparkdl_kit as sdk
from sparkdl_kit.train.models import mlp

sdk.log_to_stderr()
if os.environ.get("SPARKDL_NOTEBOOK_DIR"):
    WORKDIR = os.environ["SPARKDL_NOTEBOOK_DIR"]
elif os.path.isdir("/dbfs"):
    WORKDIR = "/dbfs/tmp/sparkdl_kit/digits"
else:
    WORKDIR = tempfile.mkdtemp(prefix="sparkdl-digits-")
NUM_PROC = 2   # Horovod workers, one Spark task each: at most the cluster's task slots (GPUs with gpu.amount=1)
print("Spark", spark.version, "on", spark.sparkContext.master, "| folder:", WORKDIR)  # noqa: F821 (the notebook's spark)

# COMMAND ----------

# MAGIC %md ## 1. ETL: a DataFrame of pixel arrays -> a Parquet dataset with a validation split

# COMMAND ----------

digits = load_digits()
pdf = pd.DataFrame({"features": list((digits.data / 16.0).astype("float32")), "label": digits.target})
df = spark.createDataFrame(pdf)  # noqa: F821
train_df, test_df = df.randomSplit([0.9, 0.1], seed=7)
ds = sdk.materialize(train_df, f"file://{WORKDIR}/dataset", feature_cols=["features"], label_col="label",
                     validation=0.2, mode="overwrite")
print("train rows:", ds.row_count("train"), "| validation rows:", ds.row_count("validation"),
      "| held out:", test_df.count())

# COMMAND ----------

# MAGIC %md ## 2. Training: one Horovod worker per Spark task (per GPU on a GPU cluster)

# COMMAND ----------

estimator = sdk.KerasEstimator(model=mlp((64,), 10), feature_cols=["features"], label_col="label",
                               epochs=10, batch_size=32, learning_rate=0.002, num_proc=NUM_PROC,
                               store=f"file://{WORKDIR}/runs")
model = estimator.fit(ds)
print("run:", model.run_id, "| final validation accuracy: %.3f" % model.history["val_accuracy"][-1])

# COMMAND ----------

# MAGIC %md ## 3. Training curves

# COMMAND ----------

epochs = range(1, len(model.history["loss"]) + 1)
fig, axes = plt.subplots(1, 2, figsize=(8, 3))
for ax, key in zip(axes, ("loss", "accuracy")):
    ax.plot(epochs, model.history[key], "-o", label="train")
    ax.plot(epochs, model.history["val_" + key], "--o", label="validation")
    ax.set_xlabel("epoch")
    ax.set_title(key)
    ax.legend()
fig.tight_layout()
plt.show()

# COMMAND ----------

# MAGIC %md ## 4. Inference on the held-out rows, and the confusion matrix

# COMMAND ----------

predictions = model.transform(test_df)
accuracy = predictions.select(F.avg((F.col("prediction") == F.col("label")).cast("double"))).first()[0]
print("held-out accuracy: %.3f" % accuracy)
assert accuracy > 0.8, accuracy

pairs = predictions.select("label", "prediction").toPandas()
matrix = confusion_matrix(pairs["label"], pairs["prediction"].astype(int), labels=list(range(10)))
fig, ax = plt.subplots(figsize=(4.5, 4))
ax.imshow(matrix, cmap="Blues")
ax.set(xticks=range(10), yticks=range(10), xlabel="predicted", ylabel="true",
       title="held-out confusion matrix")
plt.show()

# COMMAND ----------

# MAGIC %md ## 5. Save the model (feature columns, label mapping and history travel with it)

# COMMAND ----------

model.write().overwrite().save(f"file://{WORKDIR}/model")
print("saved to", f"{WORKDIR}/model")
