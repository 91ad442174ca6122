#!/bin/sh
# PID 1 for an upgradable service in a container. An upgrade ends the old generation, and a container ends with its
# first process: so that process must not be the service. This one starts the service, passes SIGTERM, SIGINT and
# SIGHUP on to the generation the PID file names (Upgrades:PidFile), reaps the generations that retire (orphans
# come to PID 1), and exits once no generation runs.
#
#   ENTRYPOINT ["/app/supervise-generations.sh", "/run/app/app.pid", "/app/MyService"]
#
# Usage: supervise-generations.sh PIDFILE COMMAND [ARGUMENT...]
set -u
pidfile=$1
shift
"$@" &
first=$!

alive() { [ -n "$1" ] && [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status"; }

# The generation serving now: the PID file's, once it names a live process; the first until then.
current() {
    named=$(cat "$pidfile" 2>/dev/null)
    if alive "$named"; then echo "$named"; else echo "$first"; fi
}

for signal in TERM INT HUP; do
    trap 'kill -'"$signal"' "$(current)" 2>/dev/null' "$signal"
done

# A hand-over rewrites the PID file just before the old generation exits: look twice before deciding none runs.
while alive "$(current)" || { sleep 1; alive "$(current)"; }; do
    sleep 1 &
    wait $! # returns at once when a trapped signal arrives; waiting also reaps the retired generations
done
