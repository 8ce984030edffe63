// Lineage counting and AckInbox, the source side of completion tracking.
#include "sluice/host/lineage.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "sluice/host/ack_inbox.h"

namespace sluice::host {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Counts completions, in total and per record.
class CountingOwner : public LineageOwner {
 public:
  void on_complete(Lineage* lineage) noexcept override {
    ++total;
    last = lineage;
  }
  std::atomic<int> total{0};
  std::atomic<Lineage*> last{nullptr};
};

TEST(Lineage, ResetStartsAtOneAndNotFailed) {
  CountingOwner owner;
  Lineage l;
  l.reset(&owner, "offset-17");
  EXPECT_EQ(l.live(), 1);
  EXPECT_FALSE(l.failed());
  EXPECT_EQ(l.source_id(), "offset-17");
  EXPECT_EQ(owner.total, 0);
}

TEST(Lineage, SinkingTheOnlyMessageCompletes) {
  CountingOwner owner;
  Lineage l;
  l.reset(&owner, "id");
  l.adjust(-1);  // the sink finished it
  EXPECT_EQ(l.live(), 0);
  EXPECT_EQ(owner.total, 1);
  EXPECT_EQ(owner.last, &l);
}

TEST(Lineage, FilteringCompletes) {
  // A map that produces nothing from its input adjusts by 0 - 1.
  CountingOwner owner;
  Lineage l;
  l.reset(&owner, "id");
  l.adjust(0 - 1);
  EXPECT_EQ(owner.total, 1);
}

TEST(Lineage, OneToOneStageDoesNotChangeTheCount) {
  CountingOwner owner;
  Lineage l;
  l.reset(&owner, "id");
  l.adjust(1 - 1);  // a no-op adjustment
  EXPECT_EQ(l.live(), 1);
  EXPECT_EQ(owner.total, 0);
}

TEST(Lineage, FanOutCompletesOnlyAfterEveryCopyIsSunk) {
  CountingOwner owner;
  Lineage l;
  l.reset(&owner, "id");
  l.adjust(3 - 1);  // a map emits 3 messages
  EXPECT_EQ(l.live(), 3);
  l.adjust(-1);
  l.adjust(-1);
  EXPECT_EQ(owner.total, 0);
  l.adjust(-1);
  EXPECT_EQ(owner.total, 1);
}

TEST(Lineage, MultiStepFanOutAndFilter) {
  // source -> map (x2) -> map (one copy x3, the other filtered) -> sink.
  CountingOwner owner;
  Lineage l;
  l.reset(&owner, "id");
  l.adjust(2 - 1);
  l.adjust(3 - 1);
  l.adjust(0 - 1);
  EXPECT_EQ(l.live(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(owner.total, 0);
    l.adjust(-1);
  }
  EXPECT_EQ(owner.total, 1);
}

TEST(Lineage, MarkFailedIsSticky) {
  CountingOwner owner;
  Lineage l;
  l.reset(&owner, "id");
  l.adjust(1);
  l.mark_failed();
  EXPECT_TRUE(l.failed());
  l.adjust(-1);
  EXPECT_TRUE(l.failed());
  l.adjust(-1);
  EXPECT_EQ(owner.total, 1);
  EXPECT_TRUE(l.failed()) << "the owner sees the failure at completion";
}

TEST(Lineage, ResetClearsFailedAndRestarts) {
  CountingOwner owner;
  Lineage l;
  l.reset(&owner, "first");
  l.mark_failed();
  l.adjust(-1);
  ASSERT_EQ(owner.total, 1);

  CountingOwner second;
  l.reset(&second, "second");
  EXPECT_FALSE(l.failed());
  EXPECT_EQ(l.live(), 1);
  EXPECT_EQ(l.source_id(), "second");
  l.adjust(-1);
  EXPECT_EQ(second.total, 1);
  EXPECT_EQ(owner.total, 1) << "the new owner is told, not the old one";
}

TEST(Lineage, CompletesExactlyOnceUnderConcurrentAdjusts) {
  constexpr int kThreads = 8;
  constexpr int kRecords = 100'000;

  // Per-record completion counts, to catch a record completed twice or never.
  struct PerRecordOwner : LineageOwner {
    explicit PerRecordOwner(const std::vector<Lineage>* records, int n)
        : base(records->data()), counts(n) {}
    void on_complete(Lineage* l) noexcept override {
      counts[static_cast<size_t>(l - base)].fetch_add(1, std::memory_order_relaxed);
      total.fetch_add(1, std::memory_order_relaxed);
    }
    const Lineage* base;
    std::vector<std::atomic<int>> counts;
    std::atomic<int> total{0};
  };
  std::vector<Lineage> records(kRecords);
  PerRecordOwner owner(&records, kRecords);
  for (Lineage& l : records) {
    l.reset(&owner, "x");
    l.adjust(kThreads - 1);  // fanned out to one descendant per thread
  }

  // Every thread finishes one descendant of every record; they start together and go
  // through the records in different orders so that the last decrement races.
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();
      for (int i = 0; i < kRecords; ++i) {
        const int index = (t % 2 == 0) ? i : kRecords - 1 - i;
        if (t % 4 >= 2) {  // some threads adjust in two steps (+1, then -2)
          records[index].adjust(+1);
          records[index].adjust(-2);
        } else {
          records[index].adjust(-1);
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();

  EXPECT_EQ(owner.total.load(), kRecords);
  int wrong = 0;
  for (int i = 0; i < kRecords; ++i) {
    if (owner.counts[i].load() != 1) ++wrong;
    if (records[i].live() != 0) ++wrong;
  }
  EXPECT_EQ(wrong, 0) << "records completed other than exactly once";
}

TEST(AckInbox, MakeCountsOneOutstandingMessage) {
  AckInbox inbox;
  EXPECT_EQ(inbox.outstanding(), 0);
  Lineage* l = inbox.make("offset-1");
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->live(), 1);
  EXPECT_EQ(l->source_id(), "offset-1");
  EXPECT_FALSE(l->failed());
  EXPECT_EQ(inbox.outstanding(), 1);
  inbox.make("offset-2");
  EXPECT_EQ(inbox.outstanding(), 2);
}

TEST(AckInbox, CompletedRecordsAreTakenOnce) {
  AckInbox inbox;
  Lineage* a = inbox.make("a");
  Lineage* b = inbox.make("b");
  inbox.make("c");
  b->adjust(-1);
  a->adjust(-1);
  EXPECT_EQ(inbox.outstanding(), 1);

  std::vector<Lineage*> done;
  inbox.take_completed(&done);
  EXPECT_EQ(done, (std::vector<Lineage*>{b, a})) << "in completion order";
  inbox.take_completed(&done);
  EXPECT_TRUE(done.empty()) << "taken records are not handed out again";
}

TEST(AckInbox, TakeCompletedClearsTheOutputFirst) {
  AckInbox inbox;
  std::vector<Lineage*> done = {nullptr, nullptr};
  inbox.take_completed(&done);
  EXPECT_TRUE(done.empty());
}

TEST(AckInbox, FailedRecordIsStillCompletedAndReportsTheFailure) {
  AckInbox inbox;
  Lineage* l = inbox.make("a");
  l->mark_failed();
  l->adjust(-1);
  std::vector<Lineage*> done;
  inbox.take_completed(&done);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_TRUE(done[0]->failed());
  EXPECT_EQ(done[0]->source_id(), "a");
}

TEST(AckInbox, CancelNeitherCompletesNorStaysOutstanding) {
  AckInbox inbox;
  Lineage* kept = inbox.make("kept");
  Lineage* cancelled = inbox.make("cancelled");
  inbox.cancel(cancelled);
  EXPECT_EQ(inbox.outstanding(), 1);
  std::vector<Lineage*> done;
  inbox.take_completed(&done);
  EXPECT_TRUE(done.empty());
  (void)kept;
}

TEST(AckInbox, CancelledRecordIsReused) {
  AckInbox inbox;
  Lineage* cancelled = inbox.make("old");
  inbox.cancel(cancelled);
  Lineage* next = inbox.make("new");
  EXPECT_EQ(next, cancelled);
  EXPECT_EQ(next->source_id(), "new");
  EXPECT_EQ(next->live(), 1);
  EXPECT_EQ(inbox.outstanding(), 1);
}

TEST(AckInbox, RecycledRecordsAreReusedFreshlyReset) {
  AckInbox inbox;
  Lineage* l = inbox.make("first");
  l->mark_failed();
  l->adjust(-1);
  std::vector<Lineage*> done;
  inbox.take_completed(&done);
  ASSERT_EQ(done, std::vector<Lineage*>{l});
  inbox.recycle(done);

  Lineage* again = inbox.make("second");
  EXPECT_EQ(again, l) << "a recycled record is reused before a new one is made";
  EXPECT_EQ(again->live(), 1);
  EXPECT_FALSE(again->failed());
  EXPECT_EQ(again->source_id(), "second");
  Lineage* fresh = inbox.make("third");
  EXPECT_NE(fresh, l);
  again->adjust(-1);
  inbox.take_completed(&done);
  EXPECT_EQ(done, std::vector<Lineage*>{l});
}

TEST(AckInbox, OutstandingAccounting) {
  AckInbox inbox;
  std::vector<Lineage*> made;
  for (int i = 0; i < 5; ++i) made.push_back(inbox.make(std::to_string(i)));
  EXPECT_EQ(inbox.outstanding(), 5);
  made[0]->adjust(-1);          // completed
  inbox.cancel(made[1]);        // never left
  made[2]->adjust(+2);          // fanned out to three: still one outstanding message
  EXPECT_EQ(inbox.outstanding(), 3);
  made[2]->adjust(-3);
  EXPECT_EQ(inbox.outstanding(), 2);
  std::vector<Lineage*> done;
  inbox.take_completed(&done);
  inbox.recycle(done);
  EXPECT_EQ(inbox.outstanding(), 2) << "taking and recycling does not change it";
  made[3]->adjust(-1);
  made[4]->adjust(-1);
  EXPECT_EQ(inbox.outstanding(), 0);
}

TEST(AckInbox, WaitReturnsWhenARecordCompletesOnAnotherThread) {
  AckInbox inbox;
  Lineage* l = inbox.make("a");
  std::atomic<bool> waiting{false};
  std::thread completer([&] {
    while (!waiting.load()) std::this_thread::yield();
    l->adjust(-1);
  });
  const auto start = Clock::now();
  waiting.store(true);
  inbox.wait(start + 30s);
  EXPECT_LT(Clock::now() - start, 10s) << "wait must wake on completion";
  completer.join();
  std::vector<Lineage*> done;
  inbox.take_completed(&done);
  EXPECT_EQ(done, std::vector<Lineage*>{l});
}

TEST(AckInbox, WaitReturnsAtOnceWhenSomethingIsAlreadyCompleted) {
  AckInbox inbox;
  inbox.make("a")->adjust(-1);
  const auto start = Clock::now();
  inbox.wait(start + 30s);
  EXPECT_LT(Clock::now() - start, 10s);
}

TEST(AckInbox, WaitReturnsOnInterrupt) {
  AckInbox inbox;
  inbox.make("a");  // outstanding, never completes
  std::atomic<bool> waiting{false};
  std::thread interrupter([&] {
    while (!waiting.load()) std::this_thread::yield();
    inbox.interrupt();
  });
  const auto start = Clock::now();
  waiting.store(true);
  inbox.wait(start + 30s);
  EXPECT_LT(Clock::now() - start, 10s) << "wait must wake on interrupt";
  interrupter.join();
  std::vector<Lineage*> done;
  inbox.take_completed(&done);
  EXPECT_TRUE(done.empty());
}

TEST(AckInbox, WaitTimesOutWithNothingCompleted) {
  AckInbox inbox;
  inbox.make("a");
  const auto start = Clock::now();
  inbox.wait(start + 2ms);
  EXPECT_GE(Clock::now() - start, 2ms);
}

TEST(AckInbox, ConcurrentCompletionsAreEachTakenExactlyOnce) {
  constexpr int kThreads = 8;
  constexpr int kRecords = 20'000;
  AckInbox inbox;
  std::vector<Lineage*> records;
  for (int i = 0; i < kRecords; ++i) {
    Lineage* l = inbox.make(std::to_string(i));
    l->adjust(kThreads - 1);
    records.push_back(l);
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      for (Lineage* l : records) l->adjust(-1);
    });
  // The source thread drains while the workers complete.
  std::set<Lineage*> taken;
  size_t duplicates = 0;
  std::vector<Lineage*> done;
  while (taken.size() + duplicates < static_cast<size_t>(kRecords)) {
    inbox.wait(Clock::now() + 5s);
    inbox.take_completed(&done);
    for (Lineage* l : done) duplicates += taken.insert(l).second ? 0 : 1;
    if (done.empty() && inbox.outstanding() == 0) break;  // all taken (or a bug)
  }
  for (std::thread& t : threads) t.join();
  inbox.take_completed(&done);
  for (Lineage* l : done) duplicates += taken.insert(l).second ? 0 : 1;

  EXPECT_EQ(duplicates, 0u);
  EXPECT_EQ(taken.size(), static_cast<size_t>(kRecords));
  EXPECT_EQ(inbox.outstanding(), 0);
}

}  // namespace
}  // namespace sluice::host
