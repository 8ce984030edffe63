// Request ids: validate_request_id (what a client may send) and generate_request_id
// (UUIDv7, RFC 9562).
#include "sluice/serving/request_id.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

namespace sluice::serving {
namespace {

// The 16 bytes of a canonical UUID string.
std::vector<uint8_t> uuid_bytes(const std::string& id) {
  std::vector<uint8_t> out;
  std::string hex;
  for (char c : id)
    if (c != '-') hex += c;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

uint64_t timestamp_ms(const std::string& id) {
  const std::vector<uint8_t> b = uuid_bytes(id);
  uint64_t ms = 0;
  for (int i = 0; i < 6; ++i) ms = (ms << 8) | b[i];
  return ms;
}

TEST(RequestIdGenerate, CanonicalLowerCaseForm) {
  const std::regex form("^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  for (int i = 0; i < 1000; ++i) {
    const std::string id = generate_request_id();
    ASSERT_TRUE(std::regex_match(id, form)) << id;
    ASSERT_EQ(validate_request_id(id), std::nullopt);
  }
}

TEST(RequestIdGenerate, VersionAndVariantBits) {
  for (int i = 0; i < 1000; ++i) {
    const std::vector<uint8_t> b = uuid_bytes(generate_request_id());
    ASSERT_EQ(b.size(), 16u);
    EXPECT_EQ(b[6] >> 4, 7) << "version 7";
    EXPECT_EQ(b[8] >> 6, 2) << "variant 10";
  }
}

TEST(RequestIdGenerate, TimestampIsUnixMilliseconds) {
  using namespace std::chrono;
  const auto now = [] {
    return static_cast<uint64_t>(
        duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
  };
  const uint64_t before = now();
  const uint64_t stamp = timestamp_ms(generate_request_id());
  const uint64_t after = now();
  EXPECT_GE(stamp, before);
  EXPECT_LE(stamp, after + 1);  // at most one millisecond borrowed from the future
}

TEST(RequestIdGenerate, StrictlyIncreasingInTheOrderMade) {
  // Many ids share a millisecond; the sequence in rand_a keeps them in order, and a
  // run of more than 2048 in one millisecond moves on to the next.
  std::string previous = generate_request_id();
  for (int i = 0; i < 100'000; ++i) {
    std::string id = generate_request_id();
    ASSERT_LT(previous, id) << "at " << i;
    previous = std::move(id);
  }
}

TEST(RequestIdGenerate, TimeOrderedAcrossMilliseconds) {
  const std::string first = generate_request_id();
  std::this_thread::sleep_for(std::chrono::milliseconds(3));
  const std::string second = generate_request_id();
  EXPECT_LT(first, second);
  EXPECT_GE(timestamp_ms(second), timestamp_ms(first) + 2);
}

TEST(RequestIdGenerate, UniqueOver100kAcrossThreads) {
  constexpr int kThreads = 4;
  constexpr int kEach = 25'000;
  std::vector<std::vector<std::string>> made(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&made, t] {
      made[t].reserve(kEach);
      for (int i = 0; i < kEach; ++i) made[t].push_back(generate_request_id());
    });
  }
  for (std::thread& t : threads) t.join();
  std::unordered_set<std::string> all;
  for (const auto& ids : made) {
    // Each thread sees its own ids increase (the order is process-wide).
    for (size_t i = 1; i < ids.size(); ++i) ASSERT_LT(ids[i - 1], ids[i]);
    all.insert(ids.begin(), ids.end());
  }
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kEach));
}

TEST(RequestIdGenerate, RandomPartDiffers) {
  // The low 62 bits come from the CSPRNG: two ids never share them in practice.
  std::set<std::string> tails;
  for (int i = 0; i < 1000; ++i) tails.insert(generate_request_id().substr(19));
  EXPECT_EQ(tails.size(), 1000u);
}

TEST(RequestIdValidate, Accepted) {
  for (const std::string& id :
       {std::string("a"), std::string("order-42"), std::string("with.dot"),
        std::string("with space"), std::string("ünïcode ✓ 😀"), std::string(256, 'x'),
        std::string("0190a7d0-8f1e-7c3a-9b2d-1e2f3a4b5c6d")}) {
    EXPECT_EQ(validate_request_id(id), std::nullopt) << id;
  }
}

TEST(RequestIdValidate, RefusedWithAReason) {
  EXPECT_EQ(validate_request_id(""), "the request id is empty");
  EXPECT_EQ(validate_request_id(std::string(257, 'x')),
            "the request id is 257 bytes long; the limit is 256");
  // 128 two-byte characters are 256 bytes (fine); 129 are 258 (too long).
  std::string two_byte;
  for (int i = 0; i < 129; ++i) two_byte += "é";
  EXPECT_EQ(validate_request_id(two_byte), "the request id is 258 bytes long; the limit is 256");
  EXPECT_EQ(validate_request_id(two_byte.substr(2)), std::nullopt);

  EXPECT_EQ(validate_request_id(std::string("a\0b", 3)),
            "the request id has a control character at byte 2");
  EXPECT_EQ(validate_request_id("tab\there"), "the request id has a control character at byte 4");
  EXPECT_EQ(validate_request_id("line\n"), "the request id has a control character at byte 5");
  EXPECT_EQ(validate_request_id("del\x7f"), "the request id has a control character at byte 4");
  EXPECT_EQ(validate_request_id("c1\xc2\x85"),  // U+0085 NEXT LINE
            "the request id has a control character at byte 3");

  const std::string not_utf8 = "the request id is not valid UTF-8 at byte ";
  EXPECT_EQ(validate_request_id("x\xff"), not_utf8 + "2");
  EXPECT_EQ(validate_request_id("\x80"), not_utf8 + "1");          // lone continuation
  EXPECT_EQ(validate_request_id("ab\xc3"), not_utf8 + "3");        // truncated
  EXPECT_EQ(validate_request_id("\xc3(x"), not_utf8 + "1");        // bad continuation
  EXPECT_EQ(validate_request_id("\xc0\xaf"), not_utf8 + "1");      // overlong '/'
  EXPECT_EQ(validate_request_id("\xe0\x80\xaf"), not_utf8 + "1");  // overlong, 3 bytes
  EXPECT_EQ(validate_request_id("\xed\xa0\x80"), not_utf8 + "1");  // surrogate U+D800
  EXPECT_EQ(validate_request_id("\xf4\x90\x80\x80"), not_utf8 + "1");  // above U+10FFFF
  EXPECT_EQ(validate_request_id("\xf8\x88\x80\x80\x80"), not_utf8 + "1");  // 5-byte form
}

}  // namespace
}  // namespace sluice::serving
