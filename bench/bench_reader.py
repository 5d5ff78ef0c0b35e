"""Reader throughput and memory: Dataset.tf_dataset against pyarrow (the limit) and Petastorm (the peer).

Writes a dataset of ROWS rows x 64 float32 features + an int64 label (plain Parquet in the layout
materialize() writes, 16 MB row groups), then reads all of it, median of --repeats runs, with:

* limit: pyarrow.parquet, row group by row group, columns converted to numpy in bulk (no batching);
* ours:  sparkdl_kit Dataset.tf_dataset(batch_size=1024, shuffle=True, num_epochs=1), every batch
         pulled out of tf.data as tensors;
* peer:  petastorm.make_batch_reader + make_petastorm_dataset (defaults), every row-group batch
         pulled as tensors (no re-batching, which would only slow it further).

With --images it compares the image storage choice (raw uint8 bytes vs PNG). With --memory it
also runs the reader alone in fresh processes on ROWS and on 10 x ROWS rows and
prints their peak RSS (the reader streams: the target is under 10% growth).

Usage:
    .venv/bin/python bench/bench_reader.py                 # 1M rows
    .venv/bin/python bench/bench_reader.py --rows 100000   # quick
    .venv/bin/python bench/bench_reader.py --memory        # + peak RSS on 1M and 10M rows
    .venv/bin/python bench/bench_reader.py --images        # + raw vs PNG image storage
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

FEATURES = 64
BATCH = 1024


def write_dataset(root: Path, rows: int, files: int = 8, row_group_mb: float = 16) -> str:
    """Writes ROWS rows with pyarrow in materialize()'s layout (train split + metadata); returns the URL."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from sparkdl_kit.dataset.metadata import METADATA_FILE, DatasetInfo, SplitInfo

    split = root / "train"
    split.mkdir(parents=True)
    row_bytes = FEATURES * 4 + 8
    group_rows = max(1, int(row_group_mb * (1 << 20) / row_bytes))
    rng = np.random.default_rng(0)
    groups, per_file, done = [], -(-rows // files), 0
    for i in range(files):
        n = min(per_file, rows - done)
        if n <= 0:
            break
        with pq.ParquetWriter(split / f"part-{i:05d}.parquet", pa.schema(
                [("x", pa.list_(pa.float32())), ("y", pa.int64())]), compression="none",
                use_dictionary=["y"]) as writer:
            for start in range(0, n, group_rows):
                m = min(group_rows, n - start)
                x = rng.standard_normal((m, FEATURES), dtype=np.float32)
                offsets = pa.array(np.arange(0, (m + 1) * FEATURES, FEATURES, dtype=np.int32))
                table = pa.table({"x": pa.ListArray.from_arrays(offsets, pa.array(x.ravel())),
                                  "y": pa.array(rng.integers(0, 10, m))})
                writer.write_table(table, row_group_size=m)
                groups.append(m)
        done += n
    info = DatasetInfo(feature_cols=["x"], label_col="y", feature_shapes={"x": [FEATURES]},
                       feature_dtypes={"x": "float32"}, label_dtype="int64", label_mapping=None, num_classes=10,
                       splits={"train": SplitInfo("train", rows, files, 0, groups)})
    (root / METADATA_FILE).write_text(info.to_json())
    return "file://" + str(root)


def read_limit(url: str) -> int:
    import pyarrow.parquet as pq

    from sparkdl_kit.dataset.reader.arrow import table_to_numpy

    rows = 0
    for path in sorted(Path(url[len("file://"):], "train").glob("*.parquet")):
        pf = pq.ParquetFile(path)
        for i in range(pf.num_row_groups):
            arrays = table_to_numpy(pf.read_row_group(i, columns=["x", "y"]), ["x", "y"])
            rows += len(arrays["y"])
    return rows


def read_ours(url: str, tf_data: bool = True) -> int:
    import sparkdl_kit as sdk

    ds = sdk.Dataset.load(url)
    rows = 0
    if not tf_data:
        with ds.numpy_batches("train", batch_size=BATCH, shuffle=True, seed=1, num_epochs=1) as it:
            for batch in it:
                rows += len(batch["y"])
        return rows
    with ds.tf_dataset("train", batch_size=BATCH, shuffle=True, seed=1, num_epochs=1) as tfds:
        for _, y in tfds:
            rows += int(y.shape[0])
    return rows


def read_peer(url: str) -> int:
    from petastorm import make_batch_reader
    from petastorm.tf_utils import make_petastorm_dataset

    rows = 0
    with make_batch_reader(url + "/train", num_epochs=1) as reader:
        for batch in make_petastorm_dataset(reader):
            rows += int(batch.y.shape[0])
    return rows


def timed(fns: dict, url: str, repeats: int) -> dict:
    """``{name: (median seconds, rows)}``, the readers interleaved in every repeat so they see the same load."""
    times: dict = {name: [] for name in fns}
    rows: dict = {}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            rows[name] = fn(url)
            times[name].append(time.perf_counter() - start)
    return {name: (statistics.median(times[name]), rows[name]) for name in fns}


def peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking parent."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_rss_child(url: str) -> None:
    import tensorflow  # noqa: F401  (imported first, so its own footprint is reported separately)

    before = peak_rss_mb()
    start = time.perf_counter()
    rows = read_ours(url)
    print(json.dumps({"rows": rows, "seconds": time.perf_counter() - start, "peak_rss_mb": peak_rss_mb(),
                      "before_mb": before}))


def memory(rows: int, tmp: Path) -> None:
    results = {}
    for n in (rows, 10 * rows):
        url = write_dataset(tmp / f"mem{n}", n, files=max(8, n // 250_000))
        out = subprocess.run([sys.executable, __file__, "--rss-child", url], capture_output=True, text=True, check=True)
        results[n] = json.loads(out.stdout.strip().splitlines()[-1])
        r = results[n]
        print(f"  reader peak RSS on {n:>10,} rows: {r['peak_rss_mb']:8.0f} MB  (after importing TensorFlow: "
              f"{r['before_mb']:.0f} MB; {r['rows']:,} rows read by tf_dataset in {r['seconds']:.1f} s)")
    small, big = results[rows]["peak_rss_mb"], results[10 * rows]["peak_rss_mb"]
    print(f"  growth 1x -> 10x rows: {100 * (big - small) / small:+.1f}%   (target: under +10%)")


def image_storage(n: int = 2000, size: int = 64) -> None:
    """The storage choice for images: raw HWC uint8 bytes (ours) vs PNG (Petastorm's CompressedImageCodec)."""
    import io

    from PIL import Image
    from sklearn.datasets import load_sample_images

    rng = np.random.default_rng(0)
    photos = load_sample_images().images
    crops = []
    for i in range(n):
        p = photos[i % len(photos)]
        y, x = rng.integers(0, p.shape[0] - size), rng.integers(0, p.shape[1] - size)
        crops.append(np.ascontiguousarray(p[y:y + size, x:x + size]))
    raw = [a.tobytes() for a in crops]
    png = []
    for a in crops:
        out = io.BytesIO()
        Image.fromarray(a).save(out, format="PNG")
        png.append(out.getvalue())
    start = time.perf_counter()
    decoded_raw = np.frombuffer(b"".join(raw), np.uint8).reshape(n, size, size, 3)
    t_raw = time.perf_counter() - start
    start = time.perf_counter()
    decoded_png = np.stack([np.asarray(Image.open(io.BytesIO(b))) for b in png])
    t_png = time.perf_counter() - start
    assert (decoded_png == decoded_raw).all()
    print(f"image storage: {n:,} photo crops {size}x{size}x3")
    print(f"  raw uint8 (ours)   {sum(map(len, raw)) / n:>8,.0f} bytes/image  {n / t_raw:>10,.0f} images/s to numpy")
    print(f"  PNG (codec)        {sum(map(len, png)) / n:>8,.0f} bytes/image  {n / t_png:>10,.0f} images/s to numpy "
          "(PIL, one core)")
    ratio = sum(map(len, raw)) / sum(map(len, png))
    print(f"  raw / PNG: {(n / t_raw) / (n / t_png):.0f}x faster to decode, {ratio:.1f}x the bytes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--memory", action="store_true", help="also measure peak RSS on ROWS and 10 x ROWS rows")
    parser.add_argument("--images", action="store_true", help="also compare raw vs PNG image storage")
    parser.add_argument("--rss-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    from sparkdl_kit._deps import quiet_legacy_warnings

    quiet_legacy_warnings()
    if args.rss_child:
        peak_rss_child(args.rss_child)
        return
    with tempfile.TemporaryDirectory(prefix="bench_reader_") as tmp:
        url = write_dataset(Path(tmp) / "ds", args.rows)
        print(f"reader benchmark: {args.rows:,} rows x {FEATURES} float32 + int64 label, batch {BATCH}, "
              f"median of {args.repeats}, interleaved")
        read_ours(url)  # warm up TensorFlow and the page cache
        found = timed({"limit": read_limit, "numpy": lambda u: read_ours(u, tf_data=False), "ours": read_ours,
                       "peer": read_peer}, url, args.repeats)
        (limit, n1), (ours_np, n2), (ours, n3), (peer, n4) = (found[k] for k in ("limit", "numpy", "ours", "peer"))
        assert n1 == args.rows and n3 == n2 == args.rows - args.rows % BATCH, (n1, n2, n3)
        if n4 != args.rows:
            print(f"  note: the peer read {n4:,} of {args.rows:,} rows in its last run (petastorm's thread pool "
                  "can end an epoch early)")
        for name, secs, n in (("limit  pyarrow -> numpy", limit, n1), ("ours   numpy_batches", ours_np, n2),
                              ("ours   tf_dataset", ours, n3), ("peer   petastorm tf", peer, n4)):
            print(f"  {name:26s} {n / secs:>12,.0f} rows/s  ({secs:.2f} s)")
        print(f"  ours / limit = {(n3 / ours) / (n1 / limit):.2f}   (target >= 0.8)")
        print(f"  ours / peer  = {(n3 / ours) / (n4 / peer):.2f}   (target >= 2)")
        if args.memory:
            memory(args.rows, Path(tmp))
    if args.images:
        image_storage()


if __name__ == "__main__":
    main()
