"""The conftest guard that fails a pytest session in which a test skipped (a missing tool must not hide)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _session(tmp_path: Path, body: str) -> subprocess.CompletedProcess[str]:
    shutil.copy(TESTS / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_sample.py").write_text("import pytest\n\n" + body, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )


def test_a_skipped_test_fails_the_session(tmp_path: Path) -> None:
    completed = _session(tmp_path, "def test_runs():\n    pass\n\n@pytest.mark.skip(reason='no openssl')\ndef test_skips():\n    pass\n")
    assert completed.returncode == 1, completed.stdout
    assert "every test must run" in completed.stdout and "no openssl" in completed.stdout


def test_a_session_without_skips_passes(tmp_path: Path) -> None:
    completed = _session(tmp_path, "def test_runs():\n    pass\n")
    assert completed.returncode == 0, completed.stdout
