// Creating and calling real plugin instances through the ABI: a plain-C plugin runs,
// exceptions become errors, the host refuses bad callbacks, and a library stays loaded
// for as long as an instance of it lives.
#include "sluice/host/plugin_instance.h"

#include <dlfcn.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "test_support.h"

namespace sluice::host {
namespace {

namespace fs = std::filesystem;
using test::RecordingSink;
using test::TestBatch;

class PluginInstanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    reg_.load_folder(SLUICE_FIXTURE_DIR);
    reg_.load_folder(SLUICE_BUILTIN_DIR);
  }

  std::unique_ptr<PluginInstance> make(const std::string& type, sluice_kind kind,
                                       const std::string& config = "{}") {
    ctx_ = std::make_unique<sluice_ctx>(kind, "stage-under-test", &sink_);
    InstanceSpec spec;
    spec.kind = kind;
    spec.stage_name = "stage-under-test";
    spec.config_json = config;
    PluginTypeRef ref = reg_.find(type);
    EXPECT_TRUE(ref) << type;
    if (!ref) return nullptr;
    auto inst = PluginInstance::create(ref, spec, ctx_.get(), &status_, &error_);
    return inst;
  }

  PluginRegistry reg_;
  RecordingSink sink_;
  std::unique_ptr<sluice_ctx> ctx_;
  sluice_status status_ = SLUICE_OK;
  std::string error_;
};

TEST_F(PluginInstanceTest, PlainCMapRuns) {
  auto inst = make("c-upper", SLUICE_KIND_MAP);
  ASSERT_NE(inst, nullptr) << error_;
  TestBatch batch({"hello", "World 42", ""});
  EXPECT_EQ(inst->process(ctx_.get(), batch.get()), SLUICE_OK);
  EXPECT_EQ(sink_.values(), (std::vector<std::string>{"HELLO", "WORLD 42", ""}));
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(sink_.emitted[i].input, i);
    EXPECT_TRUE(sink_.emitted[i].keys_inherited);
    EXPECT_EQ(sink_.emitted[i].tags, std::vector<std::string>{"upper"});
  }
}

TEST_F(PluginInstanceTest, PlainCSinkResponds) {
  auto inst = make("c-counter", SLUICE_KIND_SINK);
  ASSERT_NE(inst, nullptr) << error_;
  TestBatch batch({"a", "b"});
  EXPECT_EQ(inst->process(ctx_.get(), batch.get()), SLUICE_OK);
  ASSERT_EQ(sink_.responses.size(), 2u);
  EXPECT_EQ(sink_.responses[1], (std::pair<size_t, std::string>{1, "2"}));
}

TEST_F(PluginInstanceTest, PlainCConfigErrorCarriesItsMessage) {
  auto inst = make("c-upper", SLUICE_KIND_MAP, R"({"x": 1})");
  EXPECT_EQ(inst, nullptr);
  EXPECT_EQ(status_, SLUICE_ERROR_CONFIG);
  EXPECT_EQ(error_, "stage-under-test: c-upper (" + (fs::path(SLUICE_FIXTURE_DIR) / "libc-example.so").string() +
                        "): c-upper takes no config");
}

TEST_F(PluginInstanceTest, ExceptionInProcessBecomesAnError) {
  auto inst = make("cpp-throw", SLUICE_KIND_MAP);
  ASSERT_NE(inst, nullptr) << error_;
  TestBatch batch({"ok", "boom"});
  EXPECT_EQ(inst->process(ctx_.get(), batch.get()), SLUICE_ERROR);
  EXPECT_EQ(ctx_->error, "boom at message 1");
  EXPECT_EQ(sink_.values(), std::vector<std::string>{"ok"});  // emitted before the throw
}

TEST_F(PluginInstanceTest, NonStandardExceptionBecomesAnError) {
  auto inst = make("cpp-throw", SLUICE_KIND_MAP);
  ASSERT_NE(inst, nullptr) << error_;
  TestBatch batch({"int"});
  EXPECT_EQ(inst->process(ctx_.get(), batch.get()), SLUICE_ERROR);
  EXPECT_EQ(ctx_->error, "unknown exception (not derived from std::exception)");
}

TEST_F(PluginInstanceTest, FatalErrorIsFatal) {
  auto inst = make("cpp-throw", SLUICE_KIND_MAP);
  ASSERT_NE(inst, nullptr) << error_;
  TestBatch batch({"fatal"});
  EXPECT_EQ(inst->process(ctx_.get(), batch.get()), SLUICE_ERROR_FATAL);
  EXPECT_EQ(ctx_->error, "cannot go on");
}

TEST_F(PluginInstanceTest, ConfigErrorFromConstructor) {
  auto inst = make("cpp-throw", SLUICE_KIND_MAP, R"({"reject": true})");
  EXPECT_EQ(inst, nullptr);
  EXPECT_EQ(status_, SLUICE_ERROR_CONFIG);
  EXPECT_NE(error_.find("config.reject: this stage was told to reject its config"),
            std::string::npos)
      << error_;
}

TEST_F(PluginInstanceTest, MapFailsOneMessage) {
  auto inst = make("cpp-throw", SLUICE_KIND_MAP);
  ASSERT_NE(inst, nullptr) << error_;
  TestBatch batch({"a", "fail", "c"});
  EXPECT_EQ(inst->process(ctx_.get(), batch.get()), SLUICE_OK);
  EXPECT_EQ(sink_.values(), (std::vector<std::string>{"a", "c"}));
  ASSERT_EQ(sink_.outcomes.size(), 1u);
  EXPECT_EQ(sink_.outcomes[0].input, 1u);
  EXPECT_EQ(sink_.outcomes[0].outcome, SLUICE_OUTCOME_FAILED);
  EXPECT_EQ(sink_.outcomes[0].reason, "refused this one");
}

TEST_F(PluginInstanceTest, HostRefusesAnOutOfRangeEmit) {
  auto inst = make("cpp-misbehave", SLUICE_KIND_MAP);
  ASSERT_NE(inst, nullptr) << error_;
  TestBatch batch({"a"});
  EXPECT_EQ(inst->process(ctx_.get(), batch.get()), SLUICE_ERROR);
  EXPECT_EQ(ctx_->error, "host refused emit");
  EXPECT_TRUE(sink_.emitted.empty());
}

TEST_F(PluginInstanceTest, SourceIsAcknowledged) {
  auto inst = make("cpp-ack-source", SLUICE_KIND_SOURCE);
  ASSERT_NE(inst, nullptr) << error_;
  ASSERT_TRUE(inst->has_ack());
  TestBatch empty({});
  EXPECT_EQ(inst->process(ctx_.get(), empty.get()), SLUICE_END);
  EXPECT_EQ(sink_.values(), (std::vector<std::string>{"m0", "m1", "m2"}));
  TestBatch acks({"m0", "m2"});  // ids "0" and "1"
  EXPECT_EQ(inst->ack(ctx_.get(), acks.get()), SLUICE_OK);
  sink_.emitted.clear();
  inst->process(ctx_.get(), empty.get());
  EXPECT_EQ(sink_.values(), (std::vector<std::string>{"acked:0", "acked:1"}));
}

TEST_F(PluginInstanceTest, FinishMayEmitWithoutAnInput) {
  auto inst = make("cpp-finish", SLUICE_KIND_MAP);
  ASSERT_NE(inst, nullptr) << error_;
  TestBatch batch({"a", "b"});
  EXPECT_EQ(inst->process(ctx_.get(), batch.get()), SLUICE_OK);
  EXPECT_TRUE(sink_.emitted.empty());
  EXPECT_EQ(inst->finish(ctx_.get()), SLUICE_OK) << ctx_->error;
  ASSERT_EQ(sink_.emitted.size(), 1u);
  EXPECT_EQ(sink_.emitted[0].value, "a+b");
  EXPECT_EQ(sink_.emitted[0].input, SLUICE_NO_INPUT);
  EXPECT_EQ(sink_.emitted[0].keys, std::vector<std::string>{"all"});
}

TEST_F(PluginInstanceTest, TypesWithoutAckOrFinishAreSkipped) {
  auto inst = make("old-minor", SLUICE_KIND_MAP);
  ASSERT_NE(inst, nullptr) << error_;
  TestBatch batch({"x"});
  EXPECT_EQ(inst->process(ctx_.get(), batch.get()), SLUICE_OK);
  EXPECT_FALSE(inst->has_ack());
  EXPECT_EQ(inst->finish(ctx_.get()), SLUICE_OK);
}

TEST_F(PluginInstanceTest, StatusesAMapMayNotReturnBecomeErrors) {
  auto inst = make("cpp-status", SLUICE_KIND_MAP);
  ASSERT_NE(inst, nullptr) << error_;
  struct Case { const char* value; sluice_status want; const char* error; };
  for (const Case& c : {Case{"0", SLUICE_OK, ""}, Case{"-3", SLUICE_ERROR_FATAL, "process returned fatal error without a message"},
                        Case{"7", SLUICE_ERROR, "process returned status 7, which process may not return"},
                        Case{"2", SLUICE_ERROR, "process returned status 2, which process may not return"},
                        Case{"-2", SLUICE_ERROR, "process returned status -2, which process may not return"}}) {
    TestBatch batch({c.value});
    EXPECT_EQ(inst->process(ctx_.get(), batch.get()), c.want) << c.value;
    EXPECT_EQ(ctx_->error, c.error) << c.value;
  }
}

// dlopen(RTLD_NOLOAD) answers "is this file loaded?" without loading it.
bool is_loaded(const fs::path& file) {
  void* h = ::dlopen(file.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (h != nullptr) ::dlclose(h);
  return h != nullptr;
}

TEST(PluginLifetime, LibraryStaysLoadedUntilItsLastInstanceIsGone) {
  const fs::path file = fs::path(SLUICE_FIXTURE_DIR) / "libc-example.so";
  RecordingSink sink;
  sluice_ctx ctx(SLUICE_KIND_MAP, "lifetime", &sink);
  std::unique_ptr<PluginInstance> inst;
  {
    PluginRegistry reg;
    reg.load_file(file);
    sluice_status status;
    std::string error;
    InstanceSpec spec;
    inst = PluginInstance::create(reg.find("c-upper"), spec, &ctx, &status, &error);
    ASSERT_NE(inst, nullptr) << error;
  }  // the registry is gone; the instance still holds the library
  ASSERT_TRUE(is_loaded(file));
  TestBatch batch({"still here"});
  EXPECT_EQ(inst->process(&ctx, batch.get()), SLUICE_OK);
  EXPECT_EQ(sink.values(), std::vector<std::string>{"STILL HERE"});
  inst.reset();
  EXPECT_FALSE(is_loaded(file));  // unloaded once the last user is gone
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A C++ plugin too: sluice_add_plugin's version script keeps libstdc++'s unique symbols
// out of the dynamic table, which would otherwise keep the library mapped forever.
TEST(PluginLifetime, CppBuiltinUnmapsWhenReleased) {
  const fs::path file = fs::path(SLUICE_BUILTIN_DIR) / "libsluice-builtin.so";
  {
    PluginRegistry reg;
    reg.load_file(file);
    ASSERT_TRUE(reg.find("generator"));
    ASSERT_TRUE(is_loaded(file));
  }
  EXPECT_FALSE(is_loaded(file));
}

TEST(PluginLifetime, UnloadRunsAfterTheLastInstanceAndOnRejection) {
  const fs::path log = fs::temp_directory_path() / ("sluice-unload-" + std::to_string(::getpid()));
  fs::remove(log);
  ::setenv("SLUICE_TEST_UNLOAD_LOG", log.c_str(), 1);
  {
    RecordingSink sink;
    sluice_ctx ctx(SLUICE_KIND_MAP, "unload", &sink);
    PluginRegistry reg;
    reg.load_file(fs::path(SLUICE_FIXTURE_DIR) / "libc-example.so");
    sluice_status status;
    std::string error;
    auto inst = PluginInstance::create(reg.find("c-upper"), InstanceSpec{}, &ctx, &status, &error);
    ASSERT_NE(inst, nullptr) << error;
    reg = PluginRegistry();  // the registry lets go; the instance still holds the library
    EXPECT_EQ(read_file(log), "");
  }  // the instance is destroyed: now the library unloads
  EXPECT_EQ(read_file(log), "c-example unloaded\n");

  // Rejected after its entry ran (a type declares no kinds): unload still runs.
  std::string error;
  EXPECT_EQ(PluginLibrary::load(fs::path(SLUICE_FIXTURE_DIR) / "libbroken-no-kinds.so", &error),
            nullptr);
  EXPECT_EQ(read_file(log), "c-example unloaded\nbroken unloaded\n");
  // A descriptor of another major version has a layout this host cannot know, so its
  // `unload` field is not trusted.
  EXPECT_EQ(PluginLibrary::load(fs::path(SLUICE_FIXTURE_DIR) / "libbroken-descriptor-major.so",
                                &error),
            nullptr);
  EXPECT_EQ(read_file(log), "c-example unloaded\nbroken unloaded\n");
  ::unsetenv("SLUICE_TEST_UNLOAD_LOG");
  fs::remove(log);
}

TEST_F(PluginInstanceTest, CreateChecksTheKind) {
  auto inst = make("c-upper", SLUICE_KIND_SINK);
  EXPECT_EQ(inst, nullptr);
  EXPECT_EQ(status_, SLUICE_ERROR_CONFIG);
  EXPECT_NE(error_.find("type c-upper has kinds map; it cannot be created as sink"), std::string::npos)
      << error_;
}

}  // namespace
}  // namespace sluice::host
