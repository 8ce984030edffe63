// The request store's benchmark: durable accepts per second with 1, 8 and 64 concurrent
// callers, on real files, against a baseline measured in the same run.
//
//   group      the store as the serving layer uses it: one writer thread, group commit
//              (everything queued goes in one transaction), synchronous=FULL.
//   baseline   the same store with max_batch = 1: one transaction, one fsync, per accept
//              (what a store without group commit does). The ratio is group / baseline.
//   lifecycle  group commit, each caller doing a request's whole life: accept (waits),
//              then add_result, add_step and complete (queued): four writes a request.
//   normal     group commit with synchronous=NORMAL (no fsync at commit; survives a
//              process crash, not a power loss): what FULL costs.
//
// Each case runs on a fresh database file for --seconds; requests carry a 100-byte body
// and two headers. Reports accepts/s, the mean accepts per transaction, and the p50 / p99
// time accept() blocked.
//
//   usage: store_bench [--seconds S] [--dir D] [--callers 1,8,64]
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sluice/store/sqlite_request_store.h"

namespace {

using namespace sluice::store;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

struct Options {
  double seconds = 3;
  std::string dir;
  std::vector<int> callers{1, 8, 64};
};

struct CaseResult {
  double per_second = 0;
  double per_txn = 0;
  double p50_us = 0, p99_us = 0;
};

enum class Mode { kGroup, kBaseline, kLifecycle, kNormal };

CaseResult run_case(const Options& opt, Mode mode, int callers, int round) {
  SqliteStoreOptions so;
  so.path = opt.dir + "/bench-" + std::to_string(round) + ".db";
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(so.path + suffix);
  so.cleanup_interval = std::chrono::milliseconds(0);
  if (mode == Mode::kBaseline) so.max_batch = 1;
  if (mode == Mode::kNormal) so.sync = SqliteStoreOptions::Sync::kNormal;
  CaseResult out;
  {
    auto store = open_sqlite_request_store(so);
    const std::string body(100, 'x');
    std::atomic<bool> go{false}, stop{false};
    std::vector<std::vector<float>> latencies(callers);
    std::vector<std::thread> threads;
    for (int t = 0; t < callers; ++t) {
      threads.emplace_back([&, t] {
        auto& lat = latencies[t];
        lat.reserve(1 << 16);
        NewRequest r{"", body, {{"Content-Type", "application/json"}, {"X-Numaflow-Id", ""}}, {}};
        while (!go.load()) std::this_thread::yield();
        for (uint64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
          r.id = "c" + std::to_string(t) + "-" + std::to_string(i);
          r.headers[1].second = r.id;
          r.accepted_at = std::chrono::system_clock::now();
          auto t0 = Clock::now();
          if (store->accept(r) != AcceptResult::kAccepted) std::abort();
          lat.push_back(std::chrono::duration<float, std::micro>(Clock::now() - t0).count());
          if (mode == Mode::kLifecycle) {
            auto now = std::chrono::system_clock::now();
            store->add_result(r.id, "serve", body);
            store->add_step(r.id, "cat", now, now);
            store->complete(r.id, sluice::store::Outcome::kCompleted, "", now);
          }
        }
      });
    }
    auto start = Clock::now();
    go = true;
    std::this_thread::sleep_for(std::chrono::duration<double>(opt.seconds));
    stop = true;
    for (auto& th : threads) th.join();
    double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    store->flush();
    StoreStats s = store->stats();
    std::vector<float> all;
    for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
    std::sort(all.begin(), all.end());
    out.per_second = static_cast<double>(s.accepted) / elapsed;
    // Accept-only modes: every write is an accept, so accepts per commit. Lifecycle:
    // writes per commit counts all four.
    out.per_txn = s.transactions ? static_cast<double>(s.writes) / static_cast<double>(s.transactions) : 0;
    if (!all.empty()) {
      out.p50_us = all[all.size() / 2];
      out.p99_us = all[std::min(all.size() - 1, all.size() * 99 / 100)];
    }
  }
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(so.path + suffix);
  return out;
}

bool parse(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    if (a == "--seconds" && v) {
      o->seconds = std::atof(v);
      ++i;
    } else if (a == "--dir" && v) {
      o->dir = v;
      ++i;
    } else if (a == "--callers" && v) {
      o->callers.clear();
      std::stringstream ss(v);
      for (std::string n; std::getline(ss, n, ',');) o->callers.push_back(std::atoi(n.c_str()));
      ++i;
    } else {
      std::fprintf(stderr, "usage: store_bench [--seconds S] [--dir D] [--callers 1,8,64]\n");
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  if (!parse(argc, argv, &opt)) return 2;
  bool own_dir = opt.dir.empty();
  if (own_dir) {
    // A real file system (not tmpfs) matters: fsync is what is being measured.
    char tmpl[] = "/var/tmp/sluice-store-bench-XXXXXX";
    if (!mkdtemp(tmpl)) {
      std::perror("mkdtemp");
      return 1;
    }
    opt.dir = tmpl;
  }
  std::printf("request store: durable accepts, %.1f s per case, files in %s\n", opt.seconds,
              opt.dir.c_str());
  std::printf("%-8s %-10s %14s %10s %12s %10s %10s\n", "callers", "mode", "accepted/s",
              "ratio", "writes/txn", "p50 us", "p99 us");
  int round = 0;
  try {
    for (int callers : opt.callers) {
      CaseResult base = run_case(opt, Mode::kBaseline, callers, round++);
      CaseResult group = run_case(opt, Mode::kGroup, callers, round++);
      CaseResult life = run_case(opt, Mode::kLifecycle, callers, round++);
      CaseResult normal = run_case(opt, Mode::kNormal, callers, round++);
      auto row = [&](const char* name, const CaseResult& o) {
        std::printf("%-8d %-10s %14.0f %10.2f %12.1f %10.0f %10.0f\n", callers, name, o.per_second,
                    base.per_second > 0 ? o.per_second / base.per_second : 0.0, o.per_txn,
                    o.p50_us, o.p99_us);
      };
      row("baseline", base);
      row("group", group);
      row("lifecycle", life);
      row("normal", normal);
      std::fflush(stdout);
    }
  } catch (const StoreError& e) {
    std::fprintf(stderr, "store_bench: %s\n", e.what());
    return 1;
  }
  if (own_dir) fs::remove_all(opt.dir);
  return 0;
}
