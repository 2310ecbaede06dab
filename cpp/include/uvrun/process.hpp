// uvrun/process.hpp -- Process: a child process, its pipes as Streams,
// waited for and communicated with from coroutines (asyncio's
// create_subprocess_exec and its Process).
#pragma once

#include <uvrun.h>

#include <csignal>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "errors.hpp"
#include "future.hpp"
#include "stream.hpp"

namespace uvrun {

// What a child's stdin, stdout or stderr is.
struct Stdio {
  int mode = UVRUN_STDIO_INHERIT;
  int fd = -1;

  static Stdio inherit() { return {}; }
  static Stdio pipe() { return {UVRUN_STDIO_PIPE, -1}; }
  static Stdio devnull() { return {UVRUN_STDIO_DEVNULL, -1}; }
  // The child gets fd, which stays the caller's.
  static Stdio descriptor(int fd) { return {UVRUN_STDIO_FD, fd}; }
  // For std_err only: wherever stdout goes (asyncio's stderr=STDOUT); with
  // stdout a pipe, communicate()'s out holds both, in the order written.
  static Stdio into_stdout() { return {UVRUN_STDIO_STDOUT, -1}; }
};

struct ProcessOptions {
  // "NAME=value" entries; none: the parent's environment. Added to the
  // parent's (replacing a variable of the same name), or all the child
  // gets with env_replace.
  std::optional<std::vector<std::string>> env;
  bool env_replace = false;
  std::string cwd;  // empty: the parent's
  Stdio std_in, std_out, std_err;
  StreamOptions pipe;  // buffering of the pipes
};

// What communicate() gives: the output of the pipes ("" for a stream that
// is not one) and the returncode.
struct ProcessOutput {
  std::string out, err;
  int returncode = 0;
};

// Output limits for communicate(); 0: none.
struct CommunicateLimits {
  std::uint64_t out = 0;
  std::uint64_t err = 0;
};

namespace detail {

// wait(): the returncode.
struct WaitAwaiter : FutureAwaiter {
  using FutureAwaiter::FutureAwaiter;
  int await_resume() { return static_cast<int>(reinterpret_cast<std::intptr_t>(FutureAwaiter::await_resume())); }
};

struct CommunicateAwaiter : FutureAwaiter {
  using FutureAwaiter::FutureAwaiter;
  ProcessOutput await_resume() {
    auto *r = static_cast<const uvrun_process_result_t *>(FutureAwaiter::await_resume());
    ProcessOutput o;
    std::size_t n = 0;
    if (const char *p = uvrun_process_result_stdout(r, &n)) o.out.assign(p, n);
    if (const char *p = uvrun_process_result_stderr(r, &n)) o.err.assign(p, n);
    o.returncode = uvrun_process_result_returncode(r);
    return o;
  }
};

}  // namespace detail

class Process {
 public:
  Process() noexcept = default;
  // Adopts a reference.
  explicit Process(uvrun_process_t *adopted) : p_(adopted) {
    if (p_ == nullptr) return;
    for (int i = 0; i < 3; i++)
      if (uvrun_stream_t *s = uvrun_process_stdio(p_, i)) stdio_[i] = Stream(uvrun_stream_ref(s));
  }
  Process(Process &&o) noexcept : p_(std::exchange(o.p_, nullptr)) {
    for (int i = 0; i < 3; i++) stdio_[i] = std::move(o.stdio_[i]);
  }
  Process &operator=(Process o) noexcept {
    std::swap(p_, o.p_);
    for (int i = 0; i < 3; i++) std::swap(stdio_[i], o.stdio_[i]);
    return *this;
  }
  // Dropping the last reference to a running child kills it.
  ~Process() { uvrun_process_unref(p_); }

  int pid() const { return uvrun_process_pid(checked()); }
  // The exit status, or -N for signal N; none while the child runs.
  std::optional<int> returncode() const {
    int rc = 0;
    if (detail::check(uvrun_process_returncode(checked(), &rc)) == 0) return std::nullopt;
    return rc;
  }
  // The pipes; a stream that is not a pipe is an empty Stream.
  Stream &std_in() { return stdio_[0]; }
  Stream &std_out() { return stdio_[1]; }
  Stream &std_err() { return stdio_[2]; }

  // The returncode once the child has exited; cancelling leaves it running.
  detail::WaitAwaiter wait() { return detail::WaitAwaiter(uvrun_process_wait(checked())); }
  // Feeds input to stdin and closes it, reads stdout and stderr to their
  // ends and waits, all at once. LimitOverrunError past a limit.
  detail::CommunicateAwaiter communicate() { return communicate(std::string_view(), CommunicateLimits()); }
  detail::CommunicateAwaiter communicate(std::string_view input) { return communicate(input, CommunicateLimits()); }
  detail::CommunicateAwaiter communicate(std::string_view input, CommunicateLimits limits) {
    uvrun_communicate_opts_t o;
    uvrun_communicate_opts_init(&o);
    o.stdout_limit = limits.out;
    o.stderr_limit = limits.err;
    return detail::CommunicateAwaiter(uvrun_process_communicate(checked(), input.data(), input.size(), &o));
  }

  // ProcessLookupError once the child has exited.
  void send_signal(int sig) { detail::check(uvrun_process_kill(checked(), sig)); }
  void terminate() { send_signal(SIGTERM); }
  void kill() { send_signal(SIGKILL); }

  uvrun_process_t *capi() const noexcept { return p_; }
  explicit operator bool() const noexcept { return p_ != nullptr; }

 private:
  uvrun_process_t *checked() const {
    if (p_ == nullptr) detail::throw_empty("uvrun::Process");
    return p_;
  }
  uvrun_process_t *p_ = nullptr;
  Stream stdio_[3];
};

namespace process {

// Starts argv[0] (a path, or a name looked up in PATH). FileNotFoundError
// for a missing program or working directory, PermissionError for one that
// is not executable.
inline Process spawn(const std::vector<std::string> &argv, const ProcessOptions &options) {
  std::vector<const char *> args, env;
  for (const std::string &a : argv) args.push_back(a.c_str());
  args.push_back(nullptr);
  uvrun_process_opts_t o;
  uvrun_process_opts_init(&o);
  if (options.env) {
    for (const std::string &e : *options.env) env.push_back(e.c_str());
    env.push_back(nullptr);
    o.env = env.data();
  }
  o.env_replace = options.env_replace ? 1 : 0;
  o.cwd = options.cwd.empty() ? nullptr : options.cwd.c_str();
  const Stdio *stdio[3] = {&options.std_in, &options.std_out, &options.std_err};
  for (int i = 0; i < 3; i++) {
    o.stdio[i] = stdio[i]->mode;
    o.stdio_fd[i] = stdio[i]->fd;
  }
  o.pipe = options.pipe.c();
  uvrun_process_t *p = nullptr;
  int rc = uvrun_process_spawn(running_loop(), args.data(), &o, &p);
  // -ENOENT is also UVRUN_E_NOTFOUND's code: here it means the file.
  if (rc == -ENOENT) throw FileNotFoundError(rc, uvrun_errmsg());
  detail::check(rc);
  return Process(p);
}
inline Process spawn(const std::vector<std::string> &argv) { return spawn(argv, ProcessOptions()); }

}  // namespace process

}  // namespace uvrun
