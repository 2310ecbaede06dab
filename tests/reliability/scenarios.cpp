#include "scenarios.h"

#include <atomic>
#include <memory>
#include <cstdio>
#include <string>
#include <thread>

#include "support.h"

namespace scn {
namespace {

// Why a check failed: the first one wins.
std::string bad;

// Inside a step: a failed check fails the task with a code no injected
// failure produces.
#define VERIFY(c)                                                               \
  do {                                                                          \
    if (!(c)) {                                                                 \
      if (bad.empty()) bad = std::string(#c) + " @" + std::to_string(__LINE__); \
      return UVRUN_E_INVALID_STATE;                                             \
    }                                                                           \
  } while (0)
// A call that returned NULL: its code (uvrun_task_await reports it).
#define TRY_PTR(p)                                              \
  do {                                                          \
    if ((p) == nullptr) return uvrun_task_await(task, nullptr); \
  } while (0)
#define TRY(rc_expr)         \
  do {                       \
    int rc_ = (rc_expr);     \
    if (rc_ < 0) return rc_; \
  } while (0)

// A value or an injected failure.
bool ok_or_nomem(int rc, bool ok) { return rc == UVRUN_E_NOMEM || (rc == 0 && ok); }

oom::Outcome finish(int rc, bool ok = true, const char *what = "") {
  oom::Outcome o;
  oom::disarm();
  o.rc = rc;
  // Also releases the thread's last error object, which is not a leak.
  uvrun_error_t *err = uvrun_take_error();
  if (rc == UVRUN_E_TASK_FAILED) o.error_code = uvrun_error_code(err);
  uvrun_error_unref(err);
  o.ok = ok && bad.empty();
  o.what = !bad.empty() ? bad : what;
  bad.clear();
  return o;
}

// uvrun_run with one await.
oom::Outcome run_basic() {
  void *res = nullptr;
  int rc = t::run(
      [](uvrun_task_t *task, int step) -> int {
        if (step == 0) return uvrun_task_await(task, uvrun_sleep(task, 0));
        TRY(uvrun_task_resume(task, nullptr));
        return uvrun_task_return(task, t::iv(42));
      },
      nullptr, &res);
  return finish(rc, rc != 0 || res == t::iv(42), "result");
}

// A Runner with three runs; the runner's context keeps what each run set (R31).
oom::Outcome runner_runs() {
  uvrun_contextvar_t *var = nullptr;
  int rc = uvrun_contextvar_new("counter", 0, nullptr, &var);
  if (rc < 0) return finish(rc);
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  opts.debug = UVRUN_DEBUG_ON;
  uvrun_runner_t *r = nullptr;
  rc = uvrun_runner_new(&opts, &r);
  bool ok = true;
  for (int i = 0; rc == 0 && i < 3; i++) {
    t::Lambda main{[&, i](uvrun_task_t *task, int step) -> int {
      void *v = nullptr;
      int got = uvrun_contextvar_get(var, &v);
      if (i == 0) VERIFY(got == UVRUN_E_NOTFOUND);
      else VERIFY(got == 0 && v == t::iv(i));
      if (step == 0) return uvrun_task_yield(task);
      TRY(uvrun_contextvar_set(var, t::iv(i + 1), nullptr));
      return uvrun_task_return(task, t::iv(100 + i));
    }};
    void *res = nullptr;
    rc = uvrun_runner_run(r, t::Lambda::run, &main, nullptr, &res);
    if (rc == 0) ok = ok && res == t::iv(100 + i);
  }
  int close_rc = uvrun_runner_close(r);
  if (rc == 0) rc = close_rc;
  oom::Outcome o = finish(rc, ok, "run results");
  uvrun_runner_free(r);
  uvrun_contextvar_free(var);
  return o;
}

// Spawn, await, cancel, gather with return_exceptions.
oom::Outcome tasks() {
  int rc = t::run([](uvrun_task_t *task, int step) -> int {
    struct State {
      uvrun_task_t *c[4] = {};
      uvrun_future_t *f = nullptr;
      ~State() {
        for (auto *x : c) uvrun_task_unref(x);
        uvrun_future_unref(f);
      }
    };
    static State *st;
    uvrun_loop_t *loop = uvrun_task_loop(task);
    if (step == 0) {
      st = new State;
      auto bail = [](int code) {
        delete st;
        st = nullptr;
        return code;
      };
      if (int r0 = uvrun_future_new(loop, &st->f); r0 < 0) return bail(r0);
      st->c[0] = t::spawn(loop, [](uvrun_task_t *k, int s) -> int {
        if (s == 0) return uvrun_task_yield(k);
        return uvrun_task_return(k, t::iv(10));
      });
      if (st->c[0] == nullptr) return bail(uvrun_task_await(task, nullptr));
      st->c[1] = t::spawn(loop, [](uvrun_task_t *k, int s) -> int {
        if (s == 0) return uvrun_task_await(k, uvrun_sleep(k, 30));
        return uvrun_task_resume(k, nullptr);  // cancelled
      });
      if (st->c[1] == nullptr) return bail(uvrun_task_await(task, nullptr));
      // The child keeps its own reference: State may be gone when it runs.
      std::shared_ptr<uvrun_future_t> f(uvrun_future_ref(st->f), uvrun_future_unref);
      st->c[2] = t::spawn(loop, [f](uvrun_task_t *k, int s) -> int {
        if (s == 0) return uvrun_task_await(k, uvrun_future_ref(f.get()));
        void *v;
        TRY(uvrun_task_resume(k, &v));
        return uvrun_task_return(k, v);
      });
      if (st->c[2] == nullptr) return bail(uvrun_task_await(task, nullptr));
      st->c[3] = t::spawn(loop, [](uvrun_task_t *, int) -> int { return UVRUN_E_TIMEDOUT; });
      if (st->c[3] == nullptr) return bail(uvrun_task_await(task, nullptr));
      return uvrun_task_await(task, uvrun_task_future(uvrun_task_ref(st->c[0])));
    }
    if (step == 1) {
      void *v;
      int r = uvrun_task_resume(task, &v);
      if (r < 0) {
        delete st;
        return r;
      }
      VERIFY(v == t::iv(10));
      // c1 may have failed already (its sleep could not be allocated).
      VERIFY(uvrun_task_cancel(st->c[1], "stop") == 1 || uvrun_future_done(uvrun_task_future(st->c[1])));
      VERIFY(uvrun_future_set_result(st->f, t::iv(20), nullptr) == 0);
      uvrun_future_t *kids[] = {uvrun_task_future(st->c[1]), uvrun_task_future(st->c[2]), uvrun_task_future(st->c[3])};
      uvrun_future_t *g = uvrun_gather(loop, kids, 3, 1);
      if (g == nullptr) delete st;
      TRY_PTR(g);
      return uvrun_task_await(task, g);
    }
    int r = uvrun_task_resume(task, nullptr);
    State *s = st;
    st = nullptr;
    if (r == 0) {
      void *v;
      bool c1 = uvrun_future_cancelled(uvrun_task_future(s->c[1])) ||
                uvrun_error_code(uvrun_future_error(uvrun_task_future(s->c[1]))) == UVRUN_E_NOMEM;
      int r2 = uvrun_future_result(uvrun_task_future(s->c[2]), &v);
      bool c2 = ok_or_nomem(r2, v == t::iv(20));
      int r3 = uvrun_future_result(uvrun_task_future(s->c[3]), nullptr);
      bool c3 = r3 == UVRUN_E_TIMEDOUT || r3 == UVRUN_E_NOMEM;
      delete s;
      VERIFY(c1);
      VERIFY(c2);
      VERIFY(c3);
      return 0;
    }
    delete s;
    return r;
  });
  return finish(rc);
}

int ran_soon, ran_later, ran_at;
void bump(void *p) { ++*static_cast<int *>(p); }

// call_soon, call_later (one cancelled), call_at, sleep.
oom::Outcome timers() {
  ran_soon = ran_later = ran_at = 0;
  int rc = t::run([](uvrun_task_t *task, int step) -> int {
    uvrun_loop_t *loop = uvrun_task_loop(task);
    if (step == 0) {
      uvrun_handle_t *h = nullptr, *h2 = nullptr;
      TRY(uvrun_loop_call_soon(loop, bump, &ran_soon, nullptr));
      TRY(uvrun_loop_call_soon(loop, bump, &ran_soon, &h));
      uvrun_handle_unref(h);
      TRY(uvrun_loop_call_later(loop, 0.001, bump, &ran_later, nullptr));
      TRY(uvrun_loop_call_later(loop, 0.001, bump, &ran_later, &h2));
      uvrun_handle_cancel(h2);
      uvrun_handle_unref(h2);
      TRY(uvrun_loop_call_at(loop, uvrun_loop_time(loop), bump, &ran_at, nullptr));
      return uvrun_task_await(task, uvrun_sleep(task, 0.005));
    }
    TRY(uvrun_task_resume(task, nullptr));
    VERIFY(ran_soon == 2 && ran_later == 1 && ran_at == 1);
    return 0;
  });
  return finish(rc);
}

int job(void *ud, void **result) {
  *result = ud;
  return ud == t::iv(3) ? (int)UVRUN_E_TIMEDOUT : 0;
}

// Three executor jobs awaited through gather; one fails.
oom::Outcome executor() {
  static uvrun_future_t *futs[3];
  int rc = t::run([](uvrun_task_t *task, int step) -> int {
    uvrun_loop_t *loop = uvrun_task_loop(task);
    if (step == 0) {
      for (int i = 0; i < 3; i++) futs[i] = nullptr;
      for (int i = 0; i < 3; i++) {
        futs[i] = uvrun_run_in_executor(loop, job, t::iv(i + 1));
        if (futs[i] == nullptr) {
          int code = uvrun_task_await(task, nullptr);
          for (auto *&f : futs) uvrun_future_unref(f), f = nullptr;
          return code;
        }
      }
      uvrun_future_t *g = uvrun_gather(loop, futs, 3, 1);
      if (g == nullptr) {
        int code = uvrun_task_await(task, nullptr);
        for (auto *&f : futs) uvrun_future_unref(f), f = nullptr;
        return code;
      }
      return uvrun_task_await(task, g);
    }
    int r = uvrun_task_resume(task, nullptr);
    bool ok = true;
    if (r == 0) {
      for (int i = 0; i < 3; i++) {
        void *v;
        int fr = uvrun_future_result(futs[i], &v);
        ok = ok && (i == 2 ? (fr == UVRUN_E_TIMEDOUT || fr == UVRUN_E_NOMEM) : ok_or_nomem(fr, v == t::iv(i + 1)));
      }
    }
    for (auto *&f : futs) uvrun_future_unref(f), f = nullptr;
    if (r < 0) return r;
    VERIFY(ok);
    return 0;
  });
  // A main task dropped pending (its close failed) never released these.
  for (auto *&f : futs) uvrun_future_unref(f), f = nullptr;
  return finish(rc);
}

uvrun_contextvar_t *cvar;
uvrun_task_t *cv_child;
uvrun_future_t *cv_job;
void read_in_ctx(void *ud) { uvrun_contextvar_get(cvar, static_cast<void **>(ud)); }

// Context variables: set/reset with tokens, copies, context_run, a child
// task and an executor job that see the value (X7).
oom::Outcome contextvars() {
  int rc = uvrun_contextvar_new("cv", 1, t::iv(0), &cvar);
  if (rc < 0) return finish(rc);
  rc = t::run([](uvrun_task_t *task, int step) -> int {
    uvrun_task_t *&child = cv_child;
    uvrun_future_t *&jobf = cv_job;
    uvrun_loop_t *loop = uvrun_task_loop(task);
    if (step == 0) {
      uvrun_token_t *tok = nullptr;
      TRY(uvrun_contextvar_set(cvar, t::iv(1), &tok));
      int r2 = uvrun_contextvar_set(cvar, t::iv(2), nullptr);
      if (r2 < 0) uvrun_token_free(tok);
      TRY(r2);
      TRY(uvrun_contextvar_reset(cvar, tok));
      void *v = nullptr;
      TRY(uvrun_contextvar_get(cvar, &v));
      VERIFY(v == t::iv(0));
      TRY(uvrun_contextvar_set(cvar, t::iv(5), nullptr));
      uvrun_context_t *copy = nullptr;
      TRY(uvrun_context_copy_current(&copy));
      void *seen = nullptr;
      int r = uvrun_context_run(copy, read_in_ctx, &seen);
      uvrun_context_free(copy);
      TRY(r);
      VERIFY(seen == t::iv(5));
      child = t::spawn(loop, [](uvrun_task_t *k, int) -> int {
        void *cv = nullptr;
        TRY(uvrun_contextvar_get(cvar, &cv));
        TRY(uvrun_contextvar_set(cvar, t::iv(9), nullptr));  // stays in the child's copy
        return uvrun_task_return(k, cv);
      });
      TRY_PTR(child);
      return uvrun_task_await(task, uvrun_task_future(uvrun_task_ref(child)));
    }
    if (step == 1) {
      void *v = nullptr;
      int r = uvrun_task_resume(task, &v);
      uvrun_task_unref(child);
      child = nullptr;
      TRY(r);
      VERIFY(v == t::iv(5));
      jobf = uvrun_run_in_executor(
          loop, [](void *, void **res) -> int { return uvrun_contextvar_get(cvar, res); }, nullptr);
      TRY_PTR(jobf);
      return uvrun_task_await(task, uvrun_future_ref(jobf));
    }
    void *v = nullptr;
    int r = uvrun_task_resume(task, &v);
    uvrun_future_unref(jobf);
    jobf = nullptr;
    TRY(r);
    VERIFY(v == t::iv(5));
    TRY(uvrun_contextvar_get(cvar, &v));
    VERIFY(v == t::iv(5));
    return 0;
  });
  oom::Outcome o = finish(rc);
  // A main task dropped pending (its close failed) never released these.
  uvrun_task_unref(cv_child);
  uvrun_future_unref(cv_job);
  cv_child = nullptr;
  cv_job = nullptr;
  uvrun_contextvar_free(cvar);
  cvar = nullptr;
  return o;
}

int reports;
void count_reports(uvrun_loop_t *, const uvrun_exception_context_t *, void *) { reports++; }

// The main task returns with tasks left: one sleeping, one whose cleanup
// awaits, one whose cleanup fails, one whose cleanup spawns another task.
oom::Outcome shutdown_leftovers() {
  reports = 0;
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  opts.exception_handler = count_reports;
  int rc = t::run(
      [](uvrun_task_t *task, int step) -> int {
        uvrun_loop_t *loop = uvrun_task_loop(task);
        if (step == 1) return 0;
        uvrun_task_t *k[4] = {};
        k[0] = t::spawn(loop, [](uvrun_task_t *x, int s) -> int {
          if (s == 0) return uvrun_task_await(x, uvrun_sleep(x, 30));
          return uvrun_task_resume(x, nullptr);
        });
        k[1] = t::spawn(loop, [](uvrun_task_t *x, int s) -> int {
          if (s == 0) return uvrun_task_await(x, uvrun_sleep(x, 30));
          if (s == 1) return uvrun_task_await(x, uvrun_sleep(x, 0.001));  // cleanup awaits
          return UVRUN_E_CANCELLED;
        });
        k[2] = t::spawn(loop, [](uvrun_task_t *x, int s) -> int {
          if (s == 0) return uvrun_task_await(x, uvrun_sleep(x, 30));
          return UVRUN_E_TIMEDOUT;  // cleanup fails: reported
        });
        k[3] = t::spawn(loop, [](uvrun_task_t *x, int s) -> int {
          if (s == 0) return uvrun_task_await(x, uvrun_sleep(x, 30));
          uvrun_task_t *late = t::spawn(uvrun_task_loop(x), [](uvrun_task_t *y, int ss) -> int {
            if (ss == 0) return uvrun_task_yield(y);
            return 0;
          });
          uvrun_task_unref(late);
          return UVRUN_E_CANCELLED;
        });
        int code = 0;
        for (auto *x : k) {
          if (x == nullptr && code == 0) code = uvrun_task_await(task, nullptr);
          uvrun_task_unref(x);
        }
        if (code < 0) return code;
        return uvrun_task_yield(task);  // let them start (R35)
      },
      &opts);
  // One report per leftover whose cleanup failed (TIMEDOUT, or NOMEM).
  return finish(rc, reports <= 4, "at most one report per leftover");
}

// gather failing fast, wait_for timing out and in time, wait_any.
oom::Outcome combinators() {
  int rc = t::run([](uvrun_task_t *task, int step) -> int {
    uvrun_loop_t *loop = uvrun_task_loop(task);
    void *v = nullptr;
    switch (step) {
    case 0: {
      uvrun_future_t *s = uvrun_sleep(task, 30);  // wait_for(NULL) is INVAL: check first
      TRY_PTR(s);
      return uvrun_task_await(task, uvrun_wait_for(s, 0.002));
    }
    case 1: {
      int r = uvrun_task_resume(task, nullptr);
      if (r == UVRUN_E_NOMEM) return r;
      VERIFY(r == UVRUN_E_TIMEDOUT);
      uvrun_future_t *s = uvrun_sleep_value(loop, 0, t::iv(7));
      TRY_PTR(s);
      return uvrun_task_await(task, uvrun_wait_for(s, 5));
    }
    case 2: {
      TRY(uvrun_task_resume(task, &v));
      VERIFY(v == t::iv(7));
      uvrun_future_t *a = uvrun_sleep(task, 30);
      TRY_PTR(a);
      uvrun_future_t *b = uvrun_sleep_value(loop, 0.001, t::iv(1));
      if (b == nullptr) uvrun_future_unref(a);
      TRY_PTR(b);
      uvrun_future_t *both[] = {a, b};
      uvrun_future_t *any = uvrun_wait_any(loop, both, 2);
      uvrun_future_cancel(a, nullptr);  // wait_any saw b, or sees a cancelled
      uvrun_future_unref(a);
      uvrun_future_unref(b);
      TRY_PTR(any);
      return uvrun_task_await(task, any);
    }
    case 3: {
      TRY(uvrun_task_resume(task, &v));
      VERIFY(v == t::iv(0) || v == t::iv(1));
      uvrun_future_t *f = nullptr;
      TRY(uvrun_future_new(loop, &f));
      uvrun_future_set_error_code(f, UVRUN_E_TIMEDOUT, "boom");
      uvrun_future_t *s = uvrun_sleep(task, 30);
      if (s == nullptr) uvrun_future_unref(f);
      TRY_PTR(s);
      uvrun_future_t *kids[] = {f, s};
      uvrun_future_t *g = uvrun_gather(loop, kids, 2, 0);
      uvrun_future_cancel(s, nullptr);
      uvrun_future_unref(f);
      uvrun_future_unref(s);
      TRY_PTR(g);
      return uvrun_task_await(task, g);
    }
    default: {
      int r = uvrun_task_resume(task, nullptr);
      VERIFY(r == UVRUN_E_TIMEDOUT || r == UVRUN_E_NOMEM);
      return r == UVRUN_E_NOMEM ? r : 0;
    }
    }
  });
  return finish(rc);
}

std::atomic<int> posted_ok, ran_ts;
void ts_cb(void *) { ran_ts++; }

int aclose_sleep(void *, uvrun_loop_t *loop, uvrun_future_t **out) {
  *out = uvrun_sleep_value(loop, 0, nullptr);
  return *out != nullptr ? 0 : UVRUN_E_NOMEM;
}

// Another thread posts 200 callbacks; an async finalizer is closed at
// shutdown. A Runner, so that the poster is joined before the close frees
// the loop it posts to, however the run ends (a main task dropped pending
// never steps again).
oom::Outcome threadsafe_asyncgen() {
  posted_ok = 0;
  ran_ts = 0;
  static std::thread *poster;
  static std::atomic<bool> poster_done;
  t::Lambda main{[&](uvrun_task_t *task, int step) -> int {
    uvrun_loop_t *loop = uvrun_task_loop(task);
    if (step == 0) {
      static int obj;
      uvrun_asyncgen_t *gen = nullptr;
      TRY(uvrun_asyncgen_register(loop, &obj, "gen", aclose_sleep, &gen));
      poster_done = false;
      poster = new std::thread([loop] {
        for (int i = 0; i < 200; i++)
          if (uvrun_loop_call_soon_threadsafe(loop, ts_cb, nullptr) == 0) posted_ok++;
        poster_done = true;
      });
    } else {
      TRY(uvrun_task_resume(task, nullptr));
    }
    if (!poster_done || ran_ts.load() < posted_ok.load()) {
      uvrun_future_t *s = uvrun_sleep(task, 0.0005);
      TRY_PTR(s);
      return uvrun_task_await(task, s);
    }
    return 0;
  }};
  uvrun_runner_t *r = nullptr;
  int rc = uvrun_runner_new(nullptr, &r);
  if (rc == 0) rc = uvrun_runner_run(r, t::Lambda::run, &main, nullptr, nullptr);
  if (poster != nullptr) {
    poster->join();
    delete poster;
    poster = nullptr;
  }
  int close_rc = uvrun_runner_close(r);
  if (rc == 0) rc = close_rc;
  oom::Outcome o = finish(rc, rc != 0 || ran_ts.load() == posted_ok.load(), "every posted callback ran");
  uvrun_runner_free(r);
  return o;
}

}  // namespace

const std::vector<Scenario> &c_api() {
  static const std::vector<Scenario> list = {
      {"uvrun_run", run_basic},
      {"runner with three runs", runner_runs},
      {"tasks: spawn, await, cancel, gather", tasks},
      {"timers", timers},
      {"executor jobs", executor},
      {"context variables", contextvars},
      {"shutdown with leftover tasks", shutdown_leftovers},
      {"gather, wait_for, wait_any", combinators},
      {"threadsafe callbacks and async finalizers", threadsafe_asyncgen},
  };
  return list;
}

}  // namespace scn
