#!/usr/bin/env bash
# Installs the Debian packages uvrun needs that are missing (apt-get as root,
# sudo otherwise). Extra package names may be passed as arguments.
set -euo pipefail
want=(meson ninja-build pkg-config cmake g++ libuv1-dev doctest-dev libhttp-parser-dev "$@")
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then sudo=(); else sudo=(sudo); fi
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
