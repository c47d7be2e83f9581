# Trygg: `make sim` and `make test` set themselves up from requirements.txt.
SHELL := /bin/bash
VENV  := .venv
PYTHON := $(VENV)/bin/python
MPY   := $(VENV)/bin/micropython
# MicroPython's path: its frozen stdlib (asyncio) first, then the repository.
MPPATH := .frozen:.:tests/unit
# Interpreter for `make sim`: python (CPython) or micropython. The simulator keeps a whole day's
# records in memory, so its MicroPython runs get a 64 MB heap (the firmware's own footprint is
# measured by tools/heap.py, in `make bench`).
PY ?= python
SCENARIO ?= host_sim/scenarios/school_day.json
OUT ?= out/sim
BOARD ?= lilygo_t_a7670
PORT ?= /dev/ttyUSB0
CONFIG ?=
SERVER ?=
FUZZ_N ?= 100000
FUZZ_SEED ?= 1

.PHONY: help sim plot sims chromium fuzz fuzz-short test unit unit-cpython unit-micropython compile lint scenario board bench soak sweep flash \
	provision-check board-test vboard clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'
	@echo "  variables: PY=python|micropython SCENARIO=... OUT=... BOARD=... PORT=... CONFIG=... SEED=... SERVER=host:port"

$(VENV)/.stamp: requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

sim: $(VENV)/.stamp ## simulate a day (default the school day; SCENARIO=host_sim/scenarios/sos_park.json, calls_day, guardian_day, school_dst, faults_day, boot_sos, sick_day, weekend_walks, weekend_no_signal, week, low_battery, hostile_*, school_day_sim7000, school_day_lase, school_day_tls, school_day_osmand, school_day_steps; PY=micropython; SERVER=host:port: a real Traccar instead of the simulated one); files, map.png, energy.png and index.html in out/sim
ifeq ($(PY),micropython)
	MICROPYPATH=$(MPPATH) $(MPY) -X heapsize=64M -m host_sim run $(SCENARIO) $(OUT)
	$(PYTHON) -m host_sim plot $(OUT)
else
	$(PYTHON) -m host_sim run $(SCENARIO) $(OUT) --plot $(if $(SERVER),--server $(SERVER))
endif

plot: $(VENV)/.stamp ## draw a saved run again from its folder: map.png, energy.png, index.html (OUT=out/sim)
	$(PYTHON) -m host_sim plot $(OUT)

sims: $(VENV)/.stamp ## every scenario on both interpreters, 2 at a time, one table (tools/sims.py; ~3 min)
	$(PYTHON) tools/sims.py

test: $(VENV)/.stamp lint compile unit fuzz-short scenario board ## the whole suite: lint, mpy-cross, unit tests on both interpreters, the fuzz suite's quick pass, scenarios, the board suite on the virtual board

lint: $(VENV)/.stamp ## ruff over everything
	$(VENV)/bin/ruff check .

compile: $(VENV)/.stamp ## compile every firmware and board module with mpy-cross
	$(PYTHON) tools/compile.py --check

unit: unit-cpython unit-micropython ## firmware unit tests on CPython and on MicroPython

unit-cpython: $(VENV)/.stamp
	$(PYTHON) -m pytest tests/unit

unit-micropython: $(VENV)/.stamp
	MICROPYPATH=$(MPPATH) $(MPY) -X heapsize=16M tools/mptest.py

scenario: $(VENV)/.stamp chromium ## simulated days on both interpreters, checked like Traccar (and the people calling) would; the tools' tests
	$(PYTHON) -m pytest tests/scenario tests/tools

# Debian's Chromium for the page test (tests/tools/test_page.py): installed when missing and
# this is root (CI, a fresh container); otherwise that test says how to install it
chromium:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		apt-get update -q && apt-get install -y -q chromium; } || \
		echo "chromium missing: the page test will fail (apt-get install -y chromium)"

board: $(VENV)/.stamp ## the board suite (tests/board) on the virtual board: flashed as a real one, then QA over serial with pytest-embedded
	$(PYTHON) tools/boardtest.py

board-test: $(VENV)/.stamp ## the board suite on a real board: make board-test PORT=/dev/ttyUSB0 CONFIG=my-watch.json (README, Real hardware)
	$(PYTHON) tools/boardtest.py --port $(PORT) $(if $(CONFIG),--config $(CONFIG))

vboard: $(VENV)/.stamp ## a virtual board on a pty (out/vboard/tty) with the simulated world behind it; then make flash PORT=out/vboard/tty, mpremote connect out/vboard/tty
	$(PYTHON) tools/vboard.py --world host_sim.board_world --link out/vboard/tty

fuzz-short: $(VENV)/.stamp ## the fuzz suite's quick pass: corpus, hypothesis (40 per target), 300 mutated inputs per target, both interpreters
	$(PYTHON) -m pytest tests/fuzz -q
	MICROPYPATH=$(MPPATH) $(MPY) -X heapsize=16M tools/fuzz.py --n 300

fuzz: $(VENV)/.stamp ## 100,000 mutated inputs per target on both interpreters, then hypothesis at length (tens of minutes); failures land in tests/fuzz/corpus (FUZZ_N=, FUZZ_SEED=)
	$(PYTHON) -W error::RuntimeWarning tools/fuzz.py --n $(FUZZ_N) --seed $(FUZZ_SEED)
	MICROPYPATH=$(MPPATH) $(MPY) tools/fuzz.py --n $(FUZZ_N) --seed $(FUZZ_SEED)
	TRYGG_HYPOTHESIS=fuzz $(PYTHON) -m pytest tests/fuzz/test_fuzz_hypothesis.py -q

bench: $(VENV)/.stamp ## print the performance figures (speed, reports, bytes, energy, SOS latencies, heap, .mpy size)
	$(PYTHON) tools/bench.py

soak: $(VENV)/.stamp ## the power-cut suite: a week, 1,000 cuts (a third inside flash writes, renames, deletes), a 12 h and an 80 h outage; every report accounted for (SEED=1)
	$(PYTHON) tools/soak.py --days 7 --cuts 1000 --seed $(or $(SEED),1)

sweep: $(VENV)/.stamp ## the scenario days under the modem's other allowed behaviours (slow SMS centre, hang-up forms, slow connects, variants); flags lost reports, missed alerts, broken SOS, resets
	$(PYTHON) tools/sweep.py

flash: $(VENV)/.stamp ## compile and copy the firmware to a board or a virtual board's pty: make flash BOARD=lilygo_t_a7670|lilygo_t_sim7000g PORT=/dev/ttyUSB0 [CONFIG=my-watch.json]
	$(PYTHON) tools/deploy.py --board $(BOARD) --port $(PORT) $(if $(CONFIG),--config $(CONFIG))

provision-check: $(VENV)/.stamp ## check a watch's settings file with the firmware's own validator: make provision-check CONFIG=my-watch.json
	$(PYTHON) tools/provision.py check $(CONFIG)

clean: ## remove build output (keeps .venv)
	rm -rf out .pytest_cache .ruff_cache
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +
