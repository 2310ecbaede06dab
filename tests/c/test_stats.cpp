// Loop statistics, and the task cache they show: finished tasks' memory is
// reused by the next tasks, and what stays unused for a second is freed, also
// while the loop sleeps.
#include <doctest/doctest.h>
#include <uvrun.h>

#include <vector>

#include "c/runner_support.h"
#include "support.h"

TEST_SUITE_BEGIN("loop");

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kCacheOn = false;  // AddressSanitizer must see every free
#else
constexpr bool kCacheOn = true;
#endif
constexpr size_t kCacheFloor = 1024;

uvrun_loop_stats_t stats_of(const uvrun_loop_t *loop) {
  uvrun_loop_stats_t s{};
  s.size = sizeof s;
  REQUIRE(uvrun_loop_stats(loop, &s) == 0);
  return s;
}

// A main task that spawns n tasks returning at once and awaits them all.
rt::Step burst(size_t n) {
  return [n](uvrun_task_t *task, int step) -> int {
    if (step == 0) {
      std::vector<uvrun_future_t *> futs;
      for (size_t i = 0; i < n; i++) {
        uvrun_task_t *child = t::spawn(uvrun_task_loop(task), [](uvrun_task_t *c, int) { return rt::finish(c); });
        REQUIRE(child != nullptr);
        futs.push_back(uvrun_task_future(child));
      }
      uvrun_future_t *all = uvrun_gather(uvrun_task_loop(task), futs.data(), futs.size(), 0);
      for (uvrun_future_t *f : futs) uvrun_future_unref(f);  // the gather holds its own
      return uvrun_task_await(task, all);
    }
    if (int rc = uvrun_task_resume(task, nullptr); rc < 0) return rc;
    return rt::finish(task);
  };
}

}  // namespace

TEST_CASE("loop stats count pending tasks, queued steps and timers") {
  int rc = t::run([](uvrun_task_t *task, int step) -> int {
    uvrun_loop_t *loop = uvrun_task_loop(task);
    if (step == 0) {
      uvrun_task_t *kids[3];
      for (auto &kid : kids) kid = t::spawn(loop, [](uvrun_task_t *c, int) { return rt::finish(c); });
      uvrun_handle_t *timer = nullptr;
      REQUIRE(uvrun_loop_call_later(
                  loop, 10.0, [](void *) {}, nullptr, &timer) == 0);
      uvrun_loop_stats_t s = stats_of(loop);
      CHECK(s.tasks == 4);  // the main task and its three children
      CHECK(s.ready == 3);  // the children's first steps
      CHECK(s.timers == 1);
      uvrun_handle_cancel(timer);
      uvrun_handle_unref(timer);
      std::vector<uvrun_future_t *> futs;
      for (auto *kid : kids) futs.push_back(uvrun_task_future(kid));
      uvrun_future_t *all = uvrun_gather(loop, futs.data(), futs.size(), 0);
      for (auto *f : futs) uvrun_future_unref(f);
      return uvrun_task_await(task, all);
    }
    CHECK(stats_of(loop).tasks == 1);  // only the main task is left
    return rt::finish(task);
  });
  CHECK(rc == 0);
}

TEST_CASE("loop stats: an older, smaller struct is filled up to its size; bad arguments are errors") {
  uvrun_loop_t *loop = nullptr;
  REQUIRE(uvrun_loop_new(&loop) == 0);
  struct {
    uvrun_loop_stats_t s;
    size_t guard;
  } old{};
  old.s.size = offsetof(uvrun_loop_stats_t, timers);  // knows tasks and ready only
  old.s.timers = 77;
  old.guard = 99;
  CHECK(uvrun_loop_stats(loop, &old.s) == 0);
  CHECK(old.s.size == offsetof(uvrun_loop_stats_t, timers));
  CHECK(old.s.timers == 77);  // beyond its size: untouched
  CHECK(old.guard == 99);
  uvrun_loop_stats_t s{};
  CHECK(uvrun_loop_stats(loop, &s) == UVRUN_E_INVAL);  // size not set
  s.size = sizeof s;
  CHECK(uvrun_loop_stats(nullptr, &s) == UVRUN_E_INVAL);
  CHECK(uvrun_loop_stats(loop, nullptr) == UVRUN_E_INVAL);
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("the task cache keeps a burst's memory for reuse, and frees what stays unused for a second") {
  const size_t n = 5000;
  uvrun_runner_t *r = nullptr;
  REQUIRE(uvrun_runner_new(nullptr, &r) == 0);
  uvrun_loop_t *loop = nullptr;
  REQUIRE(uvrun_runner_get_loop(r, &loop) == 0);

  REQUIRE(rt::runner_run(r, burst(n)) == 0);
  size_t after_burst = stats_of(loop).cached_tasks;
  if (kCacheOn) {
    CHECK(after_burst >= n);  // every finished task, kept
    // The next burst takes its memory from the cache.
    REQUIRE(rt::runner_run(r, burst(n)) == 0);
    CHECK(stats_of(loop).cached_tasks == after_burst);
  } else {
    CHECK(after_burst == 0);
  }

  // A loop asleep in a 2.5 s sleep still wakes to free the unused part: at
  // most two decay periods after the cache was last drawn on.
  REQUIRE(rt::runner_run(r, [](uvrun_task_t *task, int step) -> int {
            if (step == 0) return uvrun_task_await(task, uvrun_sleep(task, 2.5));
            CHECK(stats_of(uvrun_task_loop(task)).cached_tasks <= kCacheFloor);
            return rt::finish(task);
          }) == 0);
  CHECK(uvrun_runner_close(r) == 0);
  uvrun_runner_free(r);
}
