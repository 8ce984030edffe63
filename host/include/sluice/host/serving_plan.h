// The `serving:` block of a flow resolved into a ServingPlan: defaults filled in, and
// everything a server would trip over at start checked up front (by `sluice check`):
// listen addresses, TLS files, the request-id header name, ranges, token sources (read,
// never shown), and the store. Documented in docs/serving.md, "Configuration".
//
// The HTTP endpoints that use this plan are not built yet; a flow with `serving:` but
// without a `serving` source or a `serve` sink is accepted for now (those built-in types
// come with the endpoints, and will be required to pair with `serving:` then).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/host/diagnostics.h"
#include "sluice/host/flow_loader.h"

namespace sluice::host {

// Environment lookup; returns null when the variable is unset.
using EnvLookup = std::function<const char*(const char*)>;

// HOST:PORT. `host` is a host name, an IPv4 address or an IPv6 address (written in
// brackets in the flow, stored without them).
struct ListenAddress {
  std::string host;
  uint16_t port = 0;  // 0: any free port
  bool ipv6 = false;

  std::string text() const;  // "127.0.0.1:8090", "[::1]:8443"
};

enum class TlsMode { kNone, kFiles, kSelfSigned };

// One bearer-token source: a file (absolute path) or an environment variable.
struct TokenSourcePlan {
  enum class Kind { kFile, kEnv };
  Kind kind = Kind::kFile;
  std::string written;          // the file as written in the flow, or the variable name
  std::filesystem::path file;   // absolute, for kFile
  std::string path;             // "serving.auth.tokens[i]", for LoadedFlow::where()
};

enum class ServingStoreKind { kSqlite, kGrpc };

// Defaults and limits (docs/serving.md).
inline constexpr std::string_view kDefaultMsgIdHeader = "X-Numaflow-Id";
inline constexpr uint32_t kDefaultRequestTimeoutSeconds = 120;
inline constexpr uint32_t kMaxRequestTimeoutSeconds = 86'400;
inline constexpr uint64_t kDefaultMaxRequestBody = uint64_t{1} << 20;  // 1MiB
// 512MiB: the request store keeps a body in one SQLite value, and SQLite's own limit
// (1,000,000,000 bytes on Debian) must keep room for the rest of the row.
inline constexpr uint64_t kMaxMaxRequestBody = uint64_t{1} << 29;      // 512MiB
inline constexpr uint32_t kDefaultMaxInFlight = 10'000;
inline constexpr uint32_t kMaxMaxInFlight = 1'000'000;
inline constexpr uint32_t kDefaultHttpThreads = 128;
inline constexpr uint32_t kMaxHttpThreads = 4096;
inline constexpr std::chrono::seconds kDefaultStoreTtl{2 * 3600};
inline constexpr std::chrono::seconds kMaxStoreTtl{365 * 24 * 3600};

struct ServingPlan {
  std::optional<ListenAddress> http;
  std::optional<ListenAddress> https;
  TlsMode tls = TlsMode::kNone;
  std::filesystem::path tls_cert;  // absolute, for kFiles
  std::filesystem::path tls_key;
  std::string msg_id_header{kDefaultMsgIdHeader};
  std::chrono::seconds request_timeout{kDefaultRequestTimeoutSeconds};
  std::vector<TokenSourcePlan> tokens;  // empty: no auth
  uint64_t max_request_body = kDefaultMaxRequestBody;
  uint32_t max_in_flight = kDefaultMaxInFlight;
  uint32_t http_threads = kDefaultHttpThreads;
  ServingStoreKind store = ServingStoreKind::kSqlite;
  std::filesystem::path sqlite_path;  // absolute, for kSqlite
  std::chrono::seconds store_ttl = kDefaultStoreTtl;
  std::string grpc_address;  // "unix:/abs/path" or "host:port", for kGrpc
};

// Parses HOST:PORT. On failure returns nullopt and sets *error (and *hint, maybe empty).
std::optional<ListenAddress> parse_host_port(std::string_view text, std::string* error,
                                             std::string* hint);

// An HTTP field name: a non-empty RFC 9110 token.
bool valid_header_name(std::string_view name);

// Reads one token source: the file's content or the variable's value, with surrounding
// whitespace trimmed. Refused (false, *error says which source and why, never the
// token): an unset variable, an unreadable file, an empty token, a token with a space or
// a control character inside (a bearer token is one line of visible ASCII).
bool read_token_source(const TokenSourcePlan& source, const EnvLookup& getenv,
                       std::string* token, std::string* error, std::string* hint);

// Plans `flow.spec.serving()` (call only when the flow has one). `flow_name` names the
// default SQLite file. Every problem goes to *diagnostics, located at its key. Without
// `read_secrets`, token sources are checked for shape only (nothing is read).
std::optional<ServingPlan> plan_serving(const LoadedFlow& flow, const std::string& flow_name,
                                        const EnvLookup& getenv, Diagnostics* diagnostics,
                                        bool read_secrets = true);

}  // namespace sluice::host
