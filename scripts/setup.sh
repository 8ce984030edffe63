#!/usr/bin/env bash
# Installs every Debian package the Sluice build, tests, examples and benchmarks need.
# Idempotent: when every package is already installed it changes nothing and runs no
# apt command. Needs root (or sudo) only when something is missing.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config ccache git
  # the design card's fixed packages
  libboost-dev                          # Boost.DLL (header-only in 1.74)
  libprotobuf-dev protobuf-compiler     # flow schema
  libgrpc++-dev protobuf-compiler-grpc  # custom result store
  pybind11-dev python3-dev              # embedded Python runtime
  libyaml-cpp-dev                       # flow files
  libcpp-httplib-dev libssl-dev         # serving
  libsqlite3-dev                        # result and side-input store
  libhowardhinnant-date-dev             # time zones for side-input cron schedules (date/tz.h)
  libgtest-dev libgmock-dev libbenchmark-dev
  # well-kept libraries instead of hand-written ones
  nlohmann-json3-dev                    # JSON (plugins --json, schemas, serving bodies)
  libcli11-dev                          # command-line parsing for the sluice CLI
  # Python-side clients and examples (run under /usr/bin/python3)
  python3-grpcio python3-protobuf python3-numpy
  # load and timing tools used by tests/bench
  wrk hyperfine curl
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "setup: done"
