// A test fixture base with its own temporary folder and the file helpers end-to-end
// tests keep needing (write a flow or an input, read an output back), plus the polling
// helper for things a running `sluice` does eventually.
//
//   class MyTest : public sluice::test::FolderTest {
//    protected:
//     MyTest() : FolderTest("sluice-my") {}
//   };
//   write("in.txt", "a\n"); ... EXPECT_EQ(lines("out.txt"), ...);
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "temp_dir.h"

namespace sluice::test {

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Polls `done` every 25 ms until it holds (true) or `timeout` passes (false).
inline bool eventually(const std::function<bool()>& done,
                       std::chrono::milliseconds timeout = std::chrono::milliseconds(15000)) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return true;
}

class FolderTest : public ::testing::Test {
 protected:
  explicit FolderTest(const std::string& prefix) : tmp_(prefix) {}

  std::filesystem::path at(const std::string& name) const { return tmp_.path() / name; }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(at(name), std::ios::binary) << text;
  }
  void append(const std::string& name, const std::string& text) const {
    std::ofstream(at(name), std::ios::binary | std::ios::app) << text;
  }
  // The file's bytes; "" when it does not exist.
  std::string read(const std::string& name) const {
    std::ifstream in(at(name), std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }
  std::vector<std::string> lines(const std::string& name) const {
    std::vector<std::string> out;
    std::istringstream in(read(name));
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
  }

 private:
  TempDir tmp_;
};

}  // namespace sluice::test
