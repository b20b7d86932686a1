#!/usr/bin/env bash
# install-deps.sh: installs the Debian 12 packages sysmem needs to build and test, if any is missing.
set -euo pipefail
# python3-*: the Python package's test (python/, docs/python.md); numpy is optional for the package itself,
# installed here so its numpy path is tested too.
pkgs=(meson ninja-build pkg-config gcc clang libsystemd-dev libdrm-dev libgbm-dev libcmocka-dev libjson-c-dev libavutil-dev
      python3-venv python3-pip python3-setuptools python3-wheel python3-numpy)
missing=()
for p in "${pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
        echo "installing: ${missing[*]}"
        SUDO=""
        [ "$(id -u)" -eq 0 ] || SUDO=sudo
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
