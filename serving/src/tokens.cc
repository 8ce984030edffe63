#include "sluice/serving/tokens.h"

#include <cctype>
#include <cstdint>

namespace sluice::serving {

bool load_tokens(const std::vector<host::TokenSourcePlan>& sources, const host::EnvLookup& getenv,
                 std::vector<std::string>* tokens, std::string* error) {
  tokens->clear();
  for (const host::TokenSourcePlan& source : sources) {
    std::string token, problem, hint;
    if (!host::read_token_source(source, getenv, &token, &problem, &hint)) {
      *error = problem + (hint.empty() ? "" : " (hint: " + hint + ")");
      tokens->clear();
      return false;
    }
    tokens->push_back(std::move(token));
  }
  return true;
}

namespace {

// 1 when a == b, else 0, without a branch.
uint64_t equal_mask(uint64_t a, uint64_t b) {
  const uint64_t x = a ^ b;
  return ((x | (0 - x)) >> 63) ^ 1;
}

// 1 when a < b, else 0, without a branch (a, b < 2^63).
uint64_t less_mask(uint64_t a, uint64_t b) { return (a - b) >> 63; }

// 0 when `presented` equals `token`, non-zero otherwise. Reads every byte of
// `presented` and, for each, one byte of `token` chosen without a branch (the last one
// past its end), so neither the token's length nor where they differ shows in the time.
uint64_t difference(std::string_view presented, std::string_view token) {
  const uint64_t token_length = token.size();
  uint64_t diff = equal_mask(presented.size(), token_length) ^ 1;
  for (size_t i = 0; i < presented.size(); ++i) {
    const uint64_t inside = less_mask(i, token_length);  // 1 while i < token length
    const uint64_t index = (i & (0 - inside)) | ((token_length - 1) & (inside - 1));
    diff |= static_cast<uint8_t>(presented[i]) ^ static_cast<uint8_t>(token[index]);
  }
  return diff;
}

}  // namespace

bool token_matches(std::string_view presented, const std::vector<std::string>& tokens) {
  // `volatile` keeps the compiler from turning the OR into an early exit.
  volatile uint64_t matched = 0;
  for (const std::string& token : tokens) {
    if (token.empty()) continue;  // never configured (load_tokens refuses them)
    const uint64_t diff = difference(presented, token);
    matched = matched | equal_mask(diff, 0);
  }
  return matched != 0 && !presented.empty();
}

std::string_view bearer_token(std::string_view authorization) {
  const auto space = [](char c) { return c == ' ' || c == '\t'; };
  while (!authorization.empty() && space(authorization.front())) authorization.remove_prefix(1);
  while (!authorization.empty() && space(authorization.back())) authorization.remove_suffix(1);
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size() || !space(authorization[kScheme.size()])) return {};
  for (size_t i = 0; i < kScheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return {};
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && space(token.front())) token.remove_prefix(1);
  return token;
}

}  // namespace sluice::serving
