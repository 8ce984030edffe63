// Raises the accept backlog of this process's listening socket on a port.
//
// Why: Debian's cpp-httplib 0.11.4 listens with a backlog of 5 and offers no way to
// change it. When more clients than that connect at once (a connection pool starting,
// wrk's 64 connections), the kernel's accept queue overflows and the extra handshakes
// are retried by TCP after about a second: those clients' first requests take 1 s.
// listen() may be called again on a listening socket to change its backlog; the socket
// is found by its port among the process's descriptors (httplib keeps its own private).
#pragma once

#include <cstdint>

namespace sluice::serving {

// Sets the backlog of every listening TCP socket of this process bound to `port` to
// `backlog` (the kernel caps it at net.core.somaxconn). Returns how many it changed.
int raise_listen_backlog(uint16_t port, int backlog = 4096);

}  // namespace sluice::serving
