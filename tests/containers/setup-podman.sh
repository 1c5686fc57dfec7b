#!/usr/bin/env bash
# Prepare a Debian machine to build and run the docqet-monitor image with podman when there is no Docker
# daemon and no reachable image registry (CI: `make tools` runs this when CI=true; elsewhere `make containers`).
#   1. podman, runc and debootstrap from Debian;
#   2. a containers.conf drop-in: no default ulimits (the sandbox refuses setrlimit), cgroupfs, runc;
#   3. the base image localhost/debian-python:bookworm: a Debian root filesystem made by debootstrap from the
#      Debian mirror apt uses, imported with `podman import` (build with --build-arg BASE_IMAGE=<that image>).
# Idempotent: a step already done is skipped, so a second run takes a second or two.
set -euo pipefail

BASE_IMAGE=${BASE_IMAGE:-localhost/debian-python:bookworm}
SUITE=bookworm
CONF=/etc/containers/containers.conf.d/docqet-monitor.conf
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)

missing=()
for tool in podman runc debootstrap; do
	command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "setup-podman: installing ${missing[*]} from Debian"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends podman runc debootstrap \
		>/dev/null
fi

if [ ! -f "$CONF" ]; then
	echo "setup-podman: writing $CONF"
	$SUDO mkdir -p "$(dirname "$CONF")"
	printf '%s\n' \
		'# Written by docqet-monitor tests/containers/setup-podman.sh: containers in a sandbox that refuses' \
		'# setrlimit and systemd cgroups.' \
		'[containers]' 'default_ulimits = []' '[engine]' 'cgroup_manager = "cgroupfs"' 'runtime = "runc"' |
		$SUDO tee "$CONF" >/dev/null
fi

if ! podman image exists "$BASE_IMAGE"; then
	# the mirror apt already uses for this suite (DEBIAN_MIRROR overrides), else Debian's CDN
	mirror=${DEBIAN_MIRROR:-$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null |
		awk -v suite="$SUITE" '$2 == suite { print $1; exit }')}
	mirror=${mirror:-http://deb.debian.org/debian/}
	rootfs=$(mktemp -d /var/tmp/docqet-monitor-rootfs.XXXXXX)
	trap '$SUDO rm -rf "$rootfs"' EXIT
	echo "setup-podman: creating $BASE_IMAGE with debootstrap from $mirror (about a minute)"
	$SUDO debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates "$SUITE" "$rootfs" \
		"$mirror" >"$rootfs.log" 2>&1 || { tail -20 "$rootfs.log" >&2; rm -f "$rootfs.log"; exit 1; }
	rm -f "$rootfs.log"
	$SUDO rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
	$SUDO tar -C "$rootfs" -c . | podman import --quiet - "$BASE_IMAGE" >/dev/null
fi
echo "setup-podman: podman $(podman version --format '{{.Client.Version}}'), base image $BASE_IMAGE ready"
