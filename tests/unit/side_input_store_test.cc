// The side-input store on real SQLite files in a temporary folder: its contract
// (sluice/store/side_input_store.h) — versions, identical puts, pruning, large binary
// values, concurrency, reopening — and its errors on files it must refuse.
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "sluice/store/side_input_store.h"
#include "sluice/store/sqlite_request_store.h"
#include "temp_dir.h"

namespace sluice::store {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

Time at_s(int64_t s) { return Time(std::chrono::duration_cast<Time::duration>(seconds(s))); }

// Bytes of every value 0..255, '\0' included, in a pattern that varies with `seed`.
std::string binary(size_t n, unsigned seed = 0) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + seed * 7 + (i >> 12)) & 0xff);
  return s;
}

class SideInputStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { options_.path = (dir_ / "side_inputs.db").string(); }

  std::unique_ptr<SideInputStore> open() { return std::make_unique<SideInputStore>(options_); }

  // The error message opening throws, or "" when it does not throw.
  std::string open_error() {
    try {
      open();
    } catch (const StoreError& e) {
      return e.what();
    }
    return "";
  }

  // Runs `sql` on the file with SQLite directly (not through the store) and returns the
  // first column of the first row.
  int64_t sqlite_int(const std::string& sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(options_.path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
  }

  void sqlite_exec(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(options_.path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    sqlite3_close(db);
  }

  test::TempDir tmp_{"sluice-side-input-test"};
  const fs::path& dir_ = tmp_.path();
  SideInputStoreOptions options_;
};

TEST_F(SideInputStoreTest, UnknownNameHasNoValue) {
  auto store = open();
  EXPECT_FALSE(store->latest("deny-list"));
  EXPECT_TRUE(store->list().empty());
}

TEST_F(SideInputStoreTest, EachChangedValueIsTheNextVersion) {
  auto store = open();
  SideInputPut p = store->put("deny-list", "a", at_s(100));
  EXPECT_EQ(p.version, 1u);
  EXPECT_TRUE(p.is_new);
  p = store->put("deny-list", "a,b", at_s(200));
  EXPECT_EQ(p.version, 2u);
  EXPECT_TRUE(p.is_new);
  p = store->put("deny-list", "a", at_s(300));  // an earlier value again is still new
  EXPECT_EQ(p.version, 3u);
  EXPECT_TRUE(p.is_new);

  auto v = store->latest("deny-list");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->name, "deny-list");
  EXPECT_EQ(v->version, 3u);
  EXPECT_EQ(v->value, "a");
  EXPECT_EQ(v->updated_at, at_s(300));
}

TEST_F(SideInputStoreTest, IdenticalBytesKeepTheVersionAndItsTime) {
  auto store = open();
  ASSERT_EQ(store->put("config", "x=1", at_s(100)).version, 1u);
  SideInputPut p = store->put("config", "x=1", at_s(200));
  EXPECT_EQ(p.version, 1u);
  EXPECT_FALSE(p.is_new);
  // Same size, different bytes: compared, not only sized.
  p = store->put("config", "x=2", at_s(300));
  EXPECT_EQ(p.version, 2u);
  EXPECT_TRUE(p.is_new);
  p = store->put("config", "x=2", at_s(400));
  EXPECT_EQ(p.version, 2u);
  EXPECT_FALSE(p.is_new);

  auto v = store->latest("config");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->version, 2u);
  EXPECT_EQ(v->updated_at, at_s(300));  // when version 2 was first put
  EXPECT_EQ(sqlite_int("SELECT count(*) FROM side_inputs"), 2);
}

TEST_F(SideInputStoreTest, EmptyValueIsAValue) {
  auto store = open();
  EXPECT_EQ(store->put("empty", "", at_s(1)).version, 1u);
  EXPECT_FALSE(store->put("empty", "", at_s(2)).is_new);
  EXPECT_EQ(store->put("empty", std::string(1, '\0'), at_s(3)).version, 2u);
  auto v = store->latest("empty");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->value, std::string(1, '\0'));
}

TEST_F(SideInputStoreTest, NamesAreIndependent) {
  auto store = open();
  EXPECT_EQ(store->put("a", "1", at_s(1)).version, 1u);
  EXPECT_EQ(store->put("a", "2", at_s(2)).version, 2u);
  EXPECT_EQ(store->put("b", "2", at_s(3)).version, 1u);  // same bytes as a's: still new for b
  EXPECT_FALSE(store->put("b", "2", at_s(3)).is_new);
  EXPECT_EQ(store->put("a", "3", at_s(4)).version, 3u);
  EXPECT_EQ(store->latest("a")->value, "3");
  EXPECT_EQ(store->latest("b")->value, "2");
  EXPECT_EQ(store->latest("b")->version, 1u);
}

TEST_F(SideInputStoreTest, EmptyNameIsRefused) {
  auto store = open();
  EXPECT_THROW(store->put("", "v", at_s(1)), StoreError);
}

TEST_F(SideInputStoreTest, ReopenHasTheLatestValuesAtOnce) {
  {
    auto store = open();
    store->put("deny-list", "old", at_s(100));
    store->put("deny-list", "new", at_s(200));
    store->put("config", binary(1000), at_s(300));
  }
  auto store = open();
  auto v = store->latest("deny-list");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->version, 2u);
  EXPECT_EQ(v->value, "new");
  EXPECT_EQ(v->updated_at, at_s(200));
  EXPECT_EQ(store->latest("config")->value, binary(1000));
  // Versions go on from where they were, and identical bytes are still recognized.
  EXPECT_FALSE(store->put("deny-list", "new", at_s(300)).is_new);
  EXPECT_EQ(store->put("deny-list", "newer", at_s(400)).version, 3u);
}

TEST_F(SideInputStoreTest, SixteenMebibyteBinaryValueRoundTripsExactly) {
  const std::string big = binary(16u << 20, 1);
  ASSERT_NE(big.find('\0'), std::string::npos);
  {
    auto store = open();
    EXPECT_EQ(store->put("big", big, at_s(1)).version, 1u);
    auto v = store->latest("big");
    ASSERT_TRUE(v);
    EXPECT_TRUE(v->value == big);  // not EXPECT_EQ: a failure would print 16 MiB
    EXPECT_FALSE(store->put("big", big, at_s(2)).is_new);
    std::string changed = big;
    changed[changed.size() / 2] ^= 1;  // same size, one bit differs
    EXPECT_EQ(store->put("big", changed, at_s(3)).version, 2u);
    EXPECT_TRUE(store->latest("big")->value == changed);
  }
  auto store = open();
  auto v = store->latest("big");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->version, 2u);
  EXPECT_EQ(v->value.size(), big.size());
  auto info = store->list();
  ASSERT_EQ(info.size(), 1u);
  EXPECT_EQ(info[0].size, 16u << 20);
}

TEST_F(SideInputStoreTest, ValueAtTheDefaultLimitIsStoredAndOneByteMoreIsRefused) {
  ASSERT_EQ(options_.max_value_bytes, 64u << 20);
  auto store = open();
  std::string v = binary(64u << 20, 2);
  EXPECT_EQ(store->put("huge", v, at_s(1)).version, 1u);
  EXPECT_TRUE(store->latest("huge")->value == v);
  v.push_back('x');
  try {
    store->put("huge", v, at_s(2));
    ADD_FAILURE() << "a value over the limit was stored";
  } catch (const StoreError& e) {
    std::string err = e.what();
    EXPECT_NE(err.find("'huge'"), std::string::npos) << err;
    EXPECT_NE(err.find(std::to_string((64u << 20) + 1) + " bytes"), std::string::npos) << err;
    EXPECT_NE(err.find(std::to_string(64u << 20)), std::string::npos) << err;
  }
  EXPECT_EQ(store->latest("huge")->version, 1u);
}

TEST_F(SideInputStoreTest, OverTheLimitIsRefusedNamingTheSideInputAndNothingIsStored) {
  options_.max_value_bytes = 1000;
  auto store = open();
  store->put("deny-list", std::string(1000, 'a'), at_s(1));  // at the limit: stored
  try {
    store->put("deny-list", std::string(1001, 'b'), at_s(2));
    ADD_FAILURE() << "a value over the limit was stored";
  } catch (const StoreError& e) {
    std::string err = e.what();
    EXPECT_NE(err.find(options_.path), std::string::npos) << err;
    EXPECT_NE(err.find("side input 'deny-list' is 1001 bytes"), std::string::npos) << err;
    EXPECT_NE(err.find("limit of 1000 bytes"), std::string::npos) << err;
  }
  auto v = store->latest("deny-list");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->version, 1u);
  EXPECT_EQ(v->value, std::string(1000, 'a'));
  EXPECT_EQ(store->put("deny-list", "small", at_s(3)).version, 2u);  // still usable
}

TEST_F(SideInputStoreTest, LimitBeyondSqlitesIsRefusedAtOpen) {
  options_.max_value_bytes = 2'000'000'000;
  std::string err = open_error();
  EXPECT_NE(err.find(options_.path), std::string::npos) << err;
  EXPECT_NE(err.find("max_value_bytes"), std::string::npos) << err;
}

TEST_F(SideInputStoreTest, OnlyTheLastKeepVersionsAreKept) {
  options_.keep_versions = 3;
  auto store = open();
  for (int i = 1; i <= 7; ++i) store->put("cfg", "v" + std::to_string(i), at_s(i));
  store->put("other", "only", at_s(1));
  // Checked in the file itself, with SQLite, not through the store.
  EXPECT_EQ(sqlite_int("SELECT count(*) FROM side_inputs WHERE name = 'cfg'"), 3);
  EXPECT_EQ(sqlite_int("SELECT min(version) FROM side_inputs WHERE name = 'cfg'"), 5);
  EXPECT_EQ(sqlite_int("SELECT max(version) FROM side_inputs WHERE name = 'cfg'"), 7);
  EXPECT_EQ(sqlite_int("SELECT count(*) FROM side_inputs WHERE name = 'cfg' AND version < 5"), 0);
  EXPECT_EQ(sqlite_int("SELECT count(*) FROM side_inputs WHERE name = 'other'"), 1);
  // An identical put deletes nothing and adds nothing.
  EXPECT_FALSE(store->put("cfg", "v7", at_s(8)).is_new);
  EXPECT_EQ(sqlite_int("SELECT count(*) FROM side_inputs WHERE name = 'cfg'"), 3);
  EXPECT_EQ(store->latest("cfg")->version, 7u);
}

TEST_F(SideInputStoreTest, KeepOneVersionKeepsOnlyTheCurrent) {
  options_.keep_versions = 1;
  auto store = open();
  for (int i = 1; i <= 4; ++i) store->put("cfg", "v" + std::to_string(i), at_s(i));
  EXPECT_EQ(sqlite_int("SELECT count(*) FROM side_inputs"), 1);
  EXPECT_EQ(sqlite_int("SELECT version FROM side_inputs"), 4);
  options_.keep_versions = 0;
  store.reset();
  EXPECT_NE(open_error().find("keep_versions"), std::string::npos);
}

TEST_F(SideInputStoreTest, ListIsEveryNamesCurrentVersionSortedByName) {
  auto store = open();
  store->put("zeta", "zz", at_s(10));
  store->put("alpha", "a", at_s(20));
  store->put("alpha", "aaaa", at_s(30));
  store->put("Mid", binary(5000), at_s(40));
  store->put("beta", "", at_s(50));
  std::vector<SideInputInfo> l = store->list();
  ASSERT_EQ(l.size(), 4u);
  // Byte order, like std::string's: upper case before lower case.
  EXPECT_EQ(l[0].name, "Mid");
  EXPECT_EQ(l[1].name, "alpha");
  EXPECT_EQ(l[2].name, "beta");
  EXPECT_EQ(l[3].name, "zeta");
  EXPECT_EQ(l[0].version, 1u);
  EXPECT_EQ(l[0].size, 5000u);
  EXPECT_EQ(l[0].updated_at, at_s(40));
  EXPECT_EQ(l[1].version, 2u);
  EXPECT_EQ(l[1].size, 4u);
  EXPECT_EQ(l[1].updated_at, at_s(30));
  EXPECT_EQ(l[2].size, 0u);
  EXPECT_EQ(l[2].updated_at, at_s(50));
  EXPECT_EQ(l[3].version, 1u);
  EXPECT_EQ(l[3].size, 2u);
  EXPECT_EQ(l[3].updated_at, at_s(10));
}

TEST_F(SideInputStoreTest, ConcurrentPutsGetConsecutiveVersions) {
  options_.keep_versions = 1000;
  auto store = open();
  constexpr int kThreads = 4, kPuts = 25;
  std::mutex m;
  std::vector<uint64_t> versions;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPuts; ++i) {
        // Distinct bytes everywhere: every put is a new version. Readers run alongside.
        SideInputPut p = store->put("shared", std::to_string(t) + "/" + std::to_string(i), at_s(i));
        EXPECT_TRUE(p.is_new);
        EXPECT_TRUE(store->latest("shared"));
        std::lock_guard lock(m);
        versions.push_back(p.version);
      }
    });
  for (auto& th : threads) th.join();
  std::sort(versions.begin(), versions.end());
  ASSERT_EQ(versions.size(), static_cast<size_t>(kThreads * kPuts));
  for (size_t i = 0; i < versions.size(); ++i) EXPECT_EQ(versions[i], i + 1);  // no gap, no duplicate
  EXPECT_EQ(store->latest("shared")->version, static_cast<uint64_t>(kThreads * kPuts));
  EXPECT_EQ(sqlite_int("SELECT count(DISTINCT version) FROM side_inputs"), kThreads * kPuts);
}

// Another connection (a tool) holds the write lock past busy_timeout: the put fails
// naming the file, stores nothing, and the next put works.
TEST_F(SideInputStoreTest, AFailedPutStoresNothingAndTheStoreStaysUsable) {
  options_.busy_timeout = std::chrono::milliseconds(100);
  auto store = open();
  ASSERT_EQ(store->put("cfg", "v1", at_s(1)).version, 1u);
  sqlite3* tool = nullptr;
  ASSERT_EQ(sqlite3_open(options_.path.c_str(), &tool), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(tool, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  try {
    store->put("cfg", "v2", at_s(2));
    ADD_FAILURE() << "a put through a held write lock succeeded";
  } catch (const StoreError& e) {
    std::string err = e.what();
    EXPECT_NE(err.find("side-input store " + options_.path), std::string::npos) << err;
    EXPECT_NE(err.find("locked"), std::string::npos) << err;
  }
  EXPECT_EQ(store->latest("cfg")->value, "v1");  // reads go on meanwhile (WAL)
  ASSERT_EQ(sqlite3_exec(tool, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(tool);
  EXPECT_EQ(store->put("cfg", "v2", at_s(3)).version, 2u);
  EXPECT_EQ(store->latest("cfg")->updated_at, at_s(3));
}

TEST_F(SideInputStoreTest, NotADatabaseIsRefusedNamingTheFile) {
  { std::ofstream(options_.path) << "this is a text file, not a database, but long enough to look like one\n"; }
  std::string err = open_error();
  EXPECT_NE(err.find("side-input store " + options_.path), std::string::npos) << err;
  EXPECT_NE(err.find("not a database"), std::string::npos) << err;
  EXPECT_NE(err.find("not a Sluice side-input store"), std::string::npos) << err;
}

TEST_F(SideInputStoreTest, AnotherProgramsDatabaseIsRefused) {
  sqlite_exec("CREATE TABLE users(name TEXT)");
  std::string err = open_error();
  EXPECT_NE(err.find(options_.path), std::string::npos) << err;
  EXPECT_NE(err.find("not a Sluice side-input store"), std::string::npos) << err;

  fs::remove(options_.path);
  sqlite_exec("PRAGMA application_id = 1234; CREATE TABLE t(x)");
  err = open_error();
  EXPECT_NE(err.find(options_.path), std::string::npos) << err;
  EXPECT_NE(err.find("application_id 1234"), std::string::npos) << err;
}

TEST_F(SideInputStoreTest, ARequestStoreFileIsRefused) {
  SqliteStoreOptions request_options;
  request_options.path = options_.path;
  open_sqlite_request_store(request_options)->close();
  std::string err = open_error();
  EXPECT_NE(err.find(options_.path), std::string::npos) << err;
  EXPECT_NE(err.find("is a Sluice request store, not a side-input store"), std::string::npos) << err;
}

TEST_F(SideInputStoreTest, FileIsMarkedAsASideInputStore) {
  open();
  EXPECT_EQ(sqlite_int("PRAGMA application_id"), 0x534C5349);
  EXPECT_EQ(sqlite_int("PRAGMA user_version"), kSideInputStoreSchemaVersion);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(options_.path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "wal");
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST_F(SideInputStoreTest, NewerSchemaIsRefused) {
  open();  // creates the current version
  sqlite_exec("PRAGMA user_version = 7");
  std::string err = open_error();
  EXPECT_NE(err.find(options_.path), std::string::npos) << err;
  EXPECT_NE(err.find("schema version 7"), std::string::npos) << err;
  EXPECT_NE(err.find("newer"), std::string::npos) << err;
}

TEST_F(SideInputStoreTest, MissingFolderIsRefused) {
  options_.path = (dir_ / "no-such-folder" / "side_inputs.db").string();
  std::string err = open_error();
  EXPECT_NE(err.find("side-input store " + options_.path), std::string::npos) << err;
  EXPECT_NE(err.find("does not exist"), std::string::npos) << err;
}

TEST_F(SideInputStoreTest, UnwritableFolderIsRefused) {
  // Root writes into any ordinary folder whatever its mode, but not into /proc.
  const bool root = geteuid() == 0;
  fs::path ro = root ? fs::path("/proc") : dir_ / "read-only";
  if (!root) {
    fs::create_directory(ro);
    fs::permissions(ro, fs::perms::owner_read | fs::perms::owner_exec);
  }
  options_.path = (ro / "sluice-side-inputs.db").string();
  std::string err = open_error();
  EXPECT_NE(err.find(options_.path), std::string::npos) << err;
  if (!root) {
    EXPECT_NE(err.find("not writable"), std::string::npos) << err;
  }
}

TEST_F(SideInputStoreTest, AFolderInPlaceOfTheFileIsRefused) {
  fs::create_directory(options_.path);
  std::string err = open_error();
  EXPECT_NE(err.find(options_.path), std::string::npos) << err;
  EXPECT_NE(err.find("is a folder"), std::string::npos) << err;
}

TEST_F(SideInputStoreTest, SecondOpenOfTheSameFileIsRefused) {
  auto store = open();
  store->put("a", "1", at_s(1));
  std::string err = open_error();
  EXPECT_NE(err.find("side-input store " + options_.path), std::string::npos) << err;
  EXPECT_NE(err.find("is in use by"), std::string::npos) << err;
  EXPECT_NE(err.find("pid " + std::to_string(getpid())), std::string::npos) << err;
  EXPECT_EQ(store->put("a", "2", at_s(2)).version, 2u);  // the refused open changed nothing
  store.reset();
  EXPECT_EQ(open_error(), "");  // released when the store is destroyed
}

}  // namespace
}  // namespace sluice::store
