// A thin client over Hive's own JDBC driver (hive-jdbc): runs each argument after the URL as one SQL
// statement and prints result rows tab-separated. Used by scripts/stack for Hive's health check and smoke
// test (no Beeline 4.x jar resolves from the registry).
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;

public final class HiveSql {
  public static void main(String[] args) throws Exception {
    Class.forName("org.apache.hive.jdbc.HiveDriver");
    try (Connection c = DriverManager.getConnection(args[0], System.getProperty("user.name"), "")) {
      for (int i = 1; i < args.length; i++) {
        try (Statement s = c.createStatement()) {
          if (!s.execute(args[i])) continue;
          try (ResultSet rs = s.getResultSet()) {
            int n = rs.getMetaData().getColumnCount();
            while (rs.next()) {
              StringBuilder row = new StringBuilder();
              for (int k = 1; k <= n; k++) row.append(k > 1 ? "\t" : "").append(rs.getString(k));
              System.out.println(row);
            }
          }
        }
      }
    }
  }
}
