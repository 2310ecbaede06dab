// A NULL future handed on in a step stands for the failure of the call that
// made it, in that step; never for an older failure.
#include <doctest/doctest.h>
#include <uvrun.h>

#include <string>

#include "support.h"

TEST_SUITE_BEGIN("tasks");

namespace {

// A call that fails with UVRUN_E_LOOP_ALREADY_RUNNING from inside a step.
void fail_unrelated(uvrun_task_t *task) {
  uvrun_future_t *f = t::new_future(uvrun_task_loop(task));
  CHECK(uvrun_loop_run_until_complete(uvrun_task_loop(task), f, nullptr) == UVRUN_E_LOOP_ALREADY_RUNNING);
  uvrun_future_unref(f);
}

}  // namespace

TEST_CASE("awaiting the NULL of a call that just failed fails with that call's error") {
  int rc = 0;
  std::string msg;
  CHECK(t::run([&](uvrun_task_t *task, int) {
          rc = uvrun_task_await(task, uvrun_wait_any(uvrun_task_loop(task), nullptr, 0));
          msg = uvrun_errmsg();
          return uvrun_task_return(task, nullptr);
        }) == 0);
  CHECK(rc == UVRUN_E_INVAL);
  CHECK(msg == "Set of awaitables is empty.");
}

TEST_CASE("awaiting NULL after a failure in an earlier step reports the NULL, not the stale error") {
  int rc = 0;
  std::string msg;
  CHECK(t::run([&](uvrun_task_t *task, int step) {
          if (step == 0) {
            fail_unrelated(task);
            return uvrun_task_yield(task);
          }
          rc = uvrun_task_await(task, nullptr);
          msg = uvrun_errmsg();
          return uvrun_task_return(task, nullptr);
        }) == 0);
  CHECK(rc == UVRUN_E_INVAL);
  CHECK(msg == "uvrun_task_await() needs a future");
}

TEST_CASE("uvrun_wait_for keeps the failure of the call that made its NULL, and reports an older one as NULL") {
  std::string fresh, stale;
  CHECK(t::run([&](uvrun_task_t *task, int step) {
          if (step == 0) {
            CHECK(uvrun_wait_for(uvrun_wait_any(uvrun_task_loop(task), nullptr, 0), 1.0) == nullptr);
            fresh = uvrun_errmsg();
            fail_unrelated(task);
            return uvrun_task_yield(task);
          }
          CHECK(uvrun_wait_for(nullptr, 1.0) == nullptr);
          stale = uvrun_errmsg();
          return uvrun_task_return(task, nullptr);
        }) == 0);
  CHECK(fresh == "Set of awaitables is empty.");
  CHECK(stale == "future must not be NULL");
}
