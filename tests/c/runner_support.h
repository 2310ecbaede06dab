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

using t::since;

// A new runner (opts nullptr: the defaults), which must be made (REQUIRE).
inline uvrun_runner_t *new_runner(const uvrun_options_t *opts = nullptr) {
  uvrun_runner_t *r = nullptr;
  REQUIRE(uvrun_runner_new(opts, &r) == 0);
  return r;
}

// The runner's loop (initializing a CREATED runner), which must be there.
inline uvrun_loop_t *loop_of(uvrun_runner_t *r) {
  uvrun_loop_t *loop = nullptr;
  REQUIRE(uvrun_runner_get_loop(r, &loop) == 0);
  return loop;
}

// The runner is CLOSED: get_loop fails with CLOSED "Runner is closed" and
// hands out no loop.
inline void check_closed(uvrun_runner_t *r) {
  uvrun_loop_t *loop = reinterpret_cast<uvrun_loop_t *>(&loop);
  CHECK(uvrun_runner_get_loop(r, &loop) == UVRUN_E_CLOSED);
  CHECK(std::string(uvrun_errmsg()) == "Runner is closed");
  CHECK(loop == nullptr);
}

// Closes the runner, which must succeed (CHECK), and frees it.
inline void close_and_free(uvrun_runner_t *r) {
  CHECK(uvrun_runner_close(r) == 0);
  uvrun_runner_free(r);
}

// The debug flag of the loop a new runner with these options builds; the
// runner is then closed (CHECK) and freed.
inline int runner_loop_debug(const uvrun_options_t *opts) {
  uvrun_runner_t *r = new_runner(opts);
  int debug = uvrun_loop_get_debug(loop_of(r));
  close_and_free(r);
  return debug;
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
  // A new runner whose loop this factory makes (the other options: defaults).
  uvrun_runner_t *new_runner() {
    t::Options opts(*this);
    return rt::new_runner(&opts);
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

// CPython's TestPolicy fixture (invariant I0) for the runners port: a
// Factory whose loop gets a sentinel async generator, so that teardown can
// check that the loop made was closed and shut its generators down.
struct Fixture : Factory {
  Gen sentinel;
  Fixture() {
    on_loop = [this](uvrun_loop_t *loop) { sentinel.reg(loop, "fixture_sentinel"); };
  }
  // tearDown: the one loop made is closed and its finalizers ran.
  void check_teardown() const {
    CHECK(made == 1);
    CHECK(loop_closed());
    CHECK(sentinel.closes > 0);
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
inline uvrun_task_t *leftover(uvrun_loop_t *loop, const char *name,
                              std::function<int(uvrun_task_t *, int rc)> cleanup) {
  return t::spawn(
      loop,
      [cleanup](uvrun_task_t *task, int step) {
        if (step == 0) return uvrun_task_await(task, uvrun_sleep(task, 30));
        return cleanup(task, uvrun_task_resume(task, nullptr));
      },
      name);
}

// Leaves a leftover task (as above) whose cleanup fails with a new error
// (code, message); the caller keeps no reference.
inline void leave_failing(uvrun_loop_t *loop, const char *name, int code, const char *message) {
  uvrun_task_unref(leftover(loop, name, [code, message](uvrun_task_t *lo, int) { return t::fail(lo, code, message); }));
}
// ... with a KeyboardInterrupt, named "kbd".
inline void leave_kbd_interrupt(uvrun_loop_t *loop) {
  leave_failing(loop, "kbd", UVRUN_E_INTERRUPTED, "KeyboardInterrupt");
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
