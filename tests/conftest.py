"""Shared test fixtures.

Tests that need the real data sets use :func:`requires_data`: they skip with a clear reason when
the data directory lacks the file, except under CI (``CI=true``), where missing data fails.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from datasets.location import DATA_ENV, data_dir

ON_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def data_file(*parts: str) -> Path:
    """Path of a file in the data directory; skips (or fails under CI) when it is absent."""
    path = data_dir().joinpath(*parts)
    if not path.exists():
        message = f"data not found: {path} (set {DATA_ENV})"
        if ON_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def requires_data(*parts: str) -> pytest.MarkDecorator:
    """Mark a test as needing ``data_dir()/parts``: skipped when absent, failed under CI."""
    present = data_dir().joinpath(*parts).exists()
    if present or ON_CI:
        # Under CI a missing file is not skipped: the test runs and fails on the missing data.
        return pytest.mark.data
    return pytest.mark.skip(reason=f"data not found: {data_dir().joinpath(*parts)} (set {DATA_ENV})")


def pytest_sessionstart(session: pytest.Session) -> None:
    if ON_CI and not data_dir().is_dir():
        raise pytest.UsageError(
            f"CI=true but the data directory {data_dir()} is missing: set {DATA_ENV}"
        )
