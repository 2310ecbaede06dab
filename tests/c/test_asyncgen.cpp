// Objects closed asynchronously at shutdown: the C registry behind async
// generators (D9, R55-R57).
#include <doctest/doctest.h>
#include <uvrun.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "support.h"

TEST_SUITE_BEGIN("asyncgen");

namespace {

// A registered object; its aclose starts a task that may sleep, then ends
// as configured.
struct Gen {
  std::string name;
  double sleep = 0;           // the close task sleeps this long first
  int fail_code = 0;          // then fails with this code
  bool cancel = false;        // or ends cancelled
  int start_rc = 0;           // aclose itself fails with this code
  bool use_executor = false;  // the close task awaits a job on the executor
  std::vector<std::string> *order = nullptr;
  std::function<void(uvrun_loop_t *)> on_close;
  // observations
  int closes = 0;
  bool finished = false;
  int executor_rc = 1;
  uvrun_asyncgen_t *reg = nullptr;
};

void note(Gen *g, const std::string &what) {
  if (g->order != nullptr) g->order->push_back(what);
}

int job_ok(void *, void **result) {
  *result = t::iv(1);
  return 0;
}

int gen_aclose(void *obj, uvrun_loop_t *loop, uvrun_future_t **out) {
  auto *g = static_cast<Gen *>(obj);
  g->closes++;
  note(g, "aclose " + g->name);
  if (g->on_close) g->on_close(loop);
  if (g->start_rc < 0) return g->start_rc;
  uvrun_task_t *task = t::spawn(
      loop,
      [g](uvrun_task_t *t, int step) -> int {
        if (step == 0 && g->sleep > 0) return uvrun_task_await(t, uvrun_sleep(t, g->sleep));
        if (step == 0 || (step == 1 && g->sleep > 0)) {
          int rc = uvrun_task_resume(t, nullptr);
          if (rc < 0) return rc;
          if (g->use_executor) return uvrun_task_await(t, uvrun_run_in_executor(uvrun_task_loop(t), job_ok, nullptr));
        } else {
          g->executor_rc = uvrun_task_resume(t, nullptr);
          if (g->executor_rc < 0) return g->executor_rc;
        }
        g->finished = true;
        if (g->cancel) return UVRUN_E_CANCELLED;
        if (g->fail_code != 0)
          return uvrun_task_raise(t, uvrun_error_new(g->fail_code, "close failed", nullptr, nullptr));
        return 0;
      },
      ("aclose-" + g->name).c_str());
  if (task == nullptr) return UVRUN_E_NOMEM;
  *out = uvrun_task_future(task);  // the reference goes to the caller
  return 0;
}

int reg(uvrun_loop_t *loop, Gen *g) { return uvrun_asyncgen_register(loop, g, g->name.c_str(), gen_aclose, &g->reg); }

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

TEST_CASE("R55 shutdown closes every live object, all at once, after the main task returned") {
  t::LogCapture log;
  std::vector<std::string> order;
  Gen a, b;
  a.name = "a";
  b.name = "b";
  a.sleep = b.sleep = 0.2;
  a.order = b.order = &order;
  auto t0 = std::chrono::steady_clock::now();
  int rc = t::run([&](uvrun_task_t *task, int) {
    REQUIRE(reg(uvrun_task_loop(task), &a) == 0);
    REQUIRE(reg(uvrun_task_loop(task), &b) == 0);
    order.push_back("main returned");
    return 0;
  });
  double took = seconds_since(t0);
  CHECK(rc == 0);
  CHECK(a.closes == 1);
  CHECK(b.closes == 1);
  CHECK(a.finished);  // shutdown waited for both close tasks
  CHECK(b.finished);
  CHECK(took >= 0.2);
  CHECK(took < 0.35);  // two 0.2 s closes ran concurrently
  REQUIRE(order.size() == 3);
  CHECK(order[0] == "main returned");
  CHECK(log.lines.empty());  // R57's warning is for late registrations only
}

TEST_CASE("R55 objects are closed after leftover tasks are cancelled and before the executor shuts down (R47)") {
  std::vector<std::string> order;
  Gen g;
  g.name = "g";
  g.order = &order;
  g.use_executor = true;
  int rc = t::run([&](uvrun_task_t *task, int) {
    uvrun_loop_t *loop = uvrun_task_loop(task);
    REQUIRE(reg(loop, &g) == 0);
    uvrun_task_t *worker = t::spawn(
        loop,
        [&](uvrun_task_t *t, int step) -> int {
          if (step == 0) return uvrun_task_await(t, uvrun_sleep(t, 10.0));
          int rc = uvrun_task_resume(t, nullptr);
          order.push_back(rc == UVRUN_E_CANCELLED ? "worker cancelled" : "worker woke");
          return rc;
        },
        "worker");
    REQUIRE(worker != nullptr);
    uvrun_task_unref(worker);
    return 0;
  });
  CHECK(rc == 0);
  REQUIRE(order.size() == 2);
  CHECK(order[0] == "worker cancelled");
  CHECK(order[1] == "aclose g");
  CHECK(g.executor_rc == 0);  // the executor was still accepting jobs
  CHECK(g.finished);
}

TEST_CASE("R55 an object unregistered while its task unwinds is not closed again at shutdown") {
  Gen g;
  g.name = "iterated";
  int rc = t::run([&](uvrun_task_t *task, int) {
    uvrun_loop_t *loop = uvrun_task_loop(task);
    REQUIRE(reg(loop, &g) == 0);
    uvrun_task_t *user = t::spawn(
        loop,
        [&](uvrun_task_t *t, int step) -> int {
          if (step == 0) return uvrun_task_await(t, uvrun_sleep(t, 10.0));
          uvrun_asyncgen_unregister(g.reg);  // the generator finished with its task
          return uvrun_task_resume(t, nullptr);
        },
        "user");
    REQUIRE(user != nullptr);
    uvrun_task_unref(user);
    return 0;
  });
  CHECK(rc == 0);
  CHECK(g.closes == 0);
}

TEST_CASE("R55 a failing aclose is reported with the exact message and the object") {
  t::Reports reports;
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  reports.install(&opts);
  Gen bad, good;
  bad.name = "bad";
  bad.fail_code = UVRUN_E_INVAL;
  bad.sleep = 0.01;
  good.name = "good";
  int rc = t::run(
      [&](uvrun_task_t *task, int) {
        REQUIRE(reg(uvrun_task_loop(task), &bad) == 0);
        REQUIRE(reg(uvrun_task_loop(task), &good) == 0);
        return 0;
      },
      &opts);
  CHECK(rc == 0);  // reports never change the outcome
  CHECK(bad.finished);
  CHECK(good.finished);
  // Exactly one report: the close task's error counts as retrieved.
  REQUIRE(reports.list.size() == 1);
  const t::Report &r = reports.list[0];
  CHECK(r.message == "an error occurred during closing of asynchronous generator <bad>");
  CHECK(r.code == UVRUN_E_INVAL);
  CHECK(r.error_message == "close failed");
  CHECK(r.asyncgen == "bad");
  CHECK(r.task_name.empty());
  CHECK_FALSE(r.has_future);
}

TEST_CASE("R55 an aclose that ends cancelled is not reported") {
  t::Reports reports;
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  reports.install(&opts);
  Gen task_cancelled;
  task_cancelled.name = "task-cancelled";
  task_cancelled.cancel = true;
  task_cancelled.sleep = 0.01;
  // An aclose whose future is a plain future it cancels itself.
  int plain_closes = 0;
  uvrun_asyncgen_t *plain = nullptr;
  auto plain_aclose = [](void *obj, uvrun_loop_t *loop, uvrun_future_t **out) -> int {
    ++*static_cast<int *>(obj);
    int rc = uvrun_future_new(loop, out);
    if (rc == 0) uvrun_future_cancel(*out, "not today");
    return rc;
  };
  int rc = t::run(
      [&](uvrun_task_t *task, int) {
        REQUIRE(reg(uvrun_task_loop(task), &task_cancelled) == 0);
        REQUIRE(uvrun_asyncgen_register(uvrun_task_loop(task), &plain_closes, "plain", plain_aclose, &plain) == 0);
        return 0;
      },
      &opts);
  CHECK(rc == 0);
  CHECK(task_cancelled.closes == 1);
  CHECK(task_cancelled.finished);
  CHECK(plain_closes == 1);
  CHECK(reports.list.empty());
}

TEST_CASE("D9 an aclose that cannot start is reported with its error") {
  t::Reports reports;
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  reports.install(&opts);
  Gen g;
  g.name = "unstartable";
  g.start_rc = UVRUN_E_TIMEDOUT;
  int rc = t::run(
      [&](uvrun_task_t *task, int) {
        REQUIRE(reg(uvrun_task_loop(task), &g) == 0);
        return 0;
      },
      &opts);
  CHECK(rc == 0);
  CHECK(g.closes == 1);
  REQUIRE(reports.list.size() == 1);
  CHECK(reports.list[0].message == "an error occurred during closing of asynchronous generator <unstartable>");
  CHECK(reports.list[0].code == UVRUN_E_TIMEDOUT);
  CHECK(reports.list[0].asyncgen == "unstartable");
}

TEST_CASE("R56 unregister removes the object: shutdown does not close it") {
  Gen g;
  g.name = "done";
  int rc = t::run([&](uvrun_task_t *task, int) {
    REQUIRE(reg(uvrun_task_loop(task), &g) == 0);
    uvrun_asyncgen_unregister(g.reg);
    return 0;
  });
  CHECK(rc == 0);
  CHECK(g.closes == 0);
}

TEST_CASE("R56 finalize schedules aclose on the loop, from the loop thread or another one") {
  for (bool other_thread : {false, true}) {
    CAPTURE(other_thread);
    Gen g;
    g.name = "collected";
    int closes_right_after = -1, closes_later = -1;
    bool finished_later = false;
    int rc = t::run([&](uvrun_task_t *task, int step) -> int {
      if (step == 0) {
        REQUIRE(reg(uvrun_task_loop(task), &g) == 0);
        if (other_thread) {
          std::thread th([&] { uvrun_asyncgen_finalize(g.reg); });
          th.join();
        } else {
          uvrun_asyncgen_finalize(g.reg);
        }
        closes_right_after = g.closes;  // scheduled, not run inline
        return uvrun_task_await(task, uvrun_sleep(task, 0.02));
      }
      closes_later = g.closes;
      finished_later = g.finished;
      return uvrun_task_resume(task, nullptr);
    });
    CHECK(rc == 0);
    CHECK(closes_right_after == 0);
    CHECK(closes_later == 1);
    CHECK(finished_later);
    CHECK(g.closes == 1);  // finalized objects are not closed again at shutdown
  }
}

TEST_CASE("R57 registering after shutdown started warns and still registers") {
  t::LogCapture log;
  Gen first, late;
  first.name = "first";
  late.name = "late";
  int late_rc = 1;
  std::string late_name;
  void *late_obj = nullptr;
  first.on_close = [&](uvrun_loop_t *loop) {
    late_rc = reg(loop, &late);
    late_name = uvrun_asyncgen_name(late.reg);
    late_obj = uvrun_asyncgen_object(late.reg);
  };
  int rc = t::run([&](uvrun_task_t *task, int) {
    REQUIRE(reg(uvrun_task_loop(task), &first) == 0);
    return 0;
  });
  CHECK(rc == 0);
  CHECK(late_rc == 0);
  CHECK(late.reg != nullptr);
  CHECK(late_name == "late");
  CHECK(late_obj == &late);
  CHECK(late.closes == 0);  // the shutdown's snapshot was already taken
  auto n = log.count("asynchronous generator <late> was scheduled after uvrun_loop_shutdown_asyncgens() call");
  INFO(log.all());
  CHECK(n == 1);
  for (auto &l : log.lines)
    if (l.second.find("was scheduled after") != std::string::npos) CHECK(l.first == UVRUN_LOG_WARNING);
}

TEST_CASE("D9 a registration copies its name and keeps its object") {
  uvrun_loop_t *loop = nullptr;
  REQUIRE(uvrun_loop_new(&loop) == 0);
  char name[] = "original";
  int obj = 0;
  uvrun_asyncgen_t *gen = nullptr;
  REQUIRE(uvrun_asyncgen_register(loop, &obj, name, gen_aclose, &gen) == 0);
  std::strcpy(name, "changed!");
  CHECK(std::string(uvrun_asyncgen_name(gen)) == "original");
  CHECK(uvrun_asyncgen_object(gen) == &obj);
  uvrun_asyncgen_unregister(gen);
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("D9 registering on a closed loop fails with LOOP_CLOSED") {
  uvrun_loop_t *loop = nullptr;
  REQUIRE(uvrun_loop_new(&loop) == 0);
  REQUIRE(uvrun_loop_close(loop) == 0);
  Gen g;
  g.name = "too-late";
  g.reg = reinterpret_cast<uvrun_asyncgen_t *>(&g);  // must be cleared
  CHECK(reg(loop, &g) == UVRUN_E_LOOP_CLOSED);
  CHECK(std::string(uvrun_errmsg()) == "Event loop is closed");
  CHECK(g.reg == nullptr);
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("D9 registrations left on a standalone loop are released at close without closing them") {
  uvrun_loop_t *loop = nullptr;
  REQUIRE(uvrun_loop_new(&loop) == 0);
  Gen a, b;
  a.name = "a";
  b.name = "b";
  REQUIRE(reg(loop, &a) == 0);
  REQUIRE(reg(loop, &b) == 0);
  CHECK(uvrun_loop_free(loop) == 0);  // no shutdown step: nothing is closed
  CHECK(a.closes == 0);
  CHECK(b.closes == 0);
}

TEST_CASE("R55 a Runner closes objects registered during its runs only at close") {
  Gen g;
  g.name = "kept";
  g.sleep = 0.01;
  uvrun_runner_t *r = nullptr;
  REQUIRE(uvrun_runner_new(nullptr, &r) == 0);
  t::Lambda first{[&](uvrun_task_t *task, int) {
    REQUIRE(reg(uvrun_task_loop(task), &g) == 0);
    return 0;
  }};
  t::Lambda second{[&](uvrun_task_t *, int) { return 0; }};
  CHECK(uvrun_runner_run(r, t::Lambda::run, &first, nullptr, nullptr) == 0);
  CHECK(uvrun_runner_run(r, t::Lambda::run, &second, nullptr, nullptr) == 0);
  CHECK(g.closes == 0);
  CHECK(uvrun_runner_close(r) == 0);
  CHECK(g.closes == 1);
  CHECK(g.finished);
  uvrun_runner_free(r);
}

TEST_CASE("R56 an object finalized in the last iteration before shutdown is closed once, by its finalizer") {
  // Python's finalizer drops the generator from the tracked set at once, so
  // shutdown_asyncgens() never closes it a second time.
  Gen g;
  g.name = "finalized-late";
  int rc = t::run([&](uvrun_task_t *task, int) {
    uvrun_loop_t *loop = uvrun_task_loop(task);
    REQUIRE(reg(loop, &g) == 0);
    // Cancelled at shutdown (R47 step 1), the leftover starts a task outside
    // the snapshot whose second step -- in the iteration that ends step 1 --
    // finalizes the object.
    uvrun_task_t *leftover = t::spawn(
        loop,
        [&](uvrun_task_t *t, int step) -> int {
          if (step == 0) return uvrun_task_await(t, uvrun_sleep(t, 10.0));
          uvrun_task_t *dropper = t::spawn(
              uvrun_task_loop(t),
              [&](uvrun_task_t *d, int s) -> int {
                if (s == 0) return uvrun_task_yield(d);
                uvrun_asyncgen_finalize(g.reg);
                return 0;
              },
              "dropper");
          uvrun_task_unref(dropper);
          return uvrun_task_resume(t, nullptr);
        },
        "leftover");
    uvrun_task_unref(leftover);
    return 0;
  });
  CHECK(rc == 0);
  CHECK(g.closes == 1);
}

// ---- the awaitable shutdown step: uvrun_shutdown_asyncgens() ----

TEST_CASE("R55 a task awaits uvrun_shutdown_asyncgens(): every live object closes at once, before it resumes") {
  Gen a, b;
  a.name = "a";
  b.name = "b";
  a.sleep = b.sleep = 0.1;
  int awaited_rc = 1;
  bool finished_at_resume = false;
  double took = 0;
  auto t0 = std::chrono::steady_clock::now();
  int rc = t::run([&](uvrun_task_t *task, int step) -> int {
    uvrun_loop_t *loop = uvrun_task_loop(task);
    if (step == 0) {
      REQUIRE(reg(loop, &a) == 0);
      REQUIRE(reg(loop, &b) == 0);
      t0 = std::chrono::steady_clock::now();
      return uvrun_task_await(task, uvrun_shutdown_asyncgens(loop));
    }
    awaited_rc = uvrun_task_resume(task, nullptr);
    took = seconds_since(t0);
    finished_at_resume = a.finished && b.finished;
    return 0;
  });
  CHECK(rc == 0);
  CHECK(awaited_rc == 0);
  CHECK(finished_at_resume);
  CHECK(took >= 0.1);
  CHECK(took < 0.18);    // concurrently
  CHECK(a.closes == 1);  // the runner's own shutdown found nothing left
  CHECK(b.closes == 1);
}

TEST_CASE("R55 an awaited shutdown reports failing closes, not cancelled ones, before it resumes") {
  t::Reports reports;
  t::Options opts(reports);
  Gen bad, cancelled;
  bad.name = "bad";
  bad.fail_code = UVRUN_E_INVAL;
  cancelled.name = "cancelled";
  cancelled.cancel = true;
  size_t reports_at_resume = 99;
  int rc = t::run(
      [&](uvrun_task_t *task, int step) -> int {
        uvrun_loop_t *loop = uvrun_task_loop(task);
        if (step == 0) {
          REQUIRE(reg(loop, &bad) == 0);
          REQUIRE(reg(loop, &cancelled) == 0);
          return uvrun_task_await(task, uvrun_shutdown_asyncgens(loop));
        }
        reports_at_resume = reports.list.size();
        return uvrun_task_resume(task, nullptr);
      },
      &opts);
  CHECK(rc == 0);  // a report is not the step's failure
  CHECK(reports_at_resume == 1);
  REQUIRE(reports.list.size() == 1);
  CHECK(reports.list[0].message == "an error occurred during closing of asynchronous generator <bad>");
  CHECK(reports.list[0].code == UVRUN_E_INVAL);
  CHECK(reports.list[0].asyncgen == "bad");
}

TEST_CASE("R55 R57 after an awaited shutdown a new object warns, and the runner's close closes it") {
  t::LogCapture log;
  Gen late;
  late.name = "late";
  int rc = t::run([&](uvrun_task_t *task, int step) -> int {
    uvrun_loop_t *loop = uvrun_task_loop(task);
    if (step == 0) return uvrun_task_await(task, uvrun_shutdown_asyncgens(loop));  // nothing to close
    REQUIRE(uvrun_task_resume(task, nullptr) == 0);
    REQUIRE(reg(loop, &late) == 0);
    return 0;
  });
  CHECK(rc == 0);
  CHECK(log.count("asynchronous generator <late> was scheduled after uvrun_loop_shutdown_asyncgens() call") == 1);
  CHECK(late.closes == 1);
}

TEST_CASE("R55 cancelling the task that awaits the shutdown cancels the closes and reports nothing") {
  t::Reports reports;
  t::Options opts(reports);
  Gen g;
  g.name = "slow";
  g.sleep = 10.0;
  g.fail_code = UVRUN_E_INVAL;  // would be reported, had it finished
  uvrun_task_t *waiter = nullptr;
  int waiter_cancelled = -1;
  auto t0 = std::chrono::steady_clock::now();
  int rc = t::run(
      [&](uvrun_task_t *task, int step) -> int {
        uvrun_loop_t *loop = uvrun_task_loop(task);
        if (step == 0) {
          REQUIRE(reg(loop, &g) == 0);
          waiter = t::spawn(loop, [](uvrun_task_t *t, int s) -> int {
            if (s == 0) return uvrun_task_await(t, uvrun_shutdown_asyncgens(uvrun_task_loop(t)));
            return uvrun_task_resume(t, nullptr);
          });
          REQUIRE(waiter != nullptr);
          return uvrun_task_await(task, uvrun_sleep(task, 0.02));
        }
        if (step == 1) {
          CHECK(uvrun_task_cancel(waiter, nullptr) == 1);
          return uvrun_task_await(task, uvrun_sleep(task, 0.02));
        }
        waiter_cancelled = uvrun_future_cancelled(uvrun_task_future(waiter));
        uvrun_task_unref(waiter);
        return uvrun_task_resume(task, nullptr);
      },
      &opts);
  CHECK(rc == 0);
  CHECK(waiter_cancelled == 1);
  CHECK(g.closes == 1);  // taken by the cancelled shutdown: not closed again
  CHECK_FALSE(g.finished);
  CHECK(seconds_since(t0) < 5.0);
  CHECK(reports.list.empty());
}

TEST_CASE("R55 uvrun_loop_shutdown_asyncgens() from a running task fails with ALREADY_RUNNING and starts nothing") {
  t::LogCapture log;
  Gen g, later;
  g.name = "g";
  later.name = "later";
  int sync_rc = 1, closes_after = -1;
  std::string message;
  int rc = t::run([&](uvrun_task_t *task, int) -> int {
    uvrun_loop_t *loop = uvrun_task_loop(task);
    REQUIRE(reg(loop, &g) == 0);
    sync_rc = uvrun_loop_shutdown_asyncgens(loop);
    message = uvrun_errmsg();
    closes_after = g.closes;
    REQUIRE(reg(loop, &later) == 0);  // no shutdown happened: no R57 warning
    return 0;
  });
  CHECK(rc == 0);
  CHECK(sync_rc == UVRUN_E_LOOP_ALREADY_RUNNING);
  CHECK(message == "This event loop is already running");
  CHECK(closes_after == 0);
  CHECK(log.lines.empty());
  CHECK(g.closes == 1);  // the runner's shutdown closed both
  CHECK(later.closes == 1);
}

TEST_CASE("R55 the shutdown step on a standalone loop: done at once with nothing to close, run to the end otherwise") {
  uvrun_loop_t *loop = t::new_loop();
  uvrun_future_t *none = uvrun_shutdown_asyncgens(loop);
  REQUIRE(none != nullptr);
  CHECK(uvrun_future_done(none));
  uvrun_future_unref(none);
  Gen g;
  g.name = "g";
  g.sleep = 0.01;
  {
    t::LogCapture log;
    REQUIRE(reg(loop, &g) == 0);
    CHECK(log.lines.size() == 1);  // R57: the first call counted as the shutdown
  }
  uvrun_future_t *fut = uvrun_shutdown_asyncgens(loop);
  REQUIRE(fut != nullptr);
  CHECK(g.closes == 1);  // started at the call
  CHECK(uvrun_loop_run_until_complete(loop, fut, nullptr) == 0);
  CHECK(g.finished);
  uvrun_future_unref(fut);
  CHECK(uvrun_loop_shutdown_asyncgens(loop) == 0);  // again: nothing left
  CHECK(g.closes == 1);
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("R55 the shutdown step refuses a NULL or closed loop with a clear error") {
  CHECK(uvrun_shutdown_asyncgens(nullptr) == nullptr);
  t::TakenError e = t::take_error();
  CHECK(e.code == UVRUN_E_INVAL);
  CHECK(e.message == "loop must not be NULL");
  CHECK(uvrun_loop_shutdown_asyncgens(nullptr) == UVRUN_E_INVAL);

  uvrun_loop_t *loop = t::new_loop();
  REQUIRE(uvrun_loop_close(loop) == 0);
  CHECK(uvrun_shutdown_asyncgens(loop) == nullptr);
  e = t::take_error();
  CHECK(e.code == UVRUN_E_LOOP_CLOSED);
  CHECK(e.message == "Event loop is closed");
  CHECK(uvrun_loop_shutdown_asyncgens(loop) == UVRUN_E_LOOP_CLOSED);
  CHECK(uvrun_loop_free(loop) == 0);
}
