# heketipy: the two set-up commands are `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
APT    := apt-get -o DPkg::Lock::Timeout=600

.PHONY: run test lint unit golden system-packages clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,ssh,kube]'
	touch $(STAMP)

# Debian packages the e2e tier needs; only possible (and only attempted) as root.
system-packages:
	@if [ "$$(id -u)" = 0 ] && ! command -v glusterd >/dev/null 2>&1; then \
	  ($(APT) update -q && DEBIAN_FRONTEND=noninteractive $(APT) install -y -q \
	     glusterfs-server glusterfs-client openssh-server xfsprogs lvm2 iproute2 >/dev/null) \
	  || echo "warning: could not install Debian packages; e2e tests will skip"; \
	fi

run: $(STAMP)
	$(PY) -m heketipy --listen 127.0.0.1 --port 8080

lint: $(STAMP)
	$(VENV)/bin/ruff check heketipy tests benchmarks
	$(VENV)/bin/lint-imports

test: $(STAMP) system-packages lint
	$(PY) -m pytest -q -p no:cacheprovider

clean:
	rm -rf $(VENV) var
