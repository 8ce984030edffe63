// BatchQueue: bounded (in messages) MPMC queue of batches, end of input, abort.
#include "sluice/host/batch_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sluice::host {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A batch of messages whose values are `values` (no keys, no parent).
std::unique_ptr<MessageBatch> make_batch(const std::vector<std::string>& values) {
  auto batch = std::make_unique<MessageBatch>();
  for (const std::string& v : values) {
    sluice_output out{};
    out.struct_size = sizeof(out);
    out.value = {reinterpret_cast<const uint8_t*>(v.data()), v.size()};
    batch->append(out, nullptr, v, 1, nullptr);
  }
  return batch;
}

// A batch of `n` messages valued "<prefix>0", "<prefix>1", ...
std::unique_ptr<MessageBatch> make_batch(size_t n, const std::string& prefix = "m") {
  std::vector<std::string> values;
  for (size_t i = 0; i < n; ++i) values.push_back(prefix + std::to_string(i));
  return make_batch(values);
}

std::vector<std::string> values_of(const MessageBatch& batch) {
  std::vector<std::string> out;
  for (size_t i = 0; i < batch.size(); ++i) out.emplace_back(batch.value(i));
  return out;
}

// A one-shot flag another thread can wait for (no sleeps).
class Signal {
 public:
  void set() {
    std::lock_guard<std::mutex> lock(mutex_);
    set_ = true;
    cv_.notify_all();
  }
  // True when set within `timeout` (a generous bound: only a hang would exceed it).
  bool wait(std::chrono::milliseconds timeout = 5000ms) {
    std::unique_lock<std::mutex> lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return set_; });
  }
  bool is_set() {
    std::lock_guard<std::mutex> lock(mutex_);
    return set_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool set_ = false;
};

// Gives a thread that signalled "about to block" time to actually block. Only used to
// make a negative check ("has not returned yet") meaningful: it cannot cause a false
// failure, only (very rarely) a check that proves less than intended.
void let_it_block() { std::this_thread::sleep_for(3ms); }

TEST(BatchQueue, PopsBatchesInFifoOrder) {
  BatchQueue q(100);
  q.add_producer();
  for (const char* prefix : {"a", "b", "c"}) {
    auto b = make_batch(2, prefix);
    ASSERT_TRUE(q.push(b));
    EXPECT_EQ(b, nullptr) << "push takes the batch";
  }
  q.producer_done();
  for (const char* prefix : {"a", "b", "c"}) {
    auto b = q.pop();
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(values_of(*b), (std::vector<std::string>{std::string(prefix) + "0",
                                                        std::string(prefix) + "1"}));
  }
  EXPECT_EQ(q.pop(), nullptr);
}

TEST(BatchQueue, EmptyAndNullBatchesAreIgnored) {
  BatchQueue q(10);
  q.add_producer();
  auto empty = std::make_unique<MessageBatch>();
  std::unique_ptr<MessageBatch> null;
  EXPECT_TRUE(q.push(empty));
  EXPECT_TRUE(q.push(null));
  EXPECT_EQ(q.depth(), 0u);
  EXPECT_EQ(q.try_pop(), nullptr);
}

TEST(BatchQueue, ZeroCapacityMeansOne) {
  BatchQueue q(0);
  EXPECT_EQ(q.capacity(), 1u);
}

TEST(BatchQueue, DepthCountsMessagesNotBatches) {
  BatchQueue q(100);
  q.add_producer();
  EXPECT_EQ(q.depth(), 0u);
  auto three = make_batch(3);
  auto two = make_batch(2);
  ASSERT_TRUE(q.push(three));
  EXPECT_EQ(q.depth(), 3u);
  ASSERT_TRUE(q.push(two));
  EXPECT_EQ(q.depth(), 5u);
  ASSERT_NE(q.pop(), nullptr);
  EXPECT_EQ(q.depth(), 2u);
  ASSERT_NE(q.try_pop(), nullptr);
  EXPECT_EQ(q.depth(), 0u);
}

TEST(BatchQueue, PushFillingExactlyToCapacityDoesNotBlock) {
  BatchQueue q(5);
  q.add_producer();
  auto three = make_batch(3);
  auto two = make_batch(2);
  ASSERT_TRUE(q.push(three));
  ASSERT_TRUE(q.push(two));  // 3 + 2 == capacity: must not block
  EXPECT_EQ(q.depth(), 5u);
}

TEST(BatchQueue, FullQueueBlocksProducerUntilPopFreesRoom) {
  BatchQueue q(4);
  q.add_producer();
  auto first = make_batch(3, "first");
  ASSERT_TRUE(q.push(first));

  Signal pushing, pushed;
  bool push_result = false;
  std::thread producer([&] {
    auto second = make_batch(2, "second");  // 3 + 2 > 4: must wait
    pushing.set();
    push_result = q.push(second);
    pushed.set();
  });
  ASSERT_TRUE(pushing.wait());
  let_it_block();
  EXPECT_FALSE(pushed.is_set()) << "push must block while the batch does not fit";
  EXPECT_EQ(q.depth(), 3u);

  auto popped = q.pop();
  ASSERT_NE(popped, nullptr);
  EXPECT_EQ(popped->value(0), "first0");
  EXPECT_TRUE(pushed.wait()) << "a pop that frees room must wake the producer";
  producer.join();
  EXPECT_TRUE(push_result);
  EXPECT_EQ(q.depth(), 2u);
  auto second = q.try_pop();
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->value(0), "second0");
}

TEST(BatchQueue, OversizeBatchGoesIntoAnEmptyQueue) {
  BatchQueue q(2);
  q.add_producer();
  auto big = make_batch(5);
  ASSERT_TRUE(q.push(big));  // would deadlock if it waited for room
  EXPECT_EQ(big, nullptr);
  EXPECT_EQ(q.depth(), 5u);
  auto popped = q.pop();
  ASSERT_NE(popped, nullptr);
  EXPECT_EQ(popped->size(), 5u);
}

TEST(BatchQueue, OversizeBatchBlocksTheNextPushUntilPopped) {
  BatchQueue q(2);
  q.add_producer();
  auto big = make_batch(5);
  ASSERT_TRUE(q.push(big));

  Signal pushing, pushed;
  std::thread producer([&] {
    auto small = make_batch(1, "small");
    pushing.set();
    EXPECT_TRUE(q.push(small));
    pushed.set();
  });
  ASSERT_TRUE(pushing.wait());
  let_it_block();
  EXPECT_FALSE(pushed.is_set()) << "the queue is over capacity: nothing more fits";
  ASSERT_NE(q.pop(), nullptr);
  EXPECT_TRUE(pushed.wait());
  producer.join();
  EXPECT_EQ(q.depth(), 1u);
}

TEST(BatchQueue, PopReturnsNullOnlyAfterEveryProducerIsDone) {
  BatchQueue q(100);
  q.add_producer();
  q.add_producer();
  auto b = make_batch(1);
  ASSERT_TRUE(q.push(b));
  q.producer_done();  // one of two
  EXPECT_FALSE(q.finished());
  ASSERT_NE(q.pop(), nullptr) << "queued batches are still delivered";
  EXPECT_FALSE(q.finished()) << "a producer is still registered";
  EXPECT_EQ(q.try_pop(), nullptr);

  q.producer_done();
  EXPECT_TRUE(q.finished());
  EXPECT_EQ(q.pop(), nullptr);
  EXPECT_EQ(q.pop(), nullptr) << "end of input is sticky";
}

TEST(BatchQueue, QueuedBatchesDrainBeforeEndOfInput) {
  BatchQueue q(100);
  q.add_producer();
  auto a = make_batch(1, "a");
  auto b = make_batch(1, "b");
  ASSERT_TRUE(q.push(a));
  ASSERT_TRUE(q.push(b));
  q.producer_done();
  EXPECT_FALSE(q.finished()) << "done producers, but batches still queued";
  ASSERT_NE(q.pop(), nullptr);
  ASSERT_NE(q.pop(), nullptr);
  EXPECT_TRUE(q.finished());
  EXPECT_EQ(q.pop(), nullptr);
}

TEST(BatchQueue, LastProducerDoneWakesABlockedConsumer) {
  BatchQueue q(100);
  q.add_producer();
  q.add_producer();
  Signal popping, popped;
  std::unique_ptr<MessageBatch> result = make_batch(1);  // must become null
  std::thread consumer([&] {
    popping.set();
    result = q.pop();
    popped.set();
  });
  ASSERT_TRUE(popping.wait());
  q.producer_done();
  let_it_block();
  EXPECT_FALSE(popped.is_set()) << "one producer is still registered";
  q.producer_done();
  EXPECT_TRUE(popped.wait());
  consumer.join();
  EXPECT_EQ(result, nullptr);
}

TEST(BatchQueue, PushWakesABlockedConsumer) {
  BatchQueue q(100);
  q.add_producer();
  Signal popping;
  std::unique_ptr<MessageBatch> result;
  std::thread consumer([&] {
    popping.set();
    result = q.pop();
  });
  ASSERT_TRUE(popping.wait());
  auto b = make_batch(1, "x");
  ASSERT_TRUE(q.push(b));
  consumer.join();
  ASSERT_NE(result, nullptr);
  EXPECT_EQ(result->value(0), "x0");
}

TEST(BatchQueue, PopUntilTimesOutOnAnEmptyQueue) {
  BatchQueue q(100);
  q.add_producer();
  bool timed_out = false;
  const auto start = Clock::now();
  EXPECT_EQ(q.pop_until(start + 2ms, &timed_out), nullptr);
  EXPECT_TRUE(timed_out);
  EXPECT_GE(Clock::now() - start, 2ms);
}

TEST(BatchQueue, PopUntilReturnsAQueuedBatchWithoutTimingOut) {
  BatchQueue q(100);
  q.add_producer();
  auto b = make_batch(1);
  ASSERT_TRUE(q.push(b));
  bool timed_out = true;
  EXPECT_NE(q.pop_until(Clock::now() + 5s, &timed_out), nullptr);
  EXPECT_FALSE(timed_out);
}

TEST(BatchQueue, PopUntilAtEndOfInputIsNotATimeout) {
  BatchQueue q(100);
  q.add_producer();
  q.producer_done();
  bool timed_out = true;
  EXPECT_EQ(q.pop_until(Clock::now() + 5s, &timed_out), nullptr);
  EXPECT_FALSE(timed_out);
}

TEST(BatchQueue, PopUntilInThePastStillReturnsAQueuedBatch) {
  BatchQueue q(100);
  q.add_producer();
  auto b = make_batch(1);
  ASSERT_TRUE(q.push(b));
  bool timed_out = true;
  EXPECT_NE(q.pop_until(Clock::now() - 1s, &timed_out), nullptr);
  EXPECT_FALSE(timed_out);
}

TEST(BatchQueue, AbortWakesABlockedProducerAndLeavesItTheBatch) {
  BatchQueue q(1);
  q.add_producer();
  auto first = make_batch(1);
  ASSERT_TRUE(q.push(first));

  Signal pushing, returned;
  bool push_result = true;
  std::unique_ptr<MessageBatch> second = make_batch(1, "second");
  std::thread producer([&] {
    pushing.set();
    push_result = q.push(second);
    returned.set();
  });
  ASSERT_TRUE(pushing.wait());
  let_it_block();
  EXPECT_FALSE(returned.is_set());
  q.abort();
  EXPECT_TRUE(returned.wait()) << "abort must wake a producer waiting for room";
  producer.join();
  EXPECT_FALSE(push_result);
  ASSERT_NE(second, nullptr) << "a failed push leaves the batch with the caller";
  EXPECT_EQ(second->value(0), "second0");
}

TEST(BatchQueue, AbortWakesABlockedConsumer) {
  BatchQueue q(10);
  q.add_producer();
  Signal popping, returned;
  std::unique_ptr<MessageBatch> result = make_batch(1);  // must become null
  std::thread consumer([&] {
    popping.set();
    result = q.pop();
    returned.set();
  });
  ASSERT_TRUE(popping.wait());
  q.abort();
  EXPECT_TRUE(returned.wait()) << "abort must wake a consumer waiting for input";
  consumer.join();
  EXPECT_EQ(result, nullptr);
}

TEST(BatchQueue, AbortWakesAConsumerInPopUntil) {
  BatchQueue q(10);
  q.add_producer();
  Signal popping;
  bool timed_out = true;
  std::unique_ptr<MessageBatch> result = make_batch(1);
  std::thread consumer([&] {
    popping.set();
    result = q.pop_until(Clock::now() + 30s, &timed_out);
  });
  ASSERT_TRUE(popping.wait());
  const auto start = Clock::now();
  q.abort();
  consumer.join();
  EXPECT_LT(Clock::now() - start, 10s);
  EXPECT_EQ(result, nullptr);
  EXPECT_FALSE(timed_out);
}

TEST(BatchQueue, PushAfterAbortFailsAndLeavesTheBatchWithTheCaller) {
  BatchQueue q(10);
  q.add_producer();
  q.abort();
  EXPECT_TRUE(q.aborted());
  auto b = make_batch(2, "kept");
  EXPECT_FALSE(q.push(b));
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(values_of(*b), (std::vector<std::string>{"kept0", "kept1"}));
  EXPECT_EQ(q.depth(), 0u);
}

TEST(BatchQueue, AfterAbortQueuedBatchesStayCountedButAreNotDelivered) {
  BatchQueue q(10);
  q.add_producer();
  auto b = make_batch(3);
  ASSERT_TRUE(q.push(b));
  q.abort();
  EXPECT_EQ(q.depth(), 3u) << "what is queued stays countable";
  EXPECT_EQ(q.pop(), nullptr);
  EXPECT_EQ(q.try_pop(), nullptr);
  bool timed_out = true;
  EXPECT_EQ(q.pop_until(Clock::now() + 5s, &timed_out), nullptr);
  EXPECT_FALSE(timed_out);
  EXPECT_EQ(q.depth(), 3u);
}

TEST(BatchQueue, ManyProducersAndConsumersMoveEveryMessageExactlyOnce) {
  constexpr int kProducers = 4;
  constexpr int kConsumers = 4;
  constexpr int kBatchesPerProducer = 500;
  constexpr int kMaxBatch = 7;
  BatchQueue q(16);  // small: producers block often
  for (int p = 0; p < kProducers; ++p) q.add_producer();

  std::vector<std::thread> threads;
  std::vector<size_t> sent(kProducers, 0);
  for (int p = 0; p < kProducers; ++p) {
    threads.emplace_back([&, p] {
      size_t seq = 0;
      for (int b = 0; b < kBatchesPerProducer; ++b) {
        const size_t n = 1 + static_cast<size_t>((p + b) % kMaxBatch);
        std::vector<std::string> values;
        for (size_t i = 0; i < n; ++i)
          values.push_back(std::to_string(p) + ":" + std::to_string(seq++));
        auto batch = make_batch(values);
        EXPECT_TRUE(q.push(batch));
      }
      sent[p] = seq;
      q.producer_done();
    });
  }
  std::vector<std::vector<std::string>> received(kConsumers);
  for (int c = 0; c < kConsumers; ++c) {
    threads.emplace_back([&, c] {
      while (auto batch = q.pop())
        for (size_t i = 0; i < batch->size(); ++i) received[c].emplace_back(batch->value(i));
    });
  }
  for (std::thread& t : threads) t.join();

  // Every message exactly once, and each consumer saw each producer's messages in order.
  std::map<std::string, int> seen;
  for (int c = 0; c < kConsumers; ++c) {
    std::vector<long> last(kProducers, -1);
    for (const std::string& v : received[c]) {
      ++seen[v];
      const size_t colon = v.find(':');
      const int p = std::stoi(v.substr(0, colon));
      const long seq = std::stol(v.substr(colon + 1));
      EXPECT_GT(seq, last[p]) << "consumer " << c << " got " << v << " out of order";
      last[p] = seq;
    }
  }
  size_t total_sent = 0;
  for (int p = 0; p < kProducers; ++p) {
    total_sent += sent[p];
    for (size_t s = 0; s < sent[p]; ++s) {
      const std::string v = std::to_string(p) + ":" + std::to_string(s);
      ASSERT_EQ(seen[v], 1) << v;
    }
  }
  EXPECT_EQ(seen.size(), total_sent);
  EXPECT_EQ(q.depth(), 0u);
  EXPECT_TRUE(q.finished());
}

}  // namespace
}  // namespace sluice::host
