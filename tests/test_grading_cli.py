"""The grading commands' module: registering them with ``bnlab``'s command line stays cheap."""
from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import argparse, json, sys
import bnlab  # the package itself (numpy and the library) is imported anyway: measure what comes after
before = set(sys.modules)
import bnlab.grading.cli as cli
cli.add_subcommand(argparse.ArgumentParser().add_subparsers())
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def test_registering_the_grading_commands_imports_nothing_of_the_grader():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    added = json.loads(out.stdout)
    assert [m for m in added if m.split(".")[0] == "bnlab"] == ["bnlab.grading", "bnlab.grading.cli"], added
    heavy = ("matplotlib", "nbformat", "nbclient", "jupyter_client", "IPython", "numpy")
    assert not [m for m in added if m.split(".")[0] in heavy], added
