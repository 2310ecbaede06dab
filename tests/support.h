// Test support: lambdas as C step functions, options, loops and errors made
// in one line, capture of logs and exception-handler reports, and running a
// scenario in a child process.
#pragma once
#include <uvrun.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace t {

// A C task whose steps are a lambda: fn(task, step) with step = 0, 1, 2 ...
struct Lambda {
  std::function<int(uvrun_task_t *, int)> fn;
  int step = 0;
  static int run(uvrun_task_t *task, void *arg) {
    auto *self = static_cast<Lambda *>(arg);
    return self->fn(task, self->step++);
  }
  static void destroy(void *arg) { delete static_cast<Lambda *>(arg); }
};

// Spawns a task on loop running fn; the task owns the lambda. `site` is
// its creation site (nullptr: none). Returns a task reference (release with
// uvrun_task_unref) or nullptr.
uvrun_task_t *spawn(uvrun_loop_t *loop, std::function<int(uvrun_task_t *, int)> fn, const char *name = nullptr,
                    const char *site = nullptr);

// Runs fn as uvrun_run's main task; returns uvrun_run's code.
int run(std::function<int(uvrun_task_t *, int)> fn, const uvrun_options_t *opts = nullptr, void **result = nullptr);

// The value of an int smuggled through void*.
inline void *iv(intptr_t v) { return reinterpret_cast<void *>(v); }
inline intptr_t vi(void *p) { return reinterpret_cast<intptr_t>(p); }

// Fails the task with a new error (code, message).
inline int fail(uvrun_task_t *task, int code, const char *message) {
  return uvrun_task_raise(task, uvrun_error_new(code, message, nullptr, nullptr));
}

// An exception context (sized for this header) with only `message` set.
inline uvrun_exception_context_t exception_context(const char *message) {
  uvrun_exception_context_t c;
  memset(&c, 0, sizeof c);
  c.size = sizeof c;
  c.message = message;
  return c;
}

// uvrun_options_t with its defaults; then each of `parts` (a loop factory,
// a report collector: anything with install(uvrun_options_t *)) installs
// itself.
struct Options : uvrun_options_t {
  Options() { uvrun_options_init(this); }
  template <class Part, class... Parts>
  explicit Options(Part &part, Parts &...parts) : Options() {
    part.install(this);
    (parts.install(this), ...);
  }
};

// A new standalone loop, and a new pending future on a loop; both must
// succeed (REQUIRE).
uvrun_loop_t *new_loop();
uvrun_future_t *new_future(uvrun_loop_t *loop);

// uvrun_take_error(), which must find an error (REQUIRE): its code and
// message.
struct TakenError {
  int code = 0;
  std::string message;
};
TakenError take_error();

// Runs an empty main task with uvrun_run(opts), which must return 0
// (CHECK): the debug flag of the loop it ran on.
int main_loop_debug(const uvrun_options_t *opts = nullptr);

// Runs uvrun_run(opts) whose main task starts the task `start` returns
// (which must not be nullptr), drops its reference and sleeps 10 ms, time
// for that task to end and be reported; then `after` (if any) runs as the
// main task's last step. The run must return 0 (CHECK).
void run_with_child(const uvrun_options_t *opts, std::function<uvrun_task_t *(uvrun_loop_t *)> start,
                    std::function<void()> after = nullptr);

// Seconds since t0.
inline double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Spins for `seconds` without yielding: a step that keeps the loop busy.
void busy_wait(double seconds);

// Collects everything logged while alive (and keeps it off stderr).
struct LogCapture {
  std::vector<std::pair<int, std::string>> lines;
  LogCapture();
  ~LogCapture();
  bool contains(const std::string &needle) const;
  size_t count(const std::string &needle) const;
  std::string all() const;
  std::vector<std::string> at(int level) const;  // the lines logged at `level`
};

// An exception handler that records each report.
struct Report {
  std::string message;
  int code = 0;  // the error's code, 0 without error
  std::string error_message;
  std::string task_name;  // "" without task
  bool has_future = false;
  std::string asyncgen;  // asyncgen name, "" without
};
struct Reports {
  std::vector<Report> list;
  static void handler(uvrun_loop_t *loop, const uvrun_exception_context_t *ctx, void *ud);
  void install(uvrun_options_t *opts) {
    opts->exception_handler = handler;
    opts->exception_handler_data = this;
  }
  void install(uvrun_loop_t *loop) { uvrun_loop_set_exception_handler(loop, handler, this); }
  // Exactly one report came (REQUIRE), with this message and task name.
  void check_one(const std::string &message, const std::string &task_name) const;
};

// Sets or unsets an environment variable for a scope, then restores it.
struct Env {
  std::string name;
  bool had = false;
  std::string old;
  explicit Env(const char *n) : name(n) {
    const char *v = getenv(n);
    had = v != nullptr;
    if (had) old = v;
  }
  void set(const char *v) { setenv(name.c_str(), v, 1); }
  void unset() { unsetenv(name.c_str()); }
  ~Env() {
    if (had) setenv(name.c_str(), old.c_str(), 1);
    else unsetenv(name.c_str());
  }
};

// Runs fn in a forked child; its return value is the exit code.
struct ChildResult {
  bool exited = false;
  int code = -1;
  bool signaled = false;
  int signo = 0;
  bool timed_out = false;
  std::string output;  // the child's stdout and stderr
  bool exited_ok() const { return !timed_out && exited && code == 0; }
  bool killed_by(int sig) const { return !timed_out && signaled && signo == sig; }
  bool has(const std::string &needle) const { return output.find(needle) != std::string::npos; }
};
// `on_start` runs in the parent after the child wrote "ready\n" to stdout
// (the child calls t::child_ready()), with the child's pid.
ChildResult in_child(std::function<int()> fn, std::function<void(int pid)> on_ready = nullptr, double timeout_s = 20.0);
void child_ready();

// Checks that the child neither timed out nor died, and exited with 0; its
// output goes with any failure.
void check_child(const ChildResult &res);

}  // namespace t

// Inside a child (a t::in_child function): unless `cond` holds, prints it
// and returns `code`, the child's exit code.
#define CHILD_EXPECT(cond, code)                                     \
  do {                                                               \
    if (!(cond)) {                                                   \
      printf("child check failed: %s (line %d)\n", #cond, __LINE__); \
      return (code);                                                 \
    }                                                                \
  } while (0)
