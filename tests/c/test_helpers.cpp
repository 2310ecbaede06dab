// The C helpers: sleep, gather (R52), wait_for, wait_any.
#include <doctest/doctest.h>
#include <uvrun.h>

#include <string>

#include "support.h"

TEST_SUITE_BEGIN("tasks");

using t::iv;
using t::vi;

namespace {
uvrun_task_t *sleeper(uvrun_loop_t *loop, double s, intptr_t value, int fail = 0) {
  return t::spawn(loop, [s, value, fail](uvrun_task_t *c, int step) -> int {
    if (step == 0) return uvrun_task_await(c, uvrun_sleep(c, s));
    if (int rc = uvrun_task_resume(c, nullptr); rc < 0) return rc;
    if (fail) return fail;
    return uvrun_task_return(c, iv(value));
  });
}
}  // namespace

TEST_CASE("sleep waits at least its time and yields its value") {
  void *r = nullptr;
  int rc = t::run(
      [](uvrun_task_t *task, int step) -> int {
        static double t0;
        uvrun_loop_t *loop = uvrun_task_loop(task);
        if (step == 0) {
          t0 = uvrun_loop_time(loop);
          return uvrun_task_await(task, uvrun_sleep_value(loop, 0.05, iv(3)));
        }
        void *v;
        if (int rc = uvrun_task_resume(task, &v); rc < 0) return rc;
        CHECK(uvrun_loop_time(loop) - t0 >= 0.05);
        CHECK(uvrun_loop_time(loop) - t0 < 0.5);
        return uvrun_task_return(task, v);
      },
      nullptr, &r);
  CHECK(rc == 0);
  CHECK(vi(r) == 3);
}

TEST_CASE("gather waits for all; children run concurrently") {
  int rc = t::run([](uvrun_task_t *task, int step) -> int {
    static uvrun_task_t *kids[3];
    static double t0;
    uvrun_loop_t *loop = uvrun_task_loop(task);
    if (step == 0) {
      t0 = uvrun_loop_time(loop);
      for (int i = 0; i < 3; i++) kids[i] = sleeper(loop, 0.05, i + 1);
      uvrun_future_t *f[] = {uvrun_task_future(kids[0]), uvrun_task_future(kids[1]), uvrun_task_future(kids[2])};
      return uvrun_task_await(task, uvrun_gather(loop, f, 3, 0));
    }
    CHECK(uvrun_task_resume(task, nullptr) == 0);
    CHECK(uvrun_loop_time(loop) - t0 < 0.14);  // not 3 x 0.05 in a row
    for (int i = 0; i < 3; i++) {
      void *v;
      CHECK(uvrun_future_result(uvrun_task_future(kids[i]), &v) == 0);
      CHECK(vi(v) == i + 1);
      uvrun_task_unref(kids[i]);
    }
    return 0;
  });
  CHECK(rc == 0);
}

TEST_CASE("gather without return_exceptions fails with the first error; others keep running") {
  int rc = t::run([](uvrun_task_t *task, int step) -> int {
    static uvrun_task_t *ok, *bad;
    uvrun_loop_t *loop = uvrun_task_loop(task);
    switch (step) {
    case 0: {
      ok = sleeper(loop, 0.05, 1);
      bad = sleeper(loop, 0.01, 0, UVRUN_E_TIMEDOUT);
      uvrun_future_t *f[] = {uvrun_task_future(ok), uvrun_task_future(bad)};
      return uvrun_task_await(task, uvrun_gather(loop, f, 2, 0));
    }
    case 1:
      CHECK(uvrun_task_resume(task, nullptr) == UVRUN_E_TIMEDOUT);
      CHECK(!uvrun_future_done(uvrun_task_future(ok)));
      return uvrun_task_await(task, uvrun_future_ref(uvrun_task_future(ok)));
    default:
      CHECK(uvrun_task_resume(task, nullptr) == 0);
      uvrun_task_unref(ok);
      uvrun_task_unref(bad);
      return 0;
    }
  });
  CHECK(rc == 0);
}

TEST_CASE("R52 gather with return_exceptions: results in order, errors retrieved, never fails") {
  t::Reports reports;
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  reports.install(&opts);
  int rc = t::run(
      [](uvrun_task_t *task, int step) -> int {
        static uvrun_task_t *k[3];
        uvrun_loop_t *loop = uvrun_task_loop(task);
        if (step == 0) {
          k[0] = sleeper(loop, 0.01, 10);
          k[1] = sleeper(loop, 0.01, 0, -4242);
          k[2] = sleeper(loop, 1, 0);
          uvrun_task_cancel(k[2], "gone");
          uvrun_future_t *f[] = {uvrun_task_future(k[0]), uvrun_task_future(k[1]), uvrun_task_future(k[2])};
          return uvrun_task_await(task, uvrun_gather(loop, f, 3, 1));
        }
        CHECK(uvrun_task_resume(task, nullptr) == 0);
        void *v;
        CHECK(uvrun_future_result(uvrun_task_future(k[0]), &v) == 0);
        CHECK(vi(v) == 10);
        CHECK(uvrun_error_code(uvrun_future_error(uvrun_task_future(k[1]))) == -4242);
        CHECK(uvrun_future_cancelled(uvrun_task_future(k[2])));
        CHECK(std::string(uvrun_error_message(uvrun_future_error(uvrun_task_future(k[2])))) == "gone");
        for (auto *x : k) uvrun_task_unref(x);
        return 0;
      },
      &opts);
  CHECK(rc == 0);
  CHECK(reports.list.empty());  // the failed child counts as retrieved
}

TEST_CASE("R52 a cancelled gather cancels its children and ends cancelled, even with return_exceptions") {
  int rc = t::run([](uvrun_task_t *task, int step) -> int {
    static uvrun_task_t *k[2];
    static uvrun_future_t *g;
    uvrun_loop_t *loop = uvrun_task_loop(task);
    switch (step) {
    case 0: {
      k[0] = sleeper(loop, 5, 0);
      k[1] = sleeper(loop, 5, 0);
      uvrun_future_t *f[] = {uvrun_task_future(k[0]), uvrun_task_future(k[1])};
      g = uvrun_gather(loop, f, 2, 1);
      return uvrun_task_yield(task);
    }
    case 1: CHECK(uvrun_future_cancel(g, nullptr) == 1); return uvrun_task_await(task, uvrun_future_ref(g));
    default:
      CHECK(uvrun_task_resume(task, nullptr) == UVRUN_E_CANCELLED);
      CHECK(uvrun_future_cancelled(g));
      CHECK(uvrun_future_cancelled(uvrun_task_future(k[0])));
      CHECK(uvrun_future_cancelled(uvrun_task_future(k[1])));
      uvrun_future_unref(g);
      for (auto *x : k) uvrun_task_unref(x);
      return 0;
    }
  });
  CHECK(rc == 0);
}

TEST_CASE("gather of nothing is done at once") {
  int rc = t::run([](uvrun_task_t *task, int step) -> int {
    if (step == 0) return uvrun_task_await(task, uvrun_gather(uvrun_task_loop(task), nullptr, 0, 0));
    return uvrun_task_resume(task, nullptr);
  });
  CHECK(rc == 0);
}

TEST_CASE("wait_for: in time gives the result; too slow cancels the inner task and times out") {
  int rc = t::run([](uvrun_task_t *task, int step) -> int {
    static uvrun_task_t *slow;
    uvrun_loop_t *loop = uvrun_task_loop(task);
    void *v;
    switch (step) {
    case 0: return uvrun_task_await(task, uvrun_wait_for(uvrun_task_future(sleeper(loop, 0.01, 5)), 1.0));
    case 1:
      CHECK(uvrun_task_resume(task, &v) == 0);
      CHECK(vi(v) == 5);
      slow = sleeper(loop, 5, 6);
      return uvrun_task_await(task, uvrun_wait_for(uvrun_task_future(uvrun_task_ref(slow)), 0.02));
    default:
      CHECK(uvrun_task_resume(task, nullptr) == UVRUN_E_TIMEDOUT);
      CHECK(uvrun_future_cancelled(uvrun_task_future(slow)));  // waited for
      uvrun_task_unref(slow);
      return 0;
    }
  });
  CHECK(rc == 0);
}

TEST_CASE("wait_for: cancelling the waiter cancels the inner future") {
  int rc = t::run([](uvrun_task_t *task, int step) -> int {
    static uvrun_future_t *inner;
    uvrun_loop_t *loop = uvrun_task_loop(task);
    if (step == 0) {
      inner = uvrun_sleep_value(loop, 5, nullptr);
      uvrun_task_cancel(task, nullptr);
      return uvrun_task_await(task, uvrun_wait_for(uvrun_future_ref(inner), 10));
    }
    CHECK(uvrun_task_resume(task, nullptr) == UVRUN_E_CANCELLED);
    CHECK(uvrun_future_cancelled(inner));
    uvrun_future_unref(inner);
    return 0;
  });
  CHECK(rc == 0);
}

TEST_CASE("wait_any gives the index of the first future done") {
  int rc = t::run([](uvrun_task_t *task, int step) -> int {
    static uvrun_future_t *f[3];
    uvrun_loop_t *loop = uvrun_task_loop(task);
    if (step == 0) {
      f[0] = uvrun_sleep_value(loop, 1, nullptr);
      f[1] = uvrun_sleep_value(loop, 0.01, nullptr);
      f[2] = uvrun_sleep_value(loop, 2, nullptr);
      return uvrun_task_await(task, uvrun_wait_any(loop, f, 3));
    }
    void *v;
    CHECK(uvrun_task_resume(task, &v) == 0);
    CHECK(vi(v) == 1);
    CHECK(!uvrun_future_done(f[0]));
    for (auto *x : f) uvrun_future_unref(x);
    return 0;
  });
  CHECK(rc == 0);
  CHECK(uvrun_wait_any(nullptr, nullptr, 0) == nullptr);
  CHECK(std::string(uvrun_errmsg()) == "Set of awaitables is empty.");
}

TEST_CASE("helpers reject bad arguments with a message") {
  uvrun_loop_t *loop;
  REQUIRE(uvrun_loop_new(&loop) == 0);
  CHECK(uvrun_sleep(nullptr, 1) == nullptr);
  CHECK(std::string(uvrun_errmsg()) == "task must not be NULL");
  CHECK(uvrun_sleep_value(loop, 0.0 / 0.0, nullptr) == nullptr);
  CHECK(std::string(uvrun_errmsg()).find("NaN") != std::string::npos);
  CHECK(uvrun_wait_for(nullptr, 1) == nullptr);
  uvrun_future_t *other_loop_future = nullptr;
  uvrun_loop_t *other;
  REQUIRE(uvrun_loop_new(&other) == 0);
  REQUIRE(uvrun_future_new(other, &other_loop_future) == 0);
  CHECK(uvrun_gather(loop, &other_loop_future, 1, 0) == nullptr);
  CHECK(std::string(uvrun_errmsg()) == "futures must be non-NULL and belong to the loop");
  uvrun_future_unref(other_loop_future);
  CHECK(uvrun_loop_free(other) == 0);
  CHECK(uvrun_loop_free(loop) == 0);
}
