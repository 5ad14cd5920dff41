# bnlab: two commands for users (`make lab`, `make test`), one for maintainers (`make notebooks`).
# `make lab` and `make test` install into .venv, then run `python -m bnlab lab` / `python -m bnlab test`,
# the commands the README gives for a machine without make: one source of truth for what they run.
VENV ?= .venv
ifeq ($(OS),Windows_NT)
PYTHON ?= python
VENV_PYTHON = $(VENV)/Scripts/python.exe
else
PYTHON ?= python3
VENV_PYTHON = $(VENV)/bin/python
endif
# pip shows what it downloads and installs (the first install takes a few minutes).
PIP = $(VENV_PYTHON) -m pip --disable-pip-version-check
# `make test CONSTRAINTS=.github/lowest-versions.txt` installs the lowest versions pyproject.toml allows.
CONSTRAINTS ?=
# `make lab NO_BROWSER=1` installs and starts JupyterLab without opening a browser; it prints the URL.
NO_BROWSER ?=
# The course's matrices are tiny: one BLAS thread is fastest (several threads on a busy 2-core machine run the
# notebooks up to 6x slower) and gives the same round-off as the stored outputs. `bnlab lab` and `bnlab test`
# set it for their child processes; `make notebooks` and `make exercises` set it here.
notebooks exercises: export OPENBLAS_NUM_THREADS ?= 1
notebooks exercises: export OMP_NUM_THREADS ?= 1
notebooks exercises: export MKL_NUM_THREADS ?= 1

.PHONY: lab test lint notebooks exercises bench clean

$(VENV_PYTHON):
	$(PYTHON) -m venv $(VENV)

# The stamp files re-install when pyproject.toml changes.
$(VENV)/.lab: pyproject.toml | $(VENV_PYTHON)
	$(PIP) install $(if $(CONSTRAINTS),-c $(CONSTRAINTS),) -e ".[lab]"
	@touch $@

$(VENV)/.test: pyproject.toml | $(VENV_PYTHON)
	$(PIP) install $(if $(CONSTRAINTS),-c $(CONSTRAINTS),) -e ".[test,lab]"
	@touch $@

# JupyterLab at the repository root (notebooks/ and exercises/ both in its file browser).
lab: $(VENV)/.lab
	$(VENV_PYTHON) -m bnlab lab $(if $(NO_BROWSER),--no-browser,)

# Unit tests, course notebooks and exercises under strict nbval. `tests` is absent from the student release
# (`bnlab release`): there this runs the notebooks and exercises.
test: $(VENV)/.test
	$(VENV_PYTHON) -m bnlab test

# pyproject.toml's [tool.ruff] checks over the package and the tests, with the ruff the `lint` extra pins.
$(VENV)/.lint: pyproject.toml | $(VENV_PYTHON)
	$(PIP) install $(if $(CONSTRAINTS),-c $(CONSTRAINTS),) -e ".[lint]"
	@touch $@

lint: $(VENV)/.lint
	$(VENV_PYTHON) -m ruff check .

# Re-execute every course and exercise notebook in place (deterministic), storing fresh outputs.
notebooks: $(VENV)/.test
	$(VENV_PYTHON) -m bnlab.grading.author.authoring
	$(VENV_PYTHON) -m bnlab.notebook_tools execute notebooks/*.ipynb exercises/*.ipynb

# Write the exercise stubs and exercises/README.md's table from exercises/instructor/exNN, then store the
# stubs' outputs (exercises/AUTHORING.md).
exercises: $(VENV)/.test
	$(VENV_PYTHON) -m bnlab.grading.author.authoring
	$(VENV_PYTHON) -m bnlab.notebook_tools execute exercises/*.ipynb

bench: $(VENV)/.test
	$(VENV_PYTHON) -m bnlab bench

clean:
	rm -rf $(VENV) build dist *.egg-info
