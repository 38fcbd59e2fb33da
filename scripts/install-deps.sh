#!/usr/bin/env bash
# Install what diffautoml needs to build and test on Debian 12 (as root):
# the compiler and meson, Vulkan headers and loader, Mesa's lavapipe (the
# CPU Vulkan device), glslang, the Khronos validation layer, libconfig,
# CMocka, zlib, the Fashion-MNIST data set, and PyTorch with OpenBLAS for
# the parity test and the benchmarks against PyTorch (tests/parity.py,
# bench/; skipped where torch is missing).
set -euo pipefail
packages=(
  gcc pkg-config meson ninja-build
  libvulkan-dev mesa-vulkan-drivers vulkan-tools vulkan-validationlayers
  glslang-tools libconfig-dev libpng-dev libcmocka-dev
  dataset-fashion-mnist zlib1g-dev
  python3 python3-torch libopenblas0-pthread
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
    missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
