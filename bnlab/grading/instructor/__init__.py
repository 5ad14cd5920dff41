"""What an instructor runs: batch grading and the gradebook, mutants, the release and Gradescope bundles."""
