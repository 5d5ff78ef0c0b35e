"""sdk.run and sdk.worker_context: real Horovod workers on the local[2] session, no mocks."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

import sparkdl_kit as sdk
from sparkdl_kit.errors import ConfigError, DriverOnlyError, LaunchError, WorkerFailedError
from support import python_env

horovod_run = [pytest.mark.slow, pytest.mark.horovod]


def _leftover_workers(pids=()):
    """Worker processes still alive: the given pids, or any Horovod worker command line."""
    alive = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if proc.info["pid"] in pids or "horovod.spark.task.gloo_exec_fn" in cmd:
            try:
                if proc.status() != psutil.STATUS_ZOMBIE:
                    alive.append((proc.info["pid"], cmd[:120]))
            except psutil.NoSuchProcess:
                pass
    return alive


def _wait_no_leftovers(pids, seconds=15):
    deadline = time.monotonic() + seconds
    while _leftover_workers(pids) and time.monotonic() < deadline:
        time.sleep(0.5)
    return _leftover_workers(pids)


# ---- functions run by the workers (module-level: pickled by reference) ----

def _allreduce_and_context(greeting):
    import horovod.tensorflow as hvd
    import tensorflow as tf

    ctx = sdk.worker_context()
    print(f"{greeting} from {ctx.rank}", flush=True)
    hvd.init()
    total = float(hvd.allreduce(tf.constant(ctx.rank + 1.0), op=hvd.Sum).numpy())
    return {"ctx": ctx, "hvd": (hvd.rank(), hvd.size(), hvd.local_rank()), "sum": total,
            "threads": os.environ.get("OMP_NUM_THREADS"), "tf_threads": os.environ.get("TF_NUM_INTRAOP_THREADS"),
            "cuda": os.environ.get("CUDA_VISIBLE_DEVICES"), "run_dir_exists": os.path.isdir(ctx.run_dir or "-"),
            "pid": os.getpid()}


def _fail_on_rank_1(pid_file):
    ctx = sdk.worker_context()
    with open(f"{pid_file}.{ctx.rank}", "w") as f:
        f.write(str(os.getpid()))
    print(f"rank {ctx.rank} working", flush=True)
    if ctx.rank == 1:
        print("about to fail", file=sys.stderr, flush=True)
        raise ValueError("boom at rank 1")
    return ctx.rank


def _kill_or_hang_rank_1(pid_file, kill):
    ctx = sdk.worker_context()
    with open(f"{pid_file}.{ctx.rank}", "w") as f:
        f.write(str(os.getpid()))
    print(f"rank {ctx.rank} pid {os.getpid()}", flush=True)
    if ctx.rank == 1:
        time.sleep(1)
        if kill:
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(3600)
    else:
        time.sleep(0 if not kill else 3600)  # with kill: rank 0 blocks, as in a collective that never completes
    return ctx.rank


def _call_run_inside_task(_):
    sdk.run(len, args=([],), num_proc=1)
    yield 0


def _pids(prefix, size=2):
    return [int(open(f"{prefix}.{r}").read()) for r in range(size) if os.path.exists(f"{prefix}.{r}")]


# ---- real Horovod runs ----

@pytest.mark.slow
@pytest.mark.horovod
def test_run_returns_results_by_rank_with_context_and_streams_output(spark, caplog):
    caplog.set_level(logging.INFO, logger="sparkdl_kit.worker")
    sigint_before = signal.getsignal(signal.SIGINT)
    start = time.monotonic()
    results = sdk.run(_allreduce_and_context, args=("hello",), num_proc=2)
    elapsed = time.monotonic() - start
    assert signal.getsignal(signal.SIGINT) is sigint_before   # Horovod's handler did not stay behind

    assert [r["ctx"].rank for r in results] == [0, 1]
    assert [r["hvd"] for r in results] == [(0, 2, 0), (1, 2, 1)]
    assert {r["sum"] for r in results} == {3.0}
    for rank, r in enumerate(results):
        ctx = r["ctx"]
        assert (ctx.size, ctx.local_rank, ctx.local_size, ctx.cross_rank, ctx.cross_size) == (2, rank, 2, 0, 1)
        assert ctx.gpus == () and r["cuda"] is None          # no GPU resources on local[2]
        assert ctx.is_chief == (rank == 0)
        assert r["threads"] == "1" and r["tf_threads"] == "1"  # spark.task.cpus=1
        assert r["run_dir_exists"]
    assert results[0]["ctx"].run_id == results[1]["ctx"].run_id
    assert not os.path.exists(results[0]["ctx"].run_dir)       # removed after the run

    worker_lines = [(rec.worker_rank, rec.getMessage()) for rec in caplog.records if rec.name == "sparkdl_kit.worker"]
    assert (0, "[rank 0] hello from 0") in worker_lines
    assert (1, "[rank 1] hello from 1") in worker_lines
    assert not _wait_no_leftovers([r["pid"] for r in results])
    print(f"2-process TF+Horovod run: {elapsed:.1f} s")


@pytest.mark.slow
@pytest.mark.horovod
def test_worker_exception_names_rank_type_message_and_output_tail(spark, tmp_path):
    prefix = str(tmp_path / "pid")
    with pytest.raises(WorkerFailedError) as info:
        sdk.run(_fail_on_rank_1, args=(prefix,), num_proc=2)
    err = info.value
    assert err.rank == 1 and err.exc_type == "ValueError" and err.exc_message == "boom at rank 1"
    assert "rank 1 working" in err.log_tail and "about to fail" in err.log_tail
    assert "ValueError: boom at rank 1" in err.log_tail          # the worker's traceback
    assert "worker rank 1 failed: ValueError: boom at rank 1" in str(err)
    assert isinstance(err, RuntimeError)
    pids = _pids(prefix)
    assert len(pids) == 2 and not _wait_no_leftovers(pids)


@pytest.mark.slow
@pytest.mark.horovod
def test_killed_worker_is_reported_with_its_signal_and_nothing_is_left(spark, tmp_path):
    prefix = str(tmp_path / "pid")
    start = time.monotonic()
    with pytest.raises(WorkerFailedError) as info:
        sdk.run(_kill_or_hang_rank_1, args=(prefix, True), num_proc=2)
    assert time.monotonic() - start < 60
    err = info.value
    assert err.rank == 1 and err.exc_type == "killed by signal 9 (SIGKILL)", str(err)
    assert f"rank 1 pid {_pids(prefix)[1]}" in err.log_tail
    assert not _wait_no_leftovers(_pids(prefix))  # rank 0 was blocked: it was stopped


@pytest.mark.slow
@pytest.mark.horovod
def test_hanging_worker_fails_after_timeout_naming_the_rank(spark, tmp_path):
    prefix = str(tmp_path / "pid")
    start = time.monotonic()
    with pytest.raises(WorkerFailedError) as info:
        sdk.run(_kill_or_hang_rank_1, args=(prefix, False), num_proc=2, timeout=30)
    assert time.monotonic() - start < 60
    err = info.value
    assert err.rank == 1 and err.exc_type == "Timeout" and "after 30 s" in err.exc_message
    assert not _wait_no_leftovers(_pids(prefix))


# ---- checks before any worker starts ----

def test_too_many_workers_fail_at_once_naming_num_proc_and_slots(spark):
    start = time.monotonic()
    with pytest.raises(LaunchError) as info:
        sdk.run(_fail_on_rank_1, args=("unused",), num_proc=5)
    assert time.monotonic() - start < 5
    message = str(info.value)
    assert "num_proc=5" in message and "2 task slot(s)" in message and "local[2]" in message
    assert "Fix: pass num_proc<=2" in message


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_num_proc_below_one_or_not_an_int_is_a_config_error(spark, bad):
    with pytest.raises(ConfigError, match=r"num_proc=.* expected an integer >= 1"):
        sdk.run(_fail_on_rank_1, args=("unused",), num_proc=bad)


@pytest.mark.parametrize("kwargs, culprit", [
    ({"args": "abc"}, "args="), ({"kwargs": [1]}, "kwargs="), ({"timeout": 0}, "timeout="),
    ({"env": {"A": 1}}, "env="), ({"cpu_threads_per_worker": -2}, "cpu_threads_per_worker="),
])
def test_bad_arguments_are_config_errors_naming_the_argument(spark, kwargs, culprit):
    with pytest.raises(ConfigError, match=culprit):
        sdk.run(_fail_on_rank_1, num_proc=1, **kwargs)


def test_run_inside_a_spark_task_is_refused(spark):
    with pytest.raises(Exception, match="DriverOnlyError"):
        spark.sparkContext.parallelize([1], 1).mapPartitions(_call_run_inside_task).collect()


def test_worker_context_outside_a_worker_says_where_it_works():
    with pytest.raises(LaunchError, match=r"only available inside the function passed to sparkdl_kit.run"):
        sdk.worker_context()


def test_driver_only_error_type_is_raised_in_a_worker_process():
    code = ("import os; os.environ['SPARKDL_KIT_RUN_ID'] = 'r'\n"
            "import sparkdl_kit as sdk\n"
            "from sparkdl_kit.errors import DriverOnlyError\n"
            "try:\n    sdk.run(len, args=([],), num_proc=1)\nexcept DriverOnlyError as e:\n    print('refused:', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=python_env())
    assert "refused: sparkdl_kit.run() was called inside a Spark task or a distributed worker" in out.stdout, out.stderr


# ---- the pieces, without Spark ----

def test_worker_output_forwarding_and_gpu_pinning_in_a_child_process(caplog):
    """A child process runs the worker wrapper with a fake GPU assignment, forwarding to a real server."""
    from sparkdl_kit.launch.output import OutputServer, WorkerOutput

    caplog.set_level(logging.INFO, logger="sparkdl_kit.worker")
    output = WorkerOutput(tail_lines=5)
    with OutputServer(output) as server:
        code = (
            "import os, sys\n"
            "from sparkdl_kit.launch import context, worker\n"
            "def fn():\n"
            "    print('visible', os.environ['CUDA_VISIBLE_DEVICES'], os.environ['OMP_NUM_THREADS'], flush=True)\n"
            "    os.system('echo from a child process >&2')\n"
            "    raise KeyError('no such key')\n"
            f"spec = worker.WorkerSpec(fn=fn, args=(), kwargs={{}}, run_id='r', run_dir='/nonexistent',"
            f" output_address={server.address!r}, output_token={server.token!r}, cpu_threads=3)\n"
            "ctx = context.WorkerContext(rank=3, size=4, local_rank=1, local_size=2, cross_rank=1, cross_size=2,"
            " gpus=('2', '5'), run_id='r', run_dir=None)\n"
            "worker.execute(spec, ctx)\n")
        child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                               env=python_env())
        assert server.wait_connections_closed(timeout=10)
    assert child.returncode == 1, child.stderr
    assert child.stdout == '@@sparkdl_kit@@ 3\t{"event": "forwarding"}\n'   # the rest went to the driver
    assert output.first_problem()[0] == 3
    state = output.states()[3]
    assert state.outcome == "failed" and state.failure["type"] == "KeyError"
    messages = [rec.getMessage() for rec in caplog.records if rec.name == "sparkdl_kit.worker"]
    assert "[rank 3] visible 2,5 3" in messages
    assert "[rank 3] from a child process" in messages
    assert "KeyError: 'no such key'" in output.tail(3)


def test_output_server_ignores_connections_without_the_token():
    import socket

    from sparkdl_kit.launch.output import OutputServer, WorkerOutput

    output = WorkerOutput()
    with OutputServer(output) as server:
        with socket.create_connection(server.address) as s:
            s.sendall(b"HELLO wrong-token 0\nO\tstdout\tinjected\nM\t{\"event\": \"failed\"}\n")
        time.sleep(0.5)
    assert output.states() == {} and not output.problem.is_set()


def test_horovod_stream_sink_splits_interleaved_chunks_per_writer(caplog):
    from sparkdl_kit.launch.output import HorovodStreamSink, WorkerOutput

    caplog.set_level(logging.INFO, logger="sparkdl_kit.worker")
    sink = HorovodStreamSink(WorkerOutput(), "stdout")
    sink.write("[0]<stdout>:first ha")
    sink.write("lf\n[0]<stdout>:second\n[1]<stderr>:tail without newline")
    sink.flush()
    assert [r.getMessage() for r in caplog.records] == [
        "[task 0] first half", "[task 0] second", "[task 1] tail without newline"]


def test_exit_descriptions():
    from sparkdl_kit.launch.failures import describe_exit, horovod_exit

    assert describe_exit(137) == "killed by signal 9 (SIGKILL)"
    assert describe_exit(1) == "exited with code 1"
    msg = RuntimeError("... The first process to do so was:\nProcess name: 1\nExit code: 143\n")
    assert horovod_exit(msg) == (1, 143)


def test_import_stays_light():
    code = "import sys, sparkdl_kit; print(sorted(m for m in ('tensorflow', 'horovod') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=python_env())
    assert out.stdout.strip() == "[]", out.stderr


def test_unpicklable_result_is_reported_as_the_workers_error_in_a_child_process():
    from sparkdl_kit.launch.output import OutputServer, WorkerOutput

    output = WorkerOutput()
    with OutputServer(output) as server:
        code = (
            "import threading\n"
            "from sparkdl_kit.launch import context, worker\n"
            f"spec = worker.WorkerSpec(fn=threading.Lock, args=(), kwargs={{}}, run_id='r', run_dir='/x',"
            f" output_address={server.address!r}, output_token={server.token!r}, cpu_threads=1)\n"
            "ctx = context.WorkerContext(0, 1, 0, 1, 0, 1, (), 'r', None)\n"
            "worker.execute(spec, ctx)\n")
        child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                               env=python_env())
        assert server.wait_connections_closed(timeout=10)
    assert child.returncode == 1, child.stderr
    failure = output.states()[0].failure
    assert failure["type"] == "ResultNotPicklableError" and "cannot be pickled back to the driver" in failure["message"]


@pytest.mark.parametrize("master, cores", [
    ("local", 1), ("local[3]", 3), ("local[2,4]", 2), ("local-cluster[2, 1, 1024]", 2), ("spark://h:7077", None),
])
def test_local_master_cores(master, cores):
    from sparkdl_kit.launch.slots import local_cores

    assert local_cores(master) == cores


def test_task_slots_of_the_test_session(spark):
    slots = sdk.launch.task_slots(spark.sparkContext)
    assert (slots.slots, slots.task_cpus, slots.master, slots.dynamic) == (2, 1, "local[2]", False)


def test_unreachable_driver_falls_back_to_status_markers_on_stdout(caplog):
    """Without a connection, output stays on the process's stdout/stderr (Horovod ships it at the end),
    with status records as marker lines that the driver's Horovod stream sink understands."""
    from sparkdl_kit.launch.output import HorovodStreamSink, WorkerOutput
    from support import free_port

    code = (
        "from sparkdl_kit.launch import context, worker\n"
        "def fn():\n"
        "    print('still printed', flush=True)\n"
        "    raise ValueError('boom offline')\n"
        f"spec = worker.WorkerSpec(fn=fn, args=(), kwargs={{}}, run_id='r', run_dir='/x',"
        f" output_address=('127.0.0.1', {free_port()}), output_token='t', cpu_threads=1)\n"
        "ctx = context.WorkerContext(1, 2, 1, 2, 0, 1, (), 'r', None)\n"
        "worker.execute(spec, ctx)\n")
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=python_env())
    assert child.returncode == 1 and "cannot reach the driver" in child.stderr
    caplog.set_level(logging.INFO, logger="sparkdl_kit.worker")
    output = WorkerOutput()
    sink = HorovodStreamSink(output, "stdout")
    sink.write("".join(f"[4]<stdout>:{line}\n" for line in child.stdout.splitlines()))  # as Horovod delivers it
    rank, state = output.first_problem()
    assert rank == 1 and state.failure["type"] == "ValueError" and state.failure["message"] == "boom offline"
    assert "[rank 1] still printed" in [r.getMessage() for r in caplog.records]


@pytest.mark.parametrize("grace, timed_out", [(float("inf"), 1.0), (2.0, None)], ids=["elastic", "static"])
def test_the_time_limit_holds_after_a_worker_failed_when_the_run_waits_for_a_replacement(grace, timed_out):
    """Elastic runs (no grace limit) wait for a replacement and still time out; in a static run the
    failure, not the time limit, stops the run and is its cause."""
    import threading

    from sparkdl_kit.launch.horovod_spark import _Watchdog
    from sparkdl_kit.launch.output import WorkerOutput

    output, abort = WorkerOutput(), threading.Event()
    output.problem.set()                        # a worker failed or was lost
    watchdog = _Watchdog(None, "group", output, abort, timeout=1.0, grace=grace)
    watchdog.start()
    try:
        assert abort.wait(8), "the watchdog never stopped the run"
        assert watchdog.timed_out == timed_out
    finally:
        watchdog.stop()
