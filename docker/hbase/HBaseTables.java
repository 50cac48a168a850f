// Table maintenance through HBase's own Java client (hbase-site.xml from the classpath), for
// scripts/stack:
//   HBaseTables flush TABLE...        flush the memstores to HFiles and wait (hbase-flush: so that the
//                                     bytes a table keeps on disk can be measured)
//   HBaseTables clear-cache TABLE...  evict the tables' blocks from the RegionServers' block cache
//                                     (hbase-clear-cache: so that a cold query reads its HFiles again)
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.hbase.CacheEvictionStats;
import org.apache.hadoop.hbase.HBaseConfiguration;
import org.apache.hadoop.hbase.TableName;
import org.apache.hadoop.hbase.client.Admin;
import org.apache.hadoop.hbase.client.Connection;
import org.apache.hadoop.hbase.client.ConnectionFactory;

public final class HBaseTables {
  public static void main(String[] args) throws Exception {
    if (args.length < 2 || !(args[0].equals("flush") || args[0].equals("clear-cache"))) {
      throw new IllegalArgumentException("usage: HBaseTables flush|clear-cache TABLE...");
    }
    Configuration conf = HBaseConfiguration.create();
    conf.setInt("hbase.client.retries.number", 5);
    try (Connection c = ConnectionFactory.createConnection(conf); Admin admin = c.getAdmin()) {
      for (int i = 1; i < args.length; i++) {
        TableName name = TableName.valueOf(args[i]);
        if (!admin.tableExists(name)) throw new IllegalArgumentException("no table " + args[i]);
        if (args[0].equals("flush")) {
          admin.flush(name);
          System.out.println("OK flushed " + args[i]);
        } else {
          CacheEvictionStats s = admin.clearBlockCache(name);
          if (s.getExceptionCount() > 0) throw new IllegalStateException(args[i] + ": " + s);
          System.out.println("OK cleared " + args[i] + " " + s.getEvictedBlocks() + " blocks");
        }
      }
    }
  }
}
