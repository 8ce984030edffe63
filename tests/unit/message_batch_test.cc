// MessageBatch: the ABI's output inheritance rules, the arena, the ABI view, BatchPool.
#include "sluice/host/message_batch.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sluice/host/lineage.h"

namespace sluice::host {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

sluice_str s(const std::string& text) { return {text.data(), text.size()}; }
std::string text(sluice_str v) { return v.size ? std::string(v.data, v.size) : std::string(); }
std::string text(sluice_bytes v) {
  return v.size ? std::string(reinterpret_cast<const char*>(v.data), v.size) : std::string();
}

// An output (and the storage its pointers point into) built field by field.
struct Output {
  std::string value;
  std::vector<std::string> keys;
  std::vector<std::string> tags;
  Headers headers;
  int64_t event_time = 0;
  uint32_t flags = 0;

  // Valid until this Output changes.
  const sluice_output& get() {
    key_strs_.clear();
    for (const std::string& k : keys) key_strs_.push_back(s(k));
    tag_strs_.clear();
    for (const std::string& t : tags) tag_strs_.push_back(s(t));
    header_structs_.clear();
    for (const auto& [k, v] : headers) header_structs_.push_back({s(k), s(v)});
    out_ = {};
    out_.struct_size = sizeof(out_);
    out_.value = {reinterpret_cast<const uint8_t*>(value.data()), value.size()};
    out_.keys = key_strs_.empty() ? nullptr : key_strs_.data();
    out_.key_count = key_strs_.size();
    out_.tags = tag_strs_.empty() ? nullptr : tag_strs_.data();
    out_.tag_count = tag_strs_.size();
    out_.headers = header_structs_.empty() ? nullptr : header_structs_.data();
    out_.header_count = header_structs_.size();
    out_.event_time = event_time;
    out_.flags = flags;
    return out_;
  }

 private:
  std::vector<sluice_str> key_strs_, tag_strs_;
  std::vector<sluice_header> header_structs_;
  sluice_output out_{};
};

std::vector<std::string> keys_of(const sluice_message& m) {
  std::vector<std::string> out;
  for (size_t i = 0; i < m.key_count; ++i) out.push_back(text(m.keys[i]));
  return out;
}
std::vector<std::string> tags_of(const sluice_message& m) {
  std::vector<std::string> out;
  for (size_t i = 0; i < m.tag_count; ++i) out.push_back(text(m.tags[i]));
  return out;
}
std::map<std::string, std::string> headers_of(const sluice_message& m) {
  std::map<std::string, std::string> out;
  for (size_t i = 0; i < m.header_count; ++i)
    out.emplace(text(m.headers[i].key), text(m.headers[i].value));
  return out;
}

constexpr int64_t kDefaultTime = 5000;

// A parent message (as a previous stage's batch would hold it) built in its own batch.
class Parent {
 public:
  Parent() {
    Output o;
    o.value = "parent";
    o.keys = {"k1", "k2"};
    o.tags = {"parent-tag"};
    o.headers = {{"a", "1"}, {"b", "2"}};
    o.event_time = 1234;
    batch_.append(o.get(), nullptr, "pid", kDefaultTime, nullptr);
  }
  const sluice_message* get() { return &batch_.message(0); }

 private:
  MessageBatch batch_;
};

TEST(MessageBatch, StartsEmpty) {
  MessageBatch b;
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.size(), 0u);
  EXPECT_EQ(b.watermark(), SLUICE_TIME_UNSET);
  EXPECT_EQ(b.arena_bytes(), 0u);
}

TEST(MessageBatch, AppendWithoutParentKeepsWhatTheOutputGives) {
  MessageBatch b;
  Output o;
  o.value = "hello";
  o.keys = {"user-1"};
  o.tags = {"big", "eu"};
  o.headers = {{"h", "v"}};
  o.event_time = 42;
  b.append(o.get(), nullptr, "id-7", kDefaultTime, nullptr);

  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b.id(0), "id-7");
  EXPECT_EQ(b.value(0), "hello");
  ASSERT_EQ(b.key_count(0), 1u);
  EXPECT_EQ(b.key(0, 0), "user-1");
  const sluice_message& m = b.message(0);
  EXPECT_EQ(m.struct_size, sizeof(sluice_message));
  EXPECT_EQ(text(m.id), "id-7");
  EXPECT_EQ(text(m.value), "hello");
  EXPECT_EQ(keys_of(m), (std::vector<std::string>{"user-1"}));
  EXPECT_EQ(tags_of(m), (std::vector<std::string>{"big", "eu"}));
  EXPECT_EQ(headers_of(m), (std::map<std::string, std::string>{{"h", "v"}}));
  EXPECT_EQ(m.event_time, 42);
}

TEST(MessageBatch, EmptyValueAndNoKeysGiveEmptyViewFields) {
  MessageBatch b;
  Output o;
  b.append(o.get(), nullptr, "", kDefaultTime, nullptr);
  const sluice_message& m = b.message(0);
  EXPECT_EQ(m.value.size, 0u);
  EXPECT_EQ(m.id.size, 0u);
  EXPECT_EQ(m.key_count, 0u);
  EXPECT_EQ(m.keys, nullptr);
  EXPECT_EQ(m.tag_count, 0u);
  EXPECT_EQ(m.tags, nullptr);
  EXPECT_EQ(m.header_count, 0u);
  EXPECT_EQ(m.headers, nullptr);
}

TEST(MessageBatch, KeysAreInheritedFromTheParentByDefault) {
  Parent parent;
  MessageBatch b;
  Output o;
  o.value = "child";
  b.append(o.get(), parent.get(), "pid", kDefaultTime, nullptr);
  EXPECT_EQ(keys_of(b.message(0)), (std::vector<std::string>{"k1", "k2"}));
  ASSERT_EQ(b.key_count(0), 2u);
  EXPECT_EQ(b.key(0, 1), "k2");
}

TEST(MessageBatch, GivenKeysReplaceTheParents) {
  Parent parent;
  MessageBatch b;
  Output o;
  o.keys = {"mine"};
  b.append(o.get(), parent.get(), "pid", kDefaultTime, nullptr);
  EXPECT_EQ(keys_of(b.message(0)), (std::vector<std::string>{"mine"}));
}

TEST(MessageBatch, NoKeysFlagDropsTheParentsKeys) {
  Parent parent;
  MessageBatch b;
  Output o;
  o.flags = SLUICE_OUTPUT_NO_KEYS;
  b.append(o.get(), parent.get(), "pid", kDefaultTime, nullptr);
  EXPECT_EQ(b.key_count(0), 0u);
  EXPECT_EQ(b.message(0).key_count, 0u);
}

TEST(MessageBatch, NoKeysFlagDoesNotDropGivenKeys) {
  Parent parent;
  MessageBatch b;
  Output o;
  o.keys = {"mine"};
  o.flags = SLUICE_OUTPUT_NO_KEYS;
  b.append(o.get(), parent.get(), "pid", kDefaultTime, nullptr);
  EXPECT_EQ(keys_of(b.message(0)), (std::vector<std::string>{"mine"}));
}

TEST(MessageBatch, HeadersAreMergedWithTheParentsReplacingEqualKeys) {
  Parent parent;  // a=1, b=2
  MessageBatch b;
  Output o;
  o.headers = {{"b", "20"}, {"c", "3"}};
  b.append(o.get(), parent.get(), "pid", kDefaultTime, nullptr);
  const sluice_message& m = b.message(0);
  EXPECT_EQ(m.header_count, 3u) << "the parent's b is replaced, not kept beside the new one";
  EXPECT_EQ(headers_of(m),
            (std::map<std::string, std::string>{{"a", "1"}, {"b", "20"}, {"c", "3"}}));
}

TEST(MessageBatch, HeadersAreInheritedUnchangedWhenTheOutputGivesNone) {
  Parent parent;
  MessageBatch b;
  Output o;
  b.append(o.get(), parent.get(), "pid", kDefaultTime, nullptr);
  EXPECT_EQ(headers_of(b.message(0)),
            (std::map<std::string, std::string>{{"a", "1"}, {"b", "2"}}));
}

TEST(MessageBatch, NoInheritedHeadersFlagKeepsOnlyTheOutputsHeaders) {
  Parent parent;
  MessageBatch b;
  Output o;
  o.headers = {{"c", "3"}};
  o.flags = SLUICE_OUTPUT_NO_INHERITED_HEADERS;
  b.append(o.get(), parent.get(), "pid", kDefaultTime, nullptr);
  EXPECT_EQ(headers_of(b.message(0)), (std::map<std::string, std::string>{{"c", "3"}}));
}

TEST(MessageBatch, FlagsAreIndependent) {
  Parent parent;
  MessageBatch b;
  Output no_keys;
  no_keys.flags = SLUICE_OUTPUT_NO_KEYS;
  b.append(no_keys.get(), parent.get(), "pid", kDefaultTime, nullptr);
  Output no_headers;
  no_headers.flags = SLUICE_OUTPUT_NO_INHERITED_HEADERS;
  b.append(no_headers.get(), parent.get(), "pid", kDefaultTime, nullptr);

  EXPECT_EQ(b.message(0).key_count, 0u);
  EXPECT_EQ(b.message(0).header_count, 2u) << "NO_KEYS keeps the headers";
  EXPECT_EQ(keys_of(b.message(1)), (std::vector<std::string>{"k1", "k2"}))
      << "NO_INHERITED_HEADERS keeps the keys";
  EXPECT_EQ(b.message(1).header_count, 0u);
}

TEST(MessageBatch, TagsAreTheOutputsAndNeverInherited) {
  Parent parent;  // tagged "parent-tag"
  MessageBatch b;
  Output untagged;
  b.append(untagged.get(), parent.get(), "pid", kDefaultTime, nullptr);
  Output tagged;
  tagged.tags = {"x", "y"};
  b.append(tagged.get(), parent.get(), "pid", kDefaultTime, nullptr);

  EXPECT_EQ(b.message(0).tag_count, 0u);
  EXPECT_FALSE(b.has_tag(0, "parent-tag"));
  EXPECT_EQ(tags_of(b.message(1)), (std::vector<std::string>{"x", "y"}));
  EXPECT_TRUE(b.has_tag(1, "x"));
  EXPECT_TRUE(b.has_tag(1, "y"));
  EXPECT_FALSE(b.has_tag(1, "z"));
  EXPECT_FALSE(b.has_tag(1, "parent-tag"));
}

TEST(MessageBatch, IdIsWhatTheCallerGives) {
  Parent parent;
  MessageBatch b;
  Output o;
  b.append(o.get(), nullptr, "src-1", kDefaultTime, nullptr);
  b.append(o.get(), parent.get(), "pid", kDefaultTime, nullptr);
  EXPECT_EQ(b.id(0), "src-1");
  EXPECT_EQ(text(b.message(0).id), "src-1");
  EXPECT_EQ(b.id(1), "pid");
  EXPECT_EQ(text(b.message(1).id), "pid");
}

TEST(MessageBatch, EventTimeWithoutParentIsTheDefault) {
  MessageBatch b;
  Output zero;  // 0: inherit, and there is nothing to inherit from
  b.append(zero.get(), nullptr, "", kDefaultTime, nullptr);
  Output unset;
  unset.event_time = SLUICE_TIME_UNSET;
  b.append(unset.get(), nullptr, "", kDefaultTime, nullptr);
  EXPECT_EQ(b.message(0).event_time, kDefaultTime);
  EXPECT_EQ(b.message(1).event_time, kDefaultTime);
}

TEST(MessageBatch, EventTimeIsInheritedFromTheParent) {
  Parent parent;  // 1234
  MessageBatch b;
  Output zero;
  b.append(zero.get(), parent.get(), "pid", kDefaultTime, nullptr);
  Output unset;
  unset.event_time = SLUICE_TIME_UNSET;
  b.append(unset.get(), parent.get(), "pid", kDefaultTime, nullptr);
  EXPECT_EQ(b.message(0).event_time, 1234);
  EXPECT_EQ(b.message(1).event_time, 1234);
}

TEST(MessageBatch, EventTimeOfAParentWithoutOneFallsBackToTheDefault) {
  MessageBatch parents;
  Output p;
  parents.append(p.get(), nullptr, "p", SLUICE_TIME_UNSET, nullptr);
  ASSERT_EQ(parents.message(0).event_time, SLUICE_TIME_UNSET);
  MessageBatch b;
  Output o;
  b.append(o.get(), &parents.message(0), "p", kDefaultTime, nullptr);
  EXPECT_EQ(b.message(0).event_time, kDefaultTime);
}

TEST(MessageBatch, GivenEventTimeWinsOverParentAndDefault) {
  Parent parent;
  MessageBatch b;
  Output o;
  o.event_time = 99;
  b.append(o.get(), parent.get(), "pid", kDefaultTime, nullptr);
  Output negative;  // before the epoch: a real time, not "unset"
  negative.event_time = -1;
  b.append(negative.get(), parent.get(), "pid", kDefaultTime, nullptr);
  EXPECT_EQ(b.message(0).event_time, 99);
  EXPECT_EQ(b.message(1).event_time, -1);
}

TEST(MessageBatch, LineageIsKeptPerMessage) {
  Lineage l1, l2;
  MessageBatch b;
  Output o;
  b.append(o.get(), nullptr, "", kDefaultTime, &l1);
  b.append(o.get(), nullptr, "", kDefaultTime, nullptr);
  b.append(o.get(), nullptr, "", kDefaultTime, &l2);
  EXPECT_EQ(b.lineage(0), &l1);
  EXPECT_EQ(b.lineage(1), nullptr);
  EXPECT_EQ(b.lineage(2), &l2);
}

TEST(MessageBatch, ViewCarriesTheBatchWatermark) {
  MessageBatch b;
  Output o;
  b.append(o.get(), nullptr, "", kDefaultTime, nullptr);
  EXPECT_EQ(b.message(0).watermark, SLUICE_TIME_UNSET);
  b.set_watermark(777);
  EXPECT_EQ(b.watermark(), 777);
  b.append(o.get(), nullptr, "", kDefaultTime, nullptr);
  const sluice_message* const* view = b.view();
  EXPECT_EQ(view[0]->watermark, 777);
  EXPECT_EQ(view[1]->watermark, 777);
}

TEST(MessageBatch, ViewPointsAtEveryMessageInOrder) {
  MessageBatch b;
  for (int i = 0; i < 10; ++i) {
    Output o;
    o.value = "v" + std::to_string(i);
    o.keys = {"k" + std::to_string(i)};
    o.headers = {{"n", std::to_string(i)}};
    if (i % 2 == 0) o.tags = {"even"};
    b.append(o.get(), nullptr, "id" + std::to_string(i), kDefaultTime, nullptr);
  }
  const sluice_message* const* view = b.view();
  for (int i = 0; i < 10; ++i) {
    SCOPED_TRACE(i);
    const sluice_message& m = *view[i];
    EXPECT_EQ(&m, &b.message(i));
    EXPECT_EQ(text(m.id), "id" + std::to_string(i));
    EXPECT_EQ(text(m.value), "v" + std::to_string(i));
    EXPECT_EQ(keys_of(m), (std::vector<std::string>{"k" + std::to_string(i)}));
    EXPECT_EQ(headers_of(m), (std::map<std::string, std::string>{{"n", std::to_string(i)}}));
    EXPECT_EQ(m.tag_count, i % 2 == 0 ? 1u : 0u);
  }
}

TEST(MessageBatch, ViewIsRebuiltAfterMoreAppends) {
  MessageBatch b;
  Output o;
  o.value = "first";
  o.headers = {{"h", "1"}};
  b.append(o.get(), nullptr, "1", kDefaultTime, nullptr);
  ASSERT_EQ(text(b.view()[0]->value), "first");

  // Enough appends that the arena and the view's tables must grow (and move).
  for (int i = 0; i < 200; ++i) {
    Output more;
    more.value = std::string(100, static_cast<char>('a' + i % 26));
    more.keys = {"k" + std::to_string(i)};
    more.headers = {{"i", std::to_string(i)}};
    b.append(more.get(), nullptr, std::to_string(i), kDefaultTime, nullptr);
  }
  const sluice_message* const* view = b.view();
  EXPECT_EQ(text(view[0]->value), "first");
  EXPECT_EQ(headers_of(*view[0]), (std::map<std::string, std::string>{{"h", "1"}}));
  for (int i = 0; i < 200; ++i) {
    SCOPED_TRACE(i);
    const sluice_message& m = *view[i + 1];
    EXPECT_EQ(text(m.value), std::string(100, static_cast<char>('a' + i % 26)));
    EXPECT_EQ(keys_of(m), (std::vector<std::string>{"k" + std::to_string(i)}));
    EXPECT_EQ(headers_of(m), (std::map<std::string, std::string>{{"i", std::to_string(i)}}));
  }
}

TEST(MessageBatch, ViewWithoutChangesIsStable) {
  MessageBatch b;
  Output o;
  o.value = "x";
  b.append(o.get(), nullptr, "", kDefaultTime, nullptr);
  const sluice_message* const* first = b.view();
  const sluice_message* m0 = first[0];
  EXPECT_EQ(b.view(), first);
  EXPECT_EQ(b.view()[0], m0);
}

TEST(MessageBatch, TruncateDropsTheLaterMessages) {
  MessageBatch b;
  for (int i = 0; i < 3; ++i) {
    Output o;
    o.value = "v" + std::to_string(i);
    b.append(o.get(), nullptr, "", kDefaultTime, nullptr);
  }
  b.truncate(1);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b.value(0), "v0");
  EXPECT_EQ(text(b.message(0).value), "v0");
}

TEST(MessageBatch, TruncateBeyondTheSizeChangesNothing) {
  MessageBatch b;
  Output o;
  o.value = "v";
  b.append(o.get(), nullptr, "", kDefaultTime, nullptr);
  const size_t bytes = b.arena_bytes();
  b.truncate(1);
  b.truncate(5);
  EXPECT_EQ(b.size(), 1u);
  EXPECT_EQ(b.arena_bytes(), bytes);
}

TEST(MessageBatch, TruncateThenAppendReusesTheArena) {
  // What a failed call undoes: the batch must look as if the undone appends never were.
  auto fill = [](MessageBatch* b, const std::string& tag, int n) {
    for (int i = 0; i < n; ++i) {
      Output o;
      o.value = tag + std::to_string(i);
      o.keys = {tag + "-key"};
      o.tags = {tag};
      o.headers = {{tag, std::to_string(i)}};
      b->append(o.get(), nullptr, tag + "-id", kDefaultTime, nullptr);
    }
  };
  MessageBatch b;
  fill(&b, "keep", 2);
  const size_t bytes_after_keep = b.arena_bytes();
  fill(&b, "undo", 3);
  (void)b.view();  // a view of the undone messages must not leak into the next one
  b.truncate(2);
  EXPECT_EQ(b.arena_bytes(), bytes_after_keep) << "the undone messages' bytes are released";
  fill(&b, "redo", 1);

  MessageBatch expected;
  fill(&expected, "keep", 2);
  fill(&expected, "redo", 1);
  EXPECT_EQ(b.arena_bytes(), expected.arena_bytes());

  ASSERT_EQ(b.size(), 3u);
  const sluice_message* const* view = b.view();
  for (size_t i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    const sluice_message& got = *view[i];
    const sluice_message& want = expected.message(i);
    EXPECT_EQ(text(got.id), text(want.id));
    EXPECT_EQ(text(got.value), text(want.value));
    EXPECT_EQ(keys_of(got), keys_of(want));
    EXPECT_EQ(tags_of(got), tags_of(want));
    EXPECT_EQ(headers_of(got), headers_of(want));
    EXPECT_EQ(got.header_count, want.header_count);
  }
  EXPECT_FALSE(b.has_tag(2, "undo"));
  EXPECT_TRUE(b.has_tag(2, "redo"));
}

TEST(MessageBatch, TruncateToZeroEmptiesTheBatch) {
  MessageBatch b;
  Output o;
  o.value = "gone";
  o.keys = {"k"};
  b.append(o.get(), nullptr, "id", kDefaultTime, nullptr);
  b.truncate(0);
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.arena_bytes(), 0u);
  Output again;
  again.value = "new";
  b.append(again.get(), nullptr, "id2", kDefaultTime, nullptr);
  EXPECT_EQ(text(b.message(0).value), "new");
  EXPECT_EQ(b.message(0).key_count, 0u);
}

TEST(MessageBatch, AppendCopyPreservesEverything) {
  Parent parent;
  Lineage lineage;
  MessageBatch src;
  Output filler;
  filler.value = "other";
  src.append(filler.get(), nullptr, "other", kDefaultTime, nullptr);
  Output o;
  o.value = "payload";
  o.keys = {"ka", "kb"};
  o.tags = {"t1", "t2"};
  o.headers = {{"b", "20"}, {"c", "3"}};
  o.event_time = 4321;
  src.append(o.get(), parent.get(), "the-id", kDefaultTime, &lineage);

  MessageBatch dst;
  dst.append(filler.get(), nullptr, "first", kDefaultTime, nullptr);
  dst.append_copy(src, 1);

  ASSERT_EQ(dst.size(), 2u);
  EXPECT_EQ(dst.id(1), "the-id");
  EXPECT_EQ(dst.value(1), "payload");
  EXPECT_EQ(dst.lineage(1), &lineage);
  EXPECT_TRUE(dst.has_tag(1, "t2"));
  const sluice_message& got = dst.message(1);
  const sluice_message& want = src.message(1);
  EXPECT_EQ(text(got.id), text(want.id));
  EXPECT_EQ(text(got.value), text(want.value));
  EXPECT_EQ(keys_of(got), keys_of(want));
  EXPECT_EQ(tags_of(got), tags_of(want));
  EXPECT_EQ(got.header_count, want.header_count);
  EXPECT_EQ(headers_of(got), headers_of(want));
  EXPECT_EQ(got.event_time, 4321);
  // And the message it was appended after is untouched.
  EXPECT_EQ(text(dst.message(0).id), "first");
  EXPECT_EQ(text(dst.message(0).value), "other");
}

TEST(MessageBatch, AppendCopyOutlivesTheSource) {
  MessageBatch dst;
  {
    MessageBatch src;
    Output o;
    o.value = "copied";
    o.keys = {"k"};
    o.headers = {{"h", "v"}};
    src.append(o.get(), nullptr, "id", kDefaultTime, nullptr);
    dst.append_copy(src, 0);
    src.clear();
    Output overwrite;
    overwrite.value = "XXXXXXXXXXXX";
    src.append(overwrite.get(), nullptr, "XX", kDefaultTime, nullptr);
  }
  const sluice_message& m = dst.message(0);
  EXPECT_EQ(text(m.value), "copied");
  EXPECT_EQ(keys_of(m), (std::vector<std::string>{"k"}));
  EXPECT_EQ(headers_of(m), (std::map<std::string, std::string>{{"h", "v"}}));
}

TEST(MessageBatch, AppendCopyThenTruncateUndoesTheCopy) {
  MessageBatch src;
  Output o;
  o.value = "a";
  o.keys = {"k"};
  src.append(o.get(), nullptr, "id", kDefaultTime, nullptr);
  MessageBatch dst;
  dst.append_copy(src, 0);
  const size_t bytes = dst.arena_bytes();
  dst.append_copy(src, 0);
  dst.truncate(1);
  EXPECT_EQ(dst.size(), 1u);
  EXPECT_EQ(dst.arena_bytes(), bytes);
  EXPECT_EQ(keys_of(dst.message(0)), (std::vector<std::string>{"k"}));
}

TEST(MessageBatch, ClearEmptiesButKeepsCapacity) {
  MessageBatch b;
  Output o;
  o.value = std::string(1000, 'x');
  b.append(o.get(), nullptr, "", kDefaultTime, nullptr);
  b.set_watermark(5);
  const size_t capacity = b.arena_capacity();
  b.clear();
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.arena_bytes(), 0u);
  EXPECT_EQ(b.watermark(), SLUICE_TIME_UNSET);
  EXPECT_EQ(b.arena_capacity(), capacity);
  Output small;
  small.value = "y";
  b.append(small.get(), nullptr, "", kDefaultTime, nullptr);
  EXPECT_EQ(text(b.message(0).value), "y");
}

TEST(MessageBatchPool, GetGivesAnEmptyBatch) {
  BatchPool pool;
  auto b = pool.get();
  ASSERT_NE(b, nullptr);
  EXPECT_TRUE(b->empty());
}

TEST(MessageBatchPool, PutBatchIsReusedClearedWithItsCapacity) {
  BatchPool pool;
  auto b = pool.get();
  Output o;
  o.value = std::string(10'000, 'x');
  b->append(o.get(), nullptr, "id", kDefaultTime, nullptr);
  b->set_watermark(9);
  const MessageBatch* address = b.get();
  const size_t capacity = b->arena_capacity();
  pool.put(std::move(b));

  auto again = pool.get();
  EXPECT_EQ(again.get(), address);
  EXPECT_TRUE(again->empty());
  EXPECT_EQ(again->arena_bytes(), 0u);
  EXPECT_EQ(again->watermark(), SLUICE_TIME_UNSET);
  EXPECT_EQ(again->arena_capacity(), capacity) << "buffers stay warm";
}

TEST(MessageBatchPool, BatchWithAnArenaOverTheCapIsNotPooled) {
  BatchPool pool;
  auto huge = pool.get();
  Output o;
  o.value = std::string(BatchPool::kMaxPooledArena + 1, 'x');
  huge->append(o.get(), nullptr, "", kDefaultTime, nullptr);
  ASSERT_GT(huge->arena_capacity(), BatchPool::kMaxPooledArena);
  pool.put(std::move(huge));

  // A pooled one would still have its >4 MiB arena (clear keeps capacity).
  auto next = pool.get();
  EXPECT_LE(next->arena_capacity(), BatchPool::kMaxPooledArena);
  EXPECT_TRUE(next->empty());
}

TEST(MessageBatchPool, BatchAtTheCapIsPooled) {
  BatchPool pool;
  auto b = pool.get();
  Output o;
  o.value = std::string(1'000'000, 'x');  // well under the cap, whatever the growth policy
  b->append(o.get(), nullptr, "", kDefaultTime, nullptr);
  ASSERT_LE(b->arena_capacity(), BatchPool::kMaxPooledArena);
  const MessageBatch* address = b.get();
  pool.put(std::move(b));
  EXPECT_EQ(pool.get().get(), address);
}

TEST(MessageBatchPool, HoldsAtMostMaxIdleBatches) {
  BatchPool pool(1);
  auto a = pool.get();
  auto b = pool.get();
  Output o;
  o.value = std::string(1000, 'x');
  a->append(o.get(), nullptr, "", kDefaultTime, nullptr);
  b->append(o.get(), nullptr, "", kDefaultTime, nullptr);
  pool.put(std::move(a));
  pool.put(std::move(b));  // over max_idle: freed

  auto first = pool.get();
  auto second = pool.get();
  EXPECT_GE(first->arena_capacity(), 1000u) << "one batch was kept";
  EXPECT_LT(second->arena_capacity(), 1000u) << "the second is new";
}

TEST(MessageBatchPool, PutNullIsIgnored) {
  BatchPool pool;
  pool.put(nullptr);
  EXPECT_NE(pool.get(), nullptr);
}

}  // namespace
}  // namespace sluice::host
