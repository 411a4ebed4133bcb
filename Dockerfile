# The heketipy server image that deploy/heketipy-deployment.yaml runs:
#   docker build -t heketipy/heketipy:0.1.0 .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY heketipy ./heketipy
# ssh and kube: both executors' transports; the source tree is not kept in the image.
RUN pip install ".[ssh,kube]" \
    && rm -rf /src

RUN groupadd --system --gid 10001 heketipy \
    && useradd --system --uid 10001 --gid heketipy --home-dir /var/lib/heketi --create-home \
       --shell /usr/sbin/nologin heketipy

USER 10001:10001
WORKDIR /var/lib/heketi
EXPOSE 8080
ENTRYPOINT ["heketipy"]
CMD ["--config", "/etc/heketipy/heketi.json"]
