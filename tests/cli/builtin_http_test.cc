// The built-in `http` side-input retriever (plugins/builtin/http_retriever.cc), loaded
// from the real libsluice-builtin.so and driven through its C ABI, against a
// cpp-httplib server on loopback (tests/support/local_http_server.h). The flow-level
// behaviour (versions, backoff, the old value staying) is in side_inputs_test.cc.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

// The ABI, from the source tree: this test binary does not link the plugin API target.
#include "../../plugin-api/include/sluice/plugin.h"
#include "local_http_server.h"
#include "sluice/serving/self_signed.h"
#include "temp_dir.h"

// What one call handed back to the host.
struct sluice_ctx {
  std::vector<std::string> values;  // emitted outputs' values
  std::string error;
  std::vector<std::string> logs;
};

namespace sluice::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

sluice_status host_emit(sluice_ctx* ctx, size_t input, const sluice_output* out) {
  if (input != SLUICE_NO_INPUT) return SLUICE_ERROR;  // a retriever emits with no input
  ctx->values.emplace_back(reinterpret_cast<const char*>(out->value.data), out->value.size);
  return SLUICE_OK;
}
sluice_status host_respond(sluice_ctx*, size_t, sluice_bytes) { return SLUICE_ERROR; }
sluice_status host_set_outcome(sluice_ctx*, size_t, sluice_outcome, const char*, size_t) {
  return SLUICE_ERROR;
}
void host_set_error(sluice_ctx* ctx, const char* message, size_t size) { ctx->error.assign(message, size); }
void host_log(sluice_ctx* ctx, sluice_log_level, const char* message, size_t size) {
  if (ctx) ctx->logs.emplace_back(message, size);
}

const sluice_host kHost = {sizeof(sluice_host), SLUICE_ABI_VERSION_MAJOR, SLUICE_ABI_VERSION_MINOR,
                           "test",               &host_emit,               &host_respond,
                           &host_set_outcome,    &host_set_error,          &host_log,
                           nullptr};

const sluice_type* http_type() {
  static const sluice_type* type = [] {
    const std::string file = std::string(SLUICE_BUILTIN_DIR) + "/libsluice-builtin.so";
    void* handle = ::dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) throw std::runtime_error(::dlerror());
    auto entry = reinterpret_cast<sluice_plugin_entry_fn>(::dlsym(handle, SLUICE_PLUGIN_ENTRY_NAME));
    if (entry == nullptr) throw std::runtime_error("no entry symbol in " + file);
    const sluice_library* lib = entry(&kHost);
    for (size_t i = 0; i < lib->type_count; ++i)
      if (std::string(lib->types[i]->name) == "http") return lib->types[i];
    throw std::runtime_error("no type http in " + file);
  }();
  return type;
}

// One retriever instance, as the host creates it for a side input named "prices".
class Retriever {
 public:
  explicit Retriever(const json& config) : config_(config.dump()) {
    sluice_create_args args{};
    args.struct_size = sizeof(args);
    args.kind = SLUICE_KIND_SIDE_INPUT;
    args.type_name = "http";
    args.stage_name = "prices";
    args.config_json = config_.c_str();
    args.flow_dir = "";
    args.worker_count = 1;
    created = http_type()->create(&create_ctx, &args, &instance_);
  }
  ~Retriever() {
    if (created == SLUICE_OK) http_type()->destroy(instance_);
  }
  Retriever(const Retriever&) = delete;
  Retriever& operator=(const Retriever&) = delete;

  // One retrieval: its status; ctx holds what it emitted and its error.
  sluice_status retrieve() {
    ctx = sluice_ctx{};
    sluice_batch b{};
    b.struct_size = sizeof(b);
    b.watermark = b.window_start = b.window_end = SLUICE_TIME_UNSET;
    return http_type()->process(instance_, &ctx, &b);
  }

  sluice_status created = SLUICE_ERROR;
  sluice_ctx create_ctx;
  sluice_ctx ctx;

 private:
  std::string config_;
  void* instance_ = nullptr;
};

TEST(BuiltinHttp, EmitsTheBodyOf200) {
  LocalHttpServer server;
  server.set_answer(200, "EUR 1.07\n");
  Retriever r(json{{"url", server.url("/rates")}});
  ASSERT_EQ(r.created, SLUICE_OK) << r.create_ctx.error;
  ASSERT_EQ(r.retrieve(), SLUICE_OK) << r.ctx.error;
  EXPECT_EQ(r.ctx.values, std::vector<std::string>{"EUR 1.07\n"});
  EXPECT_EQ(server.path(0), "/rates");
}

// The ETag goes back as If-None-Match; 304 is "no change" (nothing emitted). A new
// ETag with a new body is emitted again.
TEST(BuiltinHttp, ETagIsSentBackAnd304IsNoChange) {
  LocalHttpServer server;
  std::string etag = "\"v1\"", body = "one";
  std::mutex m;
  server.set_answer([&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(m);
    res.set_header("ETag", etag);
    if (req.get_header_value("If-None-Match") == etag) {
      res.status = 304;
      return;
    }
    res.set_content(body, "text/plain");
  });
  Retriever r(json{{"url", server.url("/v")}});
  ASSERT_EQ(r.created, SLUICE_OK) << r.create_ctx.error;
  ASSERT_EQ(r.retrieve(), SLUICE_OK) << r.ctx.error;
  EXPECT_EQ(r.ctx.values, std::vector<std::string>{"one"});
  EXPECT_EQ(server.request_header(0, "If-None-Match"), "");

  ASSERT_EQ(r.retrieve(), SLUICE_OK) << r.ctx.error;
  EXPECT_TRUE(r.ctx.values.empty());
  EXPECT_EQ(server.request_header(1, "If-None-Match"), "\"v1\"");

  {
    std::lock_guard<std::mutex> lock(m);
    etag = "\"v2\"";
    body = "two";
  }
  ASSERT_EQ(r.retrieve(), SLUICE_OK) << r.ctx.error;
  EXPECT_EQ(r.ctx.values, std::vector<std::string>{"two"});
  EXPECT_EQ(server.request_header(2, "If-None-Match"), "\"v1\"");
}

TEST(BuiltinHttp, LastModifiedIsSentBackAsIfModifiedSince) {
  LocalHttpServer server;
  const std::string when = "Sat, 21 Nov 2026 04:10:00 GMT";
  server.set_answer(200, "x", {{"Last-Modified", when}});
  Retriever r(json{{"url", server.url("/")}});
  ASSERT_EQ(r.retrieve(), SLUICE_OK) << r.ctx.error;
  ASSERT_EQ(r.retrieve(), SLUICE_OK) << r.ctx.error;
  EXPECT_EQ(server.request_header(1, "If-Modified-Since"), when);
}

// Without validators, a 200 with the bytes last emitted is "no change" too.
TEST(BuiltinHttp, IdenticalBodyIsNoChange) {
  LocalHttpServer server;
  server.set_answer(200, std::string("a\0b", 3));
  Retriever r(json{{"url", server.url("/")}});
  ASSERT_EQ(r.retrieve(), SLUICE_OK) << r.ctx.error;
  EXPECT_EQ(r.ctx.values.size(), 1u);
  ASSERT_EQ(r.retrieve(), SLUICE_OK) << r.ctx.error;
  EXPECT_TRUE(r.ctx.values.empty());
  server.set_answer(200, "changed");
  ASSERT_EQ(r.retrieve(), SLUICE_OK) << r.ctx.error;
  EXPECT_EQ(r.ctx.values, std::vector<std::string>{"changed"});
  EXPECT_EQ(server.request_count(), 3u);
}

// A failure names the URL without user:password or query, the status and the start of
// the body; credentials in the URL become basic auth.
TEST(BuiltinHttp, ErrorStatusFailsNamingTheRedactedUrlStatusAndBody) {
  LocalHttpServer server;
  server.set_answer(500, "database is down\nretry later");
  const std::string url =
      "http://alice:s3cret@127.0.0.1:" + std::to_string(server.port()) + "/v1/rates?token=hush#frag";
  Retriever r(json{{"url", url}});
  ASSERT_EQ(r.created, SLUICE_OK) << r.create_ctx.error;
  EXPECT_EQ(r.retrieve(), SLUICE_ERROR);
  EXPECT_TRUE(r.ctx.values.empty());
  EXPECT_EQ(r.ctx.error, "GET http://127.0.0.1:" + std::to_string(server.port()) +
                             "/v1/rates?...: HTTP 500: database is down retry later");
  EXPECT_FALSE(contains(r.ctx.error, "s3cret") || contains(r.ctx.error, "alice") ||
               contains(r.ctx.error, "hush"));
  EXPECT_EQ(server.request_header(0, "Authorization"), "Basic YWxpY2U6czNjcmV0");  // alice:s3cret
  EXPECT_EQ(server.path(0), "/v1/rates");

  // A long body is cut.
  server.set_answer(503, std::string(1000, 'x'));
  EXPECT_EQ(r.retrieve(), SLUICE_ERROR);
  EXPECT_TRUE(contains(r.ctx.error, "HTTP 503: " + std::string(200, 'x') + "... (1000 bytes)")) << r.ctx.error;
}

TEST(BuiltinHttp, NoServerFailsWithCouldNotConnect) {
  int port;
  {
    LocalHttpServer gone;
    port = gone.port();
  }
  Retriever r(json{{"url", "http://127.0.0.1:" + std::to_string(port) + "/x"}, {"timeout", "2s"}});
  ASSERT_EQ(r.created, SLUICE_OK) << r.create_ctx.error;
  EXPECT_EQ(r.retrieve(), SLUICE_ERROR);
  EXPECT_EQ(r.ctx.error, "GET http://127.0.0.1:" + std::to_string(port) + "/x: could not connect");
}

TEST(BuiltinHttp, SlowServerFailsAfterTheTimeout) {
  LocalHttpServer server;
  server.set_answer([](const httplib::Request&, httplib::Response& res) {
    std::this_thread::sleep_for(1500ms);
    res.set_content("late", "text/plain");
  });
  Retriever r(json{{"url", server.url("/slow")}, {"timeout", "200ms"}});
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(r.retrieve(), SLUICE_ERROR);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1400ms);
  EXPECT_TRUE(contains(r.ctx.error, "timed out (timeout 200ms)")) << r.ctx.error;
}

TEST(BuiltinHttp, FollowsRedirects) {
  LocalHttpServer server;
  server.set_answer([](const httplib::Request& req, httplib::Response& res) {
    if (req.path == "/old") res.set_redirect("/new");
    else res.set_content("moved here", "text/plain");
  });
  Retriever r(json{{"url", server.url("/old")}});
  ASSERT_EQ(r.retrieve(), SLUICE_OK) << r.ctx.error;
  EXPECT_EQ(r.ctx.values, std::vector<std::string>{"moved here"});
  EXPECT_EQ(server.path(1), "/new");
}

// Credentials stay with the configured origin: a redirect to another port gets the
// other headers but not Authorization.
TEST(BuiltinHttp, RedirectToAnotherOriginDropsAuthorization) {
  LocalHttpServer target, origin;
  target.set_answer(200, "elsewhere");
  origin.set_answer(302, "", {{"Location", target.url("/there")}});
  Retriever r(json{{"url", origin.url("/here")},
                   {"headers", {{"Authorization", "Bearer abc"}, {"X-Tenant", "eu-1"}}}});
  ASSERT_EQ(r.retrieve(), SLUICE_OK) << r.ctx.error;
  EXPECT_EQ(r.ctx.values, std::vector<std::string>{"elsewhere"});
  EXPECT_EQ(origin.request_header(0, "Authorization"), "Bearer abc");
  EXPECT_EQ(target.path(0), "/there");
  EXPECT_EQ(target.request_header(0, "Authorization"), "");
  EXPECT_EQ(target.request_header(0, "X-Tenant"), "eu-1");

  // A redirect loop ends with an error.
  origin.set_answer(302, "", {{"Location", "/here"}});
  EXPECT_EQ(r.retrieve(), SLUICE_ERROR);
  EXPECT_EQ(r.ctx.error, "GET " + origin.url("/here") + ": more than 10 redirects");
}

TEST(BuiltinHttp, ConfiguredHeadersReachTheServer) {
  LocalHttpServer server;
  server.set_answer(200, "ok");
  Retriever r(json{{"url", server.url("/")},
               {"headers", {{"Authorization", "Bearer abc"}, {"X-Tenant", "eu-1"}}}});
  ASSERT_EQ(r.retrieve(), SLUICE_OK) << r.ctx.error;
  EXPECT_EQ(server.request_header(0, "Authorization"), "Bearer abc");
  EXPECT_EQ(server.request_header(0, "X-Tenant"), "eu-1");
}

// https: a certificate the system does not trust fails the retrieval, unless
// tlsVerify is false.
TEST(BuiltinHttp, HttpsVerifiesTheCertificateUnlessTlsVerifyIsFalse) {
  TempDir tmp("sluice-http-test");
  const serving::PemPair pem = serving::make_self_signed_certificate({"127.0.0.1"});
  std::ofstream(tmp / "c.pem") << pem.certificate;
  std::ofstream(tmp / "k.pem") << pem.private_key;
  LocalHttpServer server((tmp / "c.pem").string(), (tmp / "k.pem").string());
  server.set_answer(200, "secure");
  ASSERT_EQ(server.url("/").rfind("https://", 0), 0u);

  Retriever verified(json{{"url", server.url("/s")}});
  ASSERT_EQ(verified.created, SLUICE_OK) << verified.create_ctx.error;
  EXPECT_EQ(verified.retrieve(), SLUICE_ERROR);
  EXPECT_EQ(verified.ctx.error, "GET " + server.url("/s") +
                                    ": the server's TLS certificate could not be verified "
                                    "(tlsVerify: false skips this)");

  Retriever unverified(json{{"url", server.url("/s")}, {"tlsVerify", false}});
  ASSERT_EQ(unverified.retrieve(), SLUICE_OK) << unverified.ctx.error;
  EXPECT_EQ(unverified.ctx.values, std::vector<std::string>{"secure"});
}

// Bad config is refused when the instance is created, naming the key.
TEST(BuiltinHttp, RefusesBadConfigAtCreate) {
  struct Case {
    json config;
    std::string error;
  };
  for (const Case& c : std::vector<Case>{
           {json::object(), "config.url: required (the http:// or https:// URL to GET)"},
           {{{"url", "ftp://example.com/x"}}, "config.url: scheme \"ftp\" is not supported; use http:// or https://"},
           {{{"url", "example.com/x"}}, "config.url: must start with http:// or https://"},
           {{{"url", "http:///path"}}, "config.url: has no host"},
           {{{"url", "https://user:pw@:8443/"}}, "config.url: has no host"},
           {{{"url", "http://h:99999/"}}, "config.url: has a port that is not 1-65535"},
           {{{"url", "http://h/a b"}}, "config.url: has a space or control character in its path"},
           {{{"url", "http://h/"}, {"headers", {{"X-A", 1}}}}, "config.headers.X-A: expected a string, got 1"},
           {{{"url", "http://h/"}, {"headers", {{"Bad Name", "v"}}}}, "config.headers.Bad Name: is not a valid header name"},
           {{{"url", "http://h/"}, {"headers", {{"X-A", "a\r\nX-B: b"}}}}, "config.headers.X-A: must not contain a line break"},
           {{{"url", "http://h/"}, {"headers", {{"if-none-match", "*"}}}}, "is set by the retriever"},
           {{{"url", "http://h/"}, {"timeout", "10"}}, "config.timeout: \"10\" is not a duration"},
           {{{"url", "http://h/"}, {"timeout", "0s"}}, "config.timeout: \"0s\" is shorter than 1ms"},
           {{{"url", "http://h/"}, {"tlsVerify", "no"}}, "config.tlsVerify: expected true or false"},
           {{{"url", "http://h/"}, {"path", "x"}}, "config.path: unknown key"}}) {
    Retriever r(c.config);
    EXPECT_EQ(r.created, SLUICE_ERROR_CONFIG) << c.config.dump();
    EXPECT_TRUE(contains(r.create_ctx.error, c.error)) << c.config.dump() << " -> " << r.create_ctx.error;
  }
  // Valid: https, an IPv6 host, tlsVerify off, a timeout in minutes.
  Retriever ok(json{{"url", "https://[::1]:8443/x?y=1"}, {"tlsVerify", false}, {"timeout", "2m"}});
  EXPECT_EQ(ok.created, SLUICE_OK) << ok.create_ctx.error;
}

}  // namespace
}  // namespace sluice::test
