// `http`: a side-input retriever that GETs a URL; the response body is the value.
//
// "No change" (emit nothing) comes two ways: the server answers 304 to the
// If-None-Match / If-Modified-Since built from the last response's ETag /
// Last-Modified, or it answers 200 with the same bytes as the last value this instance
// emitted (most servers send no validators). Anything else — another status, no
// response at all — throws: the host logs it, keeps the old value and retries with its
// backoff. The messages name the URL without user:password or query (they reach logs
// and GET /v1/side-inputs).
//
// cpp-httplib stays in this file: it is a heavy header and, as Debian builds it, must
// be compiled with the pkg-config defines (docs: shared toolchain notes).
#include <httplib.h>

#include <cctype>
#include <memory>
#include <stdexcept>
#include <string>

#include "config.h"
#include "http_url.h"
#include "types.h"

namespace sluice::builtin {
namespace {

constexpr int64_t kDefaultTimeoutMs = 10'000;
constexpr size_t kExcerptBytes = 200;
constexpr int kMaxRedirects = 10;

// The first bytes of a body, printable, for an error message.
std::string excerpt(const std::string& body) {
  std::string out;
  for (size_t i = 0; i < body.size() && i < kExcerptBytes; ++i) {
    const unsigned char c = static_cast<unsigned char>(body[i]);
    out += c == '\n' || c == '\r' || c == '\t' ? ' ' : (c < 0x20 || c == 0x7f ? '?' : body[i]);
  }
  if (body.size() > kExcerptBytes) out += "... (" + std::to_string(body.size()) + " bytes)";
  return out;
}

std::string describe(httplib::Error e, int64_t timeout_ms) {
  const std::string limit = " (timeout " + std::to_string(timeout_ms) + "ms)";
  switch (e) {
    case httplib::Error::Connection: return "could not connect";
    case httplib::Error::ConnectionTimeout: return "connecting timed out" + limit;
    case httplib::Error::Read: return "reading the response failed or timed out" + limit;
    case httplib::Error::Write: return "sending the request failed";
    case httplib::Error::SSLConnection: return "the TLS handshake failed";
    case httplib::Error::SSLLoadingCerts: return "loading the CA certificates failed";
    case httplib::Error::SSLServerVerification:
      return "the server's TLS certificate could not be verified (tlsVerify: false skips this)";
    default: return "request failed: " + httplib::to_string(e);
  }
}

bool header_token_ok(const std::string& name) {
  if (name.empty()) return false;
  for (char c : name)
    if (c <= 0x20 || c >= 0x7f || c == ':') return false;
  return true;
}

// Header names compare without regard to case.
bool same_name(const std::string& a, const char* b) {
  size_t i = 0;
  for (; i < a.size() && b[i] != '\0'; ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return i == a.size() && b[i] == '\0';
}

class HttpRetriever {
 public:
  explicit HttpRetriever(const CreateArgs& args) {
    Config c(args.config_json);
    const std::string text = c.required_string("url", "the http:// or https:// URL to GET");
    try {
      url_ = parse_http_url(text);
    } catch (const std::invalid_argument& e) {
      throw c.error("url", e.what());
    }
    read_headers(c);
    timeout_ms_ = c.duration_ms("timeout", kDefaultTimeoutMs);
    tls_verify_ = c.boolean("tlsVerify", true);
    c.reject_unknown_keys();
    client_ = make_client(url_);
    if (!client_->is_valid()) throw c.error("url", "cpp-httplib cannot use " + url_.redacted());
  }

  sluice_status process(Context& ctx, const Batch&) {
    httplib::Headers headers = headers_;
    if (!etag_.empty()) headers.emplace("If-None-Match", etag_);
    if (!last_modified_.empty()) headers.emplace("If-Modified-Since", last_modified_);
    const std::string what = "GET " + url_.redacted();
    httplib::Result res = get_following_redirects(headers, what);
    if (res->status == 304) {
      // Only a conditional request can be answered 304; without a value it is the
      // server's mistake, not "no change".
      if (!emitted_) throw std::runtime_error(what + ": HTTP 304 to a request that was not conditional");
      ctx.log(SLUICE_LOG_DEBUG, what + ": 304 not modified");
      return SLUICE_OK;
    }
    if (res->status != 200)
      throw std::runtime_error(what + ": HTTP " + std::to_string(res->status) +
                               (res->body.empty() ? "" : ": " + excerpt(res->body)));
    // Validators of the newest 200; a server that stops sending them gets plain GETs.
    etag_ = res->get_header_value("ETag");
    last_modified_ = res->get_header_value("Last-Modified");
    if (emitted_ && res->body == last_) return SLUICE_OK;  // no change
    last_ = std::move(res->body);
    emitted_ = true;
    ctx.emit(last_);
    return SLUICE_OK;
  }

 private:
  // A client for `u`'s origin with this retriever's timeouts and TLS setting. Basic
  // auth from the URL goes to the configured origin only.
  std::unique_ptr<httplib::Client> make_client(const HttpUrl& u) const {
    auto client = std::make_unique<httplib::Client>(u.origin());
    const time_t sec = static_cast<time_t>(timeout_ms_ / 1000);
    const time_t usec = static_cast<time_t>((timeout_ms_ % 1000) * 1000);
    client->set_connection_timeout(sec, usec);
    client->set_read_timeout(sec, usec);
    client->set_write_timeout(sec, usec);
    client->enable_server_certificate_verification(tls_verify_);
    if (u.has_userinfo) client->set_basic_auth(u.user, u.password);
    return client;
  }

  // GET with redirects followed here rather than by cpp-httplib: its follow_location
  // treats a 304 (in its 3xx range, without Location) as a failed redirect (Error::Unknown
  // in 0.11.4). Headers that carry credentials are not sent to another origin.
  httplib::Result get_following_redirects(httplib::Headers headers, const std::string& what) {
    HttpUrl at = url_;
    std::unique_ptr<httplib::Client> other;  // for a redirect to another origin
    for (int hop = 0;; ++hop) {
      httplib::Client& client = at.origin() == url_.origin() ? *client_ : *other;
      httplib::Result res = client.Get(at.target, headers);
      const std::string where = hop == 0 ? "" : " (redirected to " + at.redacted() + ")";
      if (!res) throw std::runtime_error(what + where + ": " + describe(res.error(), timeout_ms_));
      const int status = res->status;
      const std::string location = res->get_header_value("Location");
      if (status != 301 && status != 302 && status != 303 && status != 307 && status != 308) return res;
      if (location.empty()) return res;  // not a redirect to follow: fails as its status
      if (hop == kMaxRedirects)
        throw std::runtime_error(what + ": more than " + std::to_string(kMaxRedirects) + " redirects");
      try {
        at = resolve(at, location);
      } catch (const std::invalid_argument& e) {
        throw std::runtime_error(what + where + ": HTTP " + std::to_string(status) +
                                 " redirects to a location that " + e.what());
      }
      if (at.origin() != url_.origin()) {
        at.has_userinfo = false;
        headers.erase("Authorization");
        headers.erase("Cookie");
        other = make_client(at);
      }
    }
  }

  // The URL a Location header names, relative to `base` (RFC 3986, without dot
  // segments: servers send absolute paths or URLs in practice).
  static HttpUrl resolve(const HttpUrl& base, const std::string& location) {
    const std::string lower = [&] {
      std::string l = location.substr(0, 8);
      for (char& ch : l) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      return l;
    }();
    if (lower.rfind("http://", 0) == 0 || lower.rfind("https://", 0) == 0) return parse_http_url(location);
    if (location.rfind("//", 0) == 0) return parse_http_url(base.scheme + ":" + location);
    HttpUrl next = base;
    if (location.front() == '/') {
      next.target = location;
    } else {
      const std::string path = base.target.substr(0, base.target.find('?'));
      next.target = path.substr(0, path.rfind('/') + 1) + location;
    }
    next.target = next.target.substr(0, next.target.find('#'));
    return parse_http_url(next.origin() + next.target);  // checks the characters
  }

  void read_headers(Config& c) {
    const nlohmann::json* h = c.value("headers");
    if (h == nullptr) return;
    if (!h->is_object()) throw c.error("headers", "expected a mapping of header names to strings, got " + h->dump());
    for (const auto& [name, value] : h->items()) {
      if (!header_token_ok(name)) throw c.error("headers." + name, "is not a valid header name");
      if (!value.is_string()) throw c.error("headers." + name, "expected a string, got " + value.dump());
      const std::string v = value.get<std::string>();
      if (v.find_first_of("\r\n") != std::string::npos)
        throw c.error("headers." + name, "must not contain a line break");
      // The retriever sends these itself, from the last response.
      if (same_name(name, "If-None-Match") || same_name(name, "If-Modified-Since"))
        throw c.error("headers." + name, "is set by the retriever from the last response; remove it");
      headers_.emplace(name, v);
    }
  }

  HttpUrl url_;
  httplib::Headers headers_;
  int64_t timeout_ms_ = kDefaultTimeoutMs;
  bool tls_verify_ = true;
  std::unique_ptr<httplib::Client> client_;  // for url_'s origin, kept between retrievals
  std::string etag_, last_modified_;  // from the last 200, sent back as conditions
  std::string last_;                  // the last value emitted
  bool emitted_ = false;
};

constexpr const char* kSchema = R"({
  "type": "object",
  "additionalProperties": false,
  "required": ["url"],
  "properties": {
    "url":       {"type": "string", "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://[^/?#]+"},
    "headers":   {"type": "object", "additionalProperties": {"type": "string"}},
    "timeout":   {"type": "string", "pattern": "^[0-9]{1,9}(ms|s|m)$"},
    "tlsVerify": {"type": "boolean"}
  }
})";

}  // namespace

void add_http(Library& lib) {
  lib.add<HttpRetriever>({"http", SLUICE_KIND_SIDE_INPUT, "0.1.0",
                          "side input: the body of an HTTP(S) GET, with ETag / Last-Modified "
                          "and identical bodies as \"no change\"",
                          kSchema});
}

}  // namespace sluice::builtin
