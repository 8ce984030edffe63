// The side-input registry's concurrent-readers guarantee, checked under sanitizers
// (tests/sanitizers/CMakeLists.txt builds this file twice: ThreadSanitizer, and
// AddressSanitizer + UndefinedBehaviorSanitizer).
//
// Readers refresh their snapshots and read while a writer publishes new versions as
// fast as it can: every read must see a whole value (its bytes match its version) and
// versions must never go backwards. The sanitizers add what a plain run cannot see: a
// data race on the registry's slots or generation (TSan), a value freed while a
// snapshot still points at it (ASan).
//
// Plain main, no GoogleTest: the prebuilt gtest is not instrumented, and a failure is
// simply a non-zero exit (TSan/ASan reports exit with their own code, set by the test's
// TSAN_OPTIONS / ASAN_OPTIONS).
//
//   usage: side_input_readers_<san> [publishes]   (default 20000)
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "sluice/host/side_input_registry.h"

using sluice::host::SideInputRegistry;
using sluice::host::SideInputSnapshot;
using sluice::host::SideInputValue;

namespace {

constexpr int kReaders = 3;
constexpr size_t kFill = 4096;

// Each version's bytes are one letter repeated, then the version's number: a torn
// value would mix two letters or end with the wrong number.
std::shared_ptr<const SideInputValue> make(uint64_t version) {
  std::string bytes(kFill, static_cast<char>('a' + version % 26));
  bytes += std::to_string(version);
  return std::make_shared<SideInputValue>(SideInputValue{"v", version, std::move(bytes), {}});
}

bool whole(const SideInputValue& v) {
  const std::string tail = std::to_string(v.version);
  const char fill = static_cast<char>('a' + v.version % 26);
  if (v.bytes.size() != kFill + tail.size()) return false;
  for (size_t i = 0; i < kFill; ++i)
    if (v.bytes[i] != fill) return false;
  return v.bytes.compare(kFill, std::string::npos, tail) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  const uint64_t publishes = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 20000;
  SideInputRegistry registry({"v"});
  registry.publish(make(1));

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> reads{0}, torn{0}, backwards{0};
  std::atomic<int> started{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < kReaders; ++r)
    readers.emplace_back([&] {
      SideInputSnapshot snap(registry, {"v"});
      uint64_t last = 0;
      bool first = true;
      do {
        snap.refresh();
        for (int i = 0; i < 20; ++i) {
          const SideInputValue* v = snap.find("v");
          if (v == nullptr) continue;
          if (!whole(*v)) torn.fetch_add(1);
          if (v->version < last) backwards.fetch_add(1);
          last = v->version;
          reads.fetch_add(1, std::memory_order_relaxed);
        }
        if (first) started.fetch_add(1);
        first = false;
      } while (!stop.load());
    });
  // Every reader reads before the writer starts, or a fast writer could finish first.
  while (started.load() < kReaders) std::this_thread::yield();
  for (uint64_t version = 2; version <= publishes; ++version) registry.publish(make(version));
  stop.store(true);
  for (auto& t : readers) t.join();

  std::printf("%llu reads, %llu publishes, %llu torn, %llu went backwards\n",
              static_cast<unsigned long long>(reads.load()), static_cast<unsigned long long>(publishes),
              static_cast<unsigned long long>(torn.load()), static_cast<unsigned long long>(backwards.load()));
  if (torn.load() != 0 || backwards.load() != 0 || reads.load() == 0) return 1;
  return 0;
}
