// Bearer tokens: loading from files and variables, matching (functionally: every
// near miss is refused; timing is not measured), and reading the Authorization header.
#include "sluice/serving/tokens.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "temp_dir.h"

namespace sluice::serving {
namespace {

namespace fs = std::filesystem;
using host::TokenSourcePlan;

TokenSourcePlan env_source(const std::string& name) {
  TokenSourcePlan s;
  s.kind = TokenSourcePlan::Kind::kEnv;
  s.written = name;
  return s;
}

TokenSourcePlan file_source(const fs::path& file) {
  TokenSourcePlan s;
  s.kind = TokenSourcePlan::Kind::kFile;
  s.written = file.filename().string();
  s.file = file;
  return s;
}

class TokenFiles : public ::testing::Test {
 protected:
  fs::path write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
    return dir_ / name;
  }
  test::TempDir tmp_{"sluice-tokens"};
  const fs::path& dir_ = tmp_.path();
};

const host::EnvLookup kEnv = [](const char* name) -> const char* {
  const std::string n = name;
  if (n == "TOKEN_A") return "alpha-token\n";
  if (n == "BLANK") return " \t";
  return nullptr;
};

TEST_F(TokenFiles, LoadsEverySourceTrimmed) {
  std::vector<std::string> tokens;
  std::string error;
  ASSERT_TRUE(load_tokens({file_source(write("t", "  file-token \r\n")), env_source("TOKEN_A")},
                          kEnv, &tokens, &error))
      << error;
  EXPECT_EQ(tokens, (std::vector<std::string>{"file-token", "alpha-token"}));
  ASSERT_TRUE(load_tokens({}, kEnv, &tokens, &error));
  EXPECT_TRUE(tokens.empty());
}

TEST_F(TokenFiles, RefusesAndSaysWhichSource) {
  std::vector<std::string> tokens;
  std::string error;
  EXPECT_FALSE(load_tokens({env_source("TOKEN_A"), env_source("MISSING")}, kEnv, &tokens, &error));
  EXPECT_EQ(error,
            "environment variable MISSING is not set (hint: export it with the token before "
            "starting sluice)");
  EXPECT_TRUE(tokens.empty()) << "nothing half-loaded";
  EXPECT_FALSE(load_tokens({env_source("BLANK")}, kEnv, &tokens, &error));
  EXPECT_EQ(error.rfind("environment variable BLANK is empty", 0), 0u) << error;
  EXPECT_FALSE(load_tokens({file_source(dir_ / "nope")}, kEnv, &tokens, &error));
  EXPECT_EQ(error.rfind("cannot read token file 'nope': No such file or directory", 0), 0u)
      << error;
  EXPECT_FALSE(load_tokens({file_source(write("e", "\n"))}, kEnv, &tokens, &error));
  EXPECT_EQ(error.rfind("token file 'e' is empty", 0), 0u) << error;
  EXPECT_FALSE(load_tokens({file_source(write("two", "line1\nline2\n"))}, kEnv, &tokens, &error));
  EXPECT_EQ(error.rfind("the token in token file 'two' has a space", 0), 0u) << error;
  EXPECT_EQ(error.find("line1"), std::string::npos) << "the token is never shown";
}

TEST(TokenMatch, ExactMatchOnly) {
  const std::vector<std::string> tokens{"correct-horse-battery", "second"};
  EXPECT_TRUE(token_matches("correct-horse-battery", tokens));
  EXPECT_TRUE(token_matches("second", tokens));
  for (const char* wrong :
       {"", "c", "correct-horse-batter", "correct-horse-batteryy", "Correct-horse-battery",
        "correct-horse-batterx", "xorrect-horse-battery", "secon", "seconds",
        "correct-horse-battery second", "secondcorrect-horse-battery"}) {
    EXPECT_FALSE(token_matches(wrong, tokens)) << wrong;
  }
  // A presented value that extends a token with a NUL is not the token.
  EXPECT_FALSE(token_matches(std::string_view("second\0", 7), tokens));
}

TEST(TokenMatch, EveryNearMissIsRefused) {
  const std::string token = "0123456789abcdefghijklmnopqrstuvwxyz";
  const std::vector<std::string> tokens{token};
  for (size_t i = 0; i < token.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = token;
      flipped[i] = static_cast<char>(flipped[i] ^ (1 << bit));
      ASSERT_FALSE(token_matches(flipped, tokens)) << i << "/" << bit;
    }
    ASSERT_FALSE(token_matches(token.substr(0, i), tokens)) << "prefix " << i;
    ASSERT_FALSE(token_matches(token.substr(i + 1), tokens)) << "suffix " << i;
  }
  // Longer than the token, with the token as prefix and any byte after it, including
  // the token's own last byte repeated (what a clamped index reads past the end).
  for (int c = 0; c < 256; ++c)
    ASSERT_FALSE(token_matches(token + static_cast<char>(c), tokens)) << c;
  EXPECT_TRUE(token_matches(token, tokens));
}

TEST(TokenMatch, NoTokensOrEmptyTokensNeverMatch) {
  EXPECT_FALSE(token_matches("anything", {}));
  EXPECT_FALSE(token_matches("", {}));
  EXPECT_FALSE(token_matches("", {""}));
  EXPECT_FALSE(token_matches("x", {""}));
  EXPECT_TRUE(token_matches("x", {"", "x"}));
}

TEST(TokenMatch, LaterTokenMatchesAfterEarlierMisses) {
  std::vector<std::string> tokens;
  for (int i = 0; i < 50; ++i) tokens.push_back("token-" + std::to_string(i));
  for (int i = 0; i < 50; ++i) EXPECT_TRUE(token_matches("token-" + std::to_string(i), tokens));
  EXPECT_FALSE(token_matches("token-50", tokens));
  EXPECT_FALSE(token_matches("token-", tokens));
}

TEST(BearerToken, ReadsTheAuthorizationHeader) {
  EXPECT_EQ(bearer_token("Bearer abc"), "abc");
  EXPECT_EQ(bearer_token("bearer abc"), "abc");
  EXPECT_EQ(bearer_token("BEARER   abc  "), "abc");
  EXPECT_EQ(bearer_token(" Bearer\tabc"), "abc");
  EXPECT_EQ(bearer_token("Bearer"), "");
  EXPECT_EQ(bearer_token("Bearer "), "");
  EXPECT_EQ(bearer_token("Bearerabc"), "");
  EXPECT_EQ(bearer_token("Basic YWJjOmRlZg=="), "");
  EXPECT_EQ(bearer_token(""), "");
}

}  // namespace
}  // namespace sluice::serving
