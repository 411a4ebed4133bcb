# heketipy: the two set-up commands are `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
APT    := apt-get -o DPkg::Lock::Timeout=600

.PHONY: run test lint e2e e2e-vm bench system-packages clean csi-proto image

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,ssh,kube,csi]'
	touch $(STAMP)

# Debian packages the e2e tier needs; only possible (and only attempted) as root.
system-packages:
	@if [ "$$(id -u)" = 0 ] && ! command -v glusterd >/dev/null 2>&1; then \
	  ($(APT) update -q && DEBIAN_FRONTEND=noninteractive $(APT) install -y -q \
	     glusterfs-server glusterfs-client openssh-server xfsprogs lvm2 iproute2 >/dev/null) \
	  || echo "warning: could not install Debian packages; e2e tests will skip"; \
	fi
	@# the image (issue 11): podman with runc, and debootstrap for the local Debian base
	@if [ "$$(id -u)" = 0 ] && ! { command -v podman && command -v runc && command -v debootstrap; } >/dev/null 2>&1; then \
	  ($(APT) update -q && DEBIAN_FRONTEND=noninteractive $(APT) install -y -q \
	     podman runc debootstrap >/dev/null) \
	  || echo "warning: could not install podman, runc or debootstrap; the image test will fail"; \
	fi
	@# promtool checks deploy/monitoring/ (issue 15); it ships in the Prometheus server package,
	@# whose daemon is not wanted here: stopped and disabled if the init system started it.
	@if [ "$$(id -u)" = 0 ] && ! command -v promtool >/dev/null 2>&1; then \
	  ($(APT) update -q && DEBIAN_FRONTEND=noninteractive $(APT) install -y -q \
	     --no-install-recommends prometheus >/dev/null \
	   && { if [ -d /run/systemd/system ]; then systemctl disable --now prometheus.service; \
	        else service prometheus stop; update-rc.d prometheus disable; fi >/dev/null 2>&1 \
	        || true; }) \
	  || echo "warning: could not install prometheus (promtool); the monitoring tests will fail"; \
	fi

run: $(STAMP)
	$(PY) -m heketipy --listen 127.0.0.1 --port 8080

# ruff, the layering contracts and the static types ([tool.mypy] in pyproject.toml)
lint: $(STAMP)
	$(VENV)/bin/ruff check heketipy tests benchmarks
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

# The suite in two runs, both always run (the exit status fails if either failed):
# - everything but the e2e tier on TEST_WORKERS pytest-xdist workers: most of these tests wait on
#   the server processes they start, not on the CPU. --dist loadscope keeps each module on one
#   worker, so a module-scoped fixture (the built image, shared servers) is made once;
# - then the e2e tier, serially: its tests share one machine-wide testbed.
TEST_WORKERS ?= 4
test: $(STAMP) system-packages lint
	@status=0; \
	$(PY) -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadscope -m "not e2e" \
	  || status=1; \
	$(PY) -m pytest -q -p no:cacheprovider -m e2e tests/e2e || status=1; \
	exit $$status

# The heketipy image (server and heketipy-csi) without a registry: a local Debian base made with
# debootstrap, then the Dockerfile with podman (root only). tests/image runs it in `make test`.
image: system-packages
	deploy/image/build.sh

# Benchmarks (issue 6): API overhead on the mock executor, provisioning on the latency model.
bench: $(STAMP)
	$(PY) -m benchmarks.run --executor mock --volumes 10000 --concurrency 32 --out benchmarks/results/mock-10000.json
	$(PY) -m benchmarks.run --executor simulator --volumes 500 --concurrency 32 --latency-ms '{"lvm": 20, "fs": 20, "gluster": 150}' --out benchmarks/results/simulator-500.json

# Only the end-to-end tier: real glusterd + sshd in network namespaces (root needed).
e2e: $(STAMP) system-packages
	$(PY) -m pytest -q -p no:cacheprovider -m e2e tests/e2e

# Opt-in: the same scenario over SSH against qemu VMs with real dm-thin (about 10 minutes).
e2e-vm: $(STAMP)
	tests/testbed/vm/run-e2e.sh

# Regenerate heketipy-csi's committed gRPC stubs after editing
# heketipy/third_party/csi_spec/csi.proto.
csi-proto: $(STAMP)
	$(PY) -m heketipy.csi.generate_stubs

clean:
	rm -rf $(VENV) var
