# shellcheck shell=bash
# Smoke tests for scripts/stack (sourced by it): one real round trip per server through the server's
# own client or protocol, independent of loadgen. Each prints PASS/FAIL naming the server.
SMOKE_PASS=0 SMOKE_FAIL=0
pass() { echo "PASS $1${2:+: $2}"; SMOKE_PASS=$((SMOKE_PASS + 1)); }
fail() { echo "FAIL $1: $2"; SMOKE_FAIL=$((SMOKE_FAIL + 1)); }
# reachable SERVER HOST:PORT...: FAIL naming the address unless every port accepts a TCP connection.
reachable() {
  local s=$1 a; shift
  for a in "$@"; do
    timeout 3 bash -c "exec 3<>/dev/tcp/${a%:*}/${a#*:}" 2>/dev/null || { fail "$s" "not reachable at $a"; return 1; }
  done
}
SMOKE_TMP=""
smoke_tmp() { [ -n "$SMOKE_TMP" ] || SMOKE_TMP=$(mktemp -d); echo "$SMOKE_TMP"; }

# Kafka: topic with 3 partitions RF 3, 1,000 records in with the console producer (acks=all), out with the
# console consumer, compared line by line.
smoke_kafka() {
  reachable kafka 127.0.0.1:$KAFKA1_PORT 127.0.0.1:$KAFKA2_PORT 127.0.0.1:$KAFKA3_PORT || return 0
  local bs t d out; bs=$(kafka_bootstrap); t=smoke-$(date +%s)-$$; d=$(smoke_tmp)
  if ! kafka_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$bs" --create --topic "$t" \
      --partitions 3 --replication-factor 3 > "$d/kafka-topic.out" 2>&1; then
    fail kafka "topic create: $(tail -1 "$d/kafka-topic.out")"; return 0; fi
  kafka_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$bs" --describe --topic "$t" > "$d/kafka-describe.out" 2>&1
  if [ "$(grep -c 'Replicas: [0-9],[0-9],[0-9]' "$d/kafka-describe.out")" != 3 ]; then
    fail kafka "topic $t is not 3 partitions x 3 replicas: $(cat "$d/kafka-describe.out")"; return 0; fi
  seq 1 1000 | sed 's/^/record-/' > "$d/kafka-in.txt"
  if ! kafka_tool org.apache.kafka.tools.ConsoleProducer --bootstrap-server "$bs" --topic "$t" \
      --command-property acks=all < "$d/kafka-in.txt" > "$d/kafka-produce.out" 2>&1; then
    fail kafka "produce: $(tail -1 "$d/kafka-produce.out")"; return 0; fi
  kafka_tool org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "$bs" --topic "$t" \
    --from-beginning --max-messages 1000 --timeout-ms 30000 > "$d/kafka-out.txt" 2> "$d/kafka-consume.err" || true
  if sort "$d/kafka-in.txt" | cmp -s - <(sort "$d/kafka-out.txt"); then
    pass kafka "topic $t (3 partitions, RF 3): 1000 records produced and consumed"
  else
    fail kafka "consumed $(wc -l < "$d/kafka-out.txt") of 1000 records from $t: $(tail -1 "$d/kafka-consume.err")"
  fi
  kafka_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$bs" --delete --topic "$t" > /dev/null 2>&1 || true
}

# Elasticsearch: create an index, bulk-index documents, search them back with curl.
smoke_elasticsearch() {
  local es=127.0.0.1:$ES_HTTP_PORT i=smoke-$(date +%s)-$$ r
  reachable elasticsearch "$es" || return 0
  r=$(curl -s -XPUT "http://$es/$i" -H 'Content-Type: application/json' \
        -d '{"settings":{"number_of_shards":1,"number_of_replicas":0}}')
  echo "$r" | grep -q '"acknowledged":true' || { fail elasticsearch "create index: $r"; return 0; }
  r=$( (for n in 1 2 3 4 5; do echo '{"index":{}}'; echo "{\"n\":$n,\"word\":\"w$((n % 2))\"}"; done) |
        curl -s -XPOST "http://$es/$i/_bulk?refresh=true" -H 'Content-Type: application/x-ndjson' --data-binary @-)
  echo "$r" | grep -q '"errors":false' || { fail elasticsearch "bulk: $r"; curl -s -XDELETE "http://$es/$i" >/dev/null; return 0; }
  r=$(curl -s "http://$es/$i/_search" -H 'Content-Type: application/json' \
        -d '{"query":{"term":{"word.keyword":"w1"}},"aggs":{"s":{"sum":{"field":"n"}}}}')
  if echo "$r" | grep -q '"total":{"value":3' && echo "$r" | grep -q '"value":9.0'; then
    pass elasticsearch "index $i: 5 documents indexed, term search found 3, sum 9"
  else
    fail elasticsearch "search: $r"
  fi
  curl -s -XDELETE "http://$es/$i" > /dev/null || true
}

# HDFS: put a 4 MiB file with FsShell, read it back, compare checksums.
smoke_hdfs() {
  reachable hdfs 127.0.0.1:$HDFS_NAMENODE_PORT 127.0.0.1:$HDFS_DATANODE_PORT || return 0
  local d f nn=$HDFS_URI; d=$(smoke_tmp); f=/loadgen-smoke/file-$(date +%s)-$$
  head -c 4194304 /dev/urandom > "$d/hdfs-in"
  if ! hdfs_shell -mkdir -p "$nn/loadgen-smoke" > "$d/hdfs.out" 2>&1 ||
     ! hdfs_shell -put -f "$d/hdfs-in" "$nn$f" >> "$d/hdfs.out" 2>&1; then
    fail hdfs "put $f: $(tail -3 "$d/hdfs.out")"; return 0; fi
  hdfs_shell -cat "$nn$f" > "$d/hdfs-back" 2> "$d/hdfs.err"
  if cmp -s "$d/hdfs-in" "$d/hdfs-back"; then
    pass hdfs "4 MiB file written to $f and read back identical"
  else
    fail hdfs "read back $(wc -c < "$d/hdfs-back") bytes of 4194304 from $f: $(tail -1 "$d/hdfs.err")"
  fi
  hdfs_shell -rm -skipTrash "$nn$f" > /dev/null 2>&1 || true
}

# Phoenix: through the Query Server's JSON listener (Avatica JSON over HTTP): create a table, upsert rows,
# commit, select.
smoke_phoenix() {
  reachable phoenix 127.0.0.1:$PHOENIX_QS_JSON_PORT || return 0
  local c=smoke-$$ t=LOADGEN_SMOKE_$(date +%s) r n rows
  r=$(avatica_call "{\"request\":\"openConnection\",\"connectionId\":\"$c\",\"info\":{}}")
  echo "$r" | grep -q '"response":"openConnection"' || { fail phoenix "openConnection: $r"; return 0; }
  r=$(phoenix_sql "$c" "CREATE TABLE $t (ID BIGINT NOT NULL PRIMARY KEY, NAME VARCHAR)")
  if echo "$r" | grep -q '"response":"error"'; then fail phoenix "create table: $(echo "$r" | jq -r .errorMessage)"; return 0; fi
  for n in 1 2 3 4 5; do
    r=$(phoenix_sql "$c" "UPSERT INTO $t VALUES ($n, 'row-$n')")
    echo "$r" | grep -q '"updateCount":1' || { fail phoenix "upsert: $(echo "$r" | jq -r '.errorMessage // .')"; return 0; }
  done
  avatica_call "{\"request\":\"commit\",\"connectionId\":\"$c\"}" > /dev/null
  rows=$(phoenix_sql "$c" "SELECT COUNT(*), SUM(ID), MAX(NAME) FROM $t" | jq -c '.results[0].firstFrame.rows[0]' 2>/dev/null)
  if [ "$rows" = '[5,15,"row-5"]' ]; then
    pass phoenix "table $t via the Query Server: 5 rows upserted, selected back (count 5, sum 15)"
  else
    fail phoenix "select from $t returned ${rows:-nothing}, expected [5,15,\"row-5\"]"
  fi
  phoenix_sql "$c" "DROP TABLE $t" > /dev/null
  avatica_call "{\"request\":\"closeConnection\",\"connectionId\":\"$c\"}" > /dev/null
}

# HBase: HBase's own Java client (docker/hbase/HBaseSmoke.java): create a table, put and get rows, drop it.
smoke_hbase() {
  reachable hbase 127.0.0.1:$ZOOKEEPER_PORT 127.0.0.1:$HBASE_MASTER_PORT 127.0.0.1:$HBASE_REGIONSERVER_PORT || return 0
  local out
  out=$(hbase_java HBaseSmoke "loadgen_smoke_$(date +%s)" 2>&1 | tail -3)
  case $out in *OK*) pass hbase "$(echo "$out" | grep OK)";; *) fail hbase "$out";; esac
}

# Hive: a CSV file put on HDFS (FsShell), LOAD DATA INPATH into a new table, COUNT/SUM run as a query, through
# Hive's own JDBC driver over HiveServer2's binary Thrift protocol.
smoke_hive() {
  reachable hive 127.0.0.1:$HIVE_SERVER2_PORT 127.0.0.1:$HIVE_METASTORE_PORT || return 0
  local d t=loadgen_smoke_$(date +%s) f nn=$HDFS_URI out; d=$(smoke_tmp)
  f=/loadgen-smoke/$t.csv
  seq 1 100 | awk '{print $1 ",name-" $1}' > "$d/hive.csv"
  if ! hdfs_shell -mkdir -p "$nn/loadgen-smoke" > "$d/hive-put.out" 2>&1 || ! hdfs_shell -put -f "$d/hive.csv" "$nn$f" >> "$d/hive-put.out" 2>&1; then
    fail hive "could not put $f on HDFS: $(tail -2 "$d/hive-put.out")"; return 0; fi
  out=$(hive_sql "CREATE TABLE $t (id INT, name STRING) ROW FORMAT DELIMITED FIELDS TERMINATED BY ','" \
                 "LOAD DATA INPATH '$f' INTO TABLE $t" \
                 "SELECT COUNT(*), SUM(id) FROM $t" "DROP TABLE $t" 2>&1)
  if [ "$(echo "$out" | tail -1)" = "$(printf '100\t5050')" ]; then
    pass hive "table $t: 100 rows loaded from HDFS $f, COUNT 100, SUM 5050"
  else
    fail hive "expected '100<TAB>5050', got: $(echo "$out" | grep -vE '^\s+at ' | tail -3)"
    hive_sql "DROP TABLE IF EXISTS $t" > /dev/null 2>&1 || true
  fi
}

# Flink: upload a small job jar over REST (/jars/upload), run it, wait for FINISHED, read its accumulator.
smoke_flink() {
  local rest=127.0.0.1:$FLINK_REST_PORT d jar id job st n i
  reachable flink "$rest" || return 0
  d=$(smoke_tmp)
  jar=$(flink_jar SmokeJob 2> "$d/flink-javac.out") || { fail flink "job jar: $(head -3 "$d/flink-javac.out")"; return 0; }
  id=$(curl -s -F "jarfile=@$jar" "http://$rest/jars/upload" | jq -r '.filename // empty' | xargs -r basename)
  [ -n "$id" ] || { fail flink "jar upload to $rest failed"; return 0; }
  job=$(curl -s -XPOST "http://$rest/jars/$id/run" -H 'Content-Type: application/json' -d '{}' | tee "$d/flink-run.out" | jq -r '.jobid // empty')
  curl -s -XDELETE "http://$rest/jars/$id" > /dev/null
  [ -n "$job" ] || { fail flink "job run failed: $(head -c 300 "$d/flink-run.out")"; return 0; }
  for i in $(seq 1 60); do
    st=$(curl -s "http://$rest/jobs/$job" | jq -r '.state // empty')
    case $st in FINISHED|FAILED|CANCELED) break;; esac
    sleep 1
  done
  n=$(curl -s "http://$rest/jobs/$job/accumulators" | jq -r '."user-task-accumulators"[]? | select(.name=="records") | .value')
  if [ "$st" = FINISHED ] && [ "$n" = 1000 ]; then
    pass flink "job $job submitted over REST finished, 1000 records counted"
  else
    fail flink "job $job state '${st:-unknown}', records '${n:-none}'"
  fi
}

cmd_smoke() {
  local s
  for s in "$@"; do
    # (called in an || list, so a failing command inside reports instead of ending the script)
    if declare -F "smoke_$s" >/dev/null; then "smoke_$s" || fail "$s" "smoke test aborted"; else fail "$s" "no smoke test"; fi
  done
  [ -z "$SMOKE_TMP" ] || rm -rf "$SMOKE_TMP"
  echo "$SMOKE_PASS passed, $SMOKE_FAIL failed"
  [ "$SMOKE_FAIL" = 0 ]
}
