#!/usr/bin/env bash
# HDFS fail-over under a write load: scripts/ha/failover.sh with STORE=hdfs (its header has the settings).
#   RATE=10 SIZE=1048576 SECONDS_RUN=90 KILL_AT=30 KILL=active-namenode scripts/ha/hdfs_failover.sh [OUT_DIR]
STORE=hdfs exec "$(dirname "$0")/failover.sh" "$@"
