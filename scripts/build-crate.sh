#!/usr/bin/env bash
# Builds a benchmark's cargo crate offline from Debian's crate sources
# (/usr/share/cargo/registry, the librust-*-dev packages), in a copy under
# the build folder, so the source tree stays clean:
#   scripts/build-crate.sh CRATE_DIR COPY_DIR
# Cargo's output goes to stdout and stderr; the executables land in
# COPY_DIR/target/release/. The exit status is cargo's.
set -euo pipefail
src=$1 dest=$2
rm -rf "$dest/src" && mkdir -p "$dest" && cp -r "$src/Cargo.toml" "$src/src" "$dest/"
cd "$dest"
exec cargo build --release --offline --quiet \
  --config 'source.crates-io.replace-with="debian"' \
  --config 'source.debian.directory="/usr/share/cargo/registry"'
