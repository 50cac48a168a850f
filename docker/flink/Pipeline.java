// The ingest pipeline's Flink job: one Kafka topic of event lines (the store evaluation's TSV: ts, host,
// service, level, status, latency_ms, bytes, trace_id, message) into one store. Flink's own connectors where
// one is served for this Flink (Kafka source, JDBC sink, file sink); for Elasticsearch, where none is, a bulk
// sink on Flink's own async-sink base (connector-base), below. Built by `scripts/stack flink-jar Pipeline`;
// submitted over REST by loadgen.flink.
//
// Arguments (key=value):
//   sink=elasticsearch|phoenix|hdfs  the store
//   topic=T  bootstrap=127.0.0.1:9092  group=G (default loadgen-pipeline-<sink>)  start=earliest|latest|committed
//   target=  elasticsearch: http://127.0.0.1:9200; phoenix: the Query Server, http://127.0.0.1:8765;
//            hdfs: the folder, hdfs://127.0.0.1:8020/loadgen/pipeline/<name> (a Hive external table's LOCATION),
//            written in hourly partitions dt=yyyy-MM-dd/hr=HH by the time of writing (UTC)
//   name=    the index (elasticsearch) or the table (phoenix); hdfs: the job's name only
//   checkpoint-ms=1000  batch=1000 (rows per bulk / per JDBC batch)  flush-ms=200 (a partial batch's longest wait)
// When rows become visible: Elasticsearch after a bulk (batch rows or flush-ms) plus its refresh interval;
// Phoenix when a JDBC batch is executed (batch rows or flush-ms, and at each checkpoint; auto-commit); Hive when a
// checkpoint completes (the in-progress file, hidden by its leading dot, becomes part-*.tsv) in a partition the
// metastore knows (the pipeline script adds the run's hours beforehand).
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichFlatMapFunction;
import org.apache.flink.api.common.serialization.SimpleStringEncoder;
import org.apache.flink.api.common.serialization.SimpleStringSchema;
import org.apache.flink.api.common.typeinfo.BasicArrayTypeInfo;
import org.apache.flink.api.connector.sink2.StatefulSinkWriter;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.connector.base.sink.AsyncSinkBase;
import org.apache.flink.connector.base.sink.writer.AsyncSinkWriter;
import org.apache.flink.connector.base.sink.writer.AsyncSinkWriterStateSerializer;
import org.apache.flink.connector.base.sink.writer.BufferedRequestState;
import org.apache.flink.connector.base.sink.writer.ElementConverter;
import org.apache.flink.connector.base.sink.writer.ResultHandler;
import org.apache.flink.connector.base.sink.writer.config.AsyncSinkWriterConfiguration;
import org.apache.flink.connector.file.sink.FileSink;
import org.apache.flink.connector.jdbc.JdbcConnectionOptions;
import org.apache.flink.connector.jdbc.JdbcExecutionOptions;
import org.apache.flink.connector.jdbc.core.datastream.sink.JdbcSinkBuilder;
import org.apache.flink.connector.jdbc.datasource.connections.SimpleJdbcConnectionProvider;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.core.fs.Path;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.metrics.Counter;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.filesystem.OutputFileConfig;
import org.apache.flink.streaming.api.functions.sink.filesystem.bucketassigners.DateTimeBucketAssigner;
import org.apache.flink.streaming.api.functions.sink.filesystem.rollingpolicies.OnCheckpointRollingPolicy;
import org.apache.flink.util.Collector;
import org.apache.kafka.clients.consumer.OffsetResetStrategy;

public final class Pipeline {
  static final int FIELDS = 9;

  public static void main(String[] args) throws Exception {
    Map<String, String> a = new HashMap<>();
    for (String s : args) {
      int eq = s.indexOf('=');
      if (eq < 1) throw new IllegalArgumentException("argument '" + s + "' is not key=value");
      a.put(s.substring(0, eq), s.substring(eq + 1));
    }
    String sink = need(a, "sink");
    String topic = need(a, "topic");
    String target = need(a, "target");
    String name = need(a, "name");
    String start = a.getOrDefault("start", "latest");
    long checkpointMs = Long.parseLong(a.getOrDefault("checkpoint-ms", "1000"));
    int batch = Integer.parseInt(a.getOrDefault("batch", "1000"));
    long flushMs = Long.parseLong(a.getOrDefault("flush-ms", "200"));

    // A failing job restarts 3 times, 2 s apart, then fails for good (Flink's default with checkpointing is
    // to retry forever, and a script waiting for the job would never learn why).
    Configuration conf = new Configuration();
    conf.set(RestartStrategyOptions.RESTART_STRATEGY, "fixed-delay");
    conf.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS, 3);
    conf.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_DELAY, Duration.ofSeconds(2));
    StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(conf);
    env.enableCheckpointing(checkpointMs);
    OffsetsInitializer from;
    switch (start) {
      case "earliest": from = OffsetsInitializer.earliest(); break;
      case "latest": from = OffsetsInitializer.latest(); break;
      case "committed": from = OffsetsInitializer.committedOffsets(OffsetResetStrategy.EARLIEST); break;
      default: throw new IllegalArgumentException("start must be earliest, latest or committed, not '" + start + "'");
    }
    KafkaSource<String> source = KafkaSource.<String>builder()
        .setBootstrapServers(a.getOrDefault("bootstrap", "127.0.0.1:9092"))
        .setTopics(topic)
        .setGroupId(a.getOrDefault("group", "loadgen-pipeline-" + sink))
        .setStartingOffsets(from)
        .setValueOnlyDeserializer(new SimpleStringSchema())
        .build();
    DataStream<String[]> events = env.fromSource(source, WatermarkStrategy.noWatermarks(), "kafka " + topic)
        .flatMap(new Parse()).returns(BasicArrayTypeInfo.STRING_ARRAY_TYPE_INFO).name("parse");

    switch (sink) {
      case "elasticsearch":
        events.sinkTo(new BulkSink(target, name, batch, flushMs)).name("elasticsearch " + name);
        break;
      case "phoenix":
        String url = "jdbc:avatica:remote:url=" + target + ";serialization=PROTOBUF";
        events.sinkTo(new JdbcSinkBuilder<String[]>()
                .withQueryStatement("UPSERT INTO " + name + " (TS, TRACE_ID, HOST, SERVICE, LEVEL, STATUS, LATENCY_MS, "
                    + "BYTES, MESSAGE) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", Pipeline::bind)
                .withExecutionOptions(JdbcExecutionOptions.builder()
                    .withBatchSize(batch).withBatchIntervalMs(flushMs).withMaxRetries(3).build())
                .buildAtLeastOnce(new AutoCommitting(new JdbcConnectionOptions.JdbcConnectionOptionsBuilder()
                    .withUrl(url)
                    .withDriverName("org.apache.calcite.avatica.remote.Driver")
                    .build())))
            .name("phoenix " + name);
        break;
      case "hdfs":
        events.map(e -> String.join("\t", e)).name("tsv")
            .sinkTo(FileSink.forRowFormat(new Path(target), new SimpleStringEncoder<String>("UTF-8"))
                .withRollingPolicy(OnCheckpointRollingPolicy.build())
                // Hourly partitions by the time a row is written (UTC), as the Hive table's dt/hr:
                // hdfs://.../<name>/dt=2026-11-30/hr=11/part-*.tsv.
                .withBucketAssigner(new DateTimeBucketAssigner<>("'dt='yyyy-MM-dd/'hr='HH", ZoneId.of("UTC")))
                .withOutputFileConfig(OutputFileConfig.builder().withPartPrefix("part").withPartSuffix(".tsv").build())
                .build())
            .name("hdfs " + target);
        break;
      default:
        throw new IllegalArgumentException("sink must be elasticsearch, phoenix or hdfs, not '" + sink + "'");
    }
    env.execute("loadgen-pipeline " + sink + " " + name);
  }

  // The JDBC sink executes its batches and never commits; a Phoenix connection does not auto-commit unless
  // told, so without this no row would ever be visible (seen: 0 of 2,000 rows after 20 s). Each executed
  // batch is then one commit.
  static final class AutoCommitting extends SimpleJdbcConnectionProvider {
    AutoCommitting(JdbcConnectionOptions o) {
      super(o);
    }

    @Override
    public Connection getOrEstablishConnection() throws SQLException, ClassNotFoundException {
      Connection c = super.getOrEstablishConnection();
      if (!c.getAutoCommit()) c.setAutoCommit(true);
      return c;
    }

    @Override
    public Connection reestablishConnection() throws SQLException, ClassNotFoundException {
      Connection c = super.reestablishConnection();
      if (!c.getAutoCommit()) c.setAutoCommit(true);
      return c;
    }
  }

  static String need(Map<String, String> a, String k) {
    String v = a.get(k);
    if (v == null || v.isEmpty()) throw new IllegalArgumentException("missing argument " + k + "=...");
    return v;
  }

  // A line with other than nine tab-separated fields, or a ts/status/latency/bytes that is not a (finite)
  // number, is dropped and counted in the operator's "malformed" metric.
  static final class Parse extends RichFlatMapFunction<String, String[]> {
    private transient Counter malformed;

    @Override
    public void open(OpenContext c) {
      malformed = getRuntimeContext().getMetricGroup().counter("malformed");
    }

    @Override
    public void flatMap(String line, Collector<String[]> out) {
      String[] f = line.split("\t", -1);
      try {
        if (f.length != FIELDS) throw new NumberFormatException();
        // Numbers written back in their plain form, so that every sink gets valid JSON / SQL / TSV
        // numbers ("+5", "007", "0x1p3" are accepted by the parsers; NaN and Infinity are refused).
        f[0] = Long.toString(Long.parseLong(f[0]));
        f[4] = Integer.toString(Integer.parseInt(f[4]));
        double latency = Double.parseDouble(f[5]);
        if (!Double.isFinite(latency)) throw new NumberFormatException();
        f[5] = Double.toString(latency);
        f[6] = Long.toString(Long.parseLong(f[6]));
      } catch (NumberFormatException ex) {
        malformed.inc();
        return;
      }
      out.collect(f);
    }
  }

  static Map<String, Object> doc(String[] e) {
    Map<String, Object> d = new HashMap<>();
    d.put("ts", Long.parseLong(e[0]));
    d.put("host", e[1]);
    d.put("service", e[2]);
    d.put("level", e[3]);
    d.put("status", Integer.parseInt(e[4]));
    d.put("latency_ms", Double.parseDouble(e[5]));
    d.put("bytes", Long.parseLong(e[6]));
    d.put("trace_id", e[7]);
    d.put("message", e[8]);
    return d;
  }

  static void bind(PreparedStatement ps, String[] e) throws SQLException {
    ps.setLong(1, Long.parseLong(e[0]));
    ps.setString(2, e[7]);
    ps.setString(3, e[1]);
    ps.setString(4, e[2]);
    ps.setString(5, e[3]);
    ps.setInt(6, Integer.parseInt(e[4]));
    ps.setDouble(7, Double.parseDouble(e[5]));
    ps.setLong(8, Long.parseLong(e[6]));
    ps.setString(9, e[8]);
  }

  // Elasticsearch: no Flink connector served here can write to an 8.x server (docs/ingest.md), so the job has
  // its own sink on Flink's async-sink base, which does the batching (batch rows or flush-ms), the in-flight
  // limit, back-pressure and at-least-once (buffered rows are flushed before a checkpoint completes). Each
  // entry is one document's two _bulk lines; a bulk is one POST /_bulk. Items answered 429 are sent again;
  // any other failed item, or an answer other than 200, fails the job (Flink restarts it from the last
  // checkpoint), so no row is dropped silently.
  static final class BulkSink extends AsyncSinkBase<String[], String> {
    final String url;

    BulkSink(String url, String index, int batch, long flushMs) {
      super(new Converter(index), batch, 1, batch * 10, 64L << 20, flushMs, 1L << 20);
      this.url = url;
    }

    int maxBatch() {
      return getMaxBatchSize();
    }

    long maxWaitMs() {
      return getMaxTimeInBufferMS();
    }

    ElementConverter<String[], String> converter() {
      return getElementConverter();
    }

    @Override
    public StatefulSinkWriter<String[], BufferedRequestState<String>> createWriter(WriterInitContext ctx) {
      return new BulkWriter(this, ctx, Collections.emptyList());
    }

    @Override
    public StatefulSinkWriter<String[], BufferedRequestState<String>> restoreWriter(
        WriterInitContext ctx, Collection<BufferedRequestState<String>> state) {
      return new BulkWriter(this, ctx, state);
    }

    @Override
    public SimpleVersionedSerializer<BufferedRequestState<String>> getWriterStateSerializer() {
      return new AsyncSinkWriterStateSerializer<String>() {
        @Override
        protected void serializeRequestToStream(String e, DataOutputStream out) throws IOException {
          byte[] b = e.getBytes(StandardCharsets.UTF_8);
          out.writeInt(b.length);
          out.write(b);
        }

        @Override
        protected String deserializeRequestFromStream(long size, DataInputStream in) throws IOException {
          byte[] b = new byte[in.readInt()];
          in.readFully(b);
          return new String(b, StandardCharsets.UTF_8);
        }

        @Override
        public int getVersion() {
          return 1;
        }
      };
    }
  }

  static final class Converter implements ElementConverter<String[], String> {
    final String index;

    Converter(String index) {
      this.index = json(index);
    }

    // The trace id is the document's id: a bulk sent again after a restart from a checkpoint overwrites
    // what it had written, instead of adding copies (Phoenix's UPSERT on the row key does the same).
    @Override
    public String apply(String[] e, org.apache.flink.api.connector.sink2.SinkWriter.Context ctx) {
      return "{\"index\":{\"_index\":" + index + ",\"_id\":" + json(e[7]) + "}}\n{\"ts\":" + e[0] + ",\"host\":" + json(e[1]) + ",\"service\":" + json(e[2])
          + ",\"level\":" + json(e[3]) + ",\"status\":" + e[4] + ",\"latency_ms\":" + e[5] + ",\"bytes\":" + e[6]
          + ",\"trace_id\":" + json(e[7]) + ",\"message\":" + json(e[8]) + "}\n";
    }
  }

  static final class BulkWriter extends AsyncSinkWriter<String[], String> {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    private final URI bulk;

    BulkWriter(BulkSink sink, WriterInitContext ctx, Collection<BufferedRequestState<String>> state) {
      super(sink.converter(), ctx, AsyncSinkWriterConfiguration.builder()
          .setMaxBatchSize(sink.maxBatch())
          .setMaxBatchSizeInBytes(64L << 20)
          .setMaxInFlightRequests(1)
          .setMaxBufferedRequests(sink.maxBatch() * 10)
          .setMaxTimeInBufferMS(sink.maxWaitMs())
          .setMaxRecordSizeInBytes(1L << 20)
          .build(), state);
      bulk = URI.create(sink.url.replaceAll("/+$", "") + "/_bulk");
    }

    @Override
    protected void submitRequestEntries(List<String> entries, ResultHandler<String> result) {
      HttpRequest req = HttpRequest.newBuilder(bulk)
          .timeout(Duration.ofSeconds(60))
          .header("Content-Type", "application/x-ndjson")
          .POST(HttpRequest.BodyPublishers.ofString(String.join("", entries)))
          .build();
      http.sendAsync(req, HttpResponse.BodyHandlers.ofString()).whenComplete((resp, err) -> {
        if (err != null) {
          result.completeExceptionally(new IOException("Elasticsearch " + bulk + ": " + err, err));
          return;
        }
        if (resp.statusCode() == 429) {
          result.retryForEntries(entries);
          return;
        }
        if (resp.statusCode() != 200) {
          result.completeExceptionally(new IOException("Elasticsearch " + bulk + " answered " + resp.statusCode()
              + ": " + resp.body().substring(0, Math.min(500, resp.body().length()))));
          return;
        }
        try {
          JsonNode root = JSON.readTree(resp.body());
          if (!root.path("errors").asBoolean(false)) {
            result.complete();
            return;
          }
          List<String> again = new ArrayList<>();
          JsonNode items = root.path("items");
          for (int i = 0; i < items.size(); i++) {
            JsonNode item = items.get(i).elements().next();
            int status = item.path("status").asInt();
            if (status == 429) {
              again.add(entries.get(i));
            } else if (status >= 300) {
              result.completeExceptionally(new IOException("Elasticsearch refused a document (" + status + "): "
                  + item.path("error")));
              return;
            }
          }
          result.retryForEntries(again);
        } catch (IOException ex) {
          result.completeExceptionally(ex);
        }
      });
    }

    @Override
    protected long getSizeInBytes(String e) {
      return e.length();
    }
  }

  static String json(String s) {
    StringBuilder b = new StringBuilder(s.length() + 2).append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '"' || c == '\\') b.append('\\').append(c);
      else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
      else b.append(c);
    }
    return b.append('"').toString();
  }
}
