// The error table, error objects, versions and the allocator hook.
#include <doctest/doctest.h>
#include <uvrun.h>

#include <atomic>
#include <cerrno>
#include <string>
#include <thread>

#include "support.h"

TEST_SUITE_BEGIN("misuse");

TEST_CASE("every code has a name and a message from one table") {
#define XX(name, value, msg)                                     \
  CHECK(std::string(uvrun_err_name(value)) == "UVRUN_E_" #name); \
  CHECK(std::string(uvrun_strerror(value)) == msg);              \
  CHECK(value < 0);
  UVRUN_ERRNO_MAP(XX)
#undef XX
  CHECK(std::string(uvrun_err_name(-424242)) == "UVRUN_E_UNKNOWN");
  CHECK(std::string(uvrun_strerror(-424242)) == "unknown error");
}

TEST_CASE("codes that mean what errno means reuse libuv's values; our own stay in their range") {
  CHECK(UVRUN_E_NOMEM == -ENOMEM);
  CHECK(UVRUN_E_INVAL == -EINVAL);
  CHECK(UVRUN_E_TIMEDOUT == -ETIMEDOUT);
#define XX(name, value, msg) \
  if (value <= -20000) CHECK(value > UVRUN_E_MAX_);
  UVRUN_ERRNO_MAP(XX)
#undef XX
}

TEST_CASE("L messages keep asyncio's wording") {
  CHECK(std::string(uvrun_strerror(UVRUN_E_CLOSED)) == "Runner is closed");
  CHECK(std::string(uvrun_strerror(UVRUN_E_LOOP_STOPPED)) == "Event loop stopped before Future completed.");
  CHECK(std::string(uvrun_strerror(UVRUN_E_EXECUTOR_SHUTDOWN)) == "Executor shutdown has been called");
  CHECK(std::string(uvrun_strerror(UVRUN_E_WRONG_THREAD)) ==
        "Non-thread-safe operation invoked on an event loop other than the current one");
}

TEST_CASE("error objects are reference counted and free their payload once") {
  static int freed;
  freed = 0;
  uvrun_error_t *err = uvrun_error_new(-1234, "custom", t::iv(1), [](void *) { freed++; });
  REQUIRE(err != nullptr);
  CHECK(uvrun_error_code(err) == -1234);
  CHECK(std::string(uvrun_error_message(err)) == "custom");
  CHECK(uvrun_error_ref(err) == err);
  uvrun_error_unref(err);
  CHECK(freed == 0);
  uvrun_error_unref(err);
  CHECK(freed == 1);
  uvrun_error_unref(nullptr);
  CHECK(uvrun_error_code(nullptr) == 0);
  CHECK(std::string(uvrun_error_message(nullptr)).empty());
  uvrun_error_t *plain = uvrun_error_new(UVRUN_E_TIMEDOUT, nullptr, nullptr, nullptr);
  CHECK(std::string(uvrun_error_message(plain)) == "timed out");
  uvrun_error_unref(plain);
}

TEST_CASE("compile-time and run-time versions agree") {
  CHECK(uvrun_version() == UVRUN_VERSION_HEX);
  std::string s = std::to_string(UVRUN_VERSION_MAJOR) + "." + std::to_string(UVRUN_VERSION_MINOR) + "." +
                  std::to_string(UVRUN_VERSION_PATCH);
  CHECK(std::string(uvrun_version_string()) == s);
}

TEST_CASE("uvrun_take_error hands over the last failure with its message") {
  CHECK(uvrun_runner_new(nullptr, nullptr) == UVRUN_E_INVAL);
  uvrun_error_t *err = uvrun_take_error();
  REQUIRE(err != nullptr);
  CHECK(uvrun_error_code(err) == UVRUN_E_INVAL);
  CHECK(std::string(uvrun_error_message(err)) == uvrun_errmsg());
  uvrun_error_unref(err);
}

TEST_CASE("A thread that ends with an error object as its last failure frees it") {
  static std::atomic<int> freed{0};
  freed = 0;
  std::thread([] {
    uvrun_error_t *err =
        uvrun_error_new(-EPERM, "kept by the thread", &freed, [](void *p) { ++*static_cast<std::atomic<int> *>(p); });
    CHECK(uvrun_error_set_last(err) == -EPERM);  // the thread's last failure holds it
  }).join();
  CHECK(freed == 1);
  std::thread([] { CHECK(uvrun_cfuture_wait(nullptr, 0) == UVRUN_E_INVAL); }).join();  // a code only: nothing held
}
