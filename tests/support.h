// Test support: lambdas as C step functions, capture of logs and
// exception-handler reports, and running a scenario in a child process.
#pragma once
#include <uvrun.h>

#include <stdlib.h>

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

// Spawns a task on loop running fn; the task owns the lambda. Returns a
// task reference (release with uvrun_task_unref) or nullptr.
uvrun_task_t *spawn(uvrun_loop_t *loop, std::function<int(uvrun_task_t *, int)> fn,
                    const char *name = nullptr);

// Runs fn as uvrun_run's main task; returns uvrun_run's code.
int run(std::function<int(uvrun_task_t *, int)> fn, const uvrun_options_t *opts = nullptr,
        void **result = nullptr);

// The value of an int smuggled through void*.
inline void *iv(intptr_t v) { return reinterpret_cast<void *>(v); }
inline intptr_t vi(void *p) { return reinterpret_cast<intptr_t>(p); }

// Collects everything logged while alive (and keeps it off stderr).
struct LogCapture {
  std::vector<std::pair<int, std::string>> lines;
  LogCapture();
  ~LogCapture();
  bool contains(const std::string &needle) const;
  size_t count(const std::string &needle) const;
  std::string all() const;
};

// An exception handler that records each report.
struct Report {
  std::string message;
  int code = 0;            // the error's code, 0 without error
  std::string error_message;
  std::string task_name;   // "" without task
  bool has_future = false;
  std::string asyncgen;    // asyncgen name, "" without
};
struct Reports {
  std::vector<Report> list;
  static void handler(uvrun_loop_t *loop, const uvrun_exception_context_t *ctx, void *ud);
  void install(uvrun_options_t *opts) {
    opts->exception_handler = handler;
    opts->exception_handler_data = this;
  }
  void install(uvrun_loop_t *loop) { uvrun_loop_set_exception_handler(loop, handler, this); }
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
  std::string output; // the child's stdout and stderr
};
// `on_start` runs in the parent after the child wrote "ready\n" to stdout
// (the child calls t::child_ready()), with the child's pid.
ChildResult in_child(std::function<int()> fn, std::function<void(int pid)> on_ready = nullptr,
                     double timeout_s = 20.0);
void child_ready();

}  // namespace t
