// A self-signed TLS certificate made at start, for `tls: {selfSigned: true}`
// (development only: clients must skip verification or trust this certificate, and it
// changes on every start).
#pragma once

#include <string>
#include <vector>

namespace sluice::serving {

struct PemPair {
  std::string certificate;  // PEM "CERTIFICATE"
  std::string private_key;  // PEM "PRIVATE KEY" (PKCS#8)
};

// A fresh P-256 key and an X.509 v3 certificate for it, valid from an hour ago for 30
// days, subject CN=<first name>, with every name in `names` as a subjectAltName (IP
// addresses as IP entries, the rest as DNS). Throws std::runtime_error with OpenSSL's
// reason on failure.
PemPair make_self_signed_certificate(const std::vector<std::string>& names);

}  // namespace sluice::serving
