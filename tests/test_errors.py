import pickle

import pytest

from sparkdl_kit import errors


@pytest.mark.parametrize("cls, builtin", [
    (errors.ConfigError, ValueError),
    (errors.SchemaError, ValueError),
    (errors.DataError, ValueError),
    (errors.DatasetExistsError, FileExistsError),
    (errors.DatasetNotFoundError, FileNotFoundError),
    (errors.MissingDependencyError, ImportError),
    (errors.LaunchError, RuntimeError),
    (errors.WorkerFailedError, RuntimeError),
])
def test_typed_errors_catch_as_builtins_and_as_base(cls, builtin):
    assert issubclass(cls, builtin)
    assert issubclass(cls, errors.SparkDLError)


def test_worker_failed_error_carries_rank_message_and_log_tail_and_pickles():
    e = errors.WorkerFailedError(1, "ValueError", "bad batch", "line a\nline b\n")
    assert (e.rank, e.exc_type, e.exc_message) == (1, "ValueError", "bad batch")
    assert "worker rank 1 failed: ValueError: bad batch" in str(e)
    assert str(e).endswith("line a\nline b")
    back = pickle.loads(pickle.dumps(e))
    assert (back.rank, back.exc_message, str(back)) == (1, "bad batch", str(e))


def test_require_names_the_install_command():
    from sparkdl_kit._deps import require

    with pytest.raises(errors.MissingDependencyError, match="pip install no_such_module_xyz"):
        require("no_such_module_xyz")
