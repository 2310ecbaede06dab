// C and C++ tasks awaiting each other's futures, both directions.
#include <doctest/doctest.h>
#include <uvrun/uvrun.hpp>

#include <stdexcept>
#include <string>

#include "support.h"

TEST_SUITE_BEGIN("cpp");

using namespace std::chrono_literals;

TEST_CASE("interop a C++ coroutine awaits a C future and a C task") {
  auto main = []() -> uvrun::Task<intptr_t> {
    uvrun_loop_t *loop = uvrun::running_loop();
    uvrun_future_t *fut = uvrun_sleep_value(loop, 0.001, t::iv(40));
    void *from_future = co_await uvrun::from_c(fut);
    uvrun_future_unref(fut);
    uvrun_task_t *c_task = t::spawn(loop, [](uvrun_task_t *task, int step) {
      if (step == 0) return uvrun_task_await(task, uvrun_sleep(task, 0.001));
      return uvrun_task_return(task, t::iv(2));
    });
    void *from_task = co_await uvrun::from_c(c_task);
    uvrun_task_unref(c_task);
    co_return t::vi(from_future) + t::vi(from_task);
  };
  CHECK(uvrun::run(main()) == 42);
}

TEST_CASE("interop a C task's error arrives as the exception its code stands for") {
  auto main = []() -> uvrun::Task<std::string> {
    uvrun_task_t *c_task = t::spawn(uvrun::running_loop(), [](uvrun_task_t *task, int) {
      return uvrun_task_raise(task, uvrun_error_new(UVRUN_E_TIMEDOUT, "C timed out", nullptr, nullptr));
    });
    std::string what = "no exception";
    try {
      co_await uvrun::from_c(c_task);
    } catch (const uvrun::TimeoutError &e) {
      what = e.what();
    }
    uvrun_task_unref(c_task);
    co_return what;
  };
  CHECK(uvrun::run(main()) == "C timed out");
}

TEST_CASE("interop C code awaits a C++ task's future and reads its T*") {
  auto cpp_child = []() -> uvrun::Task<std::string> {
    co_await uvrun::sleep(1ms);
    co_return "from C++";
  };
  std::string seen;
  int rc = t::run([&](uvrun_task_t *task, int step) {
    static uvrun::TaskHandle<std::string> child;
    if (step == 0) {
      child = uvrun::create_task(cpp_child());
      return uvrun_task_await(task, uvrun_future_ref(child.future()));
    }
    void *value = nullptr;
    int r = uvrun_task_resume(task, &value);
    if (r == 0) seen = *static_cast<std::string *>(value);
    child = {};
    return r < 0 ? r : uvrun_task_return(task, nullptr);
  });
  CHECK(rc == 0);
  CHECK(seen == "from C++");
}

TEST_CASE("interop C code awaiting a failing C++ task gets its code and message") {
  auto cpp_child = []() -> uvrun::Task<int> {
    co_await uvrun::sleep(1ms);
    throw uvrun::TimeoutError("C++ timed out");
  };
  int code = 0;
  std::string message;
  int rc = t::run([&](uvrun_task_t *task, int step) {
    static uvrun::TaskHandle<int> child;
    if (step == 0) {
      child = uvrun::create_task(cpp_child());
      return uvrun_task_await(task, uvrun_future_ref(child.future()));
    }
    int r = uvrun_task_resume(task, nullptr);
    code = r;
    message = uvrun_error_message(uvrun_task_resume_error(task));
    child = {};
    return uvrun_task_return(task, nullptr);
  });
  CHECK(rc == 0);
  CHECK(code == UVRUN_E_TIMEDOUT);
  CHECK(message == "C++ timed out");
}
