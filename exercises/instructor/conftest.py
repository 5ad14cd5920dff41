"""The source notebooks hold the solutions and are stored without outputs, so they are not nbval notebooks:
their generated stubs in exercises/ are, and tests/test_exercises_*.py grade the solutions."""
collect_ignore_glob = ["ex*/*.ipynb"]
