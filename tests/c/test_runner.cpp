// uvrun_run() and the runner through the C API: SPEC sections A (states),
// B (entry checks), C (loop factory), D (debug switch, R19-R20), E (contexts),
// F (results and errors), H (shutdown), J (threads, fork), and X2. The port
// of CPython's test_runners.py is in test_runners_port.cpp; this file covers
// what that file does not.
#include <doctest/doctest.h>
#include <uvrun.h>

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support.h"

namespace {

using Step = std::function<int(uvrun_task_t *, int)>;

uvrun_error_t *new_error(int code, const char *msg) { return uvrun_error_new(code, msg, nullptr, nullptr); }

int runner_run(uvrun_runner_t *r, Step fn, void **result = nullptr, uvrun_context_t *ctx = nullptr) {
  t::Lambda main{std::move(fn)};
  return uvrun_runner_run(r, t::Lambda::run, &main, ctx, result);
}

int finish(uvrun_task_t *task) { return uvrun_task_return(task, nullptr); }

double since(std::chrono::steady_clock::time_point t0) {
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

// A leftover task: step 0 awaits a long sleep; on cancellation it runs
// `cleanup`, whose return is the step's return.
uvrun_task_t *leftover(uvrun_loop_t *loop, const char *name, std::function<int(uvrun_task_t *, int rc)> cleanup) {
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
void spawn_counted(uvrun_loop_t *loop, const char *name, int *freed, Step fn) {
  uvrun_task_opts_t o;
  uvrun_task_opts_init(&o);
  o.name = name;
  o.arg_free = Counted::destroy;
  REQUIRE(uvrun_task_new(loop, Counted::run, new Counted{std::move(fn), 0, freed}, &o, nullptr) == 0);
}

}  // namespace

// ---- A. states --------------------------------------------------------------

TEST_CASE("R2 uvrun_runner_new only allocates: no loop, no factory call, no current loop") {
  Factory fx;
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  fx.install(&opts);
  uvrun_runner_t *r = nullptr;
  REQUIRE(uvrun_runner_new(&opts, &r) == 0);
  CHECK(fx.calls == 0);
  CHECK(uvrun_get_current_loop() == nullptr);
  uvrun_runner_free(r);
  CHECK(fx.calls == 0);

  uvrun_runner_t *d = nullptr;  // the default path too
  REQUIRE(uvrun_runner_new(nullptr, &d) == 0);
  CHECK(uvrun_get_current_loop() == nullptr);
  uvrun_runner_free(d);
}

TEST_CASE("R3 get_loop initializes once; later calls return the same loop") {
  Factory fx;
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  fx.install(&opts);
  uvrun_runner_t *r = nullptr;
  REQUIRE(uvrun_runner_new(&opts, &r) == 0);
  uvrun_loop_t *a = nullptr, *b = nullptr;
  REQUIRE(uvrun_runner_get_loop(r, &a) == 0);
  REQUIRE(uvrun_runner_get_loop(r, &b) == 0);
  CHECK(a == b);
  CHECK(a == fx.loop);
  CHECK(runner_run(r, [](uvrun_task_t *task, int) { return finish(task); }) == 0);
  CHECK(fx.calls == 1);
  CHECK(uvrun_runner_close(r) == 0);
  uvrun_runner_free(r);
}

TEST_CASE("R3 run, run_future and get_loop on a closed runner fail with Runner is closed") {
  uvrun_runner_t *r = nullptr;
  REQUIRE(uvrun_runner_new(nullptr, &r) == 0);
  uvrun_loop_t *loop = nullptr;
  REQUIRE(uvrun_runner_get_loop(r, &loop) == 0);
  uvrun_future_t *fut = nullptr;
  REQUIRE(uvrun_future_new(loop, &fut) == 0);
  CHECK(uvrun_runner_close(r) == 0);
  bool ran = false;
  CHECK(runner_run(r, [&](uvrun_task_t *task, int) {
          ran = true;
          return finish(task);
        }) == UVRUN_E_CLOSED);
  CHECK(std::string(uvrun_errmsg()) == "Runner is closed");
  CHECK(uvrun_runner_run_future(r, fut, nullptr) == UVRUN_E_CLOSED);  // takes fut's reference
  CHECK(std::string(uvrun_errmsg()) == "Runner is closed");
  CHECK(uvrun_runner_get_loop(r, &loop) == UVRUN_E_CLOSED);
  CHECK(loop == nullptr);
  CHECK_FALSE(ran);
  uvrun_runner_free(r);
}

TEST_CASE("R4 init order: the factory's loop gets the debug option, then the caller's context is snapshotted") {
  Factory fx;
  fx.debug = 1;  // the factory makes a debug loop
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  opts.debug = UVRUN_DEBUG_OFF;  // applied after the factory: wins
  fx.install(&opts);
  uvrun_contextvar_t *var = nullptr;
  REQUIRE(uvrun_contextvar_new("r4", 1, t::iv(0), &var) == 0);
  uvrun_token_t *tok = nullptr;
  REQUIRE(uvrun_contextvar_set(var, t::iv(1), &tok) == 0);  // before init: seen
  uvrun_runner_t *r = nullptr;
  REQUIRE(uvrun_runner_new(&opts, &r) == 0);
  uvrun_loop_t *loop = nullptr;
  REQUIRE(uvrun_runner_get_loop(r, &loop) == 0);
  CHECK_FALSE(uvrun_loop_get_debug(loop));
  uvrun_token_t *tok2 = nullptr;
  REQUIRE(uvrun_contextvar_set(var, t::iv(2), &tok2) == 0);  // after init: not seen
  void *seen = nullptr;
  CHECK(runner_run(
            r,
            [&](uvrun_task_t *task, int) {
              void *v = nullptr;
              uvrun_contextvar_get(var, &v);
              return uvrun_task_return(task, v);
            },
            &seen) == 0);
  CHECK(t::vi(seen) == 1);
  CHECK(uvrun_runner_close(r) == 0);
  uvrun_runner_free(r);
  uvrun_contextvar_reset(var, tok2);
  uvrun_contextvar_reset(var, tok);
  uvrun_contextvar_free(var);
}

TEST_CASE("R6 close on a never-initialized runner does nothing and keeps it usable") {
  Factory fx;
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  fx.install(&opts);
  uvrun_runner_t *r = nullptr;
  REQUIRE(uvrun_runner_new(&opts, &r) == 0);
  CHECK(uvrun_runner_close(r) == 0);
  CHECK(uvrun_runner_close(r) == 0);
  CHECK(fx.calls == 0);
  void *result = nullptr;
  CHECK(runner_run(r, [](uvrun_task_t *task, int) { return uvrun_task_return(task, t::iv(5)); }, &result) == 0);
  CHECK(t::vi(result) == 5);
  CHECK(fx.made == 1);
  CHECK(uvrun_runner_close(r) == 0);
  CHECK(fx.loop_closed());
  uvrun_runner_free(r);
}

TEST_CASE("R6 uvrun_runner_free on a CREATED runner frees it without building a loop") {
  Factory fx;
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  fx.install(&opts);
  uvrun_runner_t *r = nullptr;
  REQUIRE(uvrun_runner_new(&opts, &r) == 0);
  uvrun_runner_free(r);
  CHECK(fx.calls == 0);
  uvrun_runner_free(nullptr);  // NULL-safe
}

TEST_CASE("R7 a close whose shutdown fails still leaves the runner CLOSED and the loop closed") {
  Factory fx;
  t::Reports reports;
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  fx.install(&opts);
  reports.install(&opts);
  uvrun_runner_t *r = nullptr;
  REQUIRE(uvrun_runner_new(&opts, &r) == 0);
  CHECK(runner_run(r, [](uvrun_task_t *task, int) {
          uvrun_task_unref(leftover(uvrun_task_loop(task), "kbd", [](uvrun_task_t *lo, int) {
            return uvrun_task_raise(lo, new_error(UVRUN_E_INTERRUPTED, "KeyboardInterrupt"));
          }));
          return finish(task);
        }) == 0);
  CHECK(uvrun_runner_close(r) == UVRUN_E_INTERRUPTED);
  CHECK(fx.loop_closed());
  uvrun_loop_t *loop = nullptr;
  CHECK(uvrun_runner_get_loop(r, &loop) == UVRUN_E_CLOSED);
  CHECK(uvrun_runner_close(r) == 0);  // idempotent
  uvrun_runner_free(r);
}

// ---- B. entry checks ----------------------------------------------------------

TEST_CASE("R12 the running-loop check comes first: closed and fresh runners both say running loop") {
  Factory fx;
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  fx.install(&opts);
  uvrun_runner_t *fresh = nullptr, *closed = nullptr, *outer = nullptr;
  REQUIRE(uvrun_runner_new(&opts, &fresh) == 0);
  REQUIRE(uvrun_runner_new(nullptr, &closed) == 0);
  uvrun_loop_t *loop = nullptr;
  REQUIRE(uvrun_runner_get_loop(closed, &loop) == 0);
  REQUIRE(uvrun_runner_close(closed) == 0);
  REQUIRE(uvrun_runner_new(nullptr, &outer) == 0);
  int rc_fresh = 0, rc_closed = 0, rc_null = 0;
  std::string msg_fresh, msg_closed;
  CHECK(runner_run(outer, [&](uvrun_task_t *task, int) {
          rc_fresh = runner_run(fresh, [](uvrun_task_t *t2, int) { return finish(t2); });
          msg_fresh = uvrun_errmsg();
          rc_closed = runner_run(closed, [](uvrun_task_t *t2, int) { return finish(t2); });
          msg_closed = uvrun_errmsg();
          rc_null = uvrun_runner_run(fresh, nullptr, nullptr, nullptr, nullptr);
          return finish(task);
        }) == 0);
  CHECK(rc_fresh == UVRUN_E_LOOP_RUNNING);
  CHECK(msg_fresh == "uvrun_runner_run() cannot be called from a running event loop");
  CHECK(rc_closed == UVRUN_E_LOOP_RUNNING);
  CHECK(msg_closed == "uvrun_runner_run() cannot be called from a running event loop");
  CHECK(rc_null == UVRUN_E_LOOP_RUNNING);
  CHECK(fx.calls == 0);  // rejected before lazy init
  CHECK(uvrun_runner_close(outer) == 0);
  uvrun_runner_free(outer);
  uvrun_runner_free(closed);
  uvrun_runner_free(fresh);
}

TEST_CASE("R12 lazy init comes before the argument check: a NULL step on a closed runner says Runner is closed") {
  uvrun_runner_t *r = nullptr;
  REQUIRE(uvrun_runner_new(nullptr, &r) == 0);
  uvrun_loop_t *loop = nullptr;
  REQUIRE(uvrun_runner_get_loop(r, &loop) == 0);
  REQUIRE(uvrun_runner_close(r) == 0);
  CHECK(uvrun_runner_run(r, nullptr, nullptr, nullptr, nullptr) == UVRUN_E_CLOSED);
  CHECK(std::string(uvrun_errmsg()) == "Runner is closed");
  uvrun_runner_free(r);
}

TEST_CASE("R13 uvrun_run with a NULL step still builds the loop and shuts it down fully") {
  Factory fx;
  Gen gen;
  bool soon_ran = false;
  fx.on_loop = [&](uvrun_loop_t *loop) {
    gen.reg(loop, "sentinel");
    uvrun_loop_call_soon(loop, [](void *ud) { *static_cast<bool *>(ud) = true; }, &soon_ran, nullptr);
  };
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  fx.install(&opts);
  CHECK(uvrun_run(nullptr, nullptr, &opts, nullptr) == UVRUN_E_INVAL);
  CHECK(std::string(uvrun_errmsg()).find("an awaitable is required") != std::string::npos);
  CHECK(fx.made == 1);
  CHECK(gen.closes == 1);  // shutdown_asyncgens ran
  CHECK(soon_ran);         // close iterated the loop
  CHECK(fx.loop_closed());
  CHECK(uvrun_get_current_loop() == nullptr);
}

TEST_CASE("R9 uvrun_run from inside a running loop creates nothing and leaves the step unrun") {
  Factory fx;
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  fx.install(&opts);
  bool inner_ran = false;
  int rc_inner = 0;
  CHECK(t::run([&](uvrun_task_t *task, int) {
          t::Lambda inner{[&](uvrun_task_t *t2, int) {
            inner_ran = true;
            return finish(t2);
          }};
          rc_inner = uvrun_run(t::Lambda::run, &inner, &opts, nullptr);
          CHECK(std::string(uvrun_errmsg()) == "uvrun_run() cannot be called from a running event loop");
          return finish(task);
        }) == 0);
  CHECK(rc_inner == UVRUN_E_LOOP_RUNNING);
  CHECK(fx.calls == 0);
  CHECK_FALSE(inner_ran);
}

// ---- C. loop factory -------------------------------------------------------------

TEST_CASE("R17 the loop factory is called exactly once per runner, with its data") {
  Factory fx;
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  fx.install(&opts);
  uvrun_runner_t *r = nullptr;
  REQUIRE(uvrun_runner_new(&opts, &r) == 0);
  uvrun_loop_t *seen = nullptr;
  for (int i = 0; i < 3; i++)
    CHECK(runner_run(r, [&](uvrun_task_t *task, int) {
            seen = uvrun_get_running_loop();
            return finish(task);
          }) == 0);
  uvrun_loop_t *loop = nullptr;
  REQUIRE(uvrun_runner_get_loop(r, &loop) == 0);
  CHECK(fx.calls == 1);
  CHECK(fx.seen_ud == &fx);
  CHECK(seen == fx.loop);
  CHECK(loop == fx.loop);
  CHECK(uvrun_runner_close(r) == 0);
  CHECK(fx.loop_closed());  // the runner owns and closes the factory's loop
  uvrun_runner_free(r);
}

TEST_CASE("R17 a failing loop factory leaves the runner CREATED and a later call retries") {
  Factory fx;
  fx.fail_calls = 1;
  fx.fail_code = -EMFILE;
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  fx.install(&opts);
  uvrun_runner_t *r = nullptr;
  REQUIRE(uvrun_runner_new(&opts, &r) == 0);
  uvrun_loop_t *loop = nullptr;
  CHECK(uvrun_runner_get_loop(r, &loop) == -EMFILE);
  CHECK(loop == nullptr);
  CHECK(fx.made == 0);
  CHECK(uvrun_runner_close(r) == 0);  // still CREATED: close is a no-op
  CHECK(uvrun_runner_get_loop(r, &loop) == 0);  // and it is not CLOSED
  CHECK(fx.calls == 2);
  CHECK(loop == fx.loop);
  CHECK(uvrun_runner_close(r) == 0);
  uvrun_runner_free(r);

  fx.fail_calls = 1;  // through uvrun_run: the error comes back as is
  fx.calls = 0;
  bool ran = false;
  CHECK(t::run(
            [&](uvrun_task_t *task, int) {
              ran = true;
              return finish(task);
            },
            &opts) == -EMFILE);
  CHECK_FALSE(ran);
  CHECK(fx.calls == 1);
}

TEST_CASE("R17 R20 debug DEFAULT leaves the factory loop's debug setting alone") {
  Env env("UVRUN_DEBUG");
  env.unset();
  t::LogCapture log;
  for (int fdebug : {0, 1}) {
    Factory fx;
    fx.debug = fdebug;
    uvrun_options_t opts;
    uvrun_options_init(&opts);
    fx.install(&opts);
    uvrun_runner_t *r = nullptr;
    REQUIRE(uvrun_runner_new(&opts, &r) == 0);
    uvrun_loop_t *loop = nullptr;
    REQUIRE(uvrun_runner_get_loop(r, &loop) == 0);
    CHECK(uvrun_loop_get_debug(loop) == fdebug);
    CHECK(uvrun_runner_close(r) == 0);
    uvrun_runner_free(r);
  }
}

// ---- D. debug switch ---------------------------------------------------------------

TEST_CASE("R19 UVRUN_DEBUG is read at loop construction: 1, true, yes turn debug on; unset, empty, 0 do not") {
  Env env("UVRUN_DEBUG");
  t::LogCapture log;
  auto debug_of_new_runner = [](uvrun_options_t *opts) {
    uvrun_runner_t *r = nullptr;
    REQUIRE(uvrun_runner_new(opts, &r) == 0);
    uvrun_loop_t *loop = nullptr;
    REQUIRE(uvrun_runner_get_loop(r, &loop) == 0);
    int d = uvrun_loop_get_debug(loop);
    CHECK(uvrun_runner_close(r) == 0);
    uvrun_runner_free(r);
    return d;
  };
  struct Case {
    const char *value;
    int debug;
  };
  for (Case c : {Case{"1", 1}, Case{"true", 1}, Case{"yes", 1}, Case{"", 0}, Case{"0", 0}}) {
    CAPTURE(c.value);
    env.set(c.value);
    CHECK(debug_of_new_runner(nullptr) == c.debug);
  }
  env.unset();
  CHECK(debug_of_new_runner(nullptr) == 0);

  // Read when the loop is made, not when the runner is: set it in between.
  uvrun_runner_t *r = nullptr;
  REQUIRE(uvrun_runner_new(nullptr, &r) == 0);
  env.set("1");
  uvrun_loop_t *loop = nullptr;
  REQUIRE(uvrun_runner_get_loop(r, &loop) == 0);
  CHECK(uvrun_loop_get_debug(loop) == 1);
  env.unset();  // and later changes do not touch a made loop
  CHECK(runner_run(r, [](uvrun_task_t *task, int) {
          return uvrun_task_return(task, t::iv(uvrun_loop_get_debug(uvrun_task_loop(task))));
        }) == 0);
  CHECK(uvrun_loop_get_debug(loop) == 1);
  CHECK(uvrun_runner_close(r) == 0);
  uvrun_runner_free(r);
}

TEST_CASE("R20 debug ON and OFF override UVRUN_DEBUG; an invalid value is rejected") {
  Env env("UVRUN_DEBUG");
  t::LogCapture log;
  env.set("yes");
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  opts.debug = UVRUN_DEBUG_OFF;
  int seen = -1;
  CHECK(t::run(
            [&](uvrun_task_t *task, int) {
              seen = uvrun_loop_get_debug(uvrun_task_loop(task));
              return finish(task);
            },
            &opts) == 0);
  CHECK(seen == 0);
  env.unset();
  opts.debug = UVRUN_DEBUG_ON;
  CHECK(t::run(
            [&](uvrun_task_t *task, int) {
              seen = uvrun_loop_get_debug(uvrun_task_loop(task));
              return finish(task);
            },
            &opts) == 0);
  CHECK(seen == 1);
  opts.debug = 7;
  uvrun_runner_t *r = nullptr;
  CHECK(uvrun_runner_new(&opts, &r) == UVRUN_E_INVAL);
  CHECK(r == nullptr);
}

// ---- E. main task and contexts -----------------------------------------------------

TEST_CASE("R30 the main task gets an automatic Task-N name and never runs inline") {
  std::string name;
  bool in_loop = false;
  CHECK(t::run([&](uvrun_task_t *task, int) {
          name = uvrun_task_name(task);
          in_loop = uvrun_get_running_loop() == uvrun_task_loop(task) && uvrun_current_task(uvrun_task_loop(task)) == task;
          return finish(task);
        }) == 0);
  CHECK(name.rfind("Task-", 0) == 0);
  CHECK(in_loop);
}

TEST_CASE("R31 main task writes persist across runs of one runner and stay out of the caller's context") {
  uvrun_contextvar_t *var = nullptr;
  REQUIRE(uvrun_contextvar_new("r31", 1, t::iv(0), &var) == 0);
  uvrun_runner_t *r = nullptr;
  REQUIRE(uvrun_runner_new(nullptr, &r) == 0);
  auto bump = [var](uvrun_task_t *task, int) {
    void *v = nullptr;
    uvrun_contextvar_get(var, &v);
    uvrun_contextvar_set(var, t::iv(t::vi(v) + 1), nullptr);
    return uvrun_task_return(task, v);
  };
  void *seen = nullptr;
  CHECK(runner_run(r, bump, &seen) == 0);
  CHECK(t::vi(seen) == 0);
  CHECK(runner_run(r, bump, &seen) == 0);
  CHECK(t::vi(seen) == 1);
  void *mine = nullptr;
  CHECK(uvrun_contextvar_get(var, &mine) == 0);
  CHECK(t::vi(mine) == 0);  // the runner's context is a copy
  // uvrun_run takes its snapshot at call time, and writes stay inside.
  uvrun_token_t *tok = nullptr;
  REQUIRE(uvrun_contextvar_set(var, t::iv(10), &tok) == 0);
  CHECK(t::run(bump, nullptr, &seen) == 0);
  CHECK(t::vi(seen) == 10);
  CHECK(uvrun_contextvar_get(var, &mine) == 0);
  CHECK(t::vi(mine) == 10);
  uvrun_contextvar_reset(var, tok);
  CHECK(uvrun_runner_close(r) == 0);
  uvrun_runner_free(r);
  uvrun_contextvar_free(var);
}

TEST_CASE("R31 context= runs the main task in that context and leaves the runner's own untouched") {
  uvrun_contextvar_t *var = nullptr;
  REQUIRE(uvrun_contextvar_new("r31ctx", 1, t::iv(0), &var) == 0);
  uvrun_context_t *ctx = nullptr;
  REQUIRE(uvrun_context_new(&ctx) == 0);
  uvrun_runner_t *r = nullptr;
  REQUIRE(uvrun_runner_new(nullptr, &r) == 0);
  auto set5 = [var](uvrun_task_t *task, int) {
    uvrun_contextvar_set(var, t::iv(5), nullptr);
    return finish(task);
  };
  auto get = [var](uvrun_task_t *task, int) {
    void *v = nullptr;
    uvrun_contextvar_get(var, &v);
    return uvrun_task_return(task, v);
  };
  CHECK(runner_run(r, set5, nullptr, ctx) == 0);
  void *v = nullptr;
  CHECK(uvrun_context_get(ctx, var, &v) == 0);
  CHECK(t::vi(v) == 5);
  CHECK(runner_run(r, get, &v) == 0);  // runner's own context
  CHECK(t::vi(v) == 0);
  CHECK(runner_run(r, get, &v, ctx) == 0);  // the same ctx again
  CHECK(t::vi(v) == 5);
  CHECK(uvrun_runner_close(r) == 0);
  uvrun_runner_free(r);
  uvrun_context_free(ctx);
  uvrun_contextvar_free(var);
}

TEST_CASE("R31 tasks spawned by main run in a copy: their writes do not leak back") {
  uvrun_contextvar_t *var = nullptr;
  REQUIRE(uvrun_contextvar_new("r31spawn", 1, t::iv(0), &var) == 0);
  void *child_saw = nullptr, *main_after = nullptr;
  CHECK(t::run([&](uvrun_task_t *task, int step) {
          if (step == 0) {
            uvrun_contextvar_set(var, t::iv(1), nullptr);
            uvrun_task_t *child = t::spawn(uvrun_task_loop(task), [&](uvrun_task_t *c, int) {
              uvrun_contextvar_get(var, &child_saw);
              uvrun_contextvar_set(var, t::iv(2), nullptr);
              return finish(c);
            });
            uvrun_contextvar_set(var, t::iv(3), nullptr);  // after the copy: not seen by child
            return uvrun_task_await(task, uvrun_task_future(child));  // takes the reference
          }
          uvrun_contextvar_get(var, &main_after);
          return finish(task);
        }) == 0);
  CHECK(t::vi(child_saw) == 1);
  CHECK(t::vi(main_after) == 3);
  uvrun_contextvar_free(var);
}

TEST_CASE("R32 a custom handler reporting a shutdown failure runs in the failing task's context") {
  uvrun_contextvar_t *var = nullptr;
  REQUIRE(uvrun_contextvar_new("r32", 1, t::iv(0), &var) == 0);
  struct Seen {
    uvrun_contextvar_t *var;
    std::vector<intptr_t> values;
  } seen{var, {}};
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  opts.exception_handler = [](uvrun_loop_t *, const uvrun_exception_context_t *, void *ud) {
    auto *s = static_cast<Seen *>(ud);
    void *v = nullptr;
    uvrun_contextvar_get(s->var, &v);
    s->values.push_back(t::vi(v));
  };
  opts.exception_handler_data = &seen;
  CHECK(t::run(
            [&](uvrun_task_t *task, int) {
              uvrun_task_unref(leftover(uvrun_task_loop(task), "ctx", [var](uvrun_task_t *lo, int) {
                uvrun_contextvar_set(var, t::iv(9), nullptr);
                return uvrun_task_raise(lo, new_error(-EDOM, "division by zero"));
              }));
              return finish(task);
            },
            &opts) == 0);
  CHECK(seen.values == std::vector<intptr_t>{9});
  uvrun_contextvar_free(var);
}

// ---- F. execution, results, errors -------------------------------------------------------

TEST_CASE("R35 a task whose first step was queued before main finished runs it before run() returns") {
  bool started = false, soon_ran = false;
  int cleanup_rc = 1;
  uvrun_runner_t *r = nullptr;
  REQUIRE(uvrun_runner_new(nullptr, &r) == 0);
  CHECK(runner_run(r, [&](uvrun_task_t *task, int) {
          uvrun_task_unref(t::spawn(uvrun_task_loop(task), [&](uvrun_task_t *lo, int step) {
            if (step == 0) {
              started = true;
              // Queued during the extra iteration: not run before run() returns.
              uvrun_loop_call_soon(uvrun_task_loop(lo), [](void *ud) { *static_cast<bool *>(ud) = true; },
                                   &soon_ran, nullptr);
              return uvrun_task_await(lo, uvrun_sleep(lo, 30));
            }
            cleanup_rc = uvrun_task_resume(lo, nullptr);
            return cleanup_rc;
          }));
          return finish(task);
        }) == 0);
  CHECK(started);
  CHECK_FALSE(soon_ran);  // the loop stopped after that one iteration
  CHECK(cleanup_rc == 1);
  CHECK(uvrun_runner_close(r) == 0);
  CHECK(cleanup_rc == UVRUN_E_CANCELLED);  // it had started, so it saw the cancel
  CHECK(soon_ran);                         // close iterated the loop
  uvrun_runner_free(r);
}

namespace {
struct Owned {
  int *freed;
};
void owned_free(void *p) {
  auto *o = static_cast<Owned *>(p);
  (*o->freed)++;
  delete o;
}
}  // namespace

TEST_CASE("R36 the result is moved out; with result == NULL the runner frees it with value_free") {
  int freed = 0;
  Owned *made = nullptr;
  auto produce = [&](uvrun_task_t *task, int) {
    made = new Owned{&freed};
    return uvrun_task_return_owned(task, made, owned_free);
  };
  void *result = nullptr;
  CHECK(t::run(produce, nullptr, &result) == 0);
  CHECK(result == made);
  CHECK(freed == 0);
  owned_free(result);
  CHECK(freed == 1);

  CHECK(t::run(produce) == 0);  // nobody takes it: freed once
  CHECK(freed == 2);

  uvrun_runner_t *r = nullptr;
  REQUIRE(uvrun_runner_new(nullptr, &r) == 0);
  CHECK(runner_run(r, produce) == 0);
  CHECK(uvrun_runner_close(r) == 0);
  uvrun_runner_free(r);
  CHECK(freed == 3);
}

namespace {
int payload_frees = 0;
void payload_free(void *p) {
  payload_frees++;
  delete static_cast<std::string *>(p);
}
}  // namespace

TEST_CASE("R37 a failing main task gives UVRUN_E_TASK_FAILED and the same error object with its payload") {
  payload_frees = 0;
  auto *payload = new std::string("the host's exception");
  uvrun_error_t *raised = nullptr;
  int rc = t::run([&](uvrun_task_t *task, int step) {
    if (step == 0) return uvrun_task_await(task, uvrun_sleep(task, 0));
    raised = uvrun_error_new(-EDOM, "spam", payload, payload_free);
    return uvrun_task_raise(task, raised);
  });
  CHECK(rc == UVRUN_E_TASK_FAILED);
  uvrun_error_t *err = uvrun_take_error();
  REQUIRE(err != nullptr);
  CHECK(err == raised);
  CHECK(uvrun_error_code(err) == -EDOM);
  CHECK(std::string(uvrun_error_message(err)) == "spam");
  CHECK(uvrun_error_payload(err) == payload);
  CHECK(payload_frees == 0);
  uvrun_error_unref(err);
  CHECK(payload_frees == 1);  // ours was the last reference
}

TEST_CASE("R37 errors of other tasks never change run()'s outcome") {
  t::Reports reports;
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  reports.install(&opts);
  void *result = nullptr;
  CHECK(t::run(
            [&](uvrun_task_t *task, int step) {
              if (step == 0) {
                uvrun_task_unref(t::spawn(
                    uvrun_task_loop(task),
                    [](uvrun_task_t *s, int) { return uvrun_task_raise(s, new_error(-EDOM, "sibling")); },
                    "sibling"));
                return uvrun_task_await(task, uvrun_sleep(task, 0.01));
              }
              return uvrun_task_return(task, t::iv(7));
            },
            &opts, &result) == 0);
  CHECK(t::vi(result) == 7);
  REQUIRE(reports.list.size() == 1);
  CHECK(reports.list[0].message == "Task exception was never retrieved");
  CHECK(reports.list[0].task_name == "sibling");
}

TEST_CASE("R38 R53 an interrupt raised in another task unwinds the loop; close() then cancels the main task") {
  t::Reports reports;
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  reports.install(&opts);
  uvrun_runner_t *r = nullptr;
  REQUIRE(uvrun_runner_new(&opts, &r) == 0);
  int main_resume = 1;
  // The main task outlives run() (R53): its lambda must too.
  t::Lambda main{[&](uvrun_task_t *task, int step) {
    if (step == 0) {
      uvrun_task_unref(t::spawn(uvrun_task_loop(task), [](uvrun_task_t *s, int) {
        return uvrun_task_raise(s, new_error(UVRUN_E_INTERRUPTED, "KeyboardInterrupt"));
      }));
      return uvrun_task_await(task, uvrun_sleep(task, 30));
    }
    main_resume = uvrun_task_resume(task, nullptr);
    return main_resume;
  }};
  CHECK(uvrun_runner_run(r, t::Lambda::run, &main, nullptr, nullptr) == UVRUN_E_INTERRUPTED);
  CHECK(main_resume == 1);  // still pending
  CHECK(uvrun_runner_close(r) == 0);
  CHECK(main_resume == UVRUN_E_CANCELLED);
  uvrun_runner_free(r);
}

TEST_CASE("R38 an interrupt or exit raised by the main task comes out as itself, not TASK_FAILED") {
  for (int code : {(int)UVRUN_E_INTERRUPTED, (int)UVRUN_E_EXIT}) {
    CAPTURE(code);
    t::LogCapture log;
    CHECK(t::run([code](uvrun_task_t *task, int) { return uvrun_task_raise(task, new_error(code, "bye")); }) ==
          code);
    // run() consumed it (asyncio's run_until_complete does): no leak report.
    INFO(log.all());
    CHECK_FALSE(log.contains("never retrieved"));
  }
}

TEST_CASE("R39 R53 uvrun_loop_stop() in main: run() fails with LOOP_STOPPED and close() cancels main") {
  uvrun_runner_t *r = nullptr;
  REQUIRE(uvrun_runner_new(nullptr, &r) == 0);
  int main_resume = 1;
  t::Lambda main{[&](uvrun_task_t *task, int step) {
    if (step == 0) {
      uvrun_loop_stop(uvrun_task_loop(task));
      return uvrun_task_await(task, uvrun_sleep(task, 30));
    }
    main_resume = uvrun_task_resume(task, nullptr);
    return main_resume;
  }};
  CHECK(uvrun_runner_run(r, t::Lambda::run, &main, nullptr, nullptr) == UVRUN_E_LOOP_STOPPED);
  CHECK(std::string(uvrun_errmsg()) == "Event loop stopped before Future completed.");
  CHECK(main_resume == 1);
  CHECK(uvrun_runner_close(r) == 0);
  CHECK(main_resume == UVRUN_E_CANCELLED);
  uvrun_runner_free(r);

  // uvrun_run reports the same.
  CHECK(t::run([](uvrun_task_t *task, int step) {
          if (step == 0) {
            uvrun_loop_stop(uvrun_task_loop(task));
            return uvrun_task_await(task, uvrun_sleep(task, 30));
          }
          return uvrun_task_resume(task, nullptr);
        }) == UVRUN_E_LOOP_STOPPED);
  CHECK(std::string(uvrun_errmsg()) == "Event loop stopped before Future completed.");
}

// ---- H. shutdown ----------------------------------------------------------------------------

namespace {
struct OrderState {
  Order order;
  std::atomic<bool> gen_closed{false};
};
int order_job(void *ud, void **) {
  auto *s = static_cast<OrderState *>(ud);
  auto t0 = std::chrono::steady_clock::now();
  while (!s->gen_closed.load() && since(t0) < 5) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  s->order.add("executor job done");
  return 0;
}
}  // namespace

TEST_CASE("R47 close order: leftover tasks, then async generators, then the executor, then the loop") {
  OrderState st;
  Gen gen;
  Factory fx;
  uvrun_task_t *lo = nullptr;
  gen.on_close = [&] {
    st.order.add(lo != nullptr && uvrun_future_done(uvrun_task_future(lo)) ? "asyncgen (task done)" : "asyncgen");
    st.gen_closed = true;
  };
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  opts.executor_shutdown_timeout = 10;
  fx.install(&opts);
  t::LogCapture log;
  uvrun_runner_t *r = nullptr;
  REQUIRE(uvrun_runner_new(&opts, &r) == 0);
  CHECK(runner_run(r, [&](uvrun_task_t *task, int) {
          uvrun_loop_t *loop = uvrun_task_loop(task);
          REQUIRE(gen.reg(loop) == 0);
          lo = leftover(loop, "lo", [&](uvrun_task_t *t2, int rc) {
            st.order.add("task cleanup");
            // The executor is still up: the job is queued, and shutdown waits for it.
            uvrun_future_unref(uvrun_run_in_executor(uvrun_task_loop(t2), order_job, &st));
            return rc;
          });
          return finish(task);
        }) == 0);
  CHECK(uvrun_runner_close(r) == 0);
  st.order.add("closed");
  CHECK(fx.loop_closed());
  CHECK(st.order.v ==
        std::vector<std::string>{"task cleanup", "asyncgen (task done)", "executor job done", "closed"});
  CHECK_FALSE(log.contains("did not finishing"));
  uvrun_task_unref(lo);
  uvrun_runner_free(r);
}

TEST_CASE("R48 a task created during the cancel step is not cancelled and is dropped at loop close") {
  t::Reports reports;
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  reports.install(&opts);
  bool late_started = false, late_cancelled = false;
  CHECK(t::run(
            [&](uvrun_task_t *task, int) {
              uvrun_task_unref(leftover(uvrun_task_loop(task), "lo", [&](uvrun_task_t *t2, int rc) {
                uvrun_task_unref(t::spawn(
                    uvrun_task_loop(t2),
                    [&](uvrun_task_t *late, int step) {
                      if (step == 0) {
                        late_started = true;
                        return uvrun_task_await(late, uvrun_sleep(late, 30));
                      }
                      late_cancelled = uvrun_task_resume(late, nullptr) == UVRUN_E_CANCELLED;
                      return uvrun_task_resume(late, nullptr);
                    },
                    "late"));
                return rc;
              }));
              return finish(task);
            },
            &opts) == 0);
  CHECK(late_started);
  CHECK_FALSE(late_cancelled);
  REQUIRE(reports.list.size() == 1);
  CHECK(reports.list[0].message == "Task was destroyed but it is pending!");
  CHECK(reports.list[0].task_name == "late");
}

TEST_CASE("R49 R50 every leftover task is waited for; only those that failed are reported") {
  t::Reports reports;
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  reports.install(&opts);
  uvrun_task_t *slow = nullptr, *fails = nullptr, *swallows = nullptr, *plain = nullptr;
  CHECK(t::run(
            [&](uvrun_task_t *task, int) {
              uvrun_loop_t *loop = uvrun_task_loop(task);
              fails = leftover(loop, "fails", [](uvrun_task_t *t2, int) {
                return uvrun_task_raise(t2, new_error(-EDOM, "division by zero"));
              });
              // Its cleanup awaits: the wait goes on past the failure above.
              slow = t::spawn(
                  loop,
                  [](uvrun_task_t *t2, int step) {
                    if (step == 0) return uvrun_task_await(t2, uvrun_sleep(t2, 30));
                    if (step == 1) return uvrun_task_await(t2, uvrun_sleep(t2, 0.05));
                    return uvrun_task_raise(t2, new_error(UVRUN_E_CANCELLED, ""));
                  },
                  "slow");
              swallows = leftover(loop, "swallows", [](uvrun_task_t *t2, int) { return uvrun_task_return(t2, t::iv(1)); });
              plain = leftover(loop, "plain", [](uvrun_task_t *, int rc) { return rc; });
              return finish(task);
            },
            &opts) == 0);
  for (uvrun_task_t *tk : {slow, fails, swallows, plain}) {
    REQUIRE(tk != nullptr);
    CHECK(uvrun_future_done(uvrun_task_future(tk)));
  }
  CHECK(uvrun_future_cancelled(uvrun_task_future(slow)));
  CHECK(uvrun_future_cancelled(uvrun_task_future(plain)));
  CHECK_FALSE(uvrun_future_cancelled(uvrun_task_future(swallows)));
  REQUIRE(reports.list.size() == 1);  // no "never retrieved" either
  CHECK(reports.list[0].message == "unhandled exception during uvrun_run() shutdown");
  CHECK(reports.list[0].task_name == "fails");
  CHECK(reports.list[0].code == -EDOM);
  for (uvrun_task_t *tk : {slow, fails, swallows, plain}) uvrun_task_unref(tk);
}

TEST_CASE("R49 R7 a leftover task raising UVRUN_E_INTERRUPTED in cleanup makes close() return it and skips the later steps") {
  Factory fx;
  Gen gen;
  t::Reports reports;
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  fx.install(&opts);
  reports.install(&opts);
  uvrun_runner_t *r = nullptr;
  REQUIRE(uvrun_runner_new(&opts, &r) == 0);
  CHECK(runner_run(r, [&](uvrun_task_t *task, int) {
          REQUIRE(gen.reg(uvrun_task_loop(task)) == 0);
          uvrun_task_unref(leftover(uvrun_task_loop(task), "kbd", [](uvrun_task_t *lo, int) {
            return uvrun_task_raise(lo, new_error(UVRUN_E_INTERRUPTED, "KeyboardInterrupt"));
          }));
          return finish(task);
        }) == 0);
  CHECK(uvrun_runner_close(r) == UVRUN_E_INTERRUPTED);
  CHECK(gen.closes == 0);  // shutdown_asyncgens skipped
  CHECK(fx.loop_closed());  // the finally part ran
  CHECK(reports.list.empty());
  uvrun_loop_t *loop = nullptr;
  CHECK(uvrun_runner_get_loop(r, &loop) == UVRUN_E_CLOSED);
  uvrun_runner_free(r);
}

TEST_CASE("R49 R61 a task that raised UVRUN_E_INTERRUPTED during cleanup is freed when the runner closes") {
  t::Reports reports;
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  reports.install(&opts);
  int freed = 0;
  uvrun_runner_t *r = nullptr;
  REQUIRE(uvrun_runner_new(&opts, &r) == 0);
  CHECK(runner_run(r, [&](uvrun_task_t *task, int) {
          spawn_counted(uvrun_task_loop(task), "kbd", &freed, [](uvrun_task_t *lo, int step) {
            if (step == 0) return uvrun_task_await(lo, uvrun_sleep(lo, 30));
            return uvrun_task_raise(lo, new_error(UVRUN_E_INTERRUPTED, "KeyboardInterrupt"));
          });
          return finish(task);
        }) == 0);
  CHECK(uvrun_runner_close(r) == UVRUN_E_INTERRUPTED);
  CHECK(freed == 1);  // nothing keeps a finished task alive past the loop
  uvrun_runner_free(r);
}

TEST_CASE("R50 the default handler logs the shutdown failure with the task's name and error") {
  t::LogCapture log;
  void *result = nullptr;
  CHECK(t::run(
            [](uvrun_task_t *task, int) {
              uvrun_task_unref(leftover(uvrun_task_loop(task), "doomed", [](uvrun_task_t *lo, int) {
                return uvrun_task_raise(lo, new_error(-EDOM, "division by zero"));
              }));
              return uvrun_task_return(task, t::iv(123));
            },
            nullptr, &result) == 0);
  CHECK(t::vi(result) == 123);
  INFO(log.all());
  REQUIRE(log.count("unhandled exception during uvrun_run() shutdown") == 1);
  for (auto &l : log.lines) {
    if (l.second.find("unhandled exception during uvrun_run() shutdown") == std::string::npos) continue;
    CHECK(l.first == UVRUN_LOG_ERROR);
    CHECK(l.second.rfind("unhandled exception during uvrun_run() shutdown", 0) == 0);
    CHECK(l.second.find("task: <Task finished name='doomed'") != std::string::npos);
    CHECK(l.second.find("division by zero") != std::string::npos);
  }
}

TEST_CASE("R50 Runner.close() reports with the same uvrun_run() message") {
  t::Reports reports;
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  reports.install(&opts);
  uvrun_runner_t *r = nullptr;
  REQUIRE(uvrun_runner_new(&opts, &r) == 0);
  CHECK(runner_run(r, [](uvrun_task_t *task, int) {
          uvrun_task_unref(leftover(uvrun_task_loop(task), "doomed", [](uvrun_task_t *lo, int) {
            return uvrun_task_raise(lo, new_error(-EDOM, "division by zero"));
          }));
          return finish(task);
        }) == 0);
  CHECK(reports.list.empty());
  CHECK(uvrun_runner_close(r) == 0);  // reports never change the outcome
  REQUIRE(reports.list.size() == 1);
  CHECK(reports.list[0].message == "unhandled exception during uvrun_run() shutdown");
  CHECK(reports.list[0].task_name == "doomed");
  uvrun_runner_free(r);
}

namespace {
std::atomic<int> late_job_state{0};  // static: the job outlives the test
int late_job(void *, void **) {
  late_job_state = 1;
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  late_job_state = 2;
  return 0;
}
}  // namespace

TEST_CASE("R58 executor shutdown gives up after executor_shutdown_timeout with the exact warning") {
  t::LogCapture log;
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  opts.executor_shutdown_timeout = 0.2;
  late_job_state = 0;
  auto t0 = std::chrono::steady_clock::now();
  CHECK(t::run(
            [](uvrun_task_t *task, int) {
              uvrun_future_unref(uvrun_run_in_executor(uvrun_task_loop(task), late_job, nullptr));
              return finish(task);
            },
            &opts) == 0);
  double took = since(t0);
  CHECK(took >= 0.15);
  CHECK(took < 1.3);
  CHECK(late_job_state != 2);  // left to finish on its own
  INFO(log.all());
  CHECK(log.contains("The executor did not finishing joining its threads within 0.2 seconds."));
  for (auto &l : log.lines)
    if (l.second.find("did not finishing") != std::string::npos) CHECK(l.first == UVRUN_LOG_WARNING);
}

TEST_CASE("R61 after close the loop is closed: call_soon, tasks and run_until_complete say Event loop is closed") {
  Factory fx;
  bool later_ran = false;
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  fx.install(&opts);
  CHECK(t::run(
            [&](uvrun_task_t *task, int) {
              uvrun_loop_call_later(uvrun_task_loop(task), 30, [](void *ud) { *static_cast<bool *>(ud) = true; },
                                    &later_ran, nullptr);
              return finish(task);
            },
            &opts) == 0);
  REQUIRE(fx.loop_closed());
  uvrun_loop_t *loop = uvrun_future_loop(fx.keep);
  CHECK_FALSE(later_ran);  // discarded, not run
  CHECK(uvrun_loop_call_soon(loop, [](void *) {}, nullptr, nullptr) == UVRUN_E_LOOP_CLOSED);
  CHECK(std::string(uvrun_errmsg()) == "Event loop is closed");
  CHECK(uvrun_loop_call_soon_threadsafe(loop, [](void *) {}, nullptr) == UVRUN_E_LOOP_CLOSED);
  uvrun_task_t *task = nullptr;
  CHECK(uvrun_task_new(loop, [](uvrun_task_t *, void *) { return 0; }, nullptr, nullptr, &task) ==
        UVRUN_E_LOOP_CLOSED);
  CHECK(task == nullptr);
  CHECK(uvrun_loop_run_until_complete(loop, fx.keep, nullptr) == UVRUN_E_LOOP_CLOSED);
  CHECK(std::string(uvrun_errmsg()) == "Event loop is closed");
}

TEST_CASE("R62 uvrun_run: a close error wins over a successful result") {
  t::Reports reports;
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  reports.install(&opts);
  CHECK(t::run(
            [](uvrun_task_t *task, int) {
              uvrun_task_unref(leftover(uvrun_task_loop(task), "kbd", [](uvrun_task_t *lo, int) {
                return uvrun_task_raise(lo, new_error(UVRUN_E_INTERRUPTED, "KeyboardInterrupt"));
              }));
              return uvrun_task_return(task, t::iv(42));
            },
            &opts) == UVRUN_E_INTERRUPTED);
}

TEST_CASE("R62 uvrun_run: when the main task and close both fail, the main error comes back and close's is logged") {
  t::Reports reports;
  t::LogCapture log;
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  reports.install(&opts);
  CHECK(t::run(
            [](uvrun_task_t *task, int) {
              uvrun_task_unref(leftover(uvrun_task_loop(task), "kbd", [](uvrun_task_t *lo, int) {
                return uvrun_task_raise(lo, new_error(UVRUN_E_INTERRUPTED, "KeyboardInterrupt"));
              }));
              return uvrun_task_raise(task, new_error(-EDOM, "main failed"));
            },
            &opts) == UVRUN_E_TASK_FAILED);
  uvrun_error_t *err = uvrun_take_error();
  REQUIRE(err != nullptr);
  CHECK(uvrun_error_code(err) == -EDOM);
  CHECK(std::string(uvrun_error_message(err)) == "main failed");
  uvrun_error_unref(err);
  INFO(log.all());
  bool logged = false;
  for (auto &l : log.lines)
    if (l.first == UVRUN_LOG_ERROR && l.second.find("KeyboardInterrupt") != std::string::npos) logged = true;
  CHECK(logged);
}

TEST_CASE("R63 D5 close() from inside the running loop fails with UVRUN_E_LOOP_RUNNING and changes nothing") {
  uvrun_runner_t *r = nullptr;
  REQUIRE(uvrun_runner_new(nullptr, &r) == 0);
  int rc_close = 0, sibling_cancels = -1;
  std::string msg;
  uvrun_loop_t *loop_before = nullptr;
  REQUIRE(uvrun_runner_get_loop(r, &loop_before) == 0);
  uvrun_task_t *sibling = nullptr;
  CHECK(runner_run(r, [&](uvrun_task_t *task, int step) {
          if (step == 0) {
            sibling = leftover(uvrun_task_loop(task), "sibling", [](uvrun_task_t *, int rc) { return rc; });
            return uvrun_task_yield(task);
          }
          rc_close = uvrun_runner_close(r);
          msg = uvrun_errmsg();
          sibling_cancels = uvrun_task_cancelling(sibling);
          return finish(task);
        }) == 0);
  CHECK(rc_close == UVRUN_E_LOOP_RUNNING);
  CHECK(msg.find("cannot be called from a running event loop") != std::string::npos);
  CHECK(sibling_cancels == 0);  // nothing was cancelled
  CHECK(uvrun_get_current_loop() == loop_before);
  uvrun_loop_t *loop = nullptr;
  CHECK(uvrun_runner_get_loop(r, &loop) == 0);  // still INITIALIZED
  CHECK(loop == loop_before);
  CHECK(runner_run(r, [](uvrun_task_t *task, int) { return finish(task); }) == 0);
  CHECK(uvrun_runner_close(r) == 0);
  CHECK(uvrun_future_cancelled(uvrun_task_future(sibling)));
  uvrun_task_unref(sibling);
  uvrun_runner_free(r);
}

// ---- J. threads and fork ---------------------------------------------------------------------

TEST_CASE("R67 D6 a runner initialized in one thread refuses run, get_loop and close from another") {
  uvrun_runner_t *r = nullptr;
  REQUIRE(uvrun_runner_new(nullptr, &r) == 0);
  uvrun_loop_t *loop = nullptr;
  REQUIRE(uvrun_runner_get_loop(r, &loop) == 0);
  int rc_run = 0, rc_loop = 0, rc_close = 0;
  std::string msg;
  bool ran = false;
  std::thread th([&] {
    rc_run = runner_run(r, [&](uvrun_task_t *task, int) {
      ran = true;
      return finish(task);
    });
    msg = uvrun_errmsg();
    uvrun_loop_t *l = nullptr;
    rc_loop = uvrun_runner_get_loop(r, &l);
    rc_close = uvrun_runner_close(r);
  });
  th.join();
  CHECK(rc_run == UVRUN_E_WRONG_THREAD);
  CHECK_FALSE(msg.empty());
  CHECK(rc_loop == UVRUN_E_WRONG_THREAD);
  CHECK(rc_close == UVRUN_E_WRONG_THREAD);
  CHECK_FALSE(ran);
  CHECK(runner_run(r, [](uvrun_task_t *task, int) { return finish(task); }) == 0);  // still fine here
  CHECK(uvrun_runner_close(r) == 0);
  uvrun_runner_free(r);
}

TEST_CASE("D6 a runner binds to the thread that initialized it, not the one that allocated it") {
  uvrun_runner_t *r = nullptr;
  REQUIRE(uvrun_runner_new(nullptr, &r) == 0);
  int rc_run = 1, rc_close = 1;
  std::thread th([&] {
    rc_run = runner_run(r, [](uvrun_task_t *task, int) { return finish(task); });
    rc_close = uvrun_runner_close(r);
  });
  th.join();
  CHECK(rc_run == 0);
  CHECK(rc_close == 0);
  uvrun_loop_t *loop = nullptr;
  CHECK(uvrun_runner_get_loop(r, &loop) == UVRUN_E_CLOSED);
  uvrun_runner_free(r);
}

TEST_CASE("D6 R9 runners on two threads run at the same time; a loop running elsewhere does not block uvrun_run") {
  std::atomic<int> started{0};
  auto body = [&](int *rc_out) {
    *rc_out = t::run([&](uvrun_task_t *task, int step) {
      if (step == 0) started++;
      if (started.load() >= 2) return uvrun_task_return(task, t::iv(1));
      if (step > 2000) return uvrun_task_return(task, t::iv(0));  // about 10 s: the other never came
      return uvrun_task_await(task, uvrun_sleep(task, 0.005));
    });
  };
  int rc1 = 1, rc2 = 1;
  std::thread th(body, &rc1);
  body(&rc2);
  th.join();
  CHECK(rc1 == 0);
  CHECK(rc2 == 0);
  CHECK(started.load() == 2);
}

TEST_CASE("R68 a child forked from inside a running task can call uvrun_run") {
  t::ChildResult res;
  CHECK(t::run([&](uvrun_task_t *task, int) {
          res = t::in_child([] {
            if (uvrun_get_running_loop() != nullptr) return 2;
            if (uvrun_get_current_loop() != nullptr) return 3;
            void *result = nullptr;
            int rc = t::run([](uvrun_task_t *t2, int step) {
              if (step == 0) return uvrun_task_await(t2, uvrun_sleep(t2, 0.001));
              return uvrun_task_return(t2, t::iv(42));
            }, nullptr, &result);
            if (rc != 0) return 4;
            return t::vi(result) == 42 ? 0 : 5;
          });
          return finish(task);
        }) == 0);
  INFO(res.output);
  CHECK(res.exited);
  CHECK(res.code == 0);
}

TEST_CASE("R69 uvrun_run returns only after tasks, generators, executor and loop are all done") {
  Factory fx;
  Gen gen;
  static std::atomic<bool> job_done;
  job_done = false;
  uvrun_task_t *lo = nullptr;
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  fx.install(&opts);
  CHECK(t::run(
            [&](uvrun_task_t *task, int) {
              uvrun_loop_t *loop = uvrun_task_loop(task);
              REQUIRE(gen.reg(loop) == 0);
              lo = leftover(loop, "lo", [](uvrun_task_t *, int rc) { return rc; });
              uvrun_future_unref(uvrun_run_in_executor(
                  loop,
                  [](void *, void **) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(50));
                    job_done = true;
                    return 0;
                  },
                  nullptr));
              return finish(task);
            },
            &opts) == 0);
  REQUIRE(lo != nullptr);
  CHECK(uvrun_future_done(uvrun_task_future(lo)));
  CHECK(gen.closes == 1);
  CHECK(job_done.load());
  CHECK(fx.loop_closed());
  CHECK(uvrun_get_current_loop() == nullptr);
  CHECK(uvrun_get_running_loop() == nullptr);
  uvrun_task_unref(lo);
}

// ---- X2. cancel deadline ------------------------------------------------------------------------

TEST_CASE("X2 cancel_timeout abandons a task that swallows cancellation forever, naming it; close returns") {
  t::LogCapture log;
  t::Reports reports;
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  opts.cancel_timeout = 0.2;
  reports.install(&opts);
  int cancels_seen = 0;
  auto t0 = std::chrono::steady_clock::now();
  uvrun_runner_t *r = nullptr;
  REQUIRE(uvrun_runner_new(&opts, &r) == 0);
  CHECK(runner_run(r, [&](uvrun_task_t *task, int) {
          uvrun_task_unref(t::spawn(
              uvrun_task_loop(task),
              [&](uvrun_task_t *s, int step) {
                if (step > 0 && uvrun_task_resume(s, nullptr) == UVRUN_E_CANCELLED) cancels_seen++;
                return uvrun_task_await(s, uvrun_sleep(s, 0.02));  // forever
              },
              "stubborn"));
          return finish(task);
        }) == 0);
  CHECK(uvrun_runner_close(r) == 0);
  double took = since(t0);
  CHECK(took >= 0.15);
  CHECK(took < 5);
  CHECK(cancels_seen == 1);
  INFO(log.all());
  bool named = false;
  for (auto &l : log.lines)
    if (l.first == UVRUN_LOG_WARNING && l.second.find("name='stubborn'") != std::string::npos &&
        l.second.find("ignored cancellation") != std::string::npos)
      named = true;
  CHECK(named);
  uvrun_runner_free(r);
}

TEST_CASE("X2 R48 an abandoned task is dropped at loop close: reported as destroyed while pending, its state freed") {
  t::LogCapture log;
  t::Reports reports;
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  opts.cancel_timeout = 0.1;
  reports.install(&opts);
  int freed = 0;
  CHECK(t::run(
            [&](uvrun_task_t *task, int) {
              spawn_counted(uvrun_task_loop(task), "stubborn", &freed, [](uvrun_task_t *s, int) {
                return uvrun_task_await(s, uvrun_sleep(s, 0.02));  // ignores cancellation
              });
              return finish(task);
            },
            &opts) == 0);
  CHECK(freed == 1);
  bool reported = false;
  for (auto &rep : reports.list)
    if (rep.message == "Task was destroyed but it is pending!" && rep.task_name == "stubborn") reported = true;
  CHECK(reported);
}
