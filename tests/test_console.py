import logging
import subprocess
import sys

from support import python_env

SCRIPT = """
import logging, sparkdl_kit as sdk
sdk.log_to_stderr()
sdk.log_to_stderr()
logging.info("root chatter")            # configures the root logger, as py4j's retries do
logging.getLogger("sparkdl_kit.worker").info("[rank 0] epoch 1/1: loss=0.1")
logging.getLogger("sparkdl_kit.worker").debug("hidden")
"""


def test_log_to_stderr_shows_toolkit_lines_once_and_hides_others():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60,
                         env=python_env())
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stderr.splitlines() if "epoch 1/1" in line]
    assert len(lines) == 1 and lines[0].endswith("sparkdl_kit.worker: [rank 0] epoch 1/1: loss=0.1")
    assert "root chatter" not in out.stderr and "hidden" not in out.stderr
    assert logging.getLogger("sparkdl_kit").propagate is True   # nothing changed in this process
