// Runs a program as a child process for the CLI tests: feeds it stdin, captures stdout
// and stderr separately, sets or unsets environment variables for that run only, and
// kills it when it runs past a deadline (so a hang fails the test instead of stalling).
// run_process() runs it to its end; ChildProcess lets the test signal it meanwhile.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

extern char** environ;

namespace sluice::test {

struct RunOptions {
  std::string stdin_data;  // written to the child's stdin, which is then closed
  // Per-run environment changes: a value sets the variable, std::nullopt unsets it.
  std::map<std::string, std::optional<std::string>> env;
  std::chrono::milliseconds timeout{20000};
};

struct RunResult {
  int exit_code = -1;  // -1 when the child did not exit normally
  int signal = 0;      // the signal that ended it, if any
  bool timed_out = false;
  std::string out, err;
  std::chrono::milliseconds elapsed{0};
};

// So that a failed assertion on a RunResult shows everything the child said.
inline std::ostream& operator<<(std::ostream& os, const RunResult& r) {
  os << "\n  exit code: " << r.exit_code;
  if (r.signal) os << " (signal " << r.signal << ")";
  if (r.timed_out) os << " (TIMED OUT)";
  return os << "\n  --- stdout ---\n" << r.out << "\n  --- stderr ---\n" << r.err
            << "\n  --------------";
}

namespace detail {

inline void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string(what) + ": " + std::strerror(errno));
}

// The parent's environment with `changes` applied, as "KEY=VALUE" strings.
inline std::vector<std::string> child_environment(
    const std::map<std::string, std::optional<std::string>>& changes) {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    size_t eq = entry.find('=');
    if (eq != std::string::npos) env[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  for (const auto& [key, value] : changes) {
    if (value) env[key] = *value;
    else env.erase(key);
  }
  std::vector<std::string> out;
  for (const auto& [key, value] : env) out.push_back(key + "=" + value);
  return out;
}

}  // namespace detail

// A child process that runs while the test goes on: spawned by the constructor; a
// background thread feeds its stdin, drains its stdout and stderr (so it never blocks
// on a full pipe) and reaps it, killing it at the deadline. The test may send it
// signals and look at what it has written so far; wait() returns the result.
class ChildProcess {
 public:
  ChildProcess(const std::string& program, const std::vector<std::string>& args,
               const RunOptions& opts = {})
      : start_(Clock::now()), deadline_(start_ + opts.timeout), stdin_data_(opts.stdin_data) {
    int in[2], out[2], err[2];
    detail::check(::pipe2(in, O_CLOEXEC) == 0, "pipe2");
    detail::check(::pipe2(out, O_CLOEXEC) == 0, "pipe2");
    detail::check(::pipe2(err, O_CLOEXEC) == 0, "pipe2");
    // Our end of stdin must not block: the child may never read it (a source) or exit
    // early, and we must keep draining its output meanwhile.
    ::fcntl(in[1], F_SETFL, ::fcntl(in[1], F_GETFL) | O_NONBLOCK);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);

    // We ignore SIGPIPE in this process (a write to a child that exited must not kill
    // the test); ignored signals survive exec, so give the child the default back.
    ::signal(SIGPIPE, SIG_IGN);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t defaults, empty;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigemptyset(&empty);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setsigmask(&attr, &empty);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

    std::vector<std::string> argv_strings{program};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : argv_strings) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_strings = detail::child_environment(opts.env);
    std::vector<char*> envp;
    for (std::string& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);

    int rc = ::posix_spawn(&pid_, program.c_str(), &actions, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    ::close(in[0]);
    ::close(out[1]);
    ::close(err[1]);
    if (rc != 0) {
      ::close(in[1]);
      ::close(out[0]);
      ::close(err[0]);
      errno = rc;
      detail::check(false, ("posix_spawn " + program).c_str());
    }
    thread_ = std::thread([this, in_fd = in[1], out_fd = out[0], err_fd = err[0]] {
      supervise(in_fd, out_fd, err_fd);
    });
  }
  // A child the test did not wait for (an assertion returned early) is killed.
  ~ChildProcess() {
    signal(SIGKILL);
    wait();
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Sends `sig` to the child, unless it has already been reaped (its pid could be
  // someone else's by then). Returns whether it was sent.
  bool signal(int sig) {
    std::lock_guard<std::mutex> lock(mutex_);
    return !reaped_ && ::kill(pid_, sig) == 0;
  }
  // What the child wrote to stderr / stdout so far.
  std::string err_so_far() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return result_.err;
  }
  std::string out_so_far() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return result_.out;
  }
  bool running() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return !reaped_;
  }
  // Until the child has exited (or was killed at the deadline).
  RunResult wait() {
    if (thread_.joinable()) thread_.join();
    std::lock_guard<std::mutex> lock(mutex_);
    return result_;
  }

 private:
  using Clock = std::chrono::steady_clock;

  int remaining_ms() const {
    return static_cast<int>(std::max<int64_t>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now())
               .count()));
  }

  void supervise(int in_fd, int out_fd, int err_fd) {
    size_t written = 0;
    bool timed_out = false;
    if (stdin_data_.empty()) ::close(std::exchange(in_fd, -1));
    // Feed stdin and drain stdout/stderr together until the child closes both outputs.
    while (out_fd >= 0 || err_fd >= 0) {
      if (remaining_ms() == 0) {
        timed_out = true;
        break;
      }
      pollfd fds[3];
      int n = 0;
      if (in_fd >= 0) fds[n++] = {in_fd, POLLOUT, 0};
      if (out_fd >= 0) fds[n++] = {out_fd, POLLIN, 0};
      if (err_fd >= 0) fds[n++] = {err_fd, POLLIN, 0};
      if (::poll(fds, static_cast<nfds_t>(n), remaining_ms()) < 0) {
        if (errno == EINTR) continue;
        break;  // cannot happen with valid descriptors; the deadline still applies below
      }
      for (int i = 0; i < n; ++i) {
        if (fds[i].revents == 0) continue;
        if (fds[i].fd == in_fd) {
          ssize_t w = ::write(in_fd, stdin_data_.data() + written, stdin_data_.size() - written);
          if (w > 0) written += static_cast<size_t>(w);
          // Done, or the child closed its stdin (EPIPE): either way we stop feeding it.
          if (written == stdin_data_.size() || (w < 0 && errno != EAGAIN && errno != EINTR))
            ::close(std::exchange(in_fd, -1));
          continue;
        }
        char buf[65536];
        ssize_t r = ::read(fds[i].fd, buf, sizeof buf);
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (r > 0) {
          std::lock_guard<std::mutex> lock(mutex_);
          (fds[i].fd == out_fd ? result_.out : result_.err).append(buf, static_cast<size_t>(r));
        } else {
          ::close(fds[i].fd);
          (fds[i].fd == out_fd ? out_fd : err_fd) = -1;
        }
      }
    }
    for (int fd : {in_fd, out_fd, err_fd})
      if (fd >= 0) ::close(fd);

    // The child may close its outputs and still not exit: keep honouring the deadline.
    int status = 0;
    while (!timed_out) {
      pid_t w = ::waitpid(pid_, &status, WNOHANG);
      if (w == pid_) break;
      if (w < 0 && errno != EINTR) break;
      if (remaining_ms() == 0)
        timed_out = true;
      else
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (timed_out) {
      ::kill(pid_, SIGKILL);
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
    }
    std::lock_guard<std::mutex> lock(mutex_);
    reaped_ = true;
    result_.timed_out = timed_out;
    if (WIFEXITED(status)) result_.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) result_.signal = WTERMSIG(status);
    result_.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start_);
  }

  const Clock::time_point start_, deadline_;
  const std::string stdin_data_;
  pid_t pid_ = -1;
  mutable std::mutex mutex_;  // guards result_ and reaped_
  RunResult result_;
  bool reaped_ = false;
  std::thread thread_;
};

// Runs the program to its end (or its deadline).
inline RunResult run_process(const std::string& program, const std::vector<std::string>& args,
                             const RunOptions& opts = {}) {
  return ChildProcess(program, args, opts).wait();
}

}  // namespace sluice::test
