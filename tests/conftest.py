import os
import tempfile

# Set before fmlab or matplotlib import: no windows, and caches that never touch the user's home.
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("FMLAB_CACHE", tempfile.mkdtemp(prefix="fmlab-test-cache-"))
os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(tempfile.gettempdir(), "fmlab-numba-cache"))
