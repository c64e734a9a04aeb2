"""The shipped stubs: installed with py.typed, accepted by mypy --strict, and true to the
runtime signatures (mypy's stubtest)."""

from __future__ import annotations

import importlib.util
import os
import pathlib
import subprocess
import sys

import pytest

import bufsum

HERE = pathlib.Path(__file__).parent
pytestmark = pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy not installed")


def test_stubs_and_marker_are_installed() -> None:
    pkg = pathlib.Path(bufsum.__file__).parent
    assert (pkg / "py.typed").exists()
    assert (pkg / "__init__.pyi").exists()


def run(*args: str) -> subprocess.CompletedProcess[str]:
    # Run from a neutral directory so that the installed package, not the source tree, is checked.
    env = {**os.environ, "MYPY_CACHE_DIR": str(HERE.parent / ".mypy_cache")}
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, cwd=HERE.parent / "tests", env=env)


def test_mypy_strict_accepts_typed_usage() -> None:
    r = run("mypy", "--strict", "--no-incremental", str(HERE / "typed_usage.py"))
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_strict_rejects_misuse(tmp_path: pathlib.Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import bufsum\nbufsum.sum([1.0], threads='2')\nbufsum.Accumulator().add('x')\n"
        "x: str = bufsum.sum(b'ab')\ny: int = bufsum.fsum(b'ab')\n"
    )
    r = run("mypy", "--strict", "--no-incremental", str(bad))
    assert r.returncode == 1 and r.stdout.count("error:") >= 4, r.stdout


def test_stubtest_matches_runtime() -> None:
    r = run("mypy.stubtest", "bufsum", "--ignore-missing-stub")
    assert r.returncode == 0, r.stdout + r.stderr
