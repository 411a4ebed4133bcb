#!/bin/bash
# Builds the heketipy image (the server and heketipy-csi) on a host without an image registry:
#   1. a Debian base (minbase + python3, glusterfs-client, fuse3) made with debootstrap and
#      `podman import`ed, cached in podman's storage under a tag keyed by a hash of what goes
#      into it, so only the first build pays for it (`podman rmi` the tag to refresh it);
#   2. the repository's Dockerfile on top of it, with BASE_IMAGE pointing at that base.
# With a registry, `docker build -t heketipy/heketipy:VERSION .` builds the same image on the
# upstream python image instead.
# Needs root, podman, runc and debootstrap (`make system-packages` installs them).
# Environment: IMAGE (default heketipy/heketipy:<package version>), DEBIAN_SUITE and
# DEBIAN_MIRROR (default: the host's Debian release and mirror).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PODMAN="$ROOT/deploy/image/podman.sh"
PACKAGES="python3,python3-venv,ca-certificates,glusterfs-client,fuse3"

die() { echo "deploy/image/build.sh: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap and rootful podman)"
for tool in podman runc debootstrap; do
    command -v "$tool" >/dev/null || die "$tool is missing (make system-packages installs it)"
done

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$ROOT/pyproject.toml" | head -n1)
IMAGE=${IMAGE:-heketipy/heketipy:$version}

host_codename() {
    # shellcheck disable=SC1091
    (. /etc/os-release && [ "${ID:-}" = debian ] && echo "${VERSION_CODENAME:-}") || true
}

# The host's Debian mirror: the first deb URI in /etc/apt (deb822 or one-line format).
host_mirror() {
    local uri
    uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null \
          | sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)\/\{0,1\}\([[:space:]].*\)\{0,1\}$/\1/p' \
          | head -n1)
    [ -n "$uri" ] || uri=$(sed -n 's/^deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]*\)\{0,1\}\([^[:space:]]*\/debian\)\/\{0,1\}[[:space:]].*/\2/p' \
          /etc/apt/sources.list 2>/dev/null | head -n1)
    echo "${uri:-http://deb.debian.org/debian}"
}

SUITE=${DEBIAN_SUITE:-$(host_codename)}
SUITE=${SUITE:-bookworm}
MIRROR=${DEBIAN_MIRROR:-$(host_mirror)}

# What the base is made of: the suite, the packages and this script's way of making it.
key=$( { echo "$SUITE"; echo "$PACKAGES"; sed -n '/^make_base()/,/^}/p' "$0"; } \
       | sha256sum | cut -c1-16)
BASE="localhost/heketipy-base:$SUITE-$key"

make_base() {
    local work
    work=$(mktemp -d /var/tmp/heketipy-base.XXXXXX)
    # shellcheck disable=SC2064
    trap "rm -rf '$work'" EXIT
    debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$work/rootfs" "$MIRROR" \
        >"$work/debootstrap.log" 2>&1 || { tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
    # Lean: no package caches, lists, logs, documentation or translations (the directories stay,
    # so apt-get still works in the image); nothing of the host's.
    find "$work/rootfs"/var/cache/apt "$work/rootfs"/var/lib/apt/lists "$work/rootfs"/var/log \
        -type f -delete
    rm -rf "$work/rootfs"/usr/share/doc/* "$work/rootfs"/usr/share/man/* \
        "$work/rootfs"/usr/share/info/* "$work/rootfs"/usr/share/locale/* \
        "$work/rootfs"/etc/resolv.conf "$work/rootfs"/etc/hostname
    tar -C "$work/rootfs" --numeric-owner -cf - . | "$PODMAN" import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["/bin/bash"]' \
        --change "LABEL org.heketipy.base.packages=$PACKAGES" \
        --message "debootstrap --variant=minbase $SUITE" - "$BASE" >/dev/null
    rm -rf "$work"
    trap - EXIT
}

started=$SECONDS
if "$PODMAN" image exists "$BASE"; then
    echo "base $BASE: cached"
else
    echo "base $BASE: debootstrap $SUITE from $MIRROR"
    make_base
    echo "base $BASE: made in $((SECONDS - started)) s"
fi

# pip in the build trusts what the host's pip trusts (say, the CA of an HTTPS proxy): the host's
# bundle is mounted over the image's for the build only, nothing of it stays in the image.
host_ca=${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}
ca_mount=()
[ -f "$host_ca" ] && ca_mount=(--volume "$host_ca:/etc/ssl/certs/ca-certificates.crt:ro")

step=$SECONDS
# Host networking for the RUN steps (pip): no bridge or firewall rules are set up for a build.
"$PODMAN" build --network host "${ca_mount[@]}" --build-arg "BASE_IMAGE=$BASE" \
    -t "$IMAGE" -f "$ROOT/Dockerfile" "$ROOT"
# Images a rebuild left behind (untagged, no children) would pile up: drop those on our base,
# and the bases of other package lists or script versions that nothing uses any more.
"$PODMAN" image prune --force --filter label=org.heketipy.base.packages >/dev/null
for old in $("$PODMAN" images --format '{{.Repository}}:{{.Tag}}' localhost/heketipy-base); do
    [ "$old" = "$BASE" ] || "$PODMAN" rmi "$old" >/dev/null 2>&1 || true
done
echo "image $IMAGE: built in $((SECONDS - step)) s (total $((SECONDS - started)) s)"
