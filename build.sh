#!/usr/bin/env bash
# One entry point for the README's commands, so a fresh machine needs nothing installed by hand.
#   ./build.sh test   installs what the tests need (gcc for the layout tests, clang for the NativeAOT
#                     publish, python3 for interoperability; apt-get on Linux, the Xcode tools on macOS),
#                     builds with warnings as errors, runs every test (Linux-only ones are skipped on macOS)
set -euo pipefail
cd "$(dirname "$0")"

ensure_packages() {
  local missing=()
  for tool in "$@"; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool##*:}")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return
  fi
  if [ "$(uname -s)" = "Darwin" ]; then
    # No apt-get on macOS: cc and clang come with the Xcode command line tools, python3 with them or Homebrew.
    echo "Missing ${missing[*]}: run 'xcode-select --install' (cc, clang, python3) and try again." >&2
    exit 1
  fi
  echo "Installing ${missing[*]}..."
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq "${missing[@]}"
}

case "${1:-test}" in
  test)
    ensure_packages cc:gcc clang:clang python3:python3
    dotnet build AsyncSendFd.sln -c Release -warnaserror
    dotnet test AsyncSendFd.sln -c Release --no-build --logger "console;verbosity=normal"
    ;;
  *)
    echo "usage: $0 test" >&2
    exit 2
    ;;
esac
