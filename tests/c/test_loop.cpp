// The loop: ready queue with a per-iteration snapshot (R35), timers,
// call_soon_threadsafe, stop, close (R61), running-loop TLS (D2).
#include <doctest/doctest.h>
#include <uvrun.h>
#include <uvrun_uv.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "support.h"

TEST_SUITE_BEGIN("loop");

namespace {

struct Order {
  std::vector<std::string> seen;
};

struct Tag {
  Order *order;
  std::string name;
};

void record(void *ud) {
  auto *tag = static_cast<Tag *>(ud);
  tag->order->seen.push_back(tag->name);
}

struct Loop {
  uvrun_loop_t *loop = nullptr;
  Loop() { REQUIRE(uvrun_loop_new(&loop) == 0); }
  ~Loop() { CHECK(uvrun_loop_free(loop) == 0); }
  // Runs the loop until `fut` (reference taken) is done.
  int run(uvrun_future_t *fut, void **value = nullptr) {
    int rc = uvrun_loop_run_until_complete(loop, fut, value);
    uvrun_future_unref(fut);
    return rc;
  }
};

}  // namespace

TEST_CASE("R35 callbacks run in FIFO order, one snapshot per iteration") {
  Loop l;
  Order order;
  struct Chain {
    uvrun_loop_t *loop;
    Order *order;
    Tag late;
  };
  Tag a{&order, "a"}, b{&order, "b"};
  Chain chain{l.loop, &order, {&order, "added-by-a"}};
  REQUIRE(uvrun_loop_call_soon(
              l.loop,
              [](void *ud) {
                auto *c = static_cast<Chain *>(ud);
                c->order->seen.push_back("a");
                uvrun_loop_call_soon(c->loop, record, &c->late, nullptr);
                uvrun_loop_stop(c->loop);  // takes effect at the end of this iteration
              },
              &chain, nullptr) == 0);
  REQUIRE(uvrun_loop_call_soon(l.loop, record, &b, nullptr) == 0);
  uvrun_future_t *never;
  REQUIRE(uvrun_future_new(l.loop, &never) == 0);
  // The loop stops after the iteration that ran a and b; the callback a
  // queued is left for the next iteration.
  CHECK(uvrun_loop_run_until_complete(l.loop, never, nullptr) == UVRUN_E_LOOP_STOPPED);
  CHECK(std::string(uvrun_errmsg()) == "Event loop stopped before Future completed.");
  CHECK(order.seen == std::vector<std::string>{"a", "b"});
  uvrun_future_set_result(never, nullptr, nullptr);
  CHECK(uvrun_loop_run_until_complete(l.loop, never, nullptr) == 0);
  CHECK(order.seen == std::vector<std::string>{"a", "b", "added-by-a"});
  uvrun_future_unref(never);
  (void)a;
}

TEST_CASE("R35 FIFO holds across items of every size while the ready queue wraps around and grows") {
  // A task's step takes one word of the ready queue, a callback four, a
  // callback with a handle six: interleave them after the queue's head has
  // moved, so that it wraps and grows mid-burst.
  Loop l;
  static constexpr int kItems = 600;
  struct State {
    uvrun_loop_t *loop;
    std::vector<int> seen;
    uvrun_future_t *done;
    std::vector<uvrun_task_t *> tasks;
    std::vector<uvrun_handle_t *> handles;
  } st;
  st.loop = l.loop;
  REQUIRE(uvrun_future_new(l.loop, &st.done) == 0);
  struct Post {
    State *st;
    int i;
  };
  static const auto note = [](Post *p) {
    p->st->seen.push_back(p->i);
    if (static_cast<int>(p->st->seen.size()) == kItems) uvrun_future_set_result(p->st->done, nullptr, nullptr);
  };
  std::vector<Post> posts(kItems);
  for (int i = 0; i < 10; i++)
    REQUIRE(uvrun_loop_call_soon(
                l.loop, [](void *) {}, nullptr, nullptr) == 0);
  REQUIRE(uvrun_loop_call_soon(
              l.loop,
              [](void *ud) {
                auto *posts = static_cast<std::vector<Post> *>(ud);
                State *st = (*posts)[0].st;
                for (int i = 0; i < kItems; i++) {
                  Post *p = &(*posts)[i];
                  if (i % 3 < 2) {
                    uvrun_handle_t *h = nullptr;
                    uvrun_loop_call_soon(
                        st->loop, [](void *ud) { note(static_cast<Post *>(ud)); }, p, i % 3 ? &h : nullptr);
                    if (h != nullptr) st->handles.push_back(h);
                  } else {
                    uvrun_task_t *t = nullptr;
                    uvrun_task_new(
                        st->loop,
                        [](uvrun_task_t *, void *arg) {
                          note(static_cast<Post *>(arg));
                          return 0;
                        },
                        p, nullptr, &t);
                    st->tasks.push_back(t);
                  }
                }
              },
              &posts, nullptr) == 0);
  for (int i = 0; i < kItems; i++) posts[i] = {&st, i};
  CHECK(uvrun_loop_run_until_complete(l.loop, st.done, nullptr) == 0);
  std::vector<int> expected(kItems);
  for (int i = 0; i < kItems; i++) expected[i] = i;
  CHECK(st.seen == expected);
  CHECK(st.handles.size() == kItems / 3);
  for (uvrun_task_t *t : st.tasks) uvrun_task_unref(t);
  for (uvrun_handle_t *h : st.handles) uvrun_handle_unref(h);
  uvrun_future_unref(st.done);
}

TEST_CASE("timers fire in deadline order and a cancelled handle never runs") {
  Loop l;
  Order order;
  Tag t30{&order, "30ms"}, t10{&order, "10ms"}, t20{&order, "20ms"}, cancelled{&order, "cancelled"};
  uvrun_handle_t *h = nullptr;
  REQUIRE(uvrun_loop_call_later(l.loop, 0.03, record, &t30, nullptr) == 0);
  REQUIRE(uvrun_loop_call_later(l.loop, 0.01, record, &t10, nullptr) == 0);
  REQUIRE(uvrun_loop_call_later(l.loop, 0.02, record, &t20, nullptr) == 0);
  REQUIRE(uvrun_loop_call_later(l.loop, 0.015, record, &cancelled, &h) == 0);
  uvrun_handle_cancel(h);
  CHECK(uvrun_handle_cancelled(h));
  uvrun_handle_unref(h);
  double t0 = uvrun_loop_time(l.loop);
  void *v = nullptr;
  CHECK(l.run(uvrun_sleep_value(l.loop, 0.04, t::iv(7)), &v) == 0);
  CHECK(t::vi(v) == 7);
  CHECK(uvrun_loop_time(l.loop) - t0 >= 0.04);
  CHECK(order.seen == std::vector<std::string>{"10ms", "20ms", "30ms"});
}

TEST_CASE("call_at uses the loop's monotonic clock") {
  Loop l;
  Order order;
  Tag tag{&order, "at"};
  double when = uvrun_loop_time(l.loop) + 0.02;
  REQUIRE(uvrun_loop_call_at(l.loop, when, record, &tag, nullptr) == 0);
  CHECK(l.run(uvrun_sleep_value(l.loop, 0.03, nullptr)) == 0);
  CHECK(order.seen.size() == 1);
  CHECK(uvrun_loop_time(l.loop) >= when);
}

TEST_CASE("many cancelled timers do not pin memory or fire") {
  Loop l;
  static int fired;
  fired = 0;
  for (int i = 0; i < 10000; i++) {
    uvrun_handle_t *h;
    REQUIRE(uvrun_loop_call_later(
                l.loop, 3600, [](void *) { fired++; }, nullptr, &h) == 0);
    uvrun_handle_cancel(h);
    uvrun_handle_unref(h);
  }
  CHECK(l.run(uvrun_sleep_value(l.loop, 0.001, nullptr)) == 0);
  CHECK(fired == 0);
}

TEST_CASE(
    "R31 call_soon_threadsafe from 4 threads, with and without context variables: every callback runs once, in each "
    "thread's order and its poster's context") {
  Loop l;
  static constexpr int kThreads = 4, kPer = 20000;
  static int kUnset;  // the variable's default: the poster had not set it
  uvrun_contextvar_t *var;
  REQUIRE(uvrun_contextvar_new("poster", 1, &kUnset, &var) == 0);
  struct State {
    uvrun_contextvar_t *var;
    std::atomic<int> count{0};
    int last[kThreads];
    bool in_order = true, context_right = true;
    uvrun_future_t *done;
  } st;
  st.var = var;
  for (int &x : st.last) x = -1;
  REQUIRE(uvrun_future_new(l.loop, &st.done) == 0);
  struct Post {
    State *st;
    int thread, seq;
    bool with_context;
  };
  std::vector<Post> posts(kThreads * kPer);
  std::vector<std::thread> threads;
  for (int th = 0; th < kThreads; th++) {
    threads.emplace_back([&, th] {
      for (int i = 0; i < kPer; i++) {
        Post *p = &posts[th * kPer + i];
        // Runs of posts with the variable set and unset, of varying length.
        *p = {&st, th, i, (i / (1 + th)) % 2 == 1};
        uvrun_token_t *token = nullptr;
        if (p->with_context) REQUIRE(uvrun_contextvar_set(var, p, &token) == 0);
        REQUIRE(uvrun_loop_call_soon_threadsafe(
                    l.loop,
                    [](void *ud) {
                      auto *p = static_cast<Post *>(ud);
                      void *seen = nullptr;
                      uvrun_contextvar_get(p->st->var, &seen);
                      if (seen != (p->with_context ? static_cast<void *>(p) : &kUnset)) p->st->context_right = false;
                      if (p->st->last[p->thread] + 1 != p->seq) p->st->in_order = false;
                      p->st->last[p->thread] = p->seq;
                      if (++p->st->count == kThreads * kPer) uvrun_future_set_result(p->st->done, nullptr, nullptr);
                    },
                    p) == 0);
        if (token != nullptr) REQUIRE(uvrun_contextvar_reset(var, token) == 0);
      }
    });
  }
  CHECK(uvrun_loop_run_until_complete(l.loop, st.done, nullptr) == 0);
  for (auto &th : threads) th.join();
  CHECK(st.count == kThreads * kPer);
  CHECK(st.in_order);
  CHECK(st.context_right);
  void *here = nullptr;
  CHECK(uvrun_contextvar_get(var, &here) == 0);
  CHECK(here == &kUnset);  // the loop thread's own context is untouched
  uvrun_future_unref(st.done);
  uvrun_contextvar_free(var);
}

TEST_CASE("R61 callbacks other threads queued for a loop that closes unrun release their contexts") {
  static std::atomic<int> live;
  live = 0;
  int value = 0;
  uvrun_contextvar_t *var;
  REQUIRE(uvrun_contextvar_new_owned(
              "held", 0, nullptr, [](void *) { live++; }, [](void *) { live--; }, &var) == 0);
  static int ran;
  ran = 0;
  uvrun_loop_t *loop;
  REQUIRE(uvrun_loop_new(&loop) == 0);
  std::thread([&] {
    for (int i = 0; i < 1000; i++) {
      uvrun_token_t *token = nullptr;
      if (i % 3 == 0) REQUIRE(uvrun_contextvar_set(var, &value, &token) == 0);
      REQUIRE(uvrun_loop_call_soon_threadsafe(
                  loop, [](void *) { ran++; }, nullptr) == 0);
      if (token != nullptr) REQUIRE(uvrun_contextvar_reset(var, token) == 0);
    }
  }).join();
  CHECK(live > 0);  // the queued callbacks hold the contexts they were posted in
  CHECK(uvrun_loop_free(loop) == 0);
  CHECK(ran == 0);
  CHECK(live == 0);
  uvrun_contextvar_free(var);
}

TEST_CASE("D2 the running loop is visible only in the thread that runs it") {
  Loop l;
  CHECK(uvrun_get_running_loop() == nullptr);
  struct S {
    uvrun_loop_t *inside = nullptr, *other_thread = (uvrun_loop_t *)1;
  } s;
  uvrun_loop_call_soon(
      l.loop,
      [](void *ud) {
        auto *s = static_cast<S *>(ud);
        s->inside = uvrun_get_running_loop();
        std::thread([s] { s->other_thread = uvrun_get_running_loop(); }).join();
      },
      &s, nullptr);
  CHECK(l.run(uvrun_sleep_value(l.loop, 0, nullptr)) == 0);
  CHECK(s.inside == l.loop);
  CHECK(s.other_thread == nullptr);
  CHECK(uvrun_get_running_loop() == nullptr);
}

TEST_CASE("R34 run_until_complete checks: closed loop, already running, another loop running") {
  uvrun_loop_t *a, *b;
  REQUIRE(uvrun_loop_new(&a) == 0);
  REQUIRE(uvrun_loop_new(&b) == 0);
  struct S {
    uvrun_loop_t *a, *b;
    int same = 0, other = 0;
    std::string same_msg, other_msg;
  } s{a, b};
  uvrun_loop_call_soon(
      a,
      [](void *ud) {
        auto *s = static_cast<S *>(ud);
        uvrun_future_t *f;
        uvrun_future_new(s->a, &f);
        s->same = uvrun_loop_run_until_complete(s->a, f, nullptr);
        s->same_msg = uvrun_errmsg();
        uvrun_future_unref(f);
        uvrun_future_new(s->b, &f);
        s->other = uvrun_loop_run_until_complete(s->b, f, nullptr);
        s->other_msg = uvrun_errmsg();
        uvrun_future_unref(f);
      },
      &s, nullptr);
  uvrun_future_t *f = uvrun_sleep_value(a, 0, nullptr);
  CHECK(uvrun_loop_run_until_complete(a, f, nullptr) == 0);
  uvrun_future_unref(f);
  CHECK(s.same == UVRUN_E_LOOP_ALREADY_RUNNING);
  CHECK(s.same_msg == "This event loop is already running");
  CHECK(s.other == UVRUN_E_OTHER_LOOP_RUNNING);
  CHECK(s.other_msg == "Cannot run the event loop while another loop is running");

  CHECK(uvrun_loop_close(b) == 0);
  CHECK(uvrun_loop_close(b) == 0);  // idempotent
  CHECK(uvrun_loop_is_closed(b));
  uvrun_future_t *g;
  REQUIRE(uvrun_future_new(b, &g) == 0);
  CHECK(uvrun_loop_run_until_complete(b, g, nullptr) == UVRUN_E_LOOP_CLOSED);
  CHECK(std::string(uvrun_errmsg()) == "Event loop is closed");
  CHECK(uvrun_loop_call_soon(
            b, [](void *) {}, nullptr, nullptr) == UVRUN_E_LOOP_CLOSED);
  CHECK(uvrun_loop_call_soon_threadsafe(
            b, [](void *) {}, nullptr) == UVRUN_E_LOOP_CLOSED);
  uvrun_future_unref(g);
  CHECK(uvrun_loop_free(a) == 0);
  CHECK(uvrun_loop_free(b) == 0);
}

TEST_CASE("R61 close discards queued callbacks and timers without running them") {
  uvrun_loop_t *loop;
  REQUIRE(uvrun_loop_new(&loop) == 0);
  static int ran;
  ran = 0;
  uvrun_loop_call_soon(
      loop, [](void *) { ran++; }, nullptr, nullptr);
  uvrun_loop_call_later(
      loop, 0.001, [](void *) { ran++; }, nullptr, nullptr);
  uvrun_handle_t *h;
  uvrun_loop_call_soon(
      loop, [](void *) { ran++; }, nullptr, &h);
  CHECK(uvrun_loop_close(loop) == 0);
  CHECK(ran == 0);
  uvrun_handle_cancel(h);  // harmless after close
  uvrun_handle_unref(h);
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("R61 close refuses a running loop") {
  Loop l;
  struct S {
    uvrun_loop_t *loop;
    int rc = 0;
    std::string msg;
  } s{l.loop};
  uvrun_loop_call_soon(
      l.loop,
      [](void *ud) {
        auto *s = static_cast<S *>(ud);
        s->rc = uvrun_loop_close(s->loop);
        s->msg = uvrun_errmsg();
      },
      &s, nullptr);
  CHECK(l.run(uvrun_sleep_value(l.loop, 0, nullptr)) == 0);
  CHECK(s.rc == UVRUN_E_LOOP_RUNNING);
  CHECK(s.msg == "Cannot close a running event loop");
  CHECK(!uvrun_loop_is_closed(l.loop));
}

TEST_CASE("X4 a borrowed uv loop stays open and keeps its own handles") {
  uv_loop_t uv;
  REQUIRE(uv_loop_init(&uv) == 0);
  uv_timer_t host_timer;
  uv_timer_init(&uv, &host_timer);
  uvrun_loop_t *loop;
  REQUIRE(uvrun_loop_new_borrowed(&uv, &loop) == 0);
  CHECK(uvrun_loop_get_uv(loop) == &uv);
  uvrun_future_t *f = uvrun_sleep_value(loop, 0.001, nullptr);
  CHECK(uvrun_loop_run_until_complete(loop, f, nullptr) == 0);
  uvrun_future_unref(f);
  CHECK(uvrun_loop_free(loop) == 0);
  // Our handle is untouched; the host closes its loop itself.
  CHECK(!uv_is_closing((uv_handle_t *)&host_timer));
  uv_close((uv_handle_t *)&host_timer, nullptr);
  uv_run(&uv, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&uv) == 0);
}

TEST_CASE("raw libuv handles on uvrun_loop_get_uv run alongside tasks") {
  Loop l;
  uv_timer_t timer;
  uv_timer_init(uvrun_loop_get_uv(l.loop), &timer);
  static uvrun_future_t *done;
  REQUIRE(uvrun_future_new(l.loop, &done) == 0);
  uv_timer_start(
      &timer, [](uv_timer_t *) { uvrun_future_set_result(done, t::iv(5), nullptr); }, 5, 0);
  void *v = nullptr;
  CHECK(uvrun_loop_run_until_complete(l.loop, done, &v) == 0);
  CHECK(t::vi(v) == 5);
  uvrun_future_unref(done);
  uv_close((uv_handle_t *)&timer, nullptr);
}

namespace {

// Runs the loop until `done` is resolved by a raw libuv handle's callback
// that libuv runs before it polls. UV_RUN_ONCE runs due timers, then
// prepare handles, then polls: with the loop's other handles referenced,
// that poll would block for good. A watchdog thread wakes the loop after
// 5 s if it never woke on its own. Returns whether it had to.
bool needed_rescue(Loop &l, uvrun_future_t *done) {
  std::atomic<bool> finished{false}, rescued{false};
  std::thread watchdog([&] {
    for (int i = 0; i < 500 && !finished; i++) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (finished) return;
    rescued = true;
    uvrun_loop_call_soon_threadsafe(
        l.loop, [](void *) {}, nullptr);
  });
  void *v = nullptr;
  CHECK(uvrun_loop_run_until_complete(l.loop, done, &v) == 0);
  finished = true;
  watchdog.join();
  CHECK(t::vi(v) == 1);
  return rescued;
}

uvrun_future_t *resolved_by_raw_handle;

}  // namespace

TEST_CASE("X4 work queued by a raw libuv timer due before the poll does not wait behind the poll") {
  Loop l;
  REQUIRE(uvrun_future_new(l.loop, &resolved_by_raw_handle) == 0);
  uv_timer_t timer;
  uv_timer_init(uvrun_loop_get_uv(l.loop), &timer);
  uv_timer_start(
      &timer, [](uv_timer_t *) { uvrun_future_set_result(resolved_by_raw_handle, t::iv(1), nullptr); }, 0, 0);
  CHECK_FALSE(needed_rescue(l, resolved_by_raw_handle));
  uvrun_future_unref(resolved_by_raw_handle);
  uv_close((uv_handle_t *)&timer, nullptr);
}

TEST_CASE("X4 work queued by a raw libuv prepare handle does not wait behind the poll") {
  Loop l;
  REQUIRE(uvrun_future_new(l.loop, &resolved_by_raw_handle) == 0);
  uv_prepare_t prepare;
  uv_prepare_init(uvrun_loop_get_uv(l.loop), &prepare);
  uv_prepare_start(&prepare, [](uv_prepare_t *p) {
    uv_prepare_stop(p);
    uvrun_future_set_result(resolved_by_raw_handle, t::iv(1), nullptr);
  });
  CHECK_FALSE(needed_rescue(l, resolved_by_raw_handle));
  uvrun_future_unref(resolved_by_raw_handle);
  uv_close((uv_handle_t *)&prepare, nullptr);
}

TEST_CASE("R31 call_soon callbacks run in a copy of the context current when they were queued") {
  Loop l;
  uvrun_contextvar_t *var;
  REQUIRE(uvrun_contextvar_new("request", 1, nullptr, &var) == 0);
  uvrun_token_t *tok;
  REQUIRE(uvrun_contextvar_set(var, t::iv(1), &tok) == 0);
  struct S {
    uvrun_contextvar_t *var;
    void *seen = nullptr;
  } s{var};
  uvrun_loop_call_soon(
      l.loop,
      [](void *ud) {
        auto *s = static_cast<S *>(ud);
        uvrun_contextvar_get(s->var, &s->seen);
        uvrun_contextvar_set(s->var, t::iv(99), nullptr);  // lands in the copy
      },
      &s, nullptr);
  uvrun_contextvar_set(var, t::iv(2), nullptr);  // after queueing: not seen
  CHECK(l.run(uvrun_sleep_value(l.loop, 0, nullptr)) == 0);
  CHECK(t::vi(s.seen) == 1);
  void *now = nullptr;
  uvrun_contextvar_get(var, &now);
  CHECK(t::vi(now) == 2);
  CHECK(uvrun_contextvar_reset(var, tok) == 0);
  uvrun_contextvar_free(var);
}
