# bnlab: two commands for users (`make lab`, `make test`), one for maintainers (`make notebooks`).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q
# `make lab NO_BROWSER=1` installs and starts JupyterLab without opening a browser; it prints the URL.
NO_BROWSER ?=
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with notebooks/sanitize.cfg
# The course's matrices are tiny: one BLAS thread is fastest (several threads on a busy 2-core machine run the
# notebooks up to 6x slower) and gives the same round-off as the stored outputs (`make notebooks` uses one too).
test notebooks exercises: export OPENBLAS_NUM_THREADS ?= 1
test notebooks exercises: export OMP_NUM_THREADS ?= 1
test notebooks exercises: export MKL_NUM_THREADS ?= 1

.PHONY: lab test notebooks exercises bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The stamp files re-install when pyproject.toml changes.
$(VENV)/.lab: pyproject.toml | $(BIN)/python
	$(PIP) install -e ".[lab]"
	@touch $@

$(VENV)/.test: pyproject.toml | $(BIN)/python
	$(PIP) install -e ".[test,lab]"
	@touch $@

# JupyterLab refuses to run as root unless told; containers often run as root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: $(VENV)/.lab
	$(BIN)/jupyter lab notebooks/ $(ROOT_FLAG) $(if $(NO_BROWSER),--no-browser,)

# `tests` is absent from the student release (`bnlab release`): there this runs the notebooks and exercises.
test: $(VENV)/.test
	$(BIN)/python -m pytest $(wildcard tests) notebooks exercises $(NBVAL) -p no:cacheprovider

# Re-execute every course and exercise notebook in place (deterministic), storing fresh outputs.
notebooks: $(VENV)/.test
	$(BIN)/python -m bnlab.grading.instructor.authoring
	$(BIN)/python -m bnlab.notebook_tools execute notebooks/*.ipynb exercises/*.ipynb

# Write the exercise stubs and exercises/README.md's table from exercises/instructor/source, then store the
# stubs' outputs (exercises/AUTHORING.md).
exercises: $(VENV)/.test
	$(BIN)/python -m bnlab.grading.instructor.authoring
	$(BIN)/python -m bnlab.notebook_tools execute exercises/*.ipynb

bench: $(VENV)/.test
	$(BIN)/bnlab bench

clean:
	rm -rf $(VENV) build *.egg-info
