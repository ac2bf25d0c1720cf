import json
import os
import tempfile

import pytest

# Set before fmlab or matplotlib import: no windows, and caches that never touch the user's home.
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("FMLAB_CACHE", tempfile.mkdtemp(prefix="fmlab-test-cache-"))
os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(tempfile.gettempdir(), "fmlab-numba-cache"))


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """The whole course executed once in the smoke profile: (report folder, {notebook: result})."""
    from fmlab import report
    out = report.run_course("smoke", out=tmp_path_factory.mktemp("report"), progress=False, timeout=600)
    return out, {r["notebook"]: r for r in json.loads((out / "summary.json").read_text())["notebooks"]}
