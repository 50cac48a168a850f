// Evicts tables' blocks from the RegionServers' block cache, through HBase's own Java client, so that a
// "cold" query reads its HFiles again instead of cached blocks: scripts/stack hbase-clear-cache TABLE...
// (hbase-site.xml from the classpath). Prints how many blocks each table had cached.
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.hbase.CacheEvictionStats;
import org.apache.hadoop.hbase.HBaseConfiguration;
import org.apache.hadoop.hbase.TableName;
import org.apache.hadoop.hbase.client.Admin;
import org.apache.hadoop.hbase.client.Connection;
import org.apache.hadoop.hbase.client.ConnectionFactory;

public final class HBaseClearCache {
  public static void main(String[] args) throws Exception {
    Configuration conf = HBaseConfiguration.create();
    conf.setInt("hbase.client.retries.number", 5);
    try (Connection c = ConnectionFactory.createConnection(conf); Admin admin = c.getAdmin()) {
      for (String a : args) {
        TableName name = TableName.valueOf(a);
        if (!admin.tableExists(name)) throw new IllegalArgumentException("no table " + a);
        CacheEvictionStats s = admin.clearBlockCache(name);
        if (s.getExceptionCount() > 0) throw new IllegalStateException(a + ": " + s);
        System.out.println("OK cleared " + a + " " + s.getEvictedBlocks() + " blocks");
      }
    }
  }
}
