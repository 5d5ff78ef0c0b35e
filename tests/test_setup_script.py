"""`make setup` refuses a wrong Python or a missing Java at once and leaves no half-made .venv/."""

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from support import REPO

SYSTEM_PYTHON = "/usr/bin/python3.11"
OTHER_PYTHONS = sorted(p for p in glob.glob("/root/.pyenv/versions/3.*/bin/python3.[0-9]*")
                       if "3.11" not in p and not p.endswith("-config"))


def _copy_setup(tmp_path):
    os.chmod(tmp_path, 0o777)
    for name in ("constraints.txt", "setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(REPO / name, tmp_path / name)
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO / "scripts" / "setup.sh", tmp_path / "scripts" / "setup.sh")
    return tmp_path


@pytest.mark.skipif(not OTHER_PYTHONS, reason="no Python other than 3.11 on this machine")
def test_setup_stops_on_a_python_other_than_3_11(tmp_path):
    root = _copy_setup(tmp_path)
    out = subprocess.run(["bash", "scripts/setup.sh"], cwd=root, capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, PYTHON=OTHER_PYTHONS[0]))
    assert out.returncode == 1
    assert "needs Python 3.11" in out.stderr and "PYTHON=/path/to/python3.11" in out.stderr
    assert not (root / ".venv").exists()


@pytest.fixture
def world_readable_dir():
    """A folder outside pytest's root-only temp tree, so another user can work in it."""
    where = tempfile.mkdtemp(prefix="sparkdl-setup-test-", dir="/tmp")
    os.chmod(where, 0o777)
    yield Path(where)
    shutil.rmtree(where, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv") or not os.path.exists(SYSTEM_PYTHON),
                    reason="needs root (to drop to another user) and a system-wide Python 3.11")
def test_setup_without_java_and_without_root_says_what_to_install(world_readable_dir):
    root = _copy_setup(world_readable_dir)
    tools = root / "bin"            # a PATH with the shell tools the script needs, and no java
    tools.mkdir()
    for tool in ("bash", "sed", "head", "id", "dirname", "cat", "rm"):
        os.symlink(shutil.which(tool), tools / tool)
    os.symlink(SYSTEM_PYTHON, tools / "python3.11")
    env = {"PATH": str(tools), "HOME": str(root), "SETUP_JVM_DIRS": str(root / "no-jvm")}
    out = subprocess.run([shutil.which("setpriv"), "--reuid=65534", "--regid=65534", "--clear-groups",
                          str(tools / "bash"), "scripts/setup.sh"], cwd=root, capture_output=True, text=True,
                         timeout=60, env=env)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "Java 17 is required" in out.stderr and "openjdk-17-jre-headless" in out.stderr
    assert not (root / ".venv").exists()
