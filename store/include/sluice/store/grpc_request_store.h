// The RequestStore on an external server implementing Numaflow's user-defined serving
// store API (store/proto/serving_store.proto: serving.v1.ServingStore with Put, Get and
// IsReady), over gRPC on a Unix socket or TCP. Any server written for Numaflow works:
// the API is Put/Get per id only, and a server may either append the payloads of each Put
// to what the id holds or replace them; this store works with both.
//
// What it stores for an id (the payloads of one Put; origins starting with "sluice:" are
// Sluice's own, stage names never contain ':'):
//   - "sluice:request"  the request: body, headers, accepted_at (sluice.store.v1.StoredRequest)
//   - {stage, value}    each result as a plain payload, exactly as Numaflow's sink writes it,
//                       so a Numaflow-aware reader of the store sees the results
//   - "sluice:step"     one step of the path (sluice.store.v1.StoredStep)
//   - "sluice:outcome"  completed or failed, the error, finished_at (StoredOutcome)
// accept() Puts [request]; complete() Puts the whole record [request, results in order,
// steps in order, outcome] at once. An appending server therefore holds the request
// payload twice, so reading takes everything after the LAST "sluice:request" payload
// (anything before it is ignored). Payloads without any "sluice:request" (written by
// another producer, e.g. a Numaflow sink) read as a completed record with those results
// (origin as the stage), no body and no times; "sluice:" payloads of unknown kinds are
// skipped (newer writers).
//
// Contract, where it differs from request_store.h's:
//   - accept() blocks for two RPCs: Get(id) — any payload means kDuplicate — then
//     Put(id, [request]), kAccepted only when the server answers success. An RPC error, a
//     deadline (rpc_timeout) or success=false throws StoreError naming the address and the
//     gRPC status, and makes ready() false. "Durable" means what the server makes of it.
//     Ids accepted by this store object and not yet stored complete are kept in memory and
//     checked first: a duplicate in flight is caught without a round trip, and concurrent
//     accepts of one id wait for each other (one kAccepted). Two processes accepting one id
//     at the same moment may both get kAccepted (the API has no conditional Put).
//   - add_result(), add_step() and restart() make no RPC: they change the request's
//     record kept in memory. complete() queues ONE Put of the whole record, sent by a
//     background thread in call order; the record stays in memory (and get() answers from
//     it) until that Put succeeded. A failed Put is retried (put_attempts times in all,
//     backoff doubling from retry_backoff), then given up: counted in stats().lost_writes
//     and reported to on_lost_write. The server then still holds the accepted request
//     alone (get() shows it in progress, with no results).
//   - Only requests accepted by this store object can be written to: writes naming any
//     other id are dropped, as are writes after complete() (the first outcome wins).
//   - get(): a request in memory is answered from memory (in progress, or finished while
//     its Put is queued); any other id costs a Get RPC: no payloads → nullopt. An RPC
//     failure throws StoreError. Read-your-writes holds within this process.
//   - unfinished(): the API cannot list, so only the requests this store object accepted
//     and has not seen complete. After a crash nothing is returned: accepted but
//     unfinished requests are NOT recovered. Deployments that need crash recovery of
//     accepted work use the SQLite store (sqlite_request_store.h).
//   - expire_now() returns 0: the server owns retention (TTL).
//   - Size: the largest gRPC message is max_message_bytes (64 MiB, both ways, like
//     Numaflow's); a record (request, results, steps, error) must fit in one Put, less
//     64 KiB of headroom. accept() of a larger request throws StoreError "request body of
//     N bytes is larger than the store's limit of M bytes"; a result or step that would
//     make the record larger is dropped, counted in stats().too_large with the reason in
//     stats().last_dropped; an error text that does not fit is replaced by a note.
//   - flush() waits until every Put queued before it was sent (or given up).
//   - close() (the destructor calls it): new calls throw StoreError "... closed"; waits for
//     calls in progress, then up to close_timeout for the queued Puts (what is still
//     queued then is given up and counted lost), stops the threads. ready() is then
//     false; stats() still answers.
//   - ready(): true while the last RPC succeeded and the server's last IsReady answer
//     (probed every probe_interval by a background thread, first at once after opening)
//     was true. False after opening until the first probe answered, false after any RPC
//     failure until an RPC (or the probe) succeeds again.
//   - stats(): accepted, duplicates, transactions (Puts that succeeded), writes (operations
//     they stored: an accept, or each result, step and outcome of a completion),
//     lost_writes, too_large/last_dropped. The SQLite-only counters stay 0.
//
// Thread-safety: every member may be called from any number of threads at once; RPCs are
// made without holding the store's lock. Destruction: as request_store.h says, no call may
// be in progress or still start when the store is destroyed.
// Ownership: the store copies what it is given; records returned are the caller's.
// The gRPC channel is created at open and shared by all calls; it reconnects by itself
// when the server comes back (reconnect backoff capped at 1 s, and reset by every failed
// probe), so a server restarted, or started after Sluice, is found within about one
// probe_interval.
// Ids and stage names travel in proto3 string fields: they must be UTF-8.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "sluice/store/request_store.h"

namespace sluice::store {

struct GrpcStoreOptions {
  // The server: "unix:/absolute/path.sock" or "HOST:PORT" (a gRPC target string).
  std::string address;
  // Deadline of every RPC (accept's Get and Put, get's Get, completion Puts, probes).
  std::chrono::milliseconds rpc_timeout{5000};
  // How often the background thread asks the server IsReady. 0: never (ready() then
  // follows the RPCs alone and starts true).
  std::chrono::milliseconds probe_interval{1000};
  // A completion Put is tried this many times in all (at least 1) before it is given up,
  // waiting retry_backoff, then twice as long, ... between tries.
  int put_attempts = 4;
  std::chrono::milliseconds retry_backoff{100};
  // How long close() waits for queued completion Puts before giving them up.
  std::chrono::milliseconds close_timeout{10000};
  // The largest gRPC message sent or received (Numaflow's: 64 MiB).
  size_t max_message_bytes = 64 * 1024 * 1024;
  // Told about every completion Put given up (id, why), from the sender thread, without
  // the store's lock held; optional. For the log: the count is in stats().lost_writes.
  // It must not call close() (close waits for that thread).
  std::function<void(std::string_view id, std::string_view why)> on_lost_write;
};

// Creates the store and its channel; does not wait for the server (which may start
// later: see ready()). Throws StoreError for options it cannot use (an empty address).
std::unique_ptr<RequestStore> open_grpc_request_store(const GrpcStoreOptions& options);

}  // namespace sluice::store
