// Flushes tables' memstores to HFiles and waits for it, through HBase's own Java client, so that the bytes
// a table keeps on disk can be measured: scripts/stack hbase-flush TABLE... (hbase-site.xml from the classpath).
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.hbase.HBaseConfiguration;
import org.apache.hadoop.hbase.TableName;
import org.apache.hadoop.hbase.client.Admin;
import org.apache.hadoop.hbase.client.Connection;
import org.apache.hadoop.hbase.client.ConnectionFactory;

public final class HBaseFlush {
  public static void main(String[] args) throws Exception {
    Configuration conf = HBaseConfiguration.create();
    conf.setInt("hbase.client.retries.number", 5);
    try (Connection c = ConnectionFactory.createConnection(conf); Admin admin = c.getAdmin()) {
      for (String a : args) {
        TableName name = TableName.valueOf(a);
        if (!admin.tableExists(name)) throw new IllegalArgumentException("no table " + a);
        admin.flush(name);
        System.out.println("OK flushed " + a);
      }
    }
  }
}
