// The `serving:` block: loading (strict keys and types, oneofs) and planning (defaults,
// addresses, TLS files, header name, ranges, token sources, store). Flows are read with
// the real loader from a temporary folder, so file checks and every location
// ("flow.yaml:line:column") are real.
//
// Every flow below is kHead (whose source is the serving source) followed by the serving
// keys, unless it says otherwise: `serving:` is line 5 and its first key is line 6, column 3.
#include "sluice/host/serving_plan.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>

#include "sluice/host/flow_plan.h"
#include "temp_dir.h"

namespace sluice::host {
namespace {

namespace fs = std::filesystem;

constexpr const char* kHead = R"(name: api
stages:
  - {name: in, source: serving}
  - {name: out, sink: blackhole}
serving:
)";

// kHead with a generator for a source, for flows that do not serve.
constexpr const char* kHeadWithoutServingSource = R"(name: api
stages:
  - {name: in, source: generator}
  - {name: out, sink: blackhole}
serving:
)";

class ServingPlanTest : public ::testing::Test {
 protected:

  fs::path write(const std::string& name, const std::string& text) const {
    fs::create_directories((dir_ / name).parent_path());
    std::ofstream(dir_ / name, std::ios::binary) << text;
    return dir_ / name;
  }

  // Loads `head` + `serving` and plans it, with `env` as the whole environment.
  void plan(const std::string& serving, std::map<std::string, std::string> env = {},
            const char* head = kHead) {
    env_ = std::move(env);
    diagnostics_ = Diagnostics();
    plan_.reset();
    FlowLoadOptions options;
    options.getenv = [this](const char* name) -> const char* { return lookup(name); };
    flow_ = load_flow_text(std::string(head) + serving, "flow.yaml", dir_, options,
                           &diagnostics_);
    if (!flow_) return;
    PlanOptions plan_options;
    plan_options.getenv = [this](const char* name) -> const char* { return lookup(name); };
    plan_ = plan_flow(*flow_, &diagnostics_, plan_options);
    EXPECT_EQ(plan_.has_value(), diagnostics_.empty()) << diagnostics_.format();
  }

  // The serving plan of a flow that must be valid.
  const ServingPlan& ok(const std::string& serving, std::map<std::string, std::string> env = {}) {
    plan(serving, std::move(env));
    static const ServingPlan kEmpty;
    if (!plan_ || !plan_->serving) {
      ADD_FAILURE() << "expected a plan; got:\n" << diagnostics_.format();
      return kEmpty;
    }
    return *plan_->serving;
  }

  // The errors of a flow that must be refused, one formatted line each.
  std::string errors(const std::string& serving, std::map<std::string, std::string> env = {},
                     const char* head = kHead) {
    plan(serving, std::move(env), head);
    EXPECT_FALSE(diagnostics_.empty()) << "expected errors";
    return diagnostics_.format();
  }

  const fs::path& dir() const { return dir_; }

  Diagnostics diagnostics_;
  std::optional<FlowPlan> plan_;

 private:
  const char* lookup(const char* name) const {
    const auto it = env_.find(name);
    return it == env_.end() ? nullptr : it->second.c_str();
  }

  test::TempDir tmp_{"sluice-serving"};
  const fs::path& dir_ = tmp_.path();
  std::map<std::string, std::string> env_;
  std::optional<LoadedFlow> flow_;
};

using ServingConfig = ServingPlanTest;
using ServingConfigErrors = ServingPlanTest;

// ---- valid configurations -----------------------------------------------------------

TEST_F(ServingConfig, NoServingBlockMeansNoServingPlan) {
  // `serving:` with no value is null: absent (and then the flow has no serving source).
  plan("", {}, kHeadWithoutServingSource);
  ASSERT_TRUE(plan_);
  EXPECT_FALSE(plan_->serving);
}

TEST_F(ServingConfig, DefaultsWithOnlyAnHttpAddress) {
  const ServingPlan& s = ok("  http: 127.0.0.1:8090\n");
  ASSERT_TRUE(s.http);
  EXPECT_EQ(s.http->host, "127.0.0.1");
  EXPECT_EQ(s.http->port, 8090);
  EXPECT_EQ(s.http->text(), "127.0.0.1:8090");
  EXPECT_FALSE(s.https);
  EXPECT_EQ(s.tls, TlsMode::kNone);
  EXPECT_EQ(s.msg_id_header, "X-Numaflow-Id");
  EXPECT_EQ(s.request_timeout, std::chrono::seconds(120));
  EXPECT_TRUE(s.tokens.empty());
  EXPECT_EQ(s.max_request_body, uint64_t{1} << 20);
  EXPECT_EQ(s.max_in_flight, 10000u);
  EXPECT_EQ(s.http_threads, 128u);
  EXPECT_EQ(s.store, ServingStoreKind::kSqlite);
  EXPECT_EQ(s.sqlite_path, dir() / ".sluice" / "api.db");
  EXPECT_EQ(s.store_ttl, std::chrono::hours(2));
}

TEST_F(ServingConfig, EveryKeySet) {
  write("certs/server.crt", "-----BEGIN CERTIFICATE-----\n");
  write("certs/server.key", "-----BEGIN PRIVATE KEY-----\n");
  write("secrets/token", "  s3cr3t-token\n");
  const ServingPlan& s = ok(R"(  http: localhost:0
  https: "[::1]:8443"
  tls: {cert: certs/server.crt, key: certs/server.key}
  msgIDHeaderKey: X-Request-Id
  requestTimeoutSeconds: 30
  auth:
    tokens:
      - file: secrets/token
      - env: API_TOKEN
  maxRequestBody: 4MiB
  maxInFlight: 500
  httpThreads: 300
  store:
    sqlite: {path: data/requests.db, ttl: 30m}
)",
                            {{"API_TOKEN", "other"}});
  ASSERT_TRUE(s.http && s.https);
  EXPECT_EQ(s.http->text(), "localhost:0");
  EXPECT_EQ(s.https->host, "::1");
  EXPECT_TRUE(s.https->ipv6);
  EXPECT_EQ(s.https->text(), "[::1]:8443");
  EXPECT_EQ(s.tls, TlsMode::kFiles);
  EXPECT_EQ(s.tls_cert, dir() / "certs/server.crt");
  EXPECT_EQ(s.tls_key, dir() / "certs/server.key");
  EXPECT_EQ(s.msg_id_header, "X-Request-Id");
  EXPECT_EQ(s.request_timeout, std::chrono::seconds(30));
  ASSERT_EQ(s.tokens.size(), 2u);
  EXPECT_EQ(s.tokens[0].kind, TokenSourcePlan::Kind::kFile);
  EXPECT_EQ(s.tokens[0].file, dir() / "secrets/token");
  EXPECT_EQ(s.tokens[1].kind, TokenSourcePlan::Kind::kEnv);
  EXPECT_EQ(s.tokens[1].written, "API_TOKEN");
  EXPECT_EQ(s.max_request_body, 4u << 20);
  EXPECT_EQ(s.max_in_flight, 500u);
  EXPECT_EQ(s.http_threads, 300u);
  EXPECT_EQ(s.store, ServingStoreKind::kSqlite);
  EXPECT_EQ(s.sqlite_path, dir() / "data/requests.db");
  EXPECT_EQ(s.store_ttl, std::chrono::minutes(30));
}

TEST_F(ServingConfig, SelfSignedTlsForDevelopment) {
  const ServingPlan& s = ok("  https: 0.0.0.0:8443\n  tls: {selfSigned: true}\n");
  EXPECT_EQ(s.tls, TlsMode::kSelfSigned);
  EXPECT_FALSE(s.http);
  EXPECT_EQ(s.https->text(), "0.0.0.0:8443");
}

TEST_F(ServingConfig, GrpcStoreAddresses) {
  EXPECT_EQ(ok("  http: 127.0.0.1:8090\n  store: {grpc: {address: unix:/run/store.sock}}\n")
                .grpc_address,
            "unix:/run/store.sock");
  EXPECT_EQ(ok("  http: 127.0.0.1:8090\n  store: {grpc: {address: 'unix:///run/s.sock'}}\n")
                .grpc_address,
            "unix:/run/s.sock");
  // A relative socket path is relative to the flow file's folder, like every path.
  EXPECT_EQ(ok("  http: 127.0.0.1:8090\n  store: {grpc: {address: unix:store.sock}}\n")
                .grpc_address,
            "unix:" + (dir() / "store.sock").string());
  const ServingPlan& tcp = ok("  http: 127.0.0.1:8090\n  store: {grpc: {address: store:9000}}\n");
  EXPECT_EQ(tcp.store, ServingStoreKind::kGrpc);
  EXPECT_EQ(tcp.grpc_address, "store:9000");
}

TEST_F(ServingConfig, DefaultDatabaseNameIsMadeFileSafe) {
  plan("  http: 127.0.0.1:8090\n");
  ASSERT_TRUE(plan_);
  // kHead names the flow "api"; a name with a '/' or spaces would not be a file name.
  Diagnostics d;
  FlowLoadOptions options;
  std::optional<LoadedFlow> flow = load_flow_text(
      "name: my flow/v2\nstages:\n  - {name: in, source: serving}\n  - {name: out, sink: "
      "blackhole}\nserving: {http: '127.0.0.1:1'}\n",
      "flow.yaml", dir(), options, &d);
  ASSERT_TRUE(flow) << d.format();
  std::optional<FlowPlan> p = plan_flow(*flow, &d);
  ASSERT_TRUE(p && p->serving) << d.format();
  EXPECT_EQ(p->serving->sqlite_path, dir() / ".sluice" / "my_flow_v2.db");
}

TEST_F(ServingConfig, TokenSourcesAreTrimmed) {
  write("t1", "\n\t abc.DEF-123~+/= \r\n");
  plan("  http: 127.0.0.1:8090\n  auth: {tokens: [{file: t1}, {env: T2}]}\n", {{"T2", " xyz\n"}});
  ASSERT_TRUE(plan_ && plan_->serving) << diagnostics_.format();
  std::string token, error, hint;
  ASSERT_TRUE(read_token_source(plan_->serving->tokens[0], nullptr, &token, &error, &hint))
      << error;
  EXPECT_EQ(token, "abc.DEF-123~+/=");
  ASSERT_TRUE(read_token_source(plan_->serving->tokens[1],
                                [](const char*) -> const char* { return " xyz\n"; }, &token,
                                &error, &hint));
  EXPECT_EQ(token, "xyz");
}

TEST(ServingValues, HostPortForms) {
  std::string error, hint;
  for (const char* good : {"0.0.0.0:8090", "127.0.0.1:0", "localhost:65535", "my-host.example:80",
                           "[::]:8443", "[::1]:1", "[fe80::1]:80"}) {
    EXPECT_TRUE(parse_host_port(good, &error, &hint)) << good << ": " << error;
  }
  const auto bad = [&](const char* text) {
    error.clear();
    EXPECT_FALSE(parse_host_port(text, &error, &hint)) << text;
    return error;
  };
  EXPECT_EQ(bad("8090"), "'8090' has no port");
  EXPECT_EQ(bad(":8090"), "':8090' has no host");
  EXPECT_EQ(bad("localhost:"), "port '' in 'localhost:' is not a number from 0 to 65535");
  EXPECT_EQ(bad("localhost:65536"), "port '65536' in 'localhost:65536' is not a number from 0 to 65535");
  EXPECT_EQ(bad("localhost:http"), "port 'http' in 'localhost:http' is not a number from 0 to 65535");
  EXPECT_EQ(bad("localhost:-1"), "port '-1' in 'localhost:-1' is not a number from 0 to 65535");
  EXPECT_EQ(bad("::1:8090"), "'::1:8090' is ambiguous");
  EXPECT_EQ(hint, "write an IPv6 address in brackets, e.g. [::1]:8090");
  EXPECT_EQ(bad("[::1:8090"), "'[::1:8090' has no closing ]");
  EXPECT_EQ(bad("[::1]8090"), "'[::1]8090' has no port");
  EXPECT_EQ(bad("[nope]:80"), "'nope' is not an IPv6 address");
  EXPECT_EQ(bad("300.1.1.1:80"), "'300.1.1.1' is not a valid host");
  EXPECT_EQ(bad("bad_host:80"), "'bad_host' is not a valid host");
  EXPECT_EQ(bad("-x.example:80"), "'-x.example' is not a valid host");
  EXPECT_EQ(bad("a..b:80"), "'a..b' is not a valid host");
}

TEST(ServingValues, HeaderNames) {
  for (const char* good : {"X-Numaflow-Id", "x-request-id", "Id", "a!#$%&'*+-.^_`|~9"})
    EXPECT_TRUE(valid_header_name(good)) << good;
  for (const char* bad : {"", "X Id", "X-Id:", "X(Id)", "X-Ïd", "X\tId", "X/Id"})
    EXPECT_FALSE(valid_header_name(bad)) << bad;
}

// ---- errors, each at its key --------------------------------------------------------

TEST_F(ServingConfigErrors, NoListenAddress) {
  EXPECT_EQ(errors("  requestTimeoutSeconds: 5\n"),
            "flow.yaml:5:1: error: serving needs a listen address (hint: add http: "
            "127.0.0.1:8090 and/or https: 0.0.0.0:8443)\n");
}

TEST_F(ServingConfigErrors, BadHostPort) {
  EXPECT_EQ(errors("  http: 8090\n  https: 'localhost:99999'\n  tls: {selfSigned: true}\n"),
            "flow.yaml:6:9: error: serving.http: '8090' has no port (hint: write HOST:PORT, "
            "e.g. 127.0.0.1:8090 or 0.0.0.0:8090)\n"
            "flow.yaml:7:10: error: serving.https: port '99999' in 'localhost:99999' is not a "
            "number from 0 to 65535\n");
}

TEST_F(ServingConfigErrors, HttpAndHttpsOnTheSameAddress) {
  EXPECT_EQ(errors("  http: 0.0.0.0:8090\n  https: 0.0.0.0:8090\n  tls: {selfSigned: true}\n"),
            "flow.yaml:7:10: error: http and https cannot both listen on 0.0.0.0:8090 (hint: "
            "give https its own port, e.g. 0.0.0.0:8443)\n");
}

TEST_F(ServingConfigErrors, HttpsWithoutTlsAndTlsWithoutHttps) {
  EXPECT_EQ(errors("  https: 0.0.0.0:8443\n"),
            "flow.yaml:6:10: error: https needs tls (hint: add tls: {cert: <file>, key: "
            "<file>}, or tls: {selfSigned: true} for development)\n");
  EXPECT_EQ(errors("  http: 0.0.0.0:8090\n  tls:\n    selfSigned: true\n"),
            "flow.yaml:7:3: error: tls is set but there is no https address (hint: add https: "
            "0.0.0.0:8443, or remove tls)\n");
}

TEST_F(ServingConfigErrors, TlsFilesMissingOrIncomplete) {
  write("present.crt", "x");
  EXPECT_EQ(errors("  https: 0.0.0.0:8443\n  tls:\n    cert: nope.crt\n    key: keys\n"),
            "flow.yaml:8:11: error: cannot read the tls cert file 'nope.crt': No such file or "
            "directory (hint: paths are relative to the flow file's folder)\n"
            "flow.yaml:9:10: error: cannot read the tls key file 'keys': No such file or "
            "directory (hint: paths are relative to the flow file's folder)\n");
  EXPECT_EQ(errors("  https: 0.0.0.0:8443\n  tls:\n    cert: present.crt\n"),
            "flow.yaml:7:3: error: tls needs key (hint: write tls: {cert: <file>, key: <file>}, "
            "or tls: {selfSigned: true} for development)\n");
  fs::create_directory(dir() / "keys");
  EXPECT_EQ(errors("  https: 0.0.0.0:8443\n  tls: {cert: present.crt, key: keys}\n"),
            "flow.yaml:7:33: error: cannot read the tls key file 'keys': it is a directory "
            "(hint: paths are relative to the flow file's folder)\n");
  EXPECT_EQ(
      errors("  https: 0.0.0.0:8443\n  tls: {selfSigned: true, cert: present.crt}\n"),
      "flow.yaml:7:21: error: selfSigned: true cannot be combined with cert or key (hint: "
      "remove selfSigned to use the files, or remove cert and key)\n");
}

TEST_F(ServingConfigErrors, HeaderNameNotAToken) {
  EXPECT_EQ(errors("  http: 0.0.0.0:8090\n  msgIDHeaderKey: 'X Request Id'\n"),
            "flow.yaml:7:19: error: msgIDHeaderKey 'X Request Id' is not a valid HTTP header "
            "name (hint: use letters, digits and !#$%&'*+-.^_`|~, e.g. X-Request-Id)\n");
  EXPECT_EQ(errors("  http: 0.0.0.0:8090\n  msgIDHeaderKey: ''\n"),
            "flow.yaml:7:19: error: msgIDHeaderKey '' is not a valid HTTP header name (hint: use "
            "letters, digits and !#$%&'*+-.^_`|~, e.g. X-Request-Id)\n");
  EXPECT_EQ(errors("  http: 0.0.0.0:8090\n  msgIDHeaderKey: authorization\n"),
            "flow.yaml:7:19: error: msgIDHeaderKey cannot be authorization: the server uses "
            "that header itself (hint: use a header of its own, e.g. X-Numaflow-Id (the "
            "default))\n");
}

TEST_F(ServingConfigErrors, LimitsOutOfRange) {
  EXPECT_EQ(errors(R"(  http: 0.0.0.0:8090
  requestTimeoutSeconds: 0
  maxRequestBody: 2GiB
  maxInFlight: 0
  httpThreads: 5000
  store: {sqlite: {ttl: 500ms}}
)"),
            "flow.yaml:7:26: error: requestTimeoutSeconds must be between 1 and 86400, got 0\n"
            "flow.yaml:8:19: error: maxRequestBody must be between 1 byte and 512MiB, got "
            "2147483648 bytes\n"
            "flow.yaml:9:16: error: maxInFlight must be between 1 and 1000000, got 0\n"
            "flow.yaml:10:16: error: httpThreads must be between 1 and 4096, got 5000\n"
            "flow.yaml:11:25: error: ttl must be whole seconds from 1s to 8760h (a year)\n");
  EXPECT_EQ(errors("  http: 0.0.0.0:8090\n  requestTimeoutSeconds: 86401\n  maxRequestBody: 0\n"),
            "flow.yaml:7:26: error: requestTimeoutSeconds must be between 1 and 86400, got "
            "86401\n"
            "flow.yaml:8:19: error: maxRequestBody must be between 1 byte and 512MiB, got 0 "
            "bytes\n");
}

TEST_F(ServingConfigErrors, TokenSources) {
  write("empty-token", " \n\n");
  write("two-words", "two words\n");
  const std::string e = errors(R"(  http: 0.0.0.0:8090
  auth:
    tokens:
      - env: UNSET_TOKEN
      - file: missing-token
      - file: empty-token
      - env: EMPTY_TOKEN
      - file: two-words
      - {}
      - env: 9LIVES
)",
                               {{"EMPTY_TOKEN", "   "}});
  EXPECT_EQ(e,
            "flow.yaml:9:14: error: environment variable UNSET_TOKEN is not set (hint: export "
            "it with the token before starting sluice)\n"
            "flow.yaml:10:15: error: cannot read token file 'missing-token': No such file or "
            "directory (hint: paths are relative to the flow file's folder)\n"
            "flow.yaml:11:15: error: token file 'empty-token' is empty (hint: a token must have "
            "at least one character (surrounding whitespace is ignored))\n"
            "flow.yaml:12:14: error: environment variable EMPTY_TOKEN is empty (hint: a token "
            "must have at least one character (surrounding whitespace is ignored))\n"
            "flow.yaml:13:15: error: the token in token file 'two-words' has a space, a control "
            "or a non-ASCII character (hint: a bearer token is one line of visible ASCII "
            "characters)\n"
            "flow.yaml:14:9: error: a token source needs file: or env: (hint: e.g. - file: "
            "secrets/token, or - env: SLUICE_TOKEN)\n"
            "flow.yaml:15:14: error: '9LIVES' is not an environment variable name (hint: names "
            "are letters, digits and _, not starting with a digit)\n");
  // The token itself is never shown.
  EXPECT_EQ(e.find("two words"), std::string::npos);
}

TEST_F(ServingConfigErrors, AuthWithoutTokens) {
  EXPECT_EQ(errors("  http: 0.0.0.0:8090\n  auth: {tokens: []}\n"),
            "flow.yaml:7:3: error: auth needs at least one token source (hint: write tokens: "
            "[{file: <path>}] or tokens: [{env: <NAME>}]; remove auth to serve without "
            "tokens)\n");
}

TEST_F(ServingConfigErrors, StoreProblems) {
  fs::create_directory(dir() / "db");
  EXPECT_EQ(errors("  http: 0.0.0.0:8090\n  store: {sqlite: {path: db}}\n"),
            "flow.yaml:7:26: error: the sqlite path 'db' is a directory (hint: name the "
            "database file, e.g. db/serving.db)\n");
  EXPECT_EQ(errors("  http: 0.0.0.0:8090\n  store:\n    grpc: {}\n"),
            "flow.yaml:8:5: error: the grpc store needs an address (hint: write address: "
            "unix:/path/to/store.sock or address: host:port)\n");
  EXPECT_EQ(errors("  http: 0.0.0.0:8090\n  store: {grpc: {address: 'unix:'}}\n"),
            "flow.yaml:7:27: error: the grpc address 'unix:' has no socket path (hint: write "
            "unix:/path/to/store.sock)\n");
  EXPECT_EQ(errors("  http: 0.0.0.0:8090\n  store: {grpc: {address: store}}\n"),
            "flow.yaml:7:27: error: grpc address: 'store' has no port (hint: write HOST:PORT, "
            "e.g. store:8090)\n");
  EXPECT_EQ(errors("  http: 0.0.0.0:8090\n  store: {grpc: {address: 'store:0'}}\n"),
            "flow.yaml:7:27: error: grpc address 'store:0' needs a port from 1 to 65535\n");
}

// `serving:` and the serving source come as a pair, and a serving flow never ends.
TEST_F(ServingConfigErrors, ServingWithoutAServingSource) {
  EXPECT_EQ(errors("  http: 127.0.0.1:8090\n", {}, kHeadWithoutServingSource),
            "flow.yaml:5:1: error: serving: needs a stage that takes the requests: a source of "
            "type serving (hint: add - {name: requests, source: serving} to stages, and answer "
            "with the serve sink)\n");
}

TEST_F(ServingConfigErrors, ServingSourceWithoutServing) {
  EXPECT_EQ(errors(""),  // kHead's `serving:` has no value: absent
            "flow.yaml:3:24: error: the serving source needs the flow's serving: block (hint: "
            "add serving: {http: 127.0.0.1:8090} (docs/serving.md))\n");
}

TEST_F(ServingConfigErrors, ServingInJobMode) {
  EXPECT_EQ(errors("  http: 127.0.0.1:8090\n", {}, R"(name: api
mode: job
stages:
  - {name: in, source: serving}
  - {name: out, sink: blackhole}
serving:
)"),
            "flow.yaml:2:7: error: a serving flow runs until it is stopped; mode: job would "
            "never end (hint: use mode: streaming (the default))\n");
}

// The loader's own checks apply to the serving keys like to any other.
TEST_F(ServingConfigErrors, LoaderChecksKeysTypesAndOneofs) {
  EXPECT_EQ(errors(R"(  http: 0.0.0.0:8090
  msgIdHeaderKey: X-Id
  requestTimeoutSeconds: "10"
  maxRequestBody: 1 MB
  tls: {selfSigned: yes}
  store:
    sqlite: {path: a.db}
    grpc: {address: 'unix:/s'}
  auth:
    tokens:
      - {file: a, env: B}
)"),
            "flow.yaml:7:3: error: unknown key 'msgIdHeaderKey' in serving (hint: did you mean "
            "msgIDHeaderKey?)\n"
            "flow.yaml:8:26: error: serving.requestTimeoutSeconds must be a whole number, not "
            "\"10\" (hint: \"10\" is a string, not a number; write 10 without quotes)\n"
            "flow.yaml:9:19: error: serving.maxRequestBody: unknown unit ' MB' in '1 MB' "
            "(hint: units: B, kB, MB, GB, TB, KiB, MiB, GiB, TiB)\n"
            "flow.yaml:10:21: error: serving.tls.selfSigned must be true or false, not yes "
            "(hint: \"yes\" is a string, not a bool; write true or false without quotes)\n"
            "flow.yaml:12:5: error: a serving store has exactly one of sqlite, grpc; this one "
            "has sqlite and grpc\n"
            "flow.yaml:16:9: error: a token source has exactly one of file, env; this one has "
            "file and env\n");
}

// --set overrides reach the serving keys, and their errors are located at the override.
TEST_F(ServingConfigErrors, OverridesAreCheckedLikeTheFile) {
  Diagnostics d;
  FlowLoadOptions options;
  options.overrides = {"serving.http=127.0.0.1:9000", "serving.maxInFlight=5"};
  std::optional<LoadedFlow> flow =
      load_flow_text(std::string(kHead) + "  http: 127.0.0.1:8090\n", "flow.yaml", dir(),
                     options, &d);
  ASSERT_TRUE(flow) << d.format();
  std::optional<FlowPlan> p = plan_flow(*flow, &d);
  ASSERT_TRUE(p && p->serving) << d.format();
  EXPECT_EQ(p->serving->http->port, 9000);
  EXPECT_EQ(p->serving->max_in_flight, 5u);

  options.overrides = {"serving.httpThreads=0"};
  flow = load_flow_text(std::string(kHead) + "  http: 127.0.0.1:8090\n", "flow.yaml", dir(),
                        options, &d);
  ASSERT_TRUE(flow) << d.format();
  EXPECT_FALSE(plan_flow(*flow, &d));
  EXPECT_EQ(d.format(),
            "--set serving.httpThreads=0: error: httpThreads must be between 1 and 4096, got 0\n");
}

// Serving errors come in the same pass as graph errors.
TEST_F(ServingConfigErrors, ReportedWithGraphErrors) {
  Diagnostics d;
  FlowLoadOptions options;
  std::optional<LoadedFlow> flow = load_flow_text(
      "stages:\n  - {name: in, source: serving}\nserving: {http: nope}\n", "flow.yaml", dir(),
      options, &d);
  ASSERT_TRUE(flow) << d.format();
  EXPECT_FALSE(plan_flow(*flow, &d));
  EXPECT_EQ(d.size(), 3u) << d.format();  // no sink, "in" leads nowhere, http
  EXPECT_NE(d.format().find("flow.yaml:3:17: error: serving.http: 'nope' has no port"),
            std::string::npos)
      << d.format();
}

}  // namespace
}  // namespace sluice::host
