// Smoke test through HBase's own Java client: create a table, put 100 rows, read them back, drop the table.
// Compiled and run by scripts/stack smoke hbase; hbase-site.xml comes from the classpath.
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.hbase.HBaseConfiguration;
import org.apache.hadoop.hbase.TableName;
import org.apache.hadoop.hbase.client.*;
import org.apache.hadoop.hbase.util.Bytes;

public final class HBaseSmoke {
  public static void main(String[] args) throws Exception {
    Configuration conf = HBaseConfiguration.create();
    conf.setInt("hbase.client.retries.number", 5);
    TableName name = TableName.valueOf(args[0]);
    byte[] cf = Bytes.toBytes("f"), q = Bytes.toBytes("q");
    try (Connection c = ConnectionFactory.createConnection(conf); Admin admin = c.getAdmin()) {
      admin.createTable(TableDescriptorBuilder.newBuilder(name)
          .setColumnFamily(ColumnFamilyDescriptorBuilder.of(cf)).build());
      try (Table t = c.getTable(name)) {
        for (int i = 0; i < 100; i++) {
          t.put(new Put(Bytes.toBytes("row-" + i)).addColumn(cf, q, Bytes.toBytes(i)));
        }
        long sum = 0;
        for (int i = 0; i < 100; i++) {
          sum += Bytes.toInt(t.get(new Get(Bytes.toBytes("row-" + i))).getValue(cf, q));
        }
        if (sum != 4950) throw new IllegalStateException("read back sum " + sum + ", expected 4950");
      } finally {
        admin.disableTable(name);
        admin.deleteTable(name);
      }
    }
    System.out.println("OK table " + name + ": 100 rows put and read back with the HBase client");
  }
}
