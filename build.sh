#!/usr/bin/env bash
# One entry point for the README's commands, so a fresh machine needs nothing installed by hand.
#   ./build.sh test   installs what the tests need (gcc for the layout tests, clang for the NativeAOT
#                     publish, python3 for interoperability; apt-get on Linux, the Xcode tools on macOS),
#                     builds with warnings as errors, runs every test project (Linux-only tests are skipped
#                     on macOS), and ends with the totals over all of them: "N passed, N failed".
#                     Exits non-zero on any failure. Each project's results are also kept as a .trx file
#                     in tests/<project>/TestResults.
set -euo pipefail
cd "$(dirname "$0")"

step() { printf '==> %s\n' "$*"; }

ensure_packages() {
  local missing=()
  for tool in "$@"; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool##*:}")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    step "gcc, clang and python3 are installed"
    return
  fi
  if [ "$(uname -s)" = "Darwin" ]; then
    # No apt-get on macOS: cc and clang come with the Xcode command line tools, python3 with them or Homebrew.
    echo "Missing ${missing[*]}: run 'xcode-select --install' (cc, clang, python3) and try again." >&2
    exit 1
  fi
  step "installing ${missing[*]} (apt-get)"
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq "${missing[@]}"
}

# The number in attribute $1 of the <Counters> element of the .trx file $2 (0 when absent).
counter() {
  local value
  value=$(grep -o "<Counters [^>]*>" "$2" | grep -o " $1=\"[0-9]*\"" | grep -o "[0-9][0-9]*" | head -n 1 || true)
  echo "${value:-0}"
}

run_tests() {
  local projects=() names=() dir
  for dir in tests/*/; do
    if ls "$dir"*.csproj >/dev/null 2>&1; then
      projects+=("${dir%/}")
      names+=("$(basename "$dir")")
      rm -f "$dir"TestResults/*.trx # this run's results only
    fi
  done

  # One dotnet test over the solution runs the projects side by side, which is faster than one after another.
  # A test that hangs is killed after 20 minutes (the slowest, a NativeAOT publish and its upgrades, takes about 2)
  # and named as the run is reported aborted, so a hang fails the run instead of stalling it.
  step "testing ${names[*]} (side by side; the integration tests, with their NativeAOT publishes, take longest)"
  local status=0 started=$SECONDS
  dotnet test AsyncSendFd.sln -c Release --no-build --logger "console;verbosity=normal" --logger trx \
    --blame-hang-timeout 20m --blame-hang-dump-type none || status=$?
  step "tests ran in $((SECONDS - started)) s"

  local passed=0 failed=0 project trx p f s
  for project in "${projects[@]}"; do
    trx=$(ls -t "$project"/TestResults/*.trx 2>/dev/null | head -n 1 || true)
    if [ -z "$trx" ]; then
      step "$(basename "$project"): no results (its test run did not finish)"
      failed=$((failed + 1))
      continue
    fi
    p=$(counter passed "$trx")
    f=$(( $(counter failed "$trx") + $(counter error "$trx") + $(counter timeout "$trx") + $(counter aborted "$trx") ))
    s=$(counter notExecuted "$trx")
    if [ "$f" -eq 0 ] && grep -q '<ResultSummary outcome="Failed"' "$trx"; then
      f=1 # the run was aborted: a test hung past the timeout, or the test host crashed (the log names the test)
      step "$(basename "$project"): its run was aborted; the log above names the test that was running"
    fi
    step "$(basename "$project"): $p passed, $f failed, $s skipped"
    passed=$((passed + p))
    failed=$((failed + f))
  done

  if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
    failed=1 # dotnet test failed without a failed test to show for it (a test host that crashed, say)
  fi
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}

case "${1:-test}" in
  test)
    ensure_packages cc:gcc clang:clang python3:python3
    step "building AsyncSendFd.sln (Release, warnings as errors; a first build restores the packages and takes a few minutes)"
    started=$SECONDS
    dotnet build AsyncSendFd.sln -c Release -warnaserror
    step "built in $((SECONDS - started)) s"
    run_tests
    ;;
  *)
    echo "usage: $0 test" >&2
    exit 2
    ;;
esac
