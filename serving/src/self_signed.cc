#include "sluice/serving/self_signed.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <functional>
#include <memory>
#include <stdexcept>

namespace sluice::serving {
namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using Key = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using Bio = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;

[[noreturn]] void fail(const char* what) {
  char reason[256] = "unknown OpenSSL error";
  if (unsigned long e = ERR_get_error(); e != 0) ERR_error_string_n(e, reason, sizeof reason);
  ERR_clear_error();
  throw std::runtime_error(std::string("cannot make a self-signed certificate: ") + what + ": " + reason);
}

void check(int ok, const char* what) {
  if (ok != 1) fail(what);
}

bool is_ip(const std::string& name) {
  unsigned char buf[16];
  return inet_pton(AF_INET, name.c_str(), buf) == 1 || inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

std::string to_pem(const std::function<int(BIO*)>& write, const char* what) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio) fail(what);
  check(write(bio.get()), what);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

}  // namespace

PemPair make_self_signed_certificate(const std::vector<std::string>& names) {
  Key key(EVP_EC_gen("P-256"));
  if (!key) fail("generating a P-256 key");
  Cert cert(X509_new());
  if (!cert) fail("allocating the certificate");
  check(X509_set_version(cert.get(), 2), "setting the version");
  unsigned char serial[16];
  check(RAND_bytes(serial, sizeof serial), "making a serial number");
  serial[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  if (bn == nullptr || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get())) == nullptr) {
    BN_free(bn);
    fail("setting the serial number");
  }
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 30L * 24 * 3600);
  check(X509_set_pubkey(cert.get(), key.get()), "setting the public key");
  X509_NAME* subject = X509_get_subject_name(cert.get());
  const std::string cn = names.empty() ? "localhost" : names.front();
  check(X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>("Sluice (self-signed)"), -1, -1, 0),
        "setting the subject");
  check(X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0),
        "setting the subject");
  check(X509_set_issuer_name(cert.get(), subject), "setting the issuer");
  std::string san;
  for (const std::string& n : names) san += (san.empty() ? "" : ",") + std::string(is_ip(n) ? "IP:" : "DNS:") + n;
  if (!san.empty()) {
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, cert.get(), cert.get(), nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, san.c_str());
    if (ext == nullptr) fail("adding the subjectAltName");
    const int ok = X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
    check(ok, "adding the subjectAltName");
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) fail("signing");
  PemPair out;
  out.certificate = to_pem([&](BIO* b) { return PEM_write_bio_X509(b, cert.get()); }, "writing the certificate");
  out.private_key = to_pem(
      [&](BIO* b) { return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr); },
      "writing the key");
  return out;
}

}  // namespace sluice::serving
