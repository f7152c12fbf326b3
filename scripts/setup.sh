#!/usr/bin/env bash
# Installs every Debian package tessel's build, tests, tools and benchmarks need.
# Idempotent: when everything is present it checks with dpkg and returns in well under a second.
# Must run as root on Debian 12 (bookworm) when something is missing.
set -euo pipefail

packages=(
  # toolchain
  build-essential g++ cmake ninja-build pkg-config git
  # formatting / static checks used by CI targets; clang for the clang-debug preset (-Wthread-safety)
  clang clang-format clang-tidy
  # core library dependencies
  libexpected-dev libxxhash-dev nlohmann-json3-dev libcli11-dev libssl-dev
  libjemalloc-dev libtbb-dev libhwloc-dev
  # persistent memory (C API only; the C++ bindings are not packaged)
  libpmemobj-dev libpmem-dev libpmempool-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # peers measured side by side in benchmarks
  liblmdb-dev librocksdb-dev
)

missing=()
for p in "${packages[@]}"; do
  # dpkg-query prints "install ok installed" only for fully installed packages.
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "setup: installing ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  echo "setup: missing packages and not root; run as root or install: ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
