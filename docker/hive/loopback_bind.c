/* LD_PRELOAD shim for HiveServer2: its HTTP listener (Jetty, in ThriftHttpCLIService) binds every
 * interface whatever hive.server2.thrift.bind.host says (Hive 4.0.1 sets only the connector's port).
 * This turns every IPv4 bind to the wildcard address into a bind to 127.0.0.1, so the whole process
 * listens on loopback only. Used by docker/hive/run when LOADGEN_BIND is 127.0.0.1, with
 * -Djava.net.preferIPv4Stack=true (IPv4 sockets only). Built by docker/hive/run with cc. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

int bind(int fd, const struct sockaddr *addr, socklen_t len) {
    static int (*real_bind)(int, const struct sockaddr *, socklen_t);
    if (!real_bind) {
        real_bind = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "bind");
    }
    if (addr && addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        struct sockaddr_in in;
        memcpy(&in, addr, sizeof in);
        if (in.sin_addr.s_addr == htonl(INADDR_ANY)) {
            in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            return real_bind(fd, (const struct sockaddr *)&in, sizeof in);
        }
    }
    return real_bind(fd, addr, len);
}
