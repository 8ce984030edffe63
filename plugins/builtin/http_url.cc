#include "http_url.h"

#include <cctype>
#include <stdexcept>

namespace sluice::builtin {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// user:password may hold %40 for '@' and the like (RFC 3986 userinfo).
std::string percent_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_digit(s[i + 1]) >= 0 && hex_digit(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

std::string HttpUrl::origin() const {
  const bool v6 = host.find(':') != std::string::npos;
  return scheme + "://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string HttpUrl::redacted() const {
  const bool v6 = host.find(':') != std::string::npos;
  const bool default_port = (scheme == "http" && port == 80) || (scheme == "https" && port == 443);
  std::string out = scheme + "://" + (v6 ? "[" + host + "]" : host);
  if (!default_port) out += ":" + std::to_string(port);
  const size_t q = target.find('?');
  out += target.substr(0, q);
  if (q != std::string::npos) out += "?...";
  return out;
}

HttpUrl parse_http_url(std::string_view text) {
  HttpUrl u;
  const size_t sep = text.find("://");
  if (sep == std::string_view::npos)
    throw std::invalid_argument("must start with http:// or https://");
  u.scheme = lower(text.substr(0, sep));
  if (u.scheme != "http" && u.scheme != "https")
    throw std::invalid_argument("scheme \"" + u.scheme + "\" is not supported; use http:// or https://");
  std::string_view rest = text.substr(sep + 3);
  const size_t authority_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authority_end);
  std::string_view tail = authority_end == std::string_view::npos ? "" : rest.substr(authority_end);

  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    const std::string_view info = authority.substr(0, at);
    const size_t colon = info.find(':');
    u.user = percent_decode(info.substr(0, colon));
    if (colon != std::string_view::npos) u.password = percent_decode(info.substr(colon + 1));
    u.has_userinfo = true;
    authority = authority.substr(at + 1);
  }

  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) throw std::invalid_argument("has an unclosed '[' in its host");
    u.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') throw std::invalid_argument("has characters after its IPv6 host");
      port_text = after.substr(1);
    }
  } else {
    const size_t colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (u.host.empty()) throw std::invalid_argument("has no host");
  for (char c : u.host)
    if (std::isspace(static_cast<unsigned char>(c)) || std::iscntrl(static_cast<unsigned char>(c)))
      throw std::invalid_argument("has a space or control character in its host");

  u.port = u.scheme == "https" ? 443 : 80;
  if (!port_text.empty()) {
    int port = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9' || port > 65535) throw std::invalid_argument("has a port that is not 1-65535");
      port = port * 10 + (c - '0');
    }
    if (port < 1 || port > 65535) throw std::invalid_argument("has a port that is not 1-65535");
    u.port = port;
  }

  // The fragment is the client's business: it is never sent.
  u.target = std::string(tail.substr(0, tail.find('#')));
  if (u.target.empty() || u.target.front() == '?') u.target.insert(0, "/");
  for (char c : u.target)
    if (std::isspace(static_cast<unsigned char>(c)) || std::iscntrl(static_cast<unsigned char>(c)))
      throw std::invalid_argument("has a space or control character in its path; percent-encode it");
  return u;
}

}  // namespace sluice::builtin
