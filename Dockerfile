# The heketipy image: the server (the default) and heketipy-csi, the CSI driver, whose node
# plugin mounts with FUSE (glusterfs-client and fuse3 are in the image). With a registry:
#   docker build -t heketipy/heketipy:0.1.0 .
# Without one, `make image` (deploy/image/build.sh) makes a Debian base locally and passes it
# as BASE_IMAGE. Either base is Debian with Python 3.11.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/heketipy/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# The local base already carries them; the upstream python image gets them from Debian.
RUN if ! command -v mount.glusterfs >/dev/null || ! command -v fusermount3 >/dev/null; then \
      apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        glusterfs-client fuse3 && rm -rf /var/lib/apt/lists/*; \
    fi

# Dependencies first, in their own layer: it is rebuilt only when pyproject.toml changes.
# ssh and kube: both executors' transports; csi: heketipy-csi.
WORKDIR /src
COPY pyproject.toml ./
RUN python3 -m venv /opt/heketipy \
    && python3 -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb")); \
deps = p["project"]["dependencies"] + [d for e in ("ssh", "kube", "csi") for d in p["project"]["optional-dependencies"][e]]; \
print("\n".join(deps + p["build-system"]["requires"]))' > requirements.txt \
    && pip install -r requirements.txt

# heketipy itself; the source tree is not kept in the image.
COPY README.md ./
COPY heketipy ./heketipy
RUN pip install --no-deps --no-build-isolation ".[ssh,kube,csi]" \
    && rm -rf /src

COPY deploy/image/entrypoint.sh /usr/local/bin/heketipy-entrypoint

RUN groupadd --system --gid 10001 heketipy \
    && useradd --system --uid 10001 --gid heketipy --home-dir /var/lib/heketi --create-home \
       --shell /usr/sbin/nologin heketipy

# The server runs as heketipy; the CSI node plugin's manifest runs the image as root.
USER 10001:10001
WORKDIR /var/lib/heketi
EXPOSE 8080
ENTRYPOINT ["heketipy-entrypoint"]
CMD ["--config", "/etc/heketipy/heketi.json"]
