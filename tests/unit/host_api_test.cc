// The host's callbacks (sluice_host) called directly, as a plugin would: what each
// accepts, what it refuses, and the defaults it applies to outputs.
#include <gtest/gtest.h>

#include <cstring>

#include "sluice/host/call_context.h"
#include "test_support.h"

namespace sluice::host {
namespace {

using test::RecordingSink;

class HostApiTest : public ::testing::Test {
 protected:
  sluice_status emit(sluice_ctx& ctx, size_t input, const sluice_output& out) {
    return host_api()->emit(&ctx, input, &out);
  }
  static sluice_output value(const char* v) {
    sluice_output out{};
    out.struct_size = sizeof(out);
    out.value = {reinterpret_cast<const uint8_t*>(v), std::strlen(v)};
    return out;
  }
  RecordingSink sink_;
};

TEST_F(HostApiTest, TableDescribesThisHost) {
  const sluice_host* h = host_api();
  EXPECT_EQ(h->struct_size, sizeof(sluice_host));
  EXPECT_EQ(h->abi_major, 1u);
  EXPECT_EQ(h->abi_minor, 2u);
}

TEST_F(HostApiTest, ZeroEventTimeMeansInherit) {
  sluice_ctx ctx(SLUICE_KIND_MAP, "s", &sink_);
  ctx.begin_call(1);
  sluice_output out = value("x");  // zero-initialised: event_time 0
  ASSERT_EQ(emit(ctx, 0, out), SLUICE_OK);
  out.event_time = 1234;
  ASSERT_EQ(emit(ctx, 0, out), SLUICE_OK);
  ASSERT_EQ(sink_.emitted.size(), 2u);
  EXPECT_EQ(sink_.event_times[0], SLUICE_TIME_UNSET);
  EXPECT_EQ(sink_.event_times[1], 1234);
}

TEST_F(HostApiTest, OutputOfAnOlderPluginReadsOnlyItsStructSize) {
  sluice_ctx ctx(SLUICE_KIND_SOURCE, "s", &sink_);
  ctx.begin_call(0);
  sluice_output out = value("old");
  static const sluice_str tag{"t", 1};
  out.tags = &tag;
  out.tag_count = 1;
  out.struct_size = offsetof(sluice_output, event_time);  // a plugin that knew no more
  ASSERT_EQ(emit(ctx, SLUICE_NO_INPUT, out), SLUICE_OK);
  EXPECT_TRUE(sink_.emitted[0].tags.empty());  // beyond its struct_size: not read
  out.struct_size = offsetof(sluice_output, value);  // does not even cover the value
  EXPECT_EQ(emit(ctx, SLUICE_NO_INPUT, out), SLUICE_ERROR);
}

TEST_F(HostApiTest, WhoMayEmitWithoutAnInput) {
  for (sluice_kind k : {SLUICE_KIND_SOURCE, SLUICE_KIND_SIDE_INPUT, SLUICE_KIND_REDUCE}) {
    sluice_ctx ctx(k, "s", &sink_);
    ctx.begin_call(0);
    EXPECT_EQ(emit(ctx, SLUICE_NO_INPUT, value("x")), SLUICE_OK) << k;
  }
  sluice_ctx map(SLUICE_KIND_MAP, "s", &sink_);
  map.begin_call(2);
  EXPECT_EQ(emit(map, SLUICE_NO_INPUT, value("x")), SLUICE_ERROR);
  EXPECT_EQ(emit(map, 2, value("x")), SLUICE_ERROR);  // out of range
  EXPECT_EQ(emit(map, 1, value("x")), SLUICE_OK);
  map.begin_call(0, /*finish_call=*/true);
  EXPECT_EQ(emit(map, SLUICE_NO_INPUT, value("x")), SLUICE_OK);
}

TEST_F(HostApiTest, SinksRespondAndSetOutcomesOnlyForRealInputs) {
  sluice_ctx ctx(SLUICE_KIND_SINK, "s", &sink_);
  ctx.begin_call(1);
  const sluice_bytes v{reinterpret_cast<const uint8_t*>("r"), 1};
  EXPECT_EQ(host_api()->respond(&ctx, 0, v), SLUICE_OK);
  EXPECT_EQ(host_api()->respond(&ctx, SLUICE_NO_INPUT, v), SLUICE_ERROR);
  EXPECT_EQ(host_api()->set_outcome(&ctx, SLUICE_NO_INPUT, SLUICE_OUTCOME_FAILED, "x", 1),
            SLUICE_ERROR);
  ctx.begin_call(0, /*finish_call=*/true);  // finish has no inputs to answer for
  EXPECT_EQ(host_api()->respond(&ctx, SLUICE_NO_INPUT, v), SLUICE_ERROR);
  EXPECT_EQ(emit(ctx, SLUICE_NO_INPUT, value("x")), SLUICE_ERROR);  // sinks never emit
  EXPECT_EQ(sink_.responses.size(), 1u);
  EXPECT_TRUE(sink_.outcomes.empty());
}

TEST_F(HostApiTest, OutcomesFollowTheKind) {
  sluice_ctx map(SLUICE_KIND_MAP, "s", &sink_);
  map.begin_call(1);
  EXPECT_EQ(host_api()->set_outcome(&map, 0, SLUICE_OUTCOME_RETRY, nullptr, 0), SLUICE_ERROR);
  EXPECT_EQ(host_api()->set_outcome(&map, 0, SLUICE_OUTCOME_FAILED, nullptr, 0), SLUICE_OK);
  EXPECT_EQ(host_api()->set_outcome(&map, 0, static_cast<sluice_outcome>(9), nullptr, 0),
            SLUICE_ERROR);
  sluice_ctx source(SLUICE_KIND_SOURCE, "s", &sink_);
  source.begin_call(0);
  EXPECT_EQ(host_api()->respond(&source, 0, sluice_bytes{}), SLUICE_ERROR);
}

TEST_F(HostApiTest, SetErrorKeepsTheLastMessage) {
  sluice_ctx ctx(SLUICE_KIND_MAP, "s", &sink_);
  host_api()->set_error(&ctx, "first", 5);
  host_api()->set_error(&ctx, "second one", 6);
  EXPECT_EQ(ctx.error, "second");
  ctx.begin_call(0);
  EXPECT_EQ(ctx.error, "");
}

TEST_F(HostApiTest, LoadLogCaptureHoldsCtxlessLinesOnThisThread) {
  LoadLogCapture capture;
  host_api()->log(nullptr, SLUICE_LOG_ERROR, "why I refuse", 12);
  ASSERT_EQ(capture.lines().size(), 1u);
  EXPECT_EQ(capture.lines()[0].message, "why I refuse");
  EXPECT_EQ(capture.lines()[0].level, SLUICE_LOG_ERROR);
}

}  // namespace
}  // namespace sluice::host
