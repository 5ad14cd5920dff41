"""One BLAS thread for the notebooks pytest re-runs: the stored outputs were made that way (same round-off)."""
import os

for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(name, "1")
