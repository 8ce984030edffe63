// Bearer tokens for the serving endpoints (docs/serving.md, "Configuration", auth).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sluice/host/serving_plan.h"

namespace sluice::serving {

// Reads every source at start, with the rules of host::read_token_source (trimmed; an
// unset variable, a missing or empty file refused). Returns false at the first bad
// source, with *error naming it (never showing a token).
bool load_tokens(const std::vector<host::TokenSourcePlan>& sources, const host::EnvLookup& getenv,
                 std::vector<std::string>* tokens, std::string* error);

// Whether `presented` equals one of `tokens`, in time that depends only on the length
// of `presented` and the number of tokens: every token is compared over every byte of
// `presented`, with no early exit on a length difference or a mismatching byte.
// Empty tokens never match (load_tokens refuses them anyway).
bool token_matches(std::string_view presented, const std::vector<std::string>& tokens);

// The token of an "Authorization: Bearer <token>" value ("Bearer" case-insensitive,
// surrounding spaces ignored), or an empty view when the value is not of that form.
std::string_view bearer_token(std::string_view authorization);

}  // namespace sluice::serving
