// Reduce windows: assignment (fixed, sliding), the window book (fixed, sliding, session;
// lateness; closing), watermarks (source, idle, min over inputs), and a randomized
// comparison of the book against a brute-force reference.
#include "sluice/host/watermark.h"
#include "sluice/host/window_assigner.h"
#include "sluice/host/window_book.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <map>
#include <new>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

// Counts heap allocations, to check that the common add() path makes none.
static std::atomic<uint64_t> g_allocations{0};
void* operator new(size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
// GCC pairs its builtin idea of `new` with free() here and warns; this new is malloc.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace sluice::host {
namespace {

WindowAssigner fixed(int64_t length) {
  std::string error;
  auto a = WindowAssigner::fixed(length, &error);
  EXPECT_TRUE(a) << error;
  return *a;
}

WindowAssigner sliding(int64_t length, int64_t slide) {
  std::string error;
  auto a = WindowAssigner::sliding(length, slide, &error);
  EXPECT_TRUE(a) << error;
  return *a;
}

std::unique_ptr<WindowBook> aligned_book(const WindowAssigner& a, int64_t lateness = 0) {
  std::string error;
  auto book = WindowBook::aligned(a, lateness, &error);
  EXPECT_TRUE(book) << error;
  return book;
}

std::unique_ptr<WindowBook> session_book(int64_t gap, int64_t lateness = 0) {
  std::string error;
  auto book = WindowBook::session(gap, lateness, &error);
  EXPECT_TRUE(book) << error;
  return book;
}

std::vector<Window> windows_of(const WindowAssigner& a, int64_t t) {
  std::vector<Window> w(a.windows_per_time());
  a.assign(t, w.data());
  return w;
}

// "key[start,end)" for every closed window, in the order reported.
std::vector<std::string> names(const std::vector<ClosedWindow>& closed) {
  std::vector<std::string> out;
  for (const ClosedWindow& c : closed) {
    out.push_back(c.key + "[" + std::to_string(c.window.start) + "," +
                  std::to_string(c.window.end) + ")");
  }
  return out;
}

// ------------------------------------------------------------------ assignment

TEST(WindowAssigner, FixedBoundaries) {
  const WindowAssigner a = fixed(1000);
  EXPECT_EQ(a.windows_per_time(), 1u);
  EXPECT_EQ(a.last_window(0), (Window{0, 1000}));
  EXPECT_EQ(a.last_window(999), (Window{0, 1000}));
  EXPECT_EQ(a.last_window(1000), (Window{1000, 2000}));  // the end belongs to the next
  EXPECT_EQ(a.last_window(1001), (Window{1000, 2000}));
  EXPECT_EQ(windows_of(a, 1999), (std::vector<Window>{{1000, 2000}}));
}

TEST(WindowAssigner, FixedNegativeTimes) {
  const WindowAssigner a = fixed(1000);
  EXPECT_EQ(a.last_window(-1), (Window{-1000, 0}));  // floor, not truncation toward 0
  EXPECT_EQ(a.last_window(-999), (Window{-1000, 0}));
  EXPECT_EQ(a.last_window(-1000), (Window{-1000, 0}));
  EXPECT_EQ(a.last_window(-1001), (Window{-2000, -1000}));
  EXPECT_EQ(align_down(-7, 3), -9);
  EXPECT_EQ(align_down(7, 3), 6);
  EXPECT_EQ(align_down(-6, 3), -6);
  EXPECT_EQ(a.last_window(kMinEventTime), (Window{kMinEventTime - kMinEventTime % 1000 - 1000,
                                                  kMinEventTime - kMinEventTime % 1000}));
}

TEST(WindowAssigner, SlidingOverlapCounts) {
  const WindowAssigner a = sliding(100, 25);
  ASSERT_EQ(a.windows_per_time(), 4u);
  EXPECT_EQ(windows_of(a, 0),
            (std::vector<Window>{{-75, 25}, {-50, 50}, {-25, 75}, {0, 100}}));
  EXPECT_EQ(windows_of(a, 24),
            (std::vector<Window>{{-75, 25}, {-50, 50}, {-25, 75}, {0, 100}}));
  EXPECT_EQ(windows_of(a, 25),  // leaves [-75, 25) at its end, enters [25, 125)
            (std::vector<Window>{{-50, 50}, {-25, 75}, {0, 100}, {25, 125}}));
  // Every t is in exactly length/slide windows, each containing it, by start.
  for (int64_t t = -300; t <= 300; ++t) {
    const std::vector<Window> ws = windows_of(a, t);
    ASSERT_EQ(ws.size(), 4u);
    for (size_t i = 0; i < ws.size(); ++i) {
      EXPECT_LE(ws[i].start, t);
      EXPECT_LT(t, ws[i].end);
      EXPECT_EQ(ws[i].end - ws[i].start, 100);
      EXPECT_EQ(align_down(ws[i].start, 25), ws[i].start);
      if (i > 0) {
        EXPECT_EQ(ws[i].start, ws[i - 1].start + 25);
      }
    }
    // And in no other window on the grid.
    int covering = 0;
    for (int64_t s = -500; s <= 500; s += 25) covering += (s <= t && t < s + 100);
    EXPECT_EQ(covering, 4) << t;
  }
  EXPECT_EQ(sliding(100, 100).windows_per_time(), 1u);  // slide == length: fixed
}

TEST(WindowAssigner, InvalidConfigErrors) {
  std::string error;
  EXPECT_FALSE(WindowAssigner::fixed(0, &error));
  EXPECT_NE(error.find("length must be > 0"), std::string::npos) << error;
  EXPECT_FALSE(WindowAssigner::fixed(-5, &error));

  EXPECT_FALSE(WindowAssigner::sliding(100, 200, &error));
  EXPECT_NE(error.find("slide must be <= length"), std::string::npos) << error;
  EXPECT_NE(error.find("length: 100 ms, slide: 200 ms"), std::string::npos) << error;
  EXPECT_FALSE(WindowAssigner::sliding(100, 30, &error));
  EXPECT_NE(error.find("multiple of slide"), std::string::npos) << error;
  EXPECT_FALSE(WindowAssigner::sliding(100, 0, &error));
  EXPECT_NE(error.find("slide must be > 0"), std::string::npos) << error;
  EXPECT_FALSE(WindowAssigner::sliding(0, 0, &error));
  EXPECT_FALSE(WindowAssigner::sliding(86'400'000, 1, &error));
  EXPECT_NE(error.find("windows per message"), std::string::npos) << error;

  EXPECT_FALSE(WindowBook::session(0, 0, &error));
  EXPECT_NE(error.find("gap must be > 0"), std::string::npos) << error;
  EXPECT_FALSE(WindowBook::aligned(fixed(10), -1, &error));
  EXPECT_NE(error.find("allowed lateness"), std::string::npos) << error;
}

// ------------------------------------------------------------------ fixed / sliding book

TEST(WindowBook, FixedAppendsAndOpens) {
  auto book = aligned_book(fixed(100));
  AddResult r;
  book->add("a", 10, &r);
  ASSERT_EQ(r.appended.size(), 1u);
  EXPECT_TRUE(r.appended[0].opened);
  EXPECT_EQ(r.appended[0].window, (Window{0, 100}));
  const WindowId first = r.appended[0].id;
  book->add("a", 99, &r);
  ASSERT_EQ(r.appended.size(), 1u);
  EXPECT_FALSE(r.appended[0].opened);
  EXPECT_EQ(r.appended[0].id, first);
  book->add("a", 100, &r);  // the end: next window
  EXPECT_TRUE(r.appended[0].opened);
  EXPECT_EQ(r.appended[0].window, (Window{100, 200}));
  EXPECT_NE(r.appended[0].id, first);
  book->add("b", 50, &r);   // other key, other window
  EXPECT_TRUE(r.appended[0].opened);
  EXPECT_EQ(book->open_windows(), 3u);
  EXPECT_EQ(book->open_keys(), 2u);
  EXPECT_LT(r.appended[0].id, book->id_limit());
}

TEST(WindowBook, SlidingAppendsToEveryWindow) {
  auto book = aligned_book(sliding(100, 25));
  AddResult r;
  book->add("k", 30, &r);
  ASSERT_EQ(r.appended.size(), 4u);
  EXPECT_EQ(r.appended[0].window, (Window{-50, 50}));
  EXPECT_EQ(r.appended[3].window, (Window{25, 125}));
  for (const WindowAppend& w : r.appended) EXPECT_TRUE(w.opened);
  book->add("k", 60, &r);  // shares 3 windows with 30, opens [50, 150)
  ASSERT_EQ(r.appended.size(), 4u);
  EXPECT_FALSE(r.appended[0].opened);
  EXPECT_FALSE(r.appended[2].opened);
  EXPECT_TRUE(r.appended[3].opened);
  EXPECT_EQ(book->open_windows(), 5u);
}

TEST(WindowBook, OutOfOrderWithinDelayIsAccepted) {
  auto book = aligned_book(fixed(100));
  SourceWatermark source(/*max_delay=*/50, /*idle_timeout=*/0, /*now=*/0);
  AddResult r;
  std::vector<ClosedWindow> closed;
  for (int64_t t : {10, 120, 90, 140, 75}) {  // 90 and 75 arrive after 120 and 140
    source.observe(t, 0);
    book->add("k", t, &r);
    EXPECT_FALSE(r.late) << t;
    book->advance_watermark(source.watermark(), &closed);  // at most 140 - 50 = 90
    EXPECT_TRUE(closed.empty()) << t;
  }
  source.observe(160, 0);
  book->add("k", 160, &r);
  book->advance_watermark(source.watermark(), &closed);  // 110: [0,100) closes
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].window, (Window{0, 100}));
  EXPECT_EQ(closed[0].messages, 3u);  // 10, 90, 75
}

TEST(WindowBook, LateWithoutAllowedLateness) {
  auto book = aligned_book(fixed(100));
  AddResult r;
  std::vector<ClosedWindow> closed;
  book->add("k", 50, &r);
  book->advance_watermark(99, &closed);  // 99 < end 100: still open
  EXPECT_TRUE(closed.empty());
  book->add("k", 60, &r);
  EXPECT_FALSE(r.late);
  book->advance_watermark(100, &closed);  // reaches the end: closes
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].messages, 2u);
  book->add("k", 70, &r);
  EXPECT_TRUE(r.late);
  EXPECT_TRUE(r.appended.empty());
  book->add("k", 100, &r);  // the next window is open
  EXPECT_FALSE(r.late);
  book->add("other", 0, &r);  // lateness is by window, whatever the key
  EXPECT_TRUE(r.late);
  EXPECT_EQ(book->late_messages(), 2u);
}

TEST(WindowBook, LateWithAllowedLateness) {
  auto book = aligned_book(fixed(100), /*lateness=*/30);
  AddResult r;
  std::vector<ClosedWindow> closed;
  book->add("k", 50, &r);
  book->advance_watermark(120, &closed);  // past the end, within lateness: still open
  EXPECT_TRUE(closed.empty());
  book->add("k", 10, &r);  // arrives after the watermark passed its end: accepted
  EXPECT_FALSE(r.late);
  EXPECT_FALSE(r.appended[0].opened);
  book->add("q", 20, &r);  // even opens a window for a new key
  EXPECT_FALSE(r.late);
  EXPECT_TRUE(r.appended[0].opened);
  book->advance_watermark(129, &closed);
  EXPECT_TRUE(closed.empty());
  book->advance_watermark(130, &closed);  // end + lateness
  EXPECT_EQ(names(closed), (std::vector<std::string>{"k[0,100)", "q[0,100)"}));
  book->add("k", 99, &r);
  EXPECT_TRUE(r.late);
  EXPECT_EQ(book->late_messages(), 1u);
}

TEST(WindowBook, SlidingPartlyClosed) {
  auto book = aligned_book(sliding(100, 50));
  AddResult r;
  std::vector<ClosedWindow> closed;
  book->advance_watermark(100, &closed);
  book->add("k", 60, &r);  // windows [0,100) (closed) and [50,150) (open)
  EXPECT_FALSE(r.late);
  EXPECT_EQ(r.closed_skipped, 1u);
  ASSERT_EQ(r.appended.size(), 1u);
  EXPECT_EQ(r.appended[0].window, (Window{50, 150}));
  book->advance_watermark(150, &closed);
  book->add("k", 60, &r);
  EXPECT_TRUE(r.late);
  EXPECT_EQ(book->late_messages(), 1u);
}

TEST(WindowBook, ClosingOrderIsByEndThenKey) {
  auto book = aligned_book(sliding(100, 50));
  AddResult r;
  std::vector<ClosedWindow> closed;
  for (const char* key : {"z", "b", "m"}) book->add(key, 60, &r);  // [0,100) and [50,150)
  book->add("a", 160, &r);                                         // [100,200) [150,250)
  book->advance_watermark(80, &closed);
  EXPECT_TRUE(closed.empty());
  book->advance_watermark(1000, &closed);
  EXPECT_EQ(names(closed),
            (std::vector<std::string>{"b[0,100)", "m[0,100)", "z[0,100)", "b[50,150)",
                                      "m[50,150)", "z[50,150)", "a[100,200)", "a[150,250)"}));
  EXPECT_EQ(book->open_windows(), 0u);
  EXPECT_EQ(book->open_keys(), 0u);
}

TEST(WindowBook, WatermarkNeverGoesBack) {
  auto book = aligned_book(fixed(100));
  AddResult r;
  std::vector<ClosedWindow> closed;
  book->advance_watermark(500, &closed);
  book->advance_watermark(100, &closed);  // ignored
  EXPECT_EQ(book->watermark(), 500);
  book->add("k", 450, &r);  // still late under 500
  EXPECT_TRUE(r.late);
}

TEST(WindowBook, CloseAllAndMemory) {
  auto book = aligned_book(sliding(100, 25));
  AddResult r;
  std::vector<ClosedWindow> closed;
  for (int i = 0; i < 1000; ++i) book->add("key" + std::to_string(i % 37), i * 7, &r);
  EXPECT_GT(book->open_windows(), 0u);
  book->advance_watermark(3000, &closed);
  EXPECT_FALSE(closed.empty());
  const size_t before = book->open_windows();
  book->close_all(&closed);
  EXPECT_EQ(closed.size(), before);
  for (size_t i = 1; i < closed.size(); ++i) {
    EXPECT_TRUE(std::tie(closed[i - 1].window.end, closed[i - 1].key) <=
                std::tie(closed[i].window.end, closed[i].key));
  }
  EXPECT_EQ(book->open_windows(), 0u);
  EXPECT_EQ(book->open_keys(), 0u);
  EXPECT_EQ(book->id_limit(), 0u);

  // Closing by watermark forgets too, and ids are reused rather than growing.
  for (int round = 0; round < 50; ++round) {
    for (int k = 0; k < 10; ++k) book->add(std::to_string(k), 10000 + round * 100, &r);
    book->advance_watermark(10000 + (round + 1) * 100, &closed);
    EXPECT_EQ(closed.size(), 10u * 4);
  }
  EXPECT_EQ(book->open_windows(), 0u);
  EXPECT_EQ(book->open_keys(), 0u);
  EXPECT_LE(book->id_limit(), 40u);
}

// The hot path: 10,000 keys would each pay one allocation per window opened, none per
// message (string_view lookup, reused AddResult, preallocated sliding scratch).
TEST(WindowBook, AddAllocatesNothingOnceWindowsAreOpen) {
  std::vector<std::string> keys;
  for (int i = 0; i < 100; ++i) keys.push_back("a-key-longer-than-sso-" + std::to_string(i));
  for (const WindowAssigner& a : {fixed(1000), sliding(1000, 250)}) {
    auto book = aligned_book(a);
    AddResult r;
    for (int i = 0; i < 10000; ++i) book->add(keys[i % 100], i % 1000, &r);  // opens
    const uint64_t before = g_allocations.load();
    for (int i = 0; i < 100000; ++i) book->add(keys[i % 100], (i * 7) % 1000, &r);
    EXPECT_EQ(g_allocations.load() - before, 0u) << a.slide();
    // Times [0, 1000) meet 2 * (length / slide) - 1 windows per key.
    EXPECT_EQ(book->open_windows(), 100u * (2 * a.windows_per_time() - 1));
  }
}

// ------------------------------------------------------------------ sessions

TEST(WindowBook, SessionOpenAndExtend) {
  auto book = session_book(10);
  AddResult r;
  book->add("k", 100, &r);
  ASSERT_EQ(r.appended.size(), 1u);
  EXPECT_TRUE(r.appended[0].opened);
  EXPECT_EQ(r.appended[0].window, (Window{100, 110}));
  const WindowId id = r.appended[0].id;
  book->add("k", 105, &r);  // extends forward
  EXPECT_FALSE(r.appended[0].opened);
  EXPECT_TRUE(r.extended);
  EXPECT_TRUE(r.merged.empty());
  EXPECT_EQ(r.appended[0].id, id);
  EXPECT_EQ(r.appended[0].window, (Window{100, 115}));
  book->add("k", 95, &r);  // extends backward (out of order)
  EXPECT_TRUE(r.extended);
  EXPECT_EQ(r.appended[0].window, (Window{95, 115}));
  book->add("k", 100, &r);  // inside: no change
  EXPECT_FALSE(r.extended);
  EXPECT_EQ(r.appended[0].window, (Window{95, 115}));
  EXPECT_EQ(book->open_windows(), 1u);
  std::vector<ClosedWindow> closed;
  book->close_all(&closed);
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].messages, 4u);
}

TEST(WindowBook, SessionSplitAndExactGap) {
  auto book = session_book(10);
  AddResult r;
  book->add("k", 100, &r);
  book->add("k", 110, &r);  // exactly gap later: [100,110) and [110,120) only touch
  EXPECT_TRUE(r.appended[0].opened);
  book->add("k", 200, &r);  // far apart
  EXPECT_TRUE(r.appended[0].opened);
  book->add("j", 105, &r);  // another key never joins
  EXPECT_TRUE(r.appended[0].opened);
  EXPECT_EQ(book->open_windows(), 4u);
  std::vector<ClosedWindow> closed;
  book->close_all(&closed);
  EXPECT_EQ(names(closed), (std::vector<std::string>{"k[100,110)", "j[105,115)",
                                                     "k[110,120)", "k[200,210)"}));
}

TEST(WindowBook, SessionMergeTwo) {
  auto book = session_book(10);
  AddResult r;
  book->add("k", 100, &r);
  const WindowId left = r.appended[0].id;
  book->add("k", 115, &r);
  const WindowId right = r.appended[0].id;
  ASSERT_EQ(book->open_windows(), 2u);
  book->add("k", 108, &r);  // [108,118) overlaps [100,110) and [115,125)
  ASSERT_EQ(r.appended.size(), 1u);
  EXPECT_EQ(r.appended[0].id, left);  // the earliest session survives
  EXPECT_EQ(r.appended[0].window, (Window{100, 125}));
  ASSERT_EQ(r.merged.size(), 1u);
  EXPECT_EQ(r.merged[0].id, right);
  EXPECT_EQ(r.merged[0].window, (Window{115, 125}));
  EXPECT_EQ(book->open_windows(), 1u);
  std::vector<ClosedWindow> closed;
  book->advance_watermark(124, &closed);
  EXPECT_TRUE(closed.empty());
  book->advance_watermark(125, &closed);
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].window, (Window{100, 125}));
  EXPECT_EQ(closed[0].id, left);
  EXPECT_EQ(closed[0].messages, 3u);
  EXPECT_EQ(book->open_windows(), 0u);
}

// Every session is at least `gap` long, so one message ([t, t + gap)) overlaps at most
// two; three sessions become one through two bridging messages, and the first one's id
// survives both merges.
TEST(WindowBook, SessionMergeThree) {
  auto book = session_book(30);
  AddResult r;
  book->add("k", 100, &r);  // [100,130)
  const WindowId a = r.appended[0].id;
  book->add("k", 140, &r);  // [140,170)
  const WindowId b = r.appended[0].id;
  book->add("k", 180, &r);  // [180,210)
  const WindowId c = r.appended[0].id;
  book->add("k", 181, &r);  // [181,211): extends c
  book->add("j", 150, &r);  // another key: untouched by k's merges
  ASSERT_EQ(book->open_windows(), 4u);

  book->add("k", 165, &r);  // [165,195): bridges b and c
  EXPECT_EQ(r.appended[0].id, b);
  EXPECT_EQ(r.appended[0].window, (Window{140, 211}));
  ASSERT_EQ(r.merged.size(), 1u);
  EXPECT_EQ(r.merged[0].id, c);
  EXPECT_EQ(r.merged[0].window, (Window{180, 211}));
  ASSERT_EQ(book->open_windows(), 3u);

  book->add("k", 125, &r);  // [125,155): bridges a and (b+c)
  EXPECT_EQ(r.appended[0].id, a);
  EXPECT_TRUE(r.extended);
  EXPECT_EQ(r.appended[0].window, (Window{100, 211}));
  ASSERT_EQ(r.merged.size(), 1u);
  EXPECT_EQ(r.merged[0].id, b);
  EXPECT_EQ(r.merged[0].window, (Window{140, 211}));
  ASSERT_EQ(book->open_windows(), 2u);

  std::vector<ClosedWindow> closed;
  book->advance_watermark(211, &closed);
  EXPECT_EQ(names(closed), (std::vector<std::string>{"j[150,180)", "k[100,211)"}));
  ASSERT_EQ(closed.size(), 2u);
  EXPECT_EQ(closed[1].id, a);
  EXPECT_EQ(closed[1].messages, 6u);  // 100, 140, 180, 181, 165, 125
  EXPECT_EQ(book->open_windows(), 0u);
  EXPECT_EQ(book->open_keys(), 0u);
}

TEST(WindowBook, SessionLateness) {
  auto book = session_book(10, /*lateness=*/5);
  AddResult r;
  std::vector<ClosedWindow> closed;
  book->add("k", 100, &r);  // [100,110)
  book->advance_watermark(114, &closed);  // bound 109: open
  EXPECT_TRUE(closed.empty());
  book->add("k", 90, &r);  // [90,100) touches the session: alone it would be closed
  EXPECT_TRUE(r.late);
  book->add("k", 95, &r);  // [95,105) overlaps the open session: joins, extends back
  EXPECT_FALSE(r.late);
  EXPECT_EQ(r.appended[0].window, (Window{95, 110}));
  book->add("k", 100, &r);  // [100,110): overlaps
  EXPECT_FALSE(r.late);
  book->add("q", 100, &r);  // new key: [100,110), 110 > 109 so it opens
  EXPECT_FALSE(r.late);
  EXPECT_TRUE(r.appended[0].opened);
  book->advance_watermark(115, &closed);
  EXPECT_EQ(names(closed), (std::vector<std::string>{"k[95,110)", "q[100,110)"}));
  book->add("k", 105, &r);  // overlaps only the closed session: opens a new one
  EXPECT_FALSE(r.late);
  EXPECT_TRUE(r.appended[0].opened);
  EXPECT_EQ(r.appended[0].window, (Window{105, 115}));
  EXPECT_EQ(book->late_messages(), 1u);
  book->close_all(&closed);
  EXPECT_EQ(book->open_windows(), 0u);
}

TEST(WindowBook, SessionGrowingIsClosedOnItsLatestEnd) {
  auto book = session_book(10);
  AddResult r;
  std::vector<ClosedWindow> closed;
  book->add("k", 0, &r);
  for (int64_t t = 5; t <= 100; t += 5) {
    book->add("k", t, &r);
    book->advance_watermark(t - 1, &closed);  // never reaches the growing end
    EXPECT_TRUE(closed.empty()) << t;
  }
  book->advance_watermark(109, &closed);
  EXPECT_TRUE(closed.empty());
  book->advance_watermark(110, &closed);
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].window, (Window{0, 110}));
  EXPECT_EQ(closed[0].messages, 21u);
}

// ------------------------------------------------------------------ watermarks

TEST(Watermark, MaxEventTimeMinusDelay) {
  SourceWatermark w(/*max_delay=*/100, /*idle_timeout=*/0, /*now=*/0);
  EXPECT_EQ(w.watermark(), kNoWatermark);
  w.observe(1000, 1);
  EXPECT_EQ(w.watermark(), 900);
  w.observe(950, 2);  // older: no change
  EXPECT_EQ(w.watermark(), 900);
  w.observe(1500, 3);
  EXPECT_EQ(w.watermark(), 1400);
  w.observe(kNoWatermark, 4);  // no event time: no change
  EXPECT_EQ(w.watermark(), 1400);
  w.tick(1'000'000);  // idle progress off
  EXPECT_EQ(w.watermark(), 1400);
}

TEST(Watermark, IdleSourceProgress) {
  SourceWatermark w(/*max_delay=*/100, /*idle_timeout=*/500, /*now=*/10'000);
  w.tick(10'499);  // not idle yet (no message since construction)
  EXPECT_EQ(w.watermark(), kNoWatermark);
  w.tick(10'500);
  EXPECT_EQ(w.watermark(), 10'400);
  w.observe(10'450, 10'600);  // a message: not idle, its own watermark is lower: kept
  EXPECT_EQ(w.watermark(), 10'400);
  EXPECT_FALSE(w.idle(10'700));
  w.tick(11'099);
  EXPECT_EQ(w.watermark(), 10'400);
  w.tick(11'100);  // 500 ms after the last message
  EXPECT_EQ(w.watermark(), 11'000);
  w.tick(12'000);  // stays idle: keeps following the clock
  EXPECT_EQ(w.watermark(), 11'900);
  w.observe(20'000, 12'001);
  EXPECT_EQ(w.watermark(), 19'900);
  w.tick(12'400);  // the clock is behind the events: never goes back
  EXPECT_EQ(w.watermark(), 19'900);
}

TEST(Watermark, MinOverInputsAndMonotonic) {
  InputWatermarks w(3);
  EXPECT_EQ(w.update(0, 100), kNoWatermark);  // the others have not reported
  EXPECT_EQ(w.update(1, 50), kNoWatermark);
  EXPECT_EQ(w.update(2, 70), 50);
  EXPECT_EQ(w.update(1, 200), 70);
  EXPECT_EQ(w.update(2, 60), 70);  // an input going back is ignored
  EXPECT_EQ(w.input(2), 70);
  EXPECT_EQ(w.update(2, 300), 100);
  EXPECT_EQ(w.update(0, 400), 200);
  EXPECT_EQ(w.watermark(), 200);

  InputWatermarks one(1);
  EXPECT_EQ(one.update(0, 5), 5);
  EXPECT_EQ(one.update(0, 3), 5);
}

// ------------------------------------------------------------------ randomized

struct Event {
  std::string key;
  int64_t t;
};

// (key, start, end) -> (messages, step at which it closed; -1: close_all)
using Outcome = std::map<std::tuple<std::string, int64_t, int64_t>, std::pair<uint64_t, int>>;

// Events arriving roughly in time order, some later than the delay, several keys, times
// around zero (negative ones included); the watermark advances every few events as a
// source with max_delay would report it.
std::vector<Event> random_events(std::mt19937_64& rng, int n, int keys) {
  std::vector<Event> events;
  int64_t base = -3000;
  for (int i = 0; i < n; ++i) {
    base += static_cast<int64_t>(rng() % 6);
    const int64_t jitter = (rng() % 10 == 0) ? static_cast<int64_t>(rng() % 400)
                                              : static_cast<int64_t>(rng() % 40);
    events.push_back({"k" + std::to_string(rng() % keys), base - jitter});
  }
  return events;
}

// Watermark after each event (what the book is advanced to after it, or kNoWatermark
// when it is not advanced then), as a source with this delay would report it.
std::vector<int64_t> source_watermarks(std::mt19937_64& rng, const std::vector<Event>& ev,
                                       int64_t max_delay) {
  SourceWatermark source(max_delay, 0, 0);
  std::vector<int64_t> out;
  for (const Event& e : ev) {
    source.observe(e.t, 0);
    out.push_back(rng() % 7 == 0 ? source.watermark() : kNoWatermark);
  }
  return out;
}

// Runs the book like an engine would (counting per window id, folding merges), and
// checks its own reports on the way.
struct RunStats {
  uint64_t late = 0;
  uint64_t merges = 0;          // sessions absorbed
  uint64_t closed_skipped = 0;  // sliding windows missed as closed
  uint64_t appends_after_end = 0;  // accepted after the watermark passed the window end
};

Outcome run_book(WindowBook& book, const std::vector<Event>& ev,
                 const std::vector<int64_t>& wms, RunStats* stats) {
  Outcome out;
  std::vector<uint64_t> count;
  AddResult r;
  std::vector<ClosedWindow> closed;
  auto record = [&](int step) {
    for (const ClosedWindow& c : closed) {
      EXPECT_EQ(count.at(c.id), c.messages);
      auto [it, fresh] = out.emplace(std::make_tuple(c.key, c.window.start, c.window.end),
                                     std::make_pair(c.messages, step));
      EXPECT_TRUE(fresh) << "closed twice: " << c.key << " " << c.window.start;
      count[c.id] = 0;
    }
  };
  for (size_t i = 0; i < ev.size(); ++i) {
    book.add(ev[i].key, ev[i].t, &r);
    if (count.size() < book.id_limit()) count.resize(book.id_limit());
    EXPECT_EQ(r.late, r.appended.empty());
    stats->merges += r.merged.size();
    stats->closed_skipped += r.closed_skipped;
    for (const WindowRef& m : r.merged) {
      count[r.appended.at(0).id] += count[m.id];
      count[m.id] = 0;
    }
    for (const WindowAppend& a : r.appended) {
      if (a.opened) {
        EXPECT_EQ(count[a.id], 0u);
      }
      EXPECT_LE(a.window.start, ev[i].t);
      EXPECT_LT(ev[i].t, a.window.end);
      if (a.window.end <= book.watermark() && book.watermark() != kNoWatermark) {
        ++stats->appends_after_end;
      }
      ++count[a.id];
    }
    if (wms[i] != kNoWatermark) {
      book.advance_watermark(wms[i], &closed);
      record(static_cast<int>(i));
    }
  }
  book.close_all(&closed);
  record(-1);
  EXPECT_EQ(book.open_windows(), 0u);
  stats->late = book.late_messages();
  return out;
}

// Fixed/sliding reference: a message goes into every grid window containing it whose
// end is above the bound (watermark - lateness) current at its arrival; a window closes
// at the first watermark step whose bound reaches its end.
Outcome reference_aligned(int64_t length, int64_t slide, int64_t lateness,
                          const std::vector<Event>& ev, const std::vector<int64_t>& wms,
                          uint64_t* late) {
  Outcome out;
  int64_t bound = kNoWatermark;
  std::vector<int64_t> bound_at(ev.size());
  for (size_t i = 0; i < ev.size(); ++i) {
    bound_at[i] = bound;
    if (wms[i] != kNoWatermark && wms[i] - lateness > bound) bound = wms[i] - lateness;
  }
  *late = 0;
  for (size_t i = 0; i < ev.size(); ++i) {
    const int64_t t = ev[i].t;
    bool any = false;
    for (int64_t s = (t / slide - length / slide - 2) * slide; s <= t + slide; s += slide) {
      if (!(s <= t && t < s + length)) continue;
      if (s + length <= bound_at[i]) continue;
      any = true;
      auto& entry = out[std::make_tuple(ev[i].key, s, s + length)];
      ++entry.first;
    }
    if (!any) ++*late;
  }
  for (auto& [w, v] : out) {
    v.second = -1;
    int64_t b = kNoWatermark;
    for (size_t i = 0; i < ev.size(); ++i) {
      if (wms[i] == kNoWatermark) continue;
      b = std::max(b, wms[i] - lateness);
      if (std::get<2>(w) <= b) {
        v.second = static_cast<int>(i);
        break;
      }
    }
  }
  return out;
}

// Session reference: per key, the accepted messages not yet closed; their sessions are
// recomputed from scratch (sort, chain while the next time < the running end) whenever
// needed. A message is late when it overlaps none of them and its own interval is closed.
Outcome reference_session(int64_t gap, int64_t lateness, const std::vector<Event>& ev,
                          const std::vector<int64_t>& wms, uint64_t* late) {
  struct Session {
    int64_t start, end;
    uint64_t count;
  };
  std::map<std::string, std::vector<int64_t>> open;  // key -> accepted times
  auto sessions = [&](std::vector<int64_t> ts) {
    std::sort(ts.begin(), ts.end());
    std::vector<Session> out;
    for (int64_t t : ts) {
      if (!out.empty() && t < out.back().end) {
        out.back().end = std::max(out.back().end, t + gap);
        ++out.back().count;
      } else {
        out.push_back({t, t + gap, 1});
      }
    }
    return out;
  };
  Outcome out;
  int64_t bound = kNoWatermark;
  *late = 0;
  for (size_t i = 0; i < ev.size(); ++i) {
    const int64_t t = ev[i].t;
    bool overlaps = false;
    for (const Session& s : sessions(open[ev[i].key])) overlaps |= (s.start < t + gap && t < s.end);
    if (!overlaps && t + gap <= bound) {
      ++*late;
    } else {
      open[ev[i].key].push_back(t);
    }
    if (wms[i] != kNoWatermark && wms[i] - lateness > bound) {
      bound = wms[i] - lateness;
      for (auto& [key, ts] : open) {
        std::vector<int64_t> keep;
        for (const Session& s : sessions(ts)) {
          if (s.end <= bound) {
            out[std::make_tuple(key, s.start, s.end)] = {s.count, static_cast<int>(i)};
          }
        }
        for (int64_t x : ts) {
          bool closed = false;
          for (const Session& s : sessions(ts)) {
            closed |= (s.start <= x && x < s.end && s.end <= bound);
          }
          if (!closed) keep.push_back(x);
        }
        ts = keep;
      }
    }
  }
  for (auto& [key, ts] : open) {
    for (const Session& s : sessions(ts)) out[std::make_tuple(key, s.start, s.end)] = {s.count, -1};
  }
  return out;
}

void expect_same(const Outcome& book, const Outcome& ref) {
  EXPECT_EQ(book.size(), ref.size());
  for (const auto& [w, v] : ref) {
    auto it = book.find(w);
    if (it == book.end()) {
      ADD_FAILURE() << "missing window " << std::get<0>(w) << " [" << std::get<1>(w) << ","
                    << std::get<2>(w) << ")";
      continue;
    }
    EXPECT_EQ(it->second, v) << std::get<0>(w) << " [" << std::get<1>(w) << ","
                             << std::get<2>(w) << ")";
  }
}

TEST(WindowRandomized, FixedAndSlidingMatchReference) {
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    std::mt19937_64 rng(seed);
    const int64_t length = 100;
    const int64_t slide = (seed % 3 == 0) ? 100 : (seed % 3 == 1 ? 25 : 50);
    const int64_t lateness = (seed % 2) ? 0 : 60;
    SCOPED_TRACE("seed " + std::to_string(seed) + " slide " + std::to_string(slide) +
                 " lateness " + std::to_string(lateness));
    const std::vector<Event> ev = random_events(rng, 3000, 1 + static_cast<int>(seed % 9));
    const std::vector<int64_t> wms = source_watermarks(rng, ev, /*max_delay=*/50);
    auto book = aligned_book(sliding(length, slide), lateness);
    RunStats stats;
    uint64_t ref_late = 0;
    const Outcome got = run_book(*book, ev, wms, &stats);
    const Outcome want = reference_aligned(length, slide, lateness, ev, wms, &ref_late);
    expect_same(got, want);
    EXPECT_EQ(stats.late, ref_late);
    // The run does exercise what it is meant to.
    EXPECT_GT(ref_late, 0u);
    if (slide < length) {
      EXPECT_GT(stats.closed_skipped, 0u);
    }
    if (lateness > 0) {
      EXPECT_GT(stats.appends_after_end, 0u);
    }
  }
}

TEST(WindowRandomized, SessionMatchesReference) {
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    std::mt19937_64 rng(seed);
    const int64_t gap = (seed % 3 == 0) ? 8 : (seed % 3 == 1 ? 20 : 60);
    const int64_t lateness = (seed % 2) ? 0 : 60;
    SCOPED_TRACE("seed " + std::to_string(seed) + " gap " + std::to_string(gap) +
                 " lateness " + std::to_string(lateness));
    const std::vector<Event> ev = random_events(rng, 1500, 2 + static_cast<int>(seed % 9));
    const std::vector<int64_t> wms = source_watermarks(rng, ev, /*max_delay=*/50);
    auto book = session_book(gap, lateness);
    RunStats stats;
    uint64_t ref_late = 0;
    const Outcome got = run_book(*book, ev, wms, &stats);
    const Outcome want = reference_session(gap, lateness, ev, wms, &ref_late);
    expect_same(got, want);
    EXPECT_EQ(stats.late, ref_late);
    EXPECT_GT(ref_late, 0u);
    EXPECT_GT(stats.merges, 0u);
    if (lateness > 0) {
      EXPECT_GT(stats.appends_after_end, 0u);
    }
  }
}

}  // namespace
}  // namespace sluice::host
