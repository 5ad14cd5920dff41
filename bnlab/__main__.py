"""``python -m bnlab ...``: the ``bnlab`` command, for when its script is not on PATH (e.g. Windows
without an activated virtual environment)."""
import sys

from bnlab.cli import main

sys.exit(main())
