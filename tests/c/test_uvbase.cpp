// A closed loop's libuv loop serves the next new loop (a fresh run() pays
// for no file descriptors); uvrun_release_memory() closes what waits; a
// forked child reuses one only on kernel objects of its own.
#include <dirent.h>
#include <doctest/doctest.h>
#include <linux/kcmp.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <uvrun.h>
#include <uvrun_uv.h>

#include <chrono>
#include <thread>

#include "support.h"

TEST_SUITE_BEGIN("loop");

namespace {

int open_fds() {
  int n = 0;
  DIR *d = opendir("/proc/self/fd");
  REQUIRE(d != nullptr);
  while (readdir(d) != nullptr) n++;
  closedir(d);
  return n;
}

int count_handles(uv_loop_t *uv) {
  int n = 0;
  uv_walk(
      uv, [](uv_handle_t *, void *arg) { ++*static_cast<int *>(arg); }, &n);
  return n;
}

// A main task that sleeps 1 ms and waits for a callback posted from another
// thread: the loop's timer and its cross-thread wake-up both work.
int sleep_and_wake(uvrun_task_t *task, int step) {
  if (step == 0) return uvrun_task_await(task, uvrun_sleep(task, 0.001));
  if (step == 1) {
    uvrun_loop_t *loop = uvrun_task_loop(task);
    uvrun_future_t *f;
    if (uvrun_future_new(loop, &f) != 0) return -1;
    std::thread([loop, f] {
      uvrun_loop_call_soon_threadsafe(
          loop, [](void *ud) { uvrun_future_set_result(static_cast<uvrun_future_t *>(ud), t::iv(7), nullptr); }, f);
    }).detach();
    return uvrun_task_await(task, f);
  }
  return uvrun_task_return(task, nullptr);
}

}  // namespace

TEST_CASE("a new loop takes the libuv loop a closed one left; uvrun_release_memory closes it") {
  uvrun_release_memory();
  uvrun_loop_t *a, *b;
  REQUIRE(uvrun_loop_new(&a) == 0);
  uv_loop_t *uv = uvrun_loop_get_uv(a);
  REQUIRE(uvrun_loop_close(a) == 0);
  CHECK(uvrun_loop_get_uv(a) == nullptr);  // no longer its own
  REQUIRE(uvrun_loop_new(&b) == 0);
  CHECK(uvrun_loop_get_uv(b) == uv);
  CHECK(uvrun_loop_free(a) == 0);
  CHECK(uvrun_loop_free(b) == 0);
  CHECK(uvrun_release_memory() == 1);
  CHECK(uvrun_release_memory() == 0);
}

TEST_CASE("fresh runs after the first open no file descriptors") {
  CHECK(t::run(sleep_and_wake) == 0);
  int after_first = open_fds();
  for (int i = 0; i < 20; i++) CHECK(t::run(sleep_and_wake) == 0);
  CHECK(open_fds() == after_first);
  CHECK(uvrun_release_memory() == 1);
  CHECK(open_fds() < after_first);  // its epoll instance, eventfd and pipe
}

TEST_CASE("R27 handles a closed loop reports are closed, never handed to the next loop") {
  uvrun_release_memory();
  uvrun_loop_t *a, *b;
  REQUIRE(uvrun_loop_new(&a) == 0);
  int own = count_handles(uvrun_loop_get_uv(a));
  uv_timer_t timer;
  uv_timer_init(uvrun_loop_get_uv(a), &timer);
  uv_timer_start(
      &timer, [](uv_timer_t *) {}, 60000, 0);
  {
    t::LogCapture log;
    CHECK(uvrun_loop_free(a) == 0);
    CHECK(log.contains("unclosed handle <timer"));
  }
  REQUIRE(uvrun_loop_new(&b) == 0);
  CHECK(count_handles(uvrun_loop_get_uv(b)) == own);
  uvrun_future_t *f = uvrun_sleep_value(b, 0.001, t::iv(3));
  void *v = nullptr;
  CHECK(uvrun_loop_run_until_complete(b, f, &v) == 0);  // no 60 s timer in the way
  CHECK(t::vi(v) == 3);
  uvrun_future_unref(f);
  CHECK(uvrun_loop_free(b) == 0);
  CHECK(uvrun_release_memory() == 1);
}

TEST_CASE("R68 a forked child reuses a waiting libuv loop only on an epoll instance of its own") {
  uvrun_release_memory();
  uvrun_loop_t *a;
  REQUIRE(uvrun_loop_new(&a) == 0);
  uv_loop_t *uv = uvrun_loop_get_uv(a);
  int parent_epoll = uv_backend_fd(uv);
  CHECK(uvrun_loop_free(a) == 0);  // waits, its epoll fd open
  t::ChildResult res = t::in_child([&] {
    int parents = dup(parent_epoll);  // the parent's epoll instance, kept
    CHILD_EXPECT(parents >= 0, 2);
    uvrun_loop_t *c;
    CHILD_EXPECT(uvrun_loop_new(&c) == 0, 3);
    CHILD_EXPECT(uvrun_loop_get_uv(c) == uv, 4);  // reused...
    pid_t self = getpid();
    long same = syscall(SYS_kcmp, self, self, KCMP_FILE, parents, uv_backend_fd(uvrun_loop_get_uv(c)));
    CHILD_EXPECT(same > 0, 5);  // ...on a new epoll instance
    CHILD_EXPECT(uvrun_loop_free(c) == 0, 6);
    CHILD_EXPECT(t::run(sleep_and_wake) == 0, 7);
    return 0;
  });
  t::check_child(res);
  CHECK(t::run(sleep_and_wake) == 0);  // the parent's loop is intact
  CHECK(uvrun_release_memory() == 1);
}

namespace {
void nothing(void *) {}
}  // namespace

TEST_CASE("R68 a loop kept with a wake-up still pending wakes in a forked child") {
  uvrun_release_memory();
  uvrun_loop_t *a;
  REQUIRE(uvrun_loop_new(&a) == 0);
  // Woken while not running: the wake-up is never consumed before the loop
  // closes and its libuv loop waits for reuse.
  REQUIRE(uvrun_loop_call_soon_threadsafe(a, nothing, nullptr) == 0);
  CHECK(uvrun_loop_free(a) == 0);
  t::ChildResult res = t::in_child(
      [] {
        // An executor job's completion wakes the reused loop from another
        // thread; the job outlasts the loop's brief poll for it before it sleeps.
        auto slow_job = [](void *, void **) {
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
          return 0;
        };
        CHILD_EXPECT(t::run([&](uvrun_task_t *task, int step) -> int {
                       if (step == 0)
                         return uvrun_task_await(task, uvrun_run_in_executor(uvrun_task_loop(task), slow_job, nullptr));
                       return uvrun_task_return(task, nullptr);
                     }) == 0,
                     1);
        return 0;
      },
      nullptr, 5.0);
  t::check_child(res);
  uvrun_release_memory();
}
