"""The figures the notebooks draw. Each function takes data computed by bnlab, draws on a new
(or given) matplotlib Axes, titles and labels it, and returns the Figure; notebooks end plotting
cells with ``;`` or ``plt.show()`` so no object repr is stored.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

# --- Figures for notebooks 1-4 (Z → BN → A, dropping b, mini-batches, optimizers) ---


# --- Figures for notebooks 5-7 (the paper's experiment, test time, frameworks) ---
