#!/bin/sh
# The lab image's entrypoint: name the replica, then run the command.
# Every replica of a scaled service gets the same environment, so an empty LAB_REPLICA becomes
# "app-<container hostname>": the X-Replica header then says which replica answered.
set -e
if [ -z "${LAB_REPLICA:-}" ]; then
    LAB_REPLICA="app-$(hostname)"
fi
export LAB_REPLICA
exec "$@"
