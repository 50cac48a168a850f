# shellcheck shell=bash
# note_rc RC: folds a run's exit code into $worst, the job's exit code. A failure (connect 4, script 3,
# usage 2, ...) is never hidden behind a crossed threshold or a differing answer (99): it wins over 99,
# and among failures the highest code wins.
worst=0
note_rc() {
    local rc=$1
    [ "$rc" = 0 ] && return 0
    if [ "$worst" = 0 ] || { [ "$worst" = 99 ] && [ "$rc" != 99 ]; }; then worst=$rc
    elif [ "$rc" != 99 ] && [ "$rc" -gt "$worst" ]; then worst=$rc; fi
}
