#include "sluice/host/serving_plan.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace sluice::host {

namespace fs = std::filesystem;

namespace {

std::string in_quotes(std::string_view text) { return "'" + std::string(text) + "'"; }

bool is_digits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool valid_host_name(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  size_t start = 0;
  while (start <= host.size()) {
    const size_t dot = host.find('.', start);
    const std::string_view label =
        host.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return false;
    for (char c : label)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return true;
}

bool valid_env_name(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

std::string_view trim(std::string_view text) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
                                         c == '\f' || c == '\v'; };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  return text;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Flow names are free text; the default database file uses a safe spelling of it.
std::string file_safe(const std::string& name) {
  std::string out = name;
  for (char& c : out)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') c = '_';
  if (out.empty() || out.front() == '.') out = "flow" + out;
  return out;
}

fs::path resolve(const fs::path& dir, const std::string& written) {
  const fs::path p(written);
  return (p.is_absolute() ? p : dir / p).lexically_normal();
}

// Why a file cannot be read, or "" when it can.
std::string unreadable(const fs::path& file) {
  std::error_code ec;
  if (fs::is_directory(file, ec)) return "it is a directory";
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::strerror(errno);
  return {};
}

// Headers the server itself reads or writes, HTTP gives a meaning to, or proxies drop
// (hop-by-hop): a request id cannot travel in them.
constexpr std::string_view kReservedHeaders[] = {
    "authorization",    "connection",   "content-encoding", "content-length",
    "content-type",     "cookie",       "date",             "expect",
    "host",             "keep-alive",   "location",         "proxy-connection",
    "retry-after",      "server",       "set-cookie",       "te",
    "trailer",          "transfer-encoding", "upgrade",     "www-authenticate"};

class ServingPlanner {
 public:
  ServingPlanner(const LoadedFlow& flow, const EnvLookup& getenv, Diagnostics* diagnostics,
                 bool read_secrets)
      : flow_(flow), getenv_(getenv), diag_(diagnostics), read_secrets_(read_secrets) {}

  std::optional<ServingPlan> run(const std::string& flow_name) {
    const size_t errors_before = diag_->size();
    const flow::Serving& s = flow_.spec.serving();
    addresses(s);
    tls(s);
    header(s);
    limits(s);
    auth(s);
    store(s, flow_name);
    if (diag_->size() != errors_before) return std::nullopt;
    return std::move(plan_);
  }

 private:
  void error(const std::string& path, std::string message, std::string hint = {}) {
    diag_->add(flow_.where(path), std::move(message), std::move(hint));
  }

  std::optional<ListenAddress> address(const std::string& key, const std::string& text) {
    std::string problem, hint;
    std::optional<ListenAddress> a = parse_host_port(text, &problem, &hint);
    if (!a) error("serving." + key, "serving." + key + ": " + problem, hint);
    return a;
  }

  void addresses(const flow::Serving& s) {
    if (s.http().empty() && s.https().empty()) {
      error("serving", "serving needs a listen address",
            "add http: 127.0.0.1:8090 and/or https: 0.0.0.0:8443");
      return;
    }
    if (!s.http().empty()) plan_.http = address("http", s.http());
    if (!s.https().empty()) plan_.https = address("https", s.https());
    if (plan_.http && plan_.https && plan_.http->port != 0 &&
        plan_.http->port == plan_.https->port && plan_.http->host == plan_.https->host)
      error("serving.https", "http and https cannot both listen on " + plan_.https->text(),
            "give https its own port, e.g. " +
                ListenAddress{plan_.https->host, 8443, plan_.https->ipv6}.text());
  }

  void tls(const flow::Serving& s) {
    if (!s.https().empty() && !s.has_tls()) {
      error("serving.https", "https needs tls",
            "add tls: {cert: <file>, key: <file>}, or tls: {selfSigned: true} for development");
    }
    if (!s.has_tls()) return;
    const flow::Tls& t = s.tls();
    if (s.https().empty())
      error("serving.tls", "tls is set but there is no https address",
            "add https: 0.0.0.0:8443, or remove tls");
    if (t.self_signed()) {
      plan_.tls = TlsMode::kSelfSigned;
      if (!t.cert().empty() || !t.key().empty())
        error("serving.tls.selfSigned", "selfSigned: true cannot be combined with cert or key",
              "remove selfSigned to use the files, or remove cert and key");
      return;
    }
    plan_.tls = TlsMode::kFiles;
    if (t.cert().empty() || t.key().empty()) {
      const std::string missing = t.cert().empty() && t.key().empty() ? "cert and key"
                                  : t.cert().empty()                  ? "cert"
                                                                      : "key";
      error("serving.tls", "tls needs " + missing,
            "write tls: {cert: <file>, key: <file>}, or tls: {selfSigned: true} for development");
    }
    if (!t.cert().empty()) plan_.tls_cert = tls_file("cert", t.cert());
    if (!t.key().empty()) plan_.tls_key = tls_file("key", t.key());
  }

  fs::path tls_file(const std::string& key, const std::string& written) {
    fs::path file = resolve(flow_.dir, written);
    const std::string why = unreadable(file);
    if (!why.empty())
      error("serving.tls." + key, "cannot read the tls " + key + " file " + in_quotes(written) +
                                      ": " + why,
            "paths are relative to the flow file's folder");
    return file;
  }

  void header(const flow::Serving& s) {
    if (!s.has_msg_id_header_key()) return;
    const std::string& name = s.msg_id_header_key();
    if (!valid_header_name(name)) {
      error("serving.msgIDHeaderKey",
            "msgIDHeaderKey " + in_quotes(name) + " is not a valid HTTP header name",
            "use letters, digits and !#$%&'*+-.^_`|~, e.g. X-Request-Id");
      return;
    }
    const std::string low = lower(name);
    for (std::string_view reserved : kReservedHeaders) {
      if (low == reserved) {
        error("serving.msgIDHeaderKey",
              "msgIDHeaderKey cannot be " + name + ": the server uses that header itself",
              "use a header of its own, e.g. X-Numaflow-Id (the default)");
        return;
      }
    }
    plan_.msg_id_header = name;
  }

  template <typename T>
  T in_range(const std::string& key, bool has, T value, T fallback, T max) {
    if (!has) return fallback;
    if (value < 1 || value > max) {
      error("serving." + key, key + " must be between 1 and " + std::to_string(max) +
                                  ", got " + std::to_string(value));
      return fallback;
    }
    return value;
  }

  void limits(const flow::Serving& s) {
    plan_.request_timeout = std::chrono::seconds(
        in_range<uint32_t>("requestTimeoutSeconds", s.has_request_timeout_seconds(),
                           s.request_timeout_seconds(), kDefaultRequestTimeoutSeconds,
                           kMaxRequestTimeoutSeconds));
    if (s.has_max_request_body()) {
      const uint64_t bytes = s.max_request_body().bytes();
      if (bytes < 1 || bytes > kMaxMaxRequestBody)
        error("serving.maxRequestBody",
              "maxRequestBody must be between 1 byte and 512MiB, got " + std::to_string(bytes) +
                  " bytes");
      else
        plan_.max_request_body = bytes;
    }
    plan_.max_in_flight = in_range<uint32_t>("maxInFlight", s.has_max_in_flight(),
                                             s.max_in_flight(), kDefaultMaxInFlight,
                                             kMaxMaxInFlight);
    plan_.http_threads = in_range<uint32_t>("httpThreads", s.has_http_threads(),
                                            s.http_threads(), kDefaultHttpThreads,
                                            kMaxHttpThreads);
  }

  void auth(const flow::Serving& s) {
    if (!s.has_auth()) return;
    if (s.auth().tokens_size() == 0) {
      error("serving.auth", "auth needs at least one token source",
            "write tokens: [{file: <path>}] or tokens: [{env: <NAME>}]; remove auth to serve "
            "without tokens");
      return;
    }
    for (int i = 0; i < s.auth().tokens_size(); ++i) {
      const flow::TokenSource& t = s.auth().tokens(i);
      TokenSourcePlan source;
      source.path = "serving.auth.tokens[" + std::to_string(i) + "]";
      switch (t.source_case()) {
        case flow::TokenSource::kFile:
          source.kind = TokenSourcePlan::Kind::kFile;
          source.written = t.file();
          source.file = resolve(flow_.dir, t.file());
          source.path += ".file";
          break;
        case flow::TokenSource::kEnv:
          source.kind = TokenSourcePlan::Kind::kEnv;
          source.written = t.env();
          source.path += ".env";
          break;
        case flow::TokenSource::SOURCE_NOT_SET:
          error(source.path, "a token source needs file: or env:",
                "e.g. - file: secrets/token, or - env: SLUICE_TOKEN");
          continue;
      }
      // ${NAME} here expands to a secret (the token, or a path or name that may be one),
      // which an error message would then print: refuse it without showing the value.
      if (written_with_expansion(source.path)) {
        error(source.path,
              std::string(source.kind == TokenSourcePlan::Kind::kEnv ? "env:" : "file:") +
                  " is written with ${...}; it must name the " +
                  (source.kind == TokenSourcePlan::Kind::kEnv ? "variable" : "file") +
                  " itself (its expanded value is not shown: it may be the token)",
              source.kind == TokenSourcePlan::Kind::kEnv
                  ? "write the bare name: env: API_TOKEN, not env: ${API_TOKEN}"
                  : "write the path itself; sluice reads the token from that file");
        continue;
      }
      std::string token, problem, hint;
      if (read_secrets_ && !read_token_source(source, getenv_, &token, &problem, &hint)) {
        error(source.path, problem, hint);
        continue;
      }
      plan_.tokens.push_back(std::move(source));
    }
  }

  // Whether the scalar at `path` was written with ${...} in the flow file or in a --set
  // override (the loader expands both before this sees the value).
  bool written_with_expansion(const std::string& path) const {
    const std::string where = flow_.where(path);
    if (where.rfind("--set ", 0) == 0) return where.find("${") != std::string::npos;
    // "file:line:column": the value starts at that column of that line.
    const size_t col_colon = where.rfind(':');
    const size_t line_colon = col_colon == std::string::npos ? std::string::npos
                                                             : where.rfind(':', col_colon - 1);
    if (line_colon == std::string::npos) return false;
    size_t line = 0, column = 0;
    const char* first = where.data();
    if (std::from_chars(first + line_colon + 1, first + col_colon, line).ec != std::errc() ||
        std::from_chars(first + col_colon + 1, first + where.size(), column).ec != std::errc() ||
        line == 0 || column == 0)
      return false;
    std::ifstream in(flow_.file, std::ios::binary);
    std::string text;
    for (size_t n = 0; n < line && std::getline(in, text); ++n) {
    }
    if (!in && text.empty()) return false;
    if (column - 1 >= text.size()) return false;
    std::string_view value(text);
    value.remove_prefix(column - 1);
    if (!value.empty() && (value[0] == '"' || value[0] == '\'')) value.remove_prefix(1);
    // A plain scalar runs to the end of the line (or a ", " / "}" in a flow mapping).
    const size_t end = value.find_first_of(",}#");
    return value.substr(0, end).find("${") != std::string_view::npos;
  }

  void store(const flow::Serving& s, const std::string& flow_name) {
    const flow::ServingStore& st = s.store();
    if (st.kind_case() == flow::ServingStore::kGrpc) {
      plan_.store = ServingStoreKind::kGrpc;
      grpc_address(st.grpc().address());
      return;
    }
    plan_.store = ServingStoreKind::kSqlite;
    const flow::SqliteStore& sq = st.sqlite();
    plan_.sqlite_path = sq.path().empty()
                            ? (flow_.dir / ".sluice" / (file_safe(flow_name) + ".db"))
                            : resolve(flow_.dir, sq.path());
    std::error_code ec;
    if (!sq.path().empty() && fs::is_directory(plan_.sqlite_path, ec))
      error("serving.store.sqlite.path",
            "the sqlite path " + in_quotes(sq.path()) + " is a directory",
            "name the database file, e.g. " + (fs::path(sq.path()) / "serving.db").string());
    if (sq.has_ttl()) {
      const auto& d = sq.ttl();
      const bool whole = d.nanos() == 0;
      if (d.seconds() < 1 || d.seconds() > kMaxStoreTtl.count() || !whole)
        error("serving.store.sqlite.ttl", "ttl must be whole seconds from 1s to 8760h (a year)");
      else
        plan_.store_ttl = std::chrono::seconds(d.seconds());
    }
  }

  void grpc_address(const std::string& address) {
    const std::string where = "serving.store.grpc.address";
    if (address.empty()) {
      error(where, "the grpc store needs an address",
            "write address: unix:/path/to/store.sock or address: host:port");
      return;
    }
    if (address.rfind("unix:", 0) == 0) {
      std::string path = address.substr(5);
      if (path.rfind("//", 0) == 0) path = path.substr(2);  // unix:///abs
      if (path.empty()) {
        error(where, "the grpc address " + in_quotes(address) + " has no socket path",
              "write unix:/path/to/store.sock");
        return;
      }
      plan_.grpc_address = "unix:" + resolve(flow_.dir, path).string();
      return;
    }
    std::string problem, hint;
    std::optional<ListenAddress> a = parse_host_port(address, &problem, &hint);
    if (!a) {
      error(where, "grpc address: " + problem,
            hint.empty() ? "write unix:/path/to/store.sock or host:port" : hint);
      return;
    }
    if (a->port == 0) {
      error(where, "grpc address " + in_quotes(address) + " needs a port from 1 to 65535");
      return;
    }
    plan_.grpc_address = a->text();
  }

  const LoadedFlow& flow_;
  const EnvLookup& getenv_;
  Diagnostics* diag_;
  bool read_secrets_;
  ServingPlan plan_;
};

}  // namespace

std::string ListenAddress::text() const {
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::optional<ListenAddress> parse_host_port(std::string_view text, std::string* error,
                                             std::string* hint) {
  hint->clear();
  const std::string shown = in_quotes(text);
  ListenAddress a;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) {
      *error = shown + " has no closing ]";
      *hint = "write an IPv6 address as [::1]:8090";
      return std::nullopt;
    }
    a.host = std::string(text.substr(1, close - 1));
    a.ipv6 = true;
    in6_addr ignored{};
    if (inet_pton(AF_INET6, a.host.c_str(), &ignored) != 1) {
      *error = in_quotes(a.host) + " is not an IPv6 address";
      return std::nullopt;
    }
    if (close + 1 >= text.size() || text[close + 1] != ':') {
      *error = shown + " has no port";
      *hint = "write HOST:PORT, e.g. [" + a.host + "]:8090";
      return std::nullopt;
    }
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      *error = shown + " has no port";
      *hint = is_digits(text) ? "write HOST:PORT, e.g. 127.0.0.1:" + std::string(text) +
                                    " or 0.0.0.0:" + std::string(text)
                              : "write HOST:PORT, e.g. " +
                                    std::string(text.empty() ? "127.0.0.1" : text) + ":8090";
      return std::nullopt;
    }
    a.host = std::string(text.substr(0, colon));
    port = text.substr(colon + 1);
    if (a.host.find(':') != std::string::npos) {
      *error = shown + " is ambiguous";
      *hint = "write an IPv6 address in brackets, e.g. [::1]:8090";
      return std::nullopt;
    }
    if (a.host.empty()) {
      *error = shown + " has no host";
      *hint = "write 0.0.0.0" + std::string(text) + " for every interface, or 127.0.0.1" +
              std::string(text) + " for this machine only";
      return std::nullopt;
    }
    const bool numeric = std::all_of(a.host.begin(), a.host.end(),
                                     [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
    in_addr ignored{};
    if (numeric ? inet_pton(AF_INET, a.host.c_str(), &ignored) != 1 : !valid_host_name(a.host)) {
      *error = in_quotes(a.host) + " is not a valid host";
      *hint = "a host is a name (localhost), an IPv4 address (0.0.0.0) or an IPv6 address in "
              "brackets ([::1])";
      return std::nullopt;
    }
  }
  unsigned value = 0;
  if (!is_digits(port) || port.size() > 5 ||
      std::from_chars(port.data(), port.data() + port.size(), value).ec != std::errc() ||
      value > 65535) {
    *error = "port " + in_quotes(port) + " in " + shown + " is not a number from 0 to 65535";
    return std::nullopt;
  }
  a.port = static_cast<uint16_t>(value);
  return a;
}

bool valid_header_name(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
  }) && name.find('\0') == std::string_view::npos;
}

bool read_token_source(const TokenSourcePlan& source, const EnvLookup& getenv,
                       std::string* token, std::string* error, std::string* hint) {
  hint->clear();
  std::string text;
  std::string what;  // "the token file 'x'" / "environment variable X"
  if (source.kind == TokenSourcePlan::Kind::kEnv) {
    what = "environment variable " + source.written;
    if (!valid_env_name(source.written)) {
      *error = in_quotes(source.written) + " is not an environment variable name";
      *hint = "names are letters, digits and _, not starting with a digit";
      return false;
    }
    const char* value = getenv ? getenv(source.written.c_str()) : std::getenv(source.written.c_str());
    if (value == nullptr) {
      *error = what + " is not set";
      *hint = "export it with the token before starting sluice";
      return false;
    }
    text = value;
  } else {
    what = "token file " + in_quotes(source.written);
    std::error_code ec;
    if (fs::is_directory(source.file, ec)) {
      *error = "cannot read " + what + ": it is a directory";
      return false;
    }
    std::ifstream in(source.file, std::ios::binary);
    if (!in) {
      *error = "cannot read " + what + ": " + std::strerror(errno);
      *hint = "paths are relative to the flow file's folder";
      return false;
    }
    // A regular file of a few bytes: /dev/zero or a FIFO must not hang or fill memory.
    if (!fs::is_regular_file(source.file, ec)) {
      *error = "cannot read " + what + ": it is not a regular file";
      return false;
    }
    constexpr size_t kMaxTokenFile = 4096;
    text.resize(kMaxTokenFile + 1);
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxTokenFile) {
      *error = what + " is larger than " + std::to_string(kMaxTokenFile) + " bytes";
      *hint = "a token file holds one token";
      return false;
    }
  }
  const std::string_view trimmed = trim(text);
  if (trimmed.empty()) {
    *error = what + " is empty";
    *hint = "a token must have at least one character (surrounding whitespace is ignored)";
    return false;
  }
  for (char c : trimmed) {
    const unsigned char u = c;
    if (u <= 0x20 || u >= 0x7f) {
      *error = "the token in " + what + " has a space, a control or a non-ASCII character";
      *hint = "a bearer token is one line of visible ASCII characters";
      return false;
    }
    if (c == '%') {
      // cpp-httplib 0.11 percent-decodes every header value before the server sees it,
      // so a token with '%' could never match what a client sends.
      *error = "the token in " + what + " has a '%' character";
      *hint = "the HTTP server percent-decodes header values; use a token of letters, digits "
              "and -._~+/= (e.g. from `openssl rand -base64 32`)";
      return false;
    }
  }
  *token = std::string(trimmed);
  return true;
}

std::optional<ServingPlan> plan_serving(const LoadedFlow& flow, const std::string& flow_name,
                                        const EnvLookup& getenv, Diagnostics* diagnostics,
                                        bool read_secrets) {
  return ServingPlanner(flow, getenv, diagnostics, read_secrets).run(flow_name);
}

}  // namespace sluice::host
