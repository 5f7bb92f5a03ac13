#!/usr/bin/env bash
# Provides Mesa's lavapipe, a software Vulkan driver whose WebGPU adapter (through Dawn) has the
# `shader-f16` feature that SwiftShader lacks, so that the WebGPU backend's shader-f16 kernels are
# tested without a GPU. Writes its Vulkan ICD file to .cache/lavapipe/lvp_icd.json (the path the
# test project `backend-webgpu-lavapipe` sets as VK_ICD_FILENAMES) and prints that path.
#
# Dawn needs lavapipe from Mesa 24 or later (older ones lack a Vulkan feature Dawn requires). When
# the system's Mesa is older (Debian 12 ships 22.3), the mesa-vulkan-drivers package of the
# distribution's backports is downloaded and unpacked under .cache/lavapipe, without touching the
# system; its libraries' dependencies come from the system's own mesa-vulkan-drivers package.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="$PWD/.cache/lavapipe"
icd="$dir/lvp_icd.json"

major() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null | sed -E 's/^([0-9]+:)?([0-9]+).*/\2/'; }

system_icd=$(ls /usr/share/vulkan/icd.d/lvp_icd.*.json 2>/dev/null | head -n 1 || true)
if [ -n "$system_icd" ] && [ "$(major mesa-vulkan-drivers)" -ge 24 ] 2>/dev/null; then
  mkdir -p "$dir"
  cp "$system_icd" "$icd"
  echo "$icd"
  exit 0
fi

if [ ! -f "$icd" ]; then
  . /etc/os-release
  suite="${VERSION_CODENAME}-backports"
  rm -rf "$dir"
  mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/root"
  echo "deb http://deb.debian.org/debian $suite main" >"$dir/sources.list"
  apt_opts=(-o "Dir::Etc::sourcelist=$dir/sources.list" -o Dir::Etc::sourceparts=/dev/null
    -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache" -o APT::Sandbox::User=root)
  apt-get "${apt_opts[@]}" update -qq >&2
  version=$(apt-cache "${apt_opts[@]}" policy mesa-vulkan-drivers | awk '/Candidate:/ {print $2}')
  (cd "$dir" && apt-get "${apt_opts[@]}" download -qq "mesa-vulkan-drivers=$version" >&2)
  dpkg -x "$dir"/mesa-vulkan-drivers_*.deb "$dir/root"
  lib=$(find "$dir/root" -name 'libvulkan_lvp.so' | head -n 1)
  [ -n "$lib" ] || { echo "lavapipe.sh: no libvulkan_lvp.so in $suite's mesa-vulkan-drivers" >&2; exit 1; }
  # Every library it needs must resolve on this system (a later Mesa may want a newer LLVM):
  # else, as root (CI), install the backports package for real, with its dependencies.
  if ldd "$lib" | grep -q 'not found'; then
    missing_libs=$(ldd "$lib" | awk '/not found/ {print $1}' | tr '\n' ' ')
    if [ "$(id -u)" -ne 0 ]; then
      echo "lavapipe.sh: $lib needs $missing_libs; as root this script installs $suite's mesa-vulkan-drivers" >&2
      exit 1
    fi
    echo "lavapipe.sh: $lib needs $missing_libs: installing $suite's mesa-vulkan-drivers" >&2
    cp "$dir/sources.list" /etc/apt/sources.list.d/halfstep-backports.list
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t "$suite" mesa-vulkan-drivers >&2
    rm -rf "$dir"
    mkdir -p "$dir"
    cp "$(ls /usr/share/vulkan/icd.d/lvp_icd.*.json | head -n 1)" "$icd"
    echo "$icd"
    exit 0
  fi
  printf '{ "file_format_version": "1.0.0", "ICD": { "library_path": "%s", "api_version": "1.3.0" } }\n' \
    "$lib" >"$icd"
fi
echo "$icd"
