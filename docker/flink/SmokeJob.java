// Smoke job for scripts/stack: 1,000 numbers through a map into a discarding sink, counted by an accumulator
// ("records") that the smoke test reads back over the REST API. Compiled and jarred by scripts/stack.
import org.apache.flink.api.common.accumulators.LongCounter;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;

public final class SmokeJob {
  public static void main(String[] args) throws Exception {
    StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
    env.fromSequence(1, 1000).map(new Doubler()).sinkTo(new DiscardingSink<>());
    env.execute("loadgen-smoke");
  }

  static final class Doubler extends RichMapFunction<Long, Long> {
    private transient LongCounter records;

    @Override
    public Long map(Long x) {
      if (records == null) records = getRuntimeContext().getLongCounter("records");
      records.add(1L);
      return x * 2;
    }
  }
}
