// Exit codes of the `sluice` command, documented in docs/cli.md. Stable: scripts and
// orchestrators depend on them.
#pragma once

namespace sluice::cli {
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;        // a stage failed while running (`run`, `try`)
inline constexpr int kExitUsage = 2;         // bad command line or configuration
inline constexpr int kExitPluginErrors = 3;  // `plugins`: some library was rejected
inline constexpr int kExitUndrained = 4;     // `run`: stopped before everything drained
}  // namespace sluice::cli
