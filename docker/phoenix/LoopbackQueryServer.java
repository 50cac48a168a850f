// A small Phoenix Query Server: Avatica's HTTP server over JdbcMeta on jdbc:phoenix, listening on one
// address only (the released Query Server binds every interface and has no setting for it).
// Compiled and started by docker/phoenix/run. Speaks the Avatica wire protocol like the released one.
//
// Avatica has one serialization per listener; this server opens one listener per serialization, so both
// can be tested against the same Phoenix: PROTOBUF (the released server's serialization) on
// loadgen.qs.port, as the released server on its port, and JSON on loadgen.qs.json.port. Each listener
// has its own JdbcMeta (its own connections).
//
// System properties: loadgen.qs.url (JDBC url), loadgen.qs.host, loadgen.qs.port (PROTOBUF),
//                    loadgen.qs.json.port (JSON; 0 = no JSON listener).
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.Collections;
import java.util.Properties;

import org.apache.calcite.avatica.jdbc.JdbcMeta;
import org.apache.calcite.avatica.remote.Driver.Serialization;
import org.apache.calcite.avatica.remote.LocalService;
import org.apache.calcite.avatica.server.HttpServer;
import org.apache.calcite.avatica.server.ServerCustomizer;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

public final class LoopbackQueryServer {
  public static void main(String[] args) throws Exception {
    String url = System.getProperty("loadgen.qs.url", "jdbc:phoenix:127.0.0.1:2181");
    String host = System.getProperty("loadgen.qs.host", "127.0.0.1");
    int protobufPort = Integer.parseInt(System.getProperty("loadgen.qs.port", "8765"));
    int jsonPort = Integer.parseInt(System.getProperty("loadgen.qs.json.port", "8766"));

    // Warm-up: the first Phoenix connection creates the SYSTEM tables (tens of seconds on a fresh HBase).
    // Done before the port opens, so a listening port means a usable server.
    Class.forName("org.apache.phoenix.jdbc.PhoenixDriver");
    long t0 = System.nanoTime();
    try (Connection c = DriverManager.getConnection(url);
         Statement s = c.createStatement();
         ResultSet rs = s.executeQuery("SELECT COUNT(*) FROM SYSTEM.CATALOG")) {
      rs.next();
      System.out.printf("warm-up: SYSTEM.CATALOG has %d rows, %.1f s%n", rs.getLong(1), (System.nanoTime() - t0) / 1e9);
    }

    ServerCustomizer<Server> bindOneAddress = server -> {
      for (Connector c : server.getConnectors()) {
        if (c instanceof ServerConnector) {
          ((ServerConnector) c).setHost(host);
        }
      }
    };
    // JSON first: the stack's health check waits for the protobuf port to listen, then speaks JSON,
    // so a JSON answer after that means both are up.
    if (jsonPort > 0) {
      listen(url, host, jsonPort, Serialization.JSON, bindOneAddress);
    }
    listen(url, host, protobufPort, Serialization.PROTOBUF, bindOneAddress).join();
  }

  private static HttpServer listen(String url, String host, int port, Serialization ser,
                                   ServerCustomizer<Server> customizer) throws Exception {
    HttpServer server = new HttpServer.Builder<Server>()
        .withHandler(new LocalService(new JdbcMeta(url, new Properties())), ser)
        .withPort(port)
        .withServerCustomizers(Collections.singletonList(customizer), Server.class)
        .build();
    server.start();
    System.out.printf("query server listening on %s:%d (%s) for %s%n", host, server.getPort(), ser, url);
    return server;
  }
}
