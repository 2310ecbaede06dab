// Helpers shared by the runner suites (test_runner_*.cpp).
#pragma once
#include <doctest/doctest.h>
#include <uvrun.h>

#include <stdlib.h>

#include <cerrno>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "support.h"

namespace rt {

using Step = std::function<int(uvrun_task_t *, int)>;

inline uvrun_error_t *new_error(int code, const char *msg) { return uvrun_error_new(code, msg, nullptr, nullptr); }

inline int runner_run(uvrun_runner_t *r, Step fn, void **result = nullptr, uvrun_context_t *ctx = nullptr) {
  t::Lambda main{std::move(fn)};
  return uvrun_runner_run(r, t::Lambda::run, &main, ctx, result);
}

inline int finish(uvrun_task_t *task) { return uvrun_task_return(task, nullptr); }

inline double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// A loop factory that counts its calls, can fail the first ones, can set
// the loop's debug flag, and holds a future on the loop so the loop object
// stays readable (uvrun_loop_is_closed) after the runner freed it.
struct Factory {
  int made = 0;
  int calls = 0;
  int fail_calls = 0;  // fail this many calls first, with fail_code
  int fail_code = -EIO;
  int debug = -1;  // -1: leave it
  void *seen_ud = nullptr;
  uvrun_loop_t *loop = nullptr;
  uvrun_future_t *keep = nullptr;
  std::function<void(uvrun_loop_t *)> on_loop;

  static int fn(void *ud, uvrun_loop_t **out) {
    auto *f = static_cast<Factory *>(ud);
    f->calls++;
    f->seen_ud = ud;
    if (f->fail_calls > 0) {
      f->fail_calls--;
      return f->fail_code;
    }
    int rc = uvrun_loop_new(out);
    if (rc < 0) return rc;
    f->made++;
    f->loop = *out;
    if (f->debug >= 0) uvrun_loop_set_debug(*out, f->debug);
    uvrun_future_unref(f->keep);
    uvrun_future_new(*out, &f->keep);
    if (f->on_loop) f->on_loop(*out);
    return 0;
  }
  void install(uvrun_options_t *opts) {
    opts->loop_factory = fn;
    opts->loop_factory_data = this;
  }
  bool loop_closed() const { return keep != nullptr && uvrun_loop_is_closed(uvrun_future_loop(keep)); }
  ~Factory() { uvrun_future_unref(keep); }
};

// An object closed asynchronously at shutdown (an async generator).
struct Gen {
  uvrun_asyncgen_t *handle = nullptr;
  int closes = 0;
  std::function<void()> on_close;
  static int aclose(void *obj, uvrun_loop_t *loop, uvrun_future_t **out) {
    auto *g = static_cast<Gen *>(obj);
    g->closes++;
    g->handle = nullptr;
    if (g->on_close) g->on_close();
    int rc = uvrun_future_new(loop, out);
    if (rc == 0) uvrun_future_set_result(*out, nullptr, nullptr);
    return rc;
  }
  int reg(uvrun_loop_t *loop, const char *name = "gen") {
    return uvrun_asyncgen_register(loop, this, name, aclose, &handle);
  }
};

// What happened, in order, from any thread.
struct Order {
  std::mutex mu;
  std::vector<std::string> v;
  void add(const std::string &s) {
    std::lock_guard<std::mutex> lock(mu);
    v.push_back(s);
  }
};


// A leftover task: step 0 awaits a long sleep; on cancellation it runs
// `cleanup`, whose return is the step's return.
inline uvrun_task_t *leftover(uvrun_loop_t *loop, const char *name, std::function<int(uvrun_task_t *, int rc)> cleanup) {
  return t::spawn(
      loop,
      [cleanup](uvrun_task_t *task, int step) {
        if (step == 0) return uvrun_task_await(task, uvrun_sleep(task, 30));
        return cleanup(task, uvrun_task_resume(task, nullptr));
      },
      name);
}

// A task like t::spawn's whose freeing is counted (arg_free runs when the
// task object goes away).
struct Counted {
  Step fn;
  int step = 0;
  int *freed;
  static int run(uvrun_task_t *task, void *arg) {
    auto *c = static_cast<Counted *>(arg);
    return c->fn(task, c->step++);
  }
  static void destroy(void *arg) {
    auto *c = static_cast<Counted *>(arg);
    (*c->freed)++;
    delete c;
  }
};
inline void spawn_counted(uvrun_loop_t *loop, const char *name, int *freed, Step fn) {
  uvrun_task_opts_t o;
  uvrun_task_opts_init(&o);
  o.name = name;
  o.arg_free = Counted::destroy;
  REQUIRE(uvrun_task_new(loop, Counted::run, new Counted{std::move(fn), 0, freed}, &o, nullptr) == 0);
}

}  // namespace rt
