// The runner, part 2: the main task and contexts (R30-R32), and running,
// results and errors (R33-R39) of docs/semantics.md.
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

#include "runner_support.h"

TEST_SUITE_BEGIN("runner");

using namespace rt;

// ---- E. main task and contexts -----------------------------------------------------

TEST_CASE("R30 the main task gets an automatic Task-N name and never runs inline") {
  std::string name;
  bool in_loop = false;
  CHECK(t::run([&](uvrun_task_t *task, int) {
          name = uvrun_task_name(task);
          in_loop =
              uvrun_get_running_loop() == uvrun_task_loop(task) && uvrun_current_task(uvrun_task_loop(task)) == task;
          return finish(task);
        }) == 0);
  CHECK(name.rfind("Task-", 0) == 0);
  CHECK(in_loop);
}

TEST_CASE("R31 main task writes persist across runs of one runner and stay out of the caller's context") {
  uvrun_contextvar_t *var = nullptr;
  REQUIRE(uvrun_contextvar_new("r31", 1, t::iv(0), &var) == 0);
  uvrun_runner_t *r = new_runner();
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
  close_and_free(r);
  uvrun_contextvar_free(var);
}

TEST_CASE("R31 context= runs the main task in that context and leaves the runner's own untouched") {
  uvrun_contextvar_t *var = nullptr;
  REQUIRE(uvrun_contextvar_new("r31ctx", 1, t::iv(0), &var) == 0);
  uvrun_context_t *ctx = nullptr;
  REQUIRE(uvrun_context_new(&ctx) == 0);
  uvrun_runner_t *r = new_runner();
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
  close_and_free(r);
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
            uvrun_contextvar_set(var, t::iv(3), nullptr);             // after the copy: not seen by child
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
  t::Options opts;
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
  uvrun_runner_t *r = new_runner();
  CHECK(runner_run(r, [&](uvrun_task_t *task, int) {
          uvrun_task_unref(t::spawn(uvrun_task_loop(task), [&](uvrun_task_t *lo, int step) {
            if (step == 0) {
              started = true;
              // Queued during the extra iteration: not run before run() returns.
              uvrun_loop_call_soon(
                  uvrun_task_loop(lo), [](void *ud) { *static_cast<bool *>(ud) = true; }, &soon_ran, nullptr);
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

  uvrun_runner_t *r = new_runner();
  CHECK(runner_run(r, produce) == 0);
  close_and_free(r);
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
  t::Options opts(reports);
  void *result = nullptr;
  CHECK(t::run(
            [&](uvrun_task_t *task, int step) {
              if (step == 0) {
                uvrun_task_unref(t::spawn(
                    uvrun_task_loop(task),
                    [](uvrun_task_t *s, int) { return uvrun_task_raise(s, new_error(-EDOM, "sibling")); }, "sibling"));
                return uvrun_task_await(task, uvrun_sleep(task, 0.01));
              }
              return uvrun_task_return(task, t::iv(7));
            },
            &opts, &result) == 0);
  CHECK(t::vi(result) == 7);
  reports.check_one("Task exception was never retrieved", "sibling");
}

TEST_CASE("R38 R53 an interrupt raised in another task unwinds the loop; close() then cancels the main task") {
  t::Reports reports;
  t::Options opts(reports);
  uvrun_runner_t *r = new_runner(&opts);
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
    CHECK(t::run([code](uvrun_task_t *task, int) { return uvrun_task_raise(task, new_error(code, "bye")); }) == code);
    // run() consumed it (asyncio's run_until_complete does): no leak report.
    INFO(log.all());
    CHECK_FALSE(log.contains("never retrieved"));
  }
}

TEST_CASE("R39 R53 uvrun_loop_stop() in main: run() fails with LOOP_STOPPED and close() cancels main") {
  uvrun_runner_t *r = new_runner();
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
