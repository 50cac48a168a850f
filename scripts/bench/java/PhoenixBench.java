// The thick-client side of scripts/bench/phoenix_upsert.sh: Phoenix's own JDBC driver
// (jdbc:phoenix:<zookeeper>, straight to HBase, no Query Server).
//   PhoenixBench URL ddl SQL...                  run each statement (table setup, untimed)
//   PhoenixBench URL upsert TABLE ROWS BATCH [WARMUP]
//                                                UPSERT ROWS rows, BATCH per executeBatch, commit per batch;
//                                                first WARMUP rows (ids ROWS .. ROWS+WARMUP-1) the same way,
//                                                unmeasured, in the same JVM, connection and statement
//   PhoenixBench URL check TABLE...              per table: TABLE count sum(BYTES) sum(LATENCY_MS) max(TS) sum(length(MESSAGE))
//   PhoenixBench URL finish TABLE               check TABLE, then DROP TABLE TABLE
// The rows are the same as scripts/bench/phoenix_upsert.lua makes (row(i) below, i = 0 .. ROWS+WARMUP-1).
// upsert prints key=value lines: jvm_start_ms (process start to main), connect_ms, warmup_s, loop_s, rows,
// rows_per_s (rows / loop_s), execute_s and commit_s (summed over batches), batch_p50/p99_ms,
// loop_cpu_s (the JVM's user + system CPU during the loop), loop_read_bytes / loop_write_bytes
// (read/write system calls during the loop, from /proc/self/io: mostly HBase RPC).
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.sql.Timestamp;
import java.util.Arrays;

public final class PhoenixBench {
  static final String[] LEVELS = {"DEBUG", "INFO", "WARN", "ERROR"};

  public static void main(String[] args) throws Exception {
    long mainNs = System.nanoTime();
    long mainMs = System.currentTimeMillis();
    long osStart = ProcessHandle.current().info().startInstant().map(i -> i.toEpochMilli()).orElse(-1L);
    String url = args[0];
    Class.forName("org.apache.phoenix.jdbc.PhoenixDriver");
    try (Connection c = DriverManager.getConnection(url)) {
      long connected = System.nanoTime();
      if (args[1].equals("ddl")) {
        for (int i = 2; i < args.length; i++) {
          try (Statement s = c.createStatement()) {
            s.execute(args[i]);
          }
        }
        return;
      }
      if (args[1].equals("check") || args[1].equals("finish")) {
        for (int i = 2; i < args.length; i++) {
          try (Statement s = c.createStatement();
               java.sql.ResultSet rs = s.executeQuery("SELECT COUNT(*), SUM(BYTES), SUM(LATENCY_MS), MAX(TS), "
                   + "SUM(LENGTH(MESSAGE)), COUNT(DISTINCT HOST) FROM " + args[i])) {
            rs.next();
            System.out.printf("%s %d %d %.1f %s %d %d%n", args[i], rs.getLong(1), rs.getLong(2), rs.getDouble(3),
                rs.getTimestamp(4).getTime(), rs.getLong(5), rs.getLong(6));
          }
          if (args[1].equals("finish")) {
            try (Statement s = c.createStatement()) {
              s.execute("DROP TABLE " + args[i]);
            }
          }
        }
        return;
      }
      String table = args[2];
      int rows = Integer.parseInt(args[3]);
      int batch = Integer.parseInt(args[4]);
      int warmup = args.length > 5 ? Integer.parseInt(args[5]) : 0;
      c.setAutoCommit(false);
      long[] exec = new long[(rows + batch - 1) / batch];
      long[] commit = new long[exec.length];
      long loop, warm;
      long[] io0;
      long cpu0;
      try (PreparedStatement ps = c.prepareStatement("UPSERT INTO " + table
          + " (ID, TS, HOST, SERVICE, LEVEL, STATUS, LATENCY_MS, BYTES, MESSAGE) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
        // the warm-up: the same work on rows after the measured ones, not timed
        long w0 = System.nanoTime();
        for (long first = rows; first < (long) rows + warmup; first += batch) {
          addRows(ps, first, Math.min((long) rows + warmup, first + batch));
          ps.executeBatch();
          c.commit();
        }
        warm = System.nanoTime() - w0;
        io0 = io();
        cpu0 = cpuNanos();
        long l0 = System.nanoTime();
        for (int b = 0; b < exec.length; b++) {
          long first = (long) b * batch;
          addRows(ps, first, Math.min(rows, first + batch));
          long t0 = System.nanoTime();
          ps.executeBatch();
          long t1 = System.nanoTime();
          c.commit();
          long t2 = System.nanoTime();
          exec[b] = t1 - t0;
          commit[b] = t2 - t1;
        }
        loop = System.nanoTime() - l0;
      }
      long cpu = cpuNanos() - cpu0;
      long[] io1 = io();
      long[] whole = new long[exec.length];
      long execSum = 0, commitSum = 0;
      for (int b = 0; b < exec.length; b++) {
        whole[b] = exec[b] + commit[b];
        execSum += exec[b];
        commitSum += commit[b];
      }
      Arrays.sort(whole);
      System.out.printf("jvm_start_ms=%d%n", osStart > 0 ? mainMs - osStart : -1);
      System.out.printf("connect_ms=%.1f%n", (connected - mainNs) / 1e6);
      System.out.printf("warmup_rows=%d%nwarmup_s=%.3f%n", warmup, warm / 1e9);
      System.out.printf("rows=%d%nbatches=%d%nloop_s=%.3f%nrows_per_s=%.0f%n", rows, exec.length, loop / 1e9, rows / (loop / 1e9));
      System.out.printf("execute_s=%.3f%ncommit_s=%.3f%n", execSum / 1e9, commitSum / 1e9);
      System.out.printf("batch_p50_ms=%.2f%nbatch_p99_ms=%.2f%n", rank(whole, 50) / 1e6, rank(whole, 99) / 1e6);
      System.out.printf("loop_cpu_s=%.3f%n", cpu / 1e9);
      System.out.printf("loop_read_bytes=%d%nloop_write_bytes=%d%n", io1[0] - io0[0], io1[1] - io0[1]);
    }
  }

  static void addRows(PreparedStatement ps, long first, long end) throws Exception {
    for (long i = first; i < end; i++) {
      int status = 200 + (int) (i % 5) * 100;
      ps.setLong(1, i);
      ps.setTimestamp(2, new Timestamp(1700000000000L + i));
      ps.setString(3, "host-" + (i % 50));
      ps.setString(4, "svc-" + (i % 20));
      ps.setString(5, LEVELS[(int) (i % 4)]);
      ps.setInt(6, status);
      ps.setDouble(7, (i * 7 % 1000) / 10.0);
      ps.setLong(8, i * 37 % 100000);
      ps.setString(9, "request " + i + " served by host-" + (i % 50) + " with status " + status);
      ps.addBatch();
    }
  }

  static long rank(long[] sorted, double p) {
    int i = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
    return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
  }

  static long cpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
  }

  // rchar, wchar of this process
  static long[] io() throws Exception {
    long r = -1, w = -1;
    for (String line : Files.readAllLines(Path.of("/proc/self/io"))) {
      if (line.startsWith("rchar:")) r = Long.parseLong(line.substring(6).trim());
      if (line.startsWith("wchar:")) w = Long.parseLong(line.substring(6).trim());
    }
    return new long[] {r, w};
  }
}
