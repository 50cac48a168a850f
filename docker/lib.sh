# shellcheck shell=bash
# Shared helpers for docker/*/run. Sourced, not executed.
# Inputs (env): LOADGEN_STACK (state folder), LOADGEN_CACHE (artifact cache), optional JAVA_HOME.
set -euo pipefail
DOCKER_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
set -a; . "$DOCKER_DIR/ports.env"; set +a
: "${LOADGEN_CACHE:=$HOME/.cache/loadgen}"
: "${LOADGEN_STACK:=${LOADGEN_STATE:-$HOME/.local/state/loadgen}/stack}"
export LOADGEN_CACHE LOADGEN_STACK
# Address the servers listen on: 127.0.0.1 here. docker/compose.yaml sets 0.0.0.0 (a container publishes its
# ports from its own interface); the addresses clients use and servers advertise stay 127.0.0.1 either way.
: "${LOADGEN_BIND:=127.0.0.1}"; export LOADGEN_BIND
if [ -n "${JAVA_HOME:-}" ]; then JAVA="$JAVA_HOME/bin/java"; else JAVA=$(command -v java || true); fi
[ -x "$JAVA" ] || { echo "java not found (set JAVA_HOME to a Java 17 JDK)" >&2; exit 1; }
JAVA_HOME=${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$JAVA")")")}; export JAVA_HOME

# Flags the Hadoop family (HDFS, HBase, Phoenix, Hive) needs on Java 17.
HADOOP_JAVA17_OPTS="-Djava.net.preferIPv4Stack=true"
for p in java.io java.lang java.lang.reflect java.math java.net java.nio java.text java.util \
         java.util.concurrent java.util.concurrent.atomic java.util.regex java.util.zip \
         sun.nio.ch sun.security.util sun.security.x509 jdk.internal.ref jdk.internal.util.random; do
  HADOOP_JAVA17_OPTS+=" --add-opens java.base/$p=ALL-UNNAMED"
done
HADOOP_JAVA17_OPTS+=" --add-exports java.base/jdk.internal.misc=ALL-UNNAMED --add-modules jdk.unsupported"

# render TEMPLATE OUT: replace ${VAR} with the exported variable's value; an unset one is an error.
render() {
  mkdir -p "$(dirname "$2")"
  perl -pe 's/\$\{(\w+)\}/exists $ENV{$1} ? $ENV{$1} : die "$ARGV: \${$1} is not set\n"/ge' "$1" > "$2.tmp"
  mv "$2.tmp" "$2"
}

# need_lib SERVER: the lib folder scripts/stack fetched, or a clear error.
need_lib() {
  local d="$LOADGEN_CACHE/$1/lib"
  ls "$d"/*.jar >/dev/null 2>&1 || { echo "no jars in $d: run 'scripts/stack fetch $1' first" >&2; exit 1; }
  echo "$d"
}
