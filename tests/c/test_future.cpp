// Futures: outcome, done callbacks through the ready queue, cancellation.
#include <doctest/doctest.h>
#include <uvrun.h>

#include <string>
#include <vector>

#include "support.h"

TEST_SUITE_BEGIN("tasks");

namespace {
struct Loop {
  uvrun_loop_t *loop = nullptr;
  Loop() { REQUIRE(uvrun_loop_new(&loop) == 0); }
  ~Loop() { CHECK(uvrun_loop_free(loop) == 0); }
  void spin() {
    uvrun_future_t *f = uvrun_sleep_value(loop, 0, nullptr);
    REQUIRE(uvrun_loop_run_until_complete(loop, f, nullptr) == 0);
    uvrun_future_unref(f);
  }
};
int freed;
void count_free(void *) { freed++; }
}  // namespace

TEST_CASE("a future's result, and value_free when the future goes") {
  Loop l;
  uvrun_future_t *f;
  REQUIRE(uvrun_future_new(l.loop, &f) == 0);
  void *v = t::iv(1);
  CHECK(!uvrun_future_done(f));
  CHECK(uvrun_future_result(f, &v) == UVRUN_E_INVALID_STATE);
  CHECK(std::string(uvrun_errmsg()) == "Result is not set.");
  CHECK(v == nullptr);
  freed = 0;
  CHECK(uvrun_future_set_result(f, t::iv(42), count_free) == 0);
  CHECK(uvrun_future_set_result(f, t::iv(43), nullptr) == UVRUN_E_INVALID_STATE);
  CHECK(uvrun_future_cancel(f, "late") == 0);
  CHECK(uvrun_future_result(f, &v) == 0);
  CHECK(t::vi(v) == 42);
  CHECK(uvrun_future_error(f) == nullptr);
  CHECK(uvrun_future_loop(f) == l.loop);
  uvrun_future_unref(f);
  CHECK(freed == 1);
}

TEST_CASE("a future's error keeps its object, code, message and payload") {
  Loop l;
  uvrun_future_t *f;
  REQUIRE(uvrun_future_new(l.loop, &f) == 0);
  freed = 0;
  uvrun_error_t *err = uvrun_error_new(-5000, "spam", t::iv(9), count_free);
  REQUIRE(err != nullptr);
  CHECK(uvrun_future_set_error(f, err) == 0);
  CHECK(uvrun_future_result(f, nullptr) == -5000);
  CHECK(std::string(uvrun_errmsg()) == "spam");
  CHECK(uvrun_future_error(f) == err);
  CHECK(uvrun_error_payload(err) == t::iv(9));
  uvrun_future_unref(f);
  CHECK(freed == 1);
}

TEST_CASE("R51 cancel: message kept, returns 0 once done") {
  Loop l;
  uvrun_future_t *f;
  REQUIRE(uvrun_future_new(l.loop, &f) == 0);
  CHECK(uvrun_future_cancel(f, "bye") == 1);
  CHECK(uvrun_future_cancel(f, "again") == 0);
  CHECK(uvrun_future_cancelled(f));
  CHECK(uvrun_future_done(f));
  CHECK(uvrun_future_result(f, nullptr) == UVRUN_E_CANCELLED);
  uvrun_error_t *err = uvrun_future_error(f);
  REQUIRE(err != nullptr);
  CHECK(uvrun_error_code(err) == UVRUN_E_CANCELLED);
  CHECK(std::string(uvrun_error_message(err)) == "bye");
  uvrun_future_unref(f);
}

TEST_CASE("R35 done callbacks are queued, not run inline, and run in registration order") {
  Loop l;
  uvrun_future_t *f;
  REQUIRE(uvrun_future_new(l.loop, &f) == 0);
  static std::vector<int> order;
  order.clear();
  for (int i = 0; i < 5; i++)
    REQUIRE(uvrun_future_add_done_callback(
                f, [](uvrun_future_t *, void *ud) { order.push_back((int)t::vi(ud)); }, t::iv(i)) == 0);
  uvrun_future_set_result(f, nullptr, nullptr);
  CHECK(order.empty());
  l.spin();
  CHECK(order == std::vector<int>{0, 1, 2, 3, 4});
  // Added after completion: queued at once.
  uvrun_future_add_done_callback(
      f, [](uvrun_future_t *, void *) { order.push_back(99); }, nullptr);
  CHECK(order.size() == 5);
  l.spin();
  CHECK(order.back() == 99);
  uvrun_future_unref(f);
}

TEST_CASE("remove_done_callback removes every matching registration") {
  Loop l;
  uvrun_future_t *f;
  REQUIRE(uvrun_future_new(l.loop, &f) == 0);
  static int calls;
  calls = 0;
  uvrun_done_fn cb = [](uvrun_future_t *, void *) { calls++; };
  uvrun_future_add_done_callback(f, cb, t::iv(1));
  uvrun_future_add_done_callback(f, cb, t::iv(2));
  uvrun_future_add_done_callback(f, cb, t::iv(1));
  CHECK(uvrun_future_remove_done_callback(f, cb, t::iv(1)) == 2);
  CHECK(uvrun_future_remove_done_callback(f, cb, t::iv(1)) == 0);
  uvrun_future_set_result(f, nullptr, nullptr);
  l.spin();
  CHECK(calls == 1);
  uvrun_future_unref(f);
}

TEST_CASE("removing every callback leaves a future that takes new ones and frees cleanly") {
  Loop l;
  uvrun_future_t *f;
  REQUIRE(uvrun_future_new(l.loop, &f) == 0);
  static std::vector<long> seen;
  seen.clear();
  uvrun_done_fn cb = [](uvrun_future_t *, void *ud) { seen.push_back(t::vi(ud)); };
  for (long i = 1; i <= 3; i++) uvrun_future_add_done_callback(f, cb, t::iv(i));  // past the inline one
  for (long i = 1; i <= 3; i++) CHECK(uvrun_future_remove_done_callback(f, cb, t::iv(i)) == 1);
  uvrun_future_add_done_callback(f, cb, t::iv(7));
  uvrun_future_add_done_callback(f, cb, t::iv(8));
  uvrun_future_set_result(f, nullptr, nullptr);
  l.spin();
  CHECK(seen == std::vector<long>{7, 8});
  uvrun_future_unref(f);
  // Freed with none left: what held the removed ones is freed too (ASan, valgrind).
  REQUIRE(uvrun_future_new(l.loop, &f) == 0);
  for (long i = 1; i <= 3; i++) uvrun_future_add_done_callback(f, cb, t::iv(i));
  CHECK(uvrun_future_remove_done_callback(f, cb, t::iv(2)) == 1);
  CHECK(uvrun_future_remove_done_callback(f, cb, t::iv(1)) == 1);
  CHECK(uvrun_future_remove_done_callback(f, cb, t::iv(3)) == 1);
  uvrun_future_unref(f);
  CHECK(seen.size() == 2);
}

TEST_CASE("R66 Future exception was never retrieved is reported when it goes") {
  Loop l;
  t::Reports reports;
  reports.install(l.loop);
  uvrun_future_t *f;
  REQUIRE(uvrun_future_new(l.loop, &f) == 0);
  uvrun_future_set_error_code(f, UVRUN_E_TIMEDOUT, "slow");
  uvrun_future_unref(f);
  REQUIRE(reports.list.size() == 1);
  CHECK(reports.list[0].message == "Future exception was never retrieved");
  CHECK(reports.list[0].code == UVRUN_E_TIMEDOUT);
  CHECK(reports.list[0].error_message == "slow");
  CHECK(reports.list[0].has_future);

  REQUIRE(uvrun_future_new(l.loop, &f) == 0);
  uvrun_future_set_error_code(f, UVRUN_E_TIMEDOUT, "slow");
  CHECK(uvrun_future_result(f, nullptr) == UVRUN_E_TIMEDOUT);  // retrieved
  uvrun_future_unref(f);
  CHECK(reports.list.size() == 1);
}
