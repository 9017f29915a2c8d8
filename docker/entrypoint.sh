#!/bin/sh
# Entrypoint of the envmon image: runs `envmon ARGS...`; with no arguments, the daemon
# (`envmon run`). Other commands: `docker compose run --rm envmon config check`.
#
# `exec` replaces this shell by envmon, so envmon itself receives SIGTERM from `docker stop`
# (in compose, `init: true` makes a tiny init PID 1, which forwards the signal and reaps
# children). envmon lets the current job finish, drains the InfluxDB outbox and exits 0;
# compose's stop_grace_period bounds how long that may take before SIGKILL.
set -eu

if [ "$#" -eq 0 ]; then
    set -- run
fi
exec envmon "$@"
