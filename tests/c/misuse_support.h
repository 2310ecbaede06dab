// Helpers for the misuse suites (test_misuse_*.cpp): every misuse of the C
// API returns a code with a message of its own and never crashes.
#pragma once
#include <doctest/doctest.h>
#include <uvrun.h>

#include <string>

#include "runner_support.h"
#include "support.h"

namespace misuse {

// Leaves a last error (INVALID_STATE, fixed text) that no check below
// expects, so each check can tell that its call recorded its own failure.
inline std::string sentinel() {
  static bool locked = [] {  // the allocator locks once an object exists
    uvrun_loop_t *loop = nullptr;
    uvrun_loop_new(&loop);
    uvrun_loop_free(loop);
    return true;
  }();
  (void)locked;
  uvrun_set_allocator(nullptr);
  return uvrun_errmsg();
}

inline void check_last(int code, const std::string &before, const char *what) {
  INFO(what);
  std::string msg = uvrun_errmsg();
  CHECK(!msg.empty());
  CHECK(msg != before);
  uvrun_error_t *err = uvrun_take_error();
  REQUIRE(err != nullptr);
  CHECK(uvrun_error_code(err) == code);
  CHECK(std::string(uvrun_error_message(err)) == msg);
  uvrun_error_unref(err);
}

// `expr` returns `code` and records a message of its own.
#define CHECK_FAILS(code, expr)                 \
  do {                                          \
    std::string before_ = misuse::sentinel();   \
    int rc_ = (expr);                           \
    INFO(#expr);                                \
    CHECK(rc_ == (code));                       \
    misuse::check_last((code), before_, #expr); \
  } while (0)
#define CHECK_INVAL(expr) CHECK_FAILS(UVRUN_E_INVAL, expr)
// `expr` returns NULL and records an INVAL failure.
#define CHECK_NULL_INVAL(expr)                         \
  do {                                                 \
    std::string before_ = misuse::sentinel();          \
    auto p_ = (expr);                                  \
    INFO(#expr);                                       \
    CHECK(p_ == nullptr);                              \
    misuse::check_last(UVRUN_E_INVAL, before_, #expr); \
  } while (0)

inline void noop(void *) {}
inline void done_noop(uvrun_future_t *, void *) {}
inline int step_ok(uvrun_task_t *, void *) { return 0; }
inline int step_count(uvrun_task_t *, void *arg) {
  ++*static_cast<int *>(arg);
  return 0;
}
inline int job_ok(void *, void **) { return 0; }
inline int aclose_none(void *, uvrun_loop_t *, uvrun_future_t **) { return UVRUN_E_INVAL; }
inline void count_free(void *p) { ++*static_cast<int *>(p); }

// An error whose payload counts its release.
inline uvrun_error_t *counted_error(int *freed) { return uvrun_error_new(UVRUN_E_INVAL, "payload", freed, count_free); }
// A done future whose value counts its release.
inline uvrun_future_t *counted_future(uvrun_loop_t *loop, int *freed) {
  uvrun_future_t *fut = t::new_future(loop);
  REQUIRE(uvrun_future_set_result(fut, freed, count_free) == 0);
  return fut;
}

}  // namespace misuse
