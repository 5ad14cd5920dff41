"""What a learner runs: the public checks in an exercise notebook and ``bnlab check``."""
