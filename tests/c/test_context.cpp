// Context variables (R31, X7): values, tokens, copies, entering, and the
// contexts tasks and runners run in.
#include <doctest/doctest.h>
#include <uvrun.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "support.h"

TEST_SUITE_BEGIN("context");

namespace {

// A variable freed at scope exit.
struct Var {
  uvrun_contextvar_t *v = nullptr;
  explicit Var(const char *name, bool has_default = false, void *def = nullptr) {
    REQUIRE(uvrun_contextvar_new(name, has_default ? 1 : 0, def, &v) == 0);
  }
  ~Var() { uvrun_contextvar_free(v); }
  operator uvrun_contextvar_t *() const { return v; }
};

intptr_t get(uvrun_contextvar_t *var) {
  void *value = nullptr;
  int rc = uvrun_contextvar_get(var, &value);
  return rc < 0 ? rc : t::vi(value);
}

void trampoline(void *ud) { (*static_cast<std::function<void()> *>(ud))(); }

// Runs fn inside ctx; the thread's own context stays clean between tests.
int run_in(uvrun_context_t *ctx, std::function<void()> fn) { return uvrun_context_run(ctx, trampoline, &fn); }

void in_fresh_context(std::function<void()> fn) {
  uvrun_context_t *ctx = nullptr;
  CHECK(uvrun_context_new(&ctx) == 0);
  CHECK(run_in(ctx, std::move(fn)) == 0);
  uvrun_context_free(ctx);
}

}  // namespace

TEST_CASE("R31 a variable without a default fails with NOTFOUND naming it") {
  Var x("request_id");
  in_fresh_context([&] {
    void *value = t::iv(7);
    CHECK(uvrun_contextvar_get(x, &value) == UVRUN_E_NOTFOUND);
    CHECK(std::string(uvrun_errmsg()) == "<ContextVar name='request_id'>");
    CHECK(value == t::iv(7));  // untouched on failure
  });
  CHECK(std::string(uvrun_contextvar_name(x)) == "request_id");
}

TEST_CASE("R31 a variable with a default reads it until set") {
  Var x("x", true, t::iv(5));
  in_fresh_context([&] {
    CHECK(get(x) == 5);
    CHECK(uvrun_contextvar_set(x, t::iv(6), nullptr) == 0);
    CHECK(get(x) == 6);
  });
  in_fresh_context([&] { CHECK(get(x) == 5); });
}

TEST_CASE("R31 reset with a token restores the previous value, or none") {
  Var x("x"), y("y");
  in_fresh_context([&] {
    uvrun_token_t *t1 = nullptr, *t2 = nullptr;
    CHECK(uvrun_contextvar_set(y, t::iv(100), nullptr) == 0);
    CHECK(uvrun_contextvar_set(x, t::iv(1), &t1) == 0);
    CHECK(uvrun_contextvar_set(x, t::iv(2), &t2) == 0);
    CHECK(get(x) == 2);
    CHECK(uvrun_contextvar_reset(x, t2) == 0);
    CHECK(get(x) == 1);
    CHECK(uvrun_contextvar_reset(x, t1) == 0);
    CHECK(get(x) == UVRUN_E_NOTFOUND);
    CHECK(get(y) == 100);  // other variables are untouched
  });
}

TEST_CASE("R31 many variables keep their own values") {
  std::vector<uvrun_contextvar_t *> vars(64);
  for (auto &v : vars) CHECK(uvrun_contextvar_new("v", 0, nullptr, &v) == 0);
  in_fresh_context([&] {
    // Set in an order unrelated to the addresses the map sorts by.
    for (size_t i = 0; i < vars.size(); i++) {
      size_t j = (i * 37) % vars.size();
      CHECK(uvrun_contextvar_set(vars[j], t::iv((intptr_t)j), nullptr) == 0);
    }
    for (size_t i = 0; i < vars.size(); i++) CHECK(get(vars[i]) == (intptr_t)i);
    CHECK(uvrun_contextvar_set(vars[3], t::iv(-3), nullptr) == 0);
    CHECK(get(vars[3]) == -3);
    CHECK(get(vars[4]) == 4);
  });
  for (auto v : vars) uvrun_contextvar_free(v);
}

TEST_CASE("R31 a token of another variable is refused and freed") {
  Var x("x"), y("y");
  in_fresh_context([&] {
    uvrun_token_t *tok = nullptr;
    CHECK(uvrun_contextvar_set(x, t::iv(1), &tok) == 0);
    CHECK(uvrun_contextvar_reset(y, tok) == UVRUN_E_TOKEN_MISMATCH);  // tok is freed
    CHECK(std::string(uvrun_errmsg()) == "Token was created by a different ContextVar");
    CHECK(get(x) == 1);
  });
}

TEST_CASE("R31 a token from another context is refused and freed") {
  Var x("x");
  uvrun_context_t *a = nullptr, *b = nullptr;
  CHECK(uvrun_context_new(&a) == 0);
  CHECK(uvrun_context_new(&b) == 0);
  uvrun_token_t *tok = nullptr;
  CHECK(run_in(a, [&] { CHECK(uvrun_contextvar_set(x, t::iv(1), &tok) == 0); }) == 0);
  CHECK(run_in(b, [&] {
          CHECK(uvrun_contextvar_reset(x, tok) == UVRUN_E_TOKEN_MISMATCH);
          CHECK(std::string(uvrun_errmsg()) == "Token was created in a different Context");
        }) == 0);
  void *value = nullptr;
  CHECK(uvrun_context_get(a, x, &value) == 0);
  CHECK(value == t::iv(1));
  uvrun_context_free(a);
  uvrun_context_free(b);
}

TEST_CASE("R31 set and reset outside any entered context use the thread's own") {
  Var x("x");
  uvrun_token_t *tok = nullptr;
  CHECK(uvrun_contextvar_set(x, t::iv(9), &tok) == 0);
  CHECK(get(x) == 9);
  uvrun_context_t *copy = nullptr;
  CHECK(uvrun_context_copy_current(&copy) == 0);
  CHECK(uvrun_contextvar_reset(x, tok) == 0);
  CHECK(get(x) == UVRUN_E_NOTFOUND);
  void *value = nullptr;
  CHECK(uvrun_context_get(copy, x, &value) == 0);  // the copy kept its snapshot
  CHECK(value == t::iv(9));
  uvrun_context_free(copy);
}

TEST_CASE("R31 a copied context is independent of its original") {
  Var x("x");
  uvrun_context_t *a = nullptr, *b = nullptr;
  CHECK(uvrun_context_new(&a) == 0);
  CHECK(run_in(a, [&] { CHECK(uvrun_contextvar_set(x, t::iv(1), nullptr) == 0); }) == 0);
  CHECK(uvrun_context_copy(a, &b) == 0);
  CHECK(run_in(b, [&] {
          CHECK(get(x) == 1);
          CHECK(uvrun_contextvar_set(x, t::iv(2), nullptr) == 0);
        }) == 0);
  void *va = nullptr, *vb = nullptr;
  CHECK(uvrun_context_get(a, x, &va) == 0);
  CHECK(uvrun_context_get(b, x, &vb) == 0);
  CHECK(va == t::iv(1));
  CHECK(vb == t::iv(2));
  uvrun_context_free(a);  // b outlives the map it started from
  CHECK(run_in(b, [&] { CHECK(get(x) == 2); }) == 0);
  uvrun_context_free(b);
}

TEST_CASE("R31 copying a context is O(1) in the number of variables") {
  auto copy_time = [](size_t nvars) {
    std::vector<uvrun_contextvar_t *> vars(nvars);
    uvrun_context_t *ctx = nullptr;
    CHECK(uvrun_context_new(&ctx) == 0);
    for (auto &v : vars) CHECK(uvrun_contextvar_new("v", 0, nullptr, &v) == 0);
    int failed = 0;
    CHECK(run_in(ctx, [&] {
            for (auto v : vars) failed += uvrun_contextvar_set(v, t::iv(1), nullptr) != 0;
          }) == 0);
    CHECK(failed == 0);
    int copies_failed = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 20000; i++) {
      uvrun_context_t *copy = nullptr;
      copies_failed += uvrun_context_copy(ctx, &copy) != 0;
      uvrun_context_free(copy);
    }
    auto dt = std::chrono::steady_clock::now() - t0;
    CHECK(copies_failed == 0);
    uvrun_context_free(ctx);
    for (auto v : vars) uvrun_contextvar_free(v);
    return std::chrono::duration<double>(dt).count();
  };
  double small = copy_time(1), big = copy_time(4000);
  // Copying 4000 entries each time would be hundreds of times slower.
  CHECK(big < small * 10 + 0.01);
}

TEST_CASE("R31 entering an entered context fails with CONTEXT_ENTERED") {
  uvrun_context_t *ctx = nullptr;
  CHECK(uvrun_context_new(&ctx) == 0);
  bool inner_ran = false;
  CHECK(run_in(ctx, [&] {
          CHECK(run_in(ctx, [&] { inner_ran = true; }) == UVRUN_E_CONTEXT_ENTERED);
          std::string msg = uvrun_errmsg();
          CHECK(msg.rfind("cannot enter context: ", 0) == 0);
          CHECK(msg.find(" is already entered") != std::string::npos);
        }) == 0);
  CHECK_FALSE(inner_ran);
  CHECK(run_in(ctx, [&] { inner_ran = true; }) == 0);  // exited: enterable again
  CHECK(inner_ran);
  uvrun_context_free(ctx);
}

TEST_CASE("R31 context_run restores the outer context, nested") {
  Var x("x");
  uvrun_context_t *outer = nullptr, *inner = nullptr;
  CHECK(uvrun_context_new(&outer) == 0);
  CHECK(uvrun_context_new(&inner) == 0);
  CHECK(run_in(outer, [&] {
          CHECK(uvrun_contextvar_set(x, t::iv(1), nullptr) == 0);
          CHECK(run_in(inner, [&] {
                  CHECK(get(x) == UVRUN_E_NOTFOUND);
                  CHECK(uvrun_contextvar_set(x, t::iv(2), nullptr) == 0);
                }) == 0);
          CHECK(get(x) == 1);
        }) == 0);
  CHECK(get(x) == UVRUN_E_NOTFOUND);
  uvrun_context_free(outer);
  uvrun_context_free(inner);
}

TEST_CASE("R31 freeing an entered context is refused with an error log") {
  t::LogCapture logs;
  uvrun_context_t *ctx = nullptr;
  CHECK(uvrun_context_new(&ctx) == 0);
  CHECK(run_in(ctx, [&] { uvrun_context_free(ctx); }) == 0);
  CHECK(logs.contains("is entered; not freed"));
  uvrun_context_free(ctx);  // now it goes
}

TEST_CASE("R31 context_get reads a context without entering it") {
  Var x("x"), d("d", true, t::iv(3));
  uvrun_context_t *ctx = nullptr;
  CHECK(uvrun_context_new(&ctx) == 0);
  void *value = nullptr;
  CHECK(uvrun_context_get(ctx, x, &value) == UVRUN_E_NOTFOUND);
  CHECK(uvrun_context_get(ctx, d, &value) == 0);
  CHECK(value == t::iv(3));
  CHECK(run_in(ctx, [&] { CHECK(uvrun_contextvar_set(x, t::iv(4), nullptr) == 0); }) == 0);
  CHECK(uvrun_context_get(ctx, x, &value) == 0);
  CHECK(value == t::iv(4));
  uvrun_context_free(ctx);
}

TEST_CASE("R31 NULL arguments fail with INVAL and destructors accept NULL") {
  Var x("x");
  uvrun_context_t *ctx = nullptr;
  uvrun_contextvar_t *var = nullptr;
  void *value = nullptr;
  CHECK(uvrun_context_new(&ctx) == 0);
  CHECK(uvrun_context_new(nullptr) == UVRUN_E_INVAL);
  CHECK(uvrun_context_copy_current(nullptr) == UVRUN_E_INVAL);
  CHECK(uvrun_context_copy(nullptr, &ctx) == UVRUN_E_INVAL);
  CHECK(uvrun_context_copy(ctx, nullptr) == UVRUN_E_INVAL);
  CHECK(uvrun_context_run(nullptr, trampoline, nullptr) == UVRUN_E_INVAL);
  CHECK(uvrun_context_run(ctx, nullptr, nullptr) == UVRUN_E_INVAL);
  CHECK(uvrun_context_get(nullptr, x, &value) == UVRUN_E_INVAL);
  CHECK(uvrun_context_get(ctx, nullptr, &value) == UVRUN_E_INVAL);
  CHECK(uvrun_context_get(ctx, x, nullptr) == UVRUN_E_INVAL);
  CHECK(uvrun_contextvar_new(nullptr, 0, nullptr, &var) == UVRUN_E_INVAL);
  CHECK(uvrun_contextvar_new("v", 0, nullptr, nullptr) == UVRUN_E_INVAL);
  CHECK(uvrun_contextvar_get(nullptr, &value) == UVRUN_E_INVAL);
  CHECK(uvrun_contextvar_get(x, nullptr) == UVRUN_E_INVAL);
  CHECK(uvrun_contextvar_set(nullptr, nullptr, nullptr) == UVRUN_E_INVAL);
  CHECK(uvrun_contextvar_reset(x, nullptr) == UVRUN_E_INVAL);
  CHECK(std::string(uvrun_errmsg()).find("token") != std::string::npos);
  CHECK(uvrun_contextvar_name(nullptr) == nullptr);
  uvrun_context_free(nullptr);
  uvrun_contextvar_free(nullptr);
  uvrun_token_free(nullptr);
  uvrun_context_free(ctx);
}

// ---- tasks and runners ----

TEST_CASE("R31 a spawned task works on a copy: its writes do not leak back") {
  Var x("x");
  intptr_t child_saw = 0, main_after = 0;
  int rc = t::run([&](uvrun_task_t *task, int step) -> int {
    switch (step) {
    case 0: {
      CHECK(uvrun_contextvar_set(x, t::iv(1), nullptr) == 0);
      uvrun_task_t *child = t::spawn(uvrun_task_loop(task), [&](uvrun_task_t *, int) -> int {
        child_saw = get(x);
        CHECK(uvrun_contextvar_set(x, t::iv(2), nullptr) == 0);
        return 0;
      });
      CHECK(child != nullptr);
      // Set after the spawn: the child's copy was taken before.
      CHECK(uvrun_contextvar_set(x, t::iv(3), nullptr) == 0);
      return uvrun_task_await(task, uvrun_task_future(child));  // takes our reference
    }
    default: {
      void *value = nullptr;
      CHECK(uvrun_task_resume(task, &value) == 0);
      main_after = get(x);
      return uvrun_task_return(task, nullptr);
    }
    }
  });
  CHECK(rc == 0);
  CHECK(child_saw == 1);
  CHECK(main_after == 3);
  CHECK(get(x) == UVRUN_E_NOTFOUND);  // the caller's context never saw any of it
}

TEST_CASE("R31 main task writes persist across runs of one runner, not in the caller") {
  Var x("x");
  uvrun_runner_t *runner = nullptr;
  CHECK(uvrun_runner_new(nullptr, &runner) == 0);
  std::vector<intptr_t> seen;
  auto step = [&](intptr_t value) {
    return [&, value](uvrun_task_t *task, int) -> int {
      seen.push_back(get(x));
      CHECK(uvrun_contextvar_set(x, t::iv(value), nullptr) == 0);
      return uvrun_task_return(task, nullptr);
    };
  };
  for (intptr_t v : {1, 2}) {
    t::Lambda main{step(v)};
    CHECK(uvrun_runner_run(runner, t::Lambda::run, &main, nullptr, nullptr) == 0);
  }
  t::Lambda last{step(3)};
  CHECK(uvrun_runner_run(runner, t::Lambda::run, &last, nullptr, nullptr) == 0);
  CHECK(seen == std::vector<intptr_t>{UVRUN_E_NOTFOUND, 1, 2});
  CHECK(get(x) == UVRUN_E_NOTFOUND);
  uvrun_runner_free(runner);
}

TEST_CASE("R31 a run given a context works in it and leaves the runner's own alone") {
  Var x("x");
  uvrun_runner_t *runner = nullptr;
  uvrun_context_t *ctx = nullptr;
  CHECK(uvrun_runner_new(nullptr, &runner) == 0);
  CHECK(uvrun_context_new(&ctx) == 0);
  intptr_t later = 0;
  t::Lambda writes{[&](uvrun_task_t *task, int) -> int {
    CHECK(uvrun_contextvar_set(x, t::iv(5), nullptr) == 0);
    return uvrun_task_return(task, nullptr);
  }};
  t::Lambda reads{[&](uvrun_task_t *task, int) -> int {
    later = get(x);
    return uvrun_task_return(task, nullptr);
  }};
  CHECK(uvrun_runner_run(runner, t::Lambda::run, &writes, ctx, nullptr) == 0);
  CHECK(uvrun_runner_run(runner, t::Lambda::run, &reads, nullptr, nullptr) == 0);
  CHECK(later == UVRUN_E_NOTFOUND);
  void *value = nullptr;
  CHECK(uvrun_context_get(ctx, x, &value) == 0);
  CHECK(value == t::iv(5));
  uvrun_runner_free(runner);
  uvrun_context_free(ctx);
}

TEST_CASE("R31 the runner snapshots the caller's context at its first run") {
  Var x("x");
  in_fresh_context([&] {
    uvrun_runner_t *runner = nullptr;
    CHECK(uvrun_runner_new(nullptr, &runner) == 0);
    std::vector<intptr_t> seen;
    auto reads = [&](uvrun_task_t *task, int) -> int {
      seen.push_back(get(x));
      return uvrun_task_return(task, nullptr);
    };
    CHECK(uvrun_contextvar_set(x, t::iv(1), nullptr) == 0);
    t::Lambda first{reads};
    CHECK(uvrun_runner_run(runner, t::Lambda::run, &first, nullptr, nullptr) == 0);
    CHECK(uvrun_contextvar_set(x, t::iv(2), nullptr) == 0);  // after lazy init
    t::Lambda second{reads};
    CHECK(uvrun_runner_run(runner, t::Lambda::run, &second, nullptr, nullptr) == 0);
    CHECK(seen == std::vector<intptr_t>{1, 1});
    uvrun_runner_free(runner);
  });
}

namespace {
// A reference-counted value for an owned variable.
struct Owned {
  int refs = 1;
  int *freed;
  static void ref(void *p) { static_cast<Owned *>(p)->refs++; }
  static void unref(void *p) {
    auto *o = static_cast<Owned *>(p);
    if (--o->refs == 0) {
      (*o->freed)++;
      delete o;
    }
  }
};
}  // namespace

TEST_CASE("X7 an owned variable's values live while a context, copy or token holds them") {
  int freed = 0;
  uvrun_contextvar_t *v = nullptr;
  REQUIRE(uvrun_contextvar_new_owned("owned", 0, nullptr, Owned::ref, Owned::unref, &v) == 0);
  Var plain("plain");
  uvrun_context_t *ctx = nullptr, *copy = nullptr;
  uvrun_token_t *tok = nullptr;
  REQUIRE(uvrun_context_new(&ctx) == 0);
  CHECK(run_in(ctx, [&] {
          auto *a = new Owned{1, &freed};
          auto *b = new Owned{1, &freed};
          CHECK(uvrun_contextvar_set(v, a, nullptr) == 0);
          Owned::unref(a);  // the context keeps its own reference
          CHECK(uvrun_context_copy_current(&copy) == 0);
          CHECK(uvrun_contextvar_set(v, b, &tok) == 0);  // the token holds a
          Owned::unref(b);
          CHECK(uvrun_contextvar_set(plain, t::iv(1), nullptr) == 0);  // copies b's entry
        }) == 0);
  CHECK(freed == 0);
  uvrun_context_free(copy);
  CHECK(freed == 0);  // the token still holds a
  uvrun_token_free(tok);
  CHECK(freed == 1);
  uvrun_contextvar_free(v);  // b stays readable through ctx's map
  uvrun_context_free(ctx);
  CHECK(freed == 2);
}

TEST_CASE("R31 a variable freed while a context holds its value never lends it to a newer variable") {
  // Misuse (the context should have let go first), but a new variable is
  // often made at the freed one's address: it must still start empty.
  uvrun_contextvar_t *old_var = nullptr;
  REQUIRE(uvrun_contextvar_new("old", 0, nullptr, &old_var) == 0);
  uvrun_context_t *ctx = nullptr;
  REQUIRE(uvrun_context_new(&ctx) == 0);
  struct Set {
    uvrun_contextvar_t *var;
  } set{old_var};
  REQUIRE(uvrun_context_run(
              ctx, [](void *ud) { uvrun_contextvar_set(static_cast<Set *>(ud)->var, t::iv(42), nullptr); }, &set) == 0);
  const void *freed_at = old_var;
  uvrun_contextvar_free(old_var);
  int reused = 0;
  for (int i = 0; i < 64 && !reused; i++) {
    uvrun_contextvar_t *var = nullptr;
    REQUIRE(uvrun_contextvar_new("new", 0, nullptr, &var) == 0);
    reused = var == freed_at;
    void *v = nullptr;
    CHECK(uvrun_context_get(ctx, var, &v) == UVRUN_E_NOTFOUND);
    uvrun_contextvar_free(var);
  }
  uvrun_context_free(ctx);
}
