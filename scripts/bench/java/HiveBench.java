// The JDBC side of scripts/bench/hive_overhead.sh: Hive's own JDBC driver (hive-jdbc), one connection
// (one session), WARMUP warm-up statements (-Dwarmup=K, default 1), then N statements one after the other, each timed with
// System.nanoTime() around execute + fetching every row + close. Prints key=value lines:
//   jvm_start_ms     process start (the OS's clock) to the first line of main: JVM start and class loading
//   connect_ms       loading the driver and opening the session
//   warmup_ms        the warm-up statements together (timed apart; not in the distribution)
//   loop_s, n, rows  the timed loop; loop_cpu_s: the JVM's user + system CPU during it
//   min/mean/p50/p90/p99/max_ms  per-statement times (nearest rank over the sorted samples)
// Usage: java -cp ... HiveBench JDBC_URL N SQL [EXPECT_ROWS] [SETUP_SQL...]
// (SETUP_SQL statements run before the warm-up, untimed; used to load the table. N = 0: setup only.)
import java.lang.management.ManagementFactory;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.Arrays;

public final class HiveBench {
  public static void main(String[] args) throws Exception {
    long mainNs = System.nanoTime();
    long mainMs = System.currentTimeMillis();
    long osStart = ProcessHandle.current().info().startInstant().map(i -> i.toEpochMilli()).orElse(-1L);
    long jvmStart = ManagementFactory.getRuntimeMXBean().getStartTime();
    String url = args[0];
    int n = Integer.parseInt(args[1]);
    String sql = args[2];
    long expect = args.length > 3 && !args[3].isEmpty() ? Long.parseLong(args[3]) : -1;

    Class.forName("org.apache.hive.jdbc.HiveDriver");
    try (Connection c = DriverManager.getConnection(url, System.getProperty("user.name"), "")) {
      long connected = System.nanoTime();
      for (int i = 4; i < args.length; i++) {
        try (Statement s = c.createStatement()) {
          s.execute(args[i]);
        }
      }
      if (n == 0) {
        System.out.printf("setup_s=%.3f%n", (System.nanoTime() - connected) / 1e9);
        return;
      }
      long w0 = System.nanoTime();
      int warmups = Integer.getInteger("warmup", 1);
      for (int i = 0; i < warmups; i++) run(c, sql, -1);
      long warm = System.nanoTime() - w0;

      long[] t = new long[n];
      long rows = 0;
      long cpu0 = cpuNanos();
      long l0 = System.nanoTime();
      for (int i = 0; i < n; i++) {
        long s0 = System.nanoTime();
        long r = run(c, sql, expect);
        t[i] = System.nanoTime() - s0;
        rows += r;
      }
      long loop = System.nanoTime() - l0;
      long cpu = cpuNanos() - cpu0;
      Arrays.sort(t);
      double mean = 0;
      for (long x : t) mean += x;
      mean /= n;
      System.out.printf("jvm_start_ms=%d%n", osStart > 0 ? mainMs - osStart : -1);
      System.out.printf("jvm_mxbean_start_ms=%d%n", mainMs - jvmStart);
      System.out.printf("connect_ms=%.3f%n", (connected - mainNs) / 1e6);
      System.out.printf("warmup_ms=%.3f%n", warm / 1e6);
      System.out.printf("n=%d%nrows=%d%nloop_s=%.3f%nloop_cpu_s=%.3f%n", n, rows, loop / 1e9, cpu / 1e9);
      System.out.printf("min_ms=%.3f%nmean_ms=%.3f%np50_ms=%.3f%np90_ms=%.3f%np99_ms=%.3f%nmax_ms=%.3f%n",
          t[0] / 1e6, mean / 1e6, rank(t, 50) / 1e6, rank(t, 90) / 1e6, rank(t, 99) / 1e6, t[n - 1] / 1e6);
    }
  }

  // user + system CPU of the whole JVM (all threads: JIT and GC included)
  static long cpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
  }

  static long rank(long[] sorted, double p) {
    int i = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
    return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
  }

  static long run(Connection c, String sql, long expect) throws Exception {
    long rows = 0;
    try (Statement s = c.createStatement()) {
      s.setFetchSize(10000);
      try (ResultSet rs = s.executeQuery(sql)) {
        int cols = rs.getMetaData().getColumnCount();
        while (rs.next()) {
          for (int k = 1; k <= cols; k++) rs.getObject(k);
          rows++;
        }
      }
    }
    if (expect >= 0 && rows != expect) throw new IllegalStateException("expected " + expect + " rows, got " + rows);
    return rows;
  }
}
