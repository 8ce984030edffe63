// An http:// or https:// URL split into what cpp-httplib's client takes (scheme, host,
// port, path with query) and the user:password it cannot take in the URL, plus a
// redacted form for messages: error messages end up in logs and in
// GET /v1/side-inputs (lastError), so they must not carry credentials or query secrets
// such as ?token=...
#pragma once

#include <string>
#include <string_view>

namespace sluice::builtin {

struct HttpUrl {
  std::string scheme;    // "http" or "https", lower case
  std::string host;      // a name, an IPv4 address, or an IPv6 address without brackets
  int port = 0;          // given, or 80 / 443
  std::string target;    // path and query, at least "/" (the fragment is dropped)
  std::string user;      // from user:password@, percent-decoded; "" when absent
  std::string password;
  bool has_userinfo = false;

  // "scheme://host:port", IPv6 in brackets, as httplib::Client takes it.
  std::string origin() const;
  // scheme://host[:port]/path, with "?..." for a query and no user:password.
  std::string redacted() const;
};

// Parses `text`; throws std::invalid_argument with the reason (which never repeats the
// userinfo or the query) when it is not an http(s) URL with a host.
HttpUrl parse_http_url(std::string_view text);

}  // namespace sluice::builtin
