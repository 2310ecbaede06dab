// Tasks: the C coroutine (step functions), awaiting, results and errors,
// cancellation (R51), names, current_task and all_tasks.
#include <doctest/doctest.h>
#include <uvrun.h>

#include <string>
#include <vector>

#include "support.h"

TEST_SUITE_BEGIN("tasks");

using t::iv;
using t::vi;

namespace {
// Returns the code resume reported, or finishes with `value`.
int resume_or(uvrun_task_t *task, void **value) { return uvrun_task_resume(task, value); }
}  // namespace

TEST_CASE("a task awaits a child task and gets its result") {
  void *result = nullptr;
  int rc = t::run(
      [](uvrun_task_t *task, int step) -> int {
        void *v;
        switch (step) {
        case 0: {
          uvrun_task_t *child = t::spawn(uvrun_task_loop(task), [](uvrun_task_t *c, int s) -> int {
            if (s == 0) return uvrun_task_await(c, uvrun_sleep(c, 0.01));
            return uvrun_task_return(c, iv(21));
          });
          return uvrun_task_await(task, uvrun_task_future(child));  // our reference moves in
        }
        default:
          if (int rc = resume_or(task, &v); rc < 0) return rc;
          return uvrun_task_return(task, iv(vi(v) * 2));
        }
      },
      nullptr, &result);
  CHECK(rc == 0);
  CHECK(vi(result) == 42);
}

TEST_CASE("D10 an error crosses tasks as the same object, payload included") {
  static uvrun_error_t *raised;
  int rc = t::run([](uvrun_task_t *task, int step) -> int {
    switch (step) {
    case 0: {
      uvrun_task_t *child = t::spawn(uvrun_task_loop(task), [](uvrun_task_t *c, int) -> int {
        raised = uvrun_error_new(-7777, "boom", iv(5), nullptr);
        return uvrun_task_raise(c, raised);
      });
      return uvrun_task_await(task, uvrun_task_future(child));
    }
    default: {
      int rc = uvrun_task_resume(task, nullptr);
      CHECK(rc == -7777);
      CHECK(uvrun_task_resume_error(task) == raised);
      return rc;  // re-raise unchanged
    }
    }
  });
  CHECK(rc == UVRUN_E_TASK_FAILED);
  uvrun_error_t *err = uvrun_take_error();
  REQUIRE(err != nullptr);
  CHECK(err == raised);
  CHECK(uvrun_error_code(err) == -7777);
  CHECK(std::string(uvrun_error_message(err)) == "boom");
  CHECK(uvrun_error_payload(err) == iv(5));
  uvrun_error_unref(err);
}

TEST_CASE("a step returning a negative code fails the task with that code's text") {
  int rc = t::run([](uvrun_task_t *, int) -> int { return UVRUN_E_TIMEDOUT; });
  CHECK(rc == UVRUN_E_TASK_FAILED);
  uvrun_error_t *err = uvrun_take_error();
  CHECK(uvrun_error_code(err) == UVRUN_E_TIMEDOUT);
  CHECK(std::string(uvrun_error_message(err)) == "timed out");
  uvrun_error_unref(err);
}

TEST_CASE("R51 cancelling a task cancels the future it awaits") {
  static uvrun_future_t *awaited;
  static bool saw_cancel;
  int rc = t::run([](uvrun_task_t *task, int step) -> int {
    static uvrun_task_t *child;
    switch (step) {
    case 0:
      child = t::spawn(uvrun_task_loop(task), [](uvrun_task_t *c, int s) -> int {
        if (s == 0) {
          awaited = uvrun_sleep(c, 10);
          uvrun_future_ref(awaited);
          return uvrun_task_await(c, awaited);
        }
        int rc = uvrun_task_resume(c, nullptr);
        saw_cancel = rc == UVRUN_E_CANCELLED && std::string(uvrun_errmsg()) == "stop";
        return rc;
      });
      return uvrun_task_yield(task);  // let the child start
    case 1:
      CHECK(uvrun_task_cancel(child, "stop") == 1);
      CHECK(uvrun_task_cancelling(child) == 1);
      CHECK(uvrun_future_cancelled(awaited));
      return uvrun_task_await(task, uvrun_future_ref(uvrun_task_future(child)));
    default: {
      int rc = uvrun_task_resume(task, nullptr);
      CHECK(rc == UVRUN_E_CANCELLED);
      CHECK(uvrun_future_cancelled(uvrun_task_future(child)));
      CHECK(std::string(uvrun_error_message(uvrun_future_error(uvrun_task_future(child)))) == "stop");
      CHECK(uvrun_task_cancel(child, nullptr) == 0);  // done
      uvrun_task_unref(child);
      uvrun_future_unref(awaited);
      return uvrun_task_return(task, nullptr);
    }
    }
  });
  CHECK(rc == 0);
  CHECK(saw_cancel);
}

TEST_CASE("R51 a second cancel before the task wakes keeps the first CancelledError (asyncio's __step)") {
  static std::string seen;
  seen.clear();
  int rc = t::run([](uvrun_task_t *task, int step) -> int {
    static uvrun_task_t *child;
    switch (step) {
    case 0:
      child = t::spawn(uvrun_task_loop(task), [](uvrun_task_t *c, int s) -> int {
        if (s == 0) return uvrun_task_await(c, uvrun_sleep(c, 10));
        int rc = uvrun_task_resume(c, nullptr);
        seen = uvrun_errmsg();
        return rc;
      });
      return uvrun_task_yield(task);
    case 1:
      CHECK(uvrun_task_cancel(child, "stop") == 1);   // cancels the sleep future
      CHECK(uvrun_task_cancel(child, "again") == 1);  // the future is done: must_cancel
      return uvrun_task_await(task, uvrun_future_ref(uvrun_task_future(child)));
    default: uvrun_task_unref(child); return uvrun_task_resume(task, nullptr) == UVRUN_E_CANCELLED ? 0 : -1;
    }
  });
  CHECK(rc == 0);
  CHECK(seen == "stop");
}

TEST_CASE("R51 a task cancelled while it yields or sleeps gets CANCELLED at its next step, at once") {
  static int steps;
  static bool sleep;
  steps = 0;
  SUBCASE("yield") { sleep = false; }
  SUBCASE("sleep on its own timer") { sleep = true; }
  int rc = t::run([](uvrun_task_t *task, int step) -> int {
    steps++;
    if (step == 0) {
      CHECK(uvrun_task_cancel(task, "self") == 1);
      return sleep ? uvrun_task_sleep(task, 30) : uvrun_task_yield(task);
    }
    int rc = uvrun_task_resume(task, nullptr);
    CHECK(rc == UVRUN_E_CANCELLED);
    CHECK(std::string(uvrun_errmsg()) == "self");
    return rc;
  });
  CHECK(rc == UVRUN_E_CANCELLED);
  CHECK(steps == 2);
}

TEST_CASE("R51 a task cancelled before its first step never runs its body") {
  static bool ran;
  ran = false;
  int rc = t::run([](uvrun_task_t *task, int step) -> int {
    static uvrun_task_t *child;
    if (step == 0) {
      child = t::spawn(uvrun_task_loop(task), [](uvrun_task_t *, int) -> int {
        ran = true;
        return 0;
      });
      uvrun_task_cancel(child, nullptr);
      return uvrun_task_await(task, uvrun_sleep(task, 0.01));
    }
    CHECK(uvrun_future_cancelled(uvrun_task_future(child)));
    uvrun_task_unref(child);
    return 0;
  });
  CHECK(rc == 0);
  CHECK(!ran);
}

TEST_CASE("R43 a task that swallows its cancellation finishes normally, cancelling() stays 1") {
  void *result = nullptr;
  int rc = t::run(
      [](uvrun_task_t *task, int step) -> int {
        switch (step) {
        case 0: uvrun_task_cancel(task, nullptr); return uvrun_task_await(task, uvrun_sleep(task, 5));
        default:
          CHECK(uvrun_task_resume(task, nullptr) == UVRUN_E_CANCELLED);
          CHECK(uvrun_task_cancelling(task) == 1);
          return uvrun_task_return(task, iv(7));  // swallow
        }
      },
      nullptr, &result);
  CHECK(rc == 0);
  CHECK(vi(result) == 7);
}

TEST_CASE("R51 uncancel counts down and at zero rescinds a pending cancellation [3.13]") {
  int rc = t::run([](uvrun_task_t *task, int step) -> int {
    if (step == 0) {
      CHECK(uvrun_task_cancel(task, nullptr) == 1);
      CHECK(uvrun_task_cancel(task, nullptr) == 1);
      CHECK(uvrun_task_cancelling(task) == 2);
      CHECK(uvrun_task_uncancel(task) == 1);
      CHECK(uvrun_task_uncancel(task) == 0);
      CHECK(uvrun_task_uncancel(task) == 0);  // never below zero
      return uvrun_task_yield(task);
    }
    return uvrun_task_resume(task, nullptr);  // no cancellation delivered
  });
  CHECK(rc == 0);
}

TEST_CASE("a task cancelled right before its step returns ends cancelled") {
  int rc = t::run([](uvrun_task_t *task, int) -> int {
    uvrun_task_cancel(task, "late");
    return uvrun_task_return(task, iv(1));
  });
  CHECK(rc == UVRUN_E_CANCELLED);
}

TEST_CASE("awaiting a done future does not suspend") {
  static int iterations;
  int rc = t::run([](uvrun_task_t *task, int step) -> int {
    uvrun_loop_t *loop = uvrun_task_loop(task);
    if (step == 0) {
      iterations = 0;
      // Counts loop iterations while we await done futures.
      uvrun_loop_call_soon(
          loop, [](void *) { iterations++; }, nullptr, nullptr);
    }
    if (step < 100) {
      uvrun_future_t *f;
      uvrun_future_new(loop, &f);
      uvrun_future_set_result(f, iv(step), nullptr);
      if (step > 0) {
        void *v;
        CHECK(uvrun_task_resume(task, &v) == 0);
        CHECK(vi(v) == step - 1);
      }
      return uvrun_task_await(task, f);
    }
    CHECK(iterations == 0);  // all 100 awaits ran inside the first step
    return 0;
  });
  CHECK(rc == 0);
}

TEST_CASE("a million synchronous completions don't overflow the stack") {
  static int n;
  n = 0;
  int rc = t::run([](uvrun_task_t *task, int) -> int {
    if (++n > 1000000) return 0;
    uvrun_future_t *f;
    uvrun_future_new(uvrun_task_loop(task), &f);
    uvrun_future_set_result(f, nullptr, nullptr);
    return uvrun_task_await(task, f);
  });
  CHECK(rc == 0);
  CHECK(n == 1000001);
}

TEST_CASE("names, current_task and all_tasks") {
  int rc = t::run([](uvrun_task_t *task, int step) -> int {
    static uvrun_task_t *a, *b;
    uvrun_loop_t *loop = uvrun_task_loop(task);
    if (step == 0) {
      CHECK(uvrun_current_task(loop) == task);
      CHECK(std::string(uvrun_task_name(task)).rfind("Task-", 0) == 0);
      a = t::spawn(
          loop, [](uvrun_task_t *c, int s) -> int { return s == 0 ? uvrun_task_await(c, uvrun_sleep(c, 0.01)) : 0; },
          "worker-a");
      b = t::spawn(
          loop, [](uvrun_task_t *c, int s) -> int { return s == 0 ? uvrun_task_await(c, uvrun_sleep(c, 0.01)) : 0; });
      CHECK(uvrun_task_set_name(b, "worker-b") == 0);
      std::vector<std::string> names;
      uvrun_all_tasks(
          loop,
          [](uvrun_task_t *t, void *ud) { static_cast<std::vector<std::string> *>(ud)->push_back(uvrun_task_name(t)); },
          &names);
      CHECK(names.size() == 3);
      CHECK(names[1] == "worker-a");
      CHECK(names[2] == "worker-b");
      uvrun_future_t *both[] = {uvrun_task_future(a), uvrun_task_future(b)};
      return uvrun_task_await(task, uvrun_gather(loop, both, 2, 0));
    }
    CHECK(uvrun_current_task(loop) == task);
    int pending = 0;
    uvrun_all_tasks(
        loop, [](uvrun_task_t *, void *ud) { ++*static_cast<int *>(ud); }, &pending);
    CHECK(pending == 1);  // only this one
    uvrun_task_unref(a);
    uvrun_task_unref(b);
    return uvrun_task_resume(task, nullptr);
  });
  CHECK(rc == 0);
  CHECK(uvrun_current_task(nullptr) == nullptr);
}

TEST_CASE("D1 arg_free runs exactly once: after the task, or at once when it is rejected") {
  static int freed;
  freed = 0;
  int rc = t::run([](uvrun_task_t *task, int step) -> int {
    uvrun_task_opts_t opts;
    uvrun_task_opts_init(&opts);
    opts.arg_free = [](void *) { freed++; };
    uvrun_task_t *child = nullptr;
    if (step == 0) {
      CHECK(uvrun_task_new(
                uvrun_task_loop(task), [](uvrun_task_t *, void *) { return 0; }, nullptr, &opts, &child) == 0);
      CHECK(freed == 0);
      CHECK(uvrun_task_new(uvrun_task_loop(task), nullptr, nullptr, &opts, nullptr) == UVRUN_E_INVAL);
      CHECK(freed == 1);
      return uvrun_task_await(task, uvrun_task_future(child));
    }
    return uvrun_task_resume(task, nullptr);
  });
  CHECK(rc == 0);
  CHECK(freed == 2);
}

TEST_CASE("uvrun_task_return_owned hands the value over with its destructor") {
  static int freed;
  freed = 0;
  int *value = new int(5);
  struct Arg {
    int *value;
  } arg{value};
  // Result taken: the caller owns it, the destructor does not run.
  void *result = nullptr;
  int rc = t::run(
      [&arg](uvrun_task_t *task, int) -> int {
        return uvrun_task_return_owned(task, arg.value, [](void *p) {
          delete static_cast<int *>(p);
          freed++;
        });
      },
      nullptr, &result);
  CHECK(rc == 0);
  CHECK(result == value);
  CHECK(freed == 0);
  delete value;
  // Result not taken: the destructor runs with the task.
  rc = t::run([](uvrun_task_t *task, int) -> int {
    return uvrun_task_return_owned(task, new int(6), [](void *p) {
      delete static_cast<int *>(p);
      freed++;
    });
  });
  CHECK(rc == 0);
  CHECK(freed == 1);
}
