// Name lookups on the loop's own executor (N1, N2) and their errors (E).
#include <dlfcn.h>
#include <doctest/doctest.h>
#include <netdb.h>
#include <uvrun.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "socket_support.h"
#include "support.h"

TEST_SUITE_BEGIN("sockets");

// The resolver as this binary sees it: every getaddrinfo() call of the
// library comes here first (an executable's symbol wins over libc's), which
// counts the calls by name, notes the thread, and holds the lookup of one
// chosen name until the test lets it go. Names under .example resolve to
// 127.0.0.1 without asking DNS.
namespace {
struct Resolver {
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, int> calls, returns;
  std::map<std::string, std::thread::id> thread;
  std::string held;  // lookups of this name wait for `release`
  bool release = false;
  int calls_of(const std::string &name) {
    std::lock_guard<std::mutex> lock(mu);
    return calls[name];
  }
  int returns_of(const std::string &name) {
    std::lock_guard<std::mutex> lock(mu);
    return returns[name];
  }
  void hold(const std::string &name) {
    std::lock_guard<std::mutex> lock(mu);
    held = name;
    release = false;
  }
  void let_go() {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
    cv.notify_all();
  }
};
Resolver resolver;
}  // namespace

extern "C" int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints, struct addrinfo **res) {
  using Fn = int (*)(const char *, const char *, const struct addrinfo *, struct addrinfo **);
  static Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "getaddrinfo"));
  std::string name = node != nullptr ? node : "";
  {
    std::unique_lock<std::mutex> lock(resolver.mu);
    resolver.calls[name]++;
    resolver.thread[name] = std::this_thread::get_id();
    if (!name.empty() && name == resolver.held) resolver.cv.wait(lock, [] { return resolver.release; });
  }
  bool example = name.size() > 8 && name.compare(name.size() - 8, 8, ".example") == 0;
  int rc = real(example ? "127.0.0.1" : node, service, hints, res);
  std::lock_guard<std::mutex> lock(resolver.mu);
  resolver.returns[name]++;
  return rc;
}

namespace {

int record_thread(void *ud, void **) {
  *static_cast<std::thread::id *>(ud) = std::this_thread::get_id();
  return 0;
}

// An executor job that waits until *gate opens.
int wait_for_gate(void *ud, void **) {
  auto *gate = static_cast<std::atomic<bool> *>(ud);
  while (!gate->load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return 0;
}

uvrun_options_t one_worker() {
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  opts.executor_max_workers = 1;
  return opts;
}

std::string addresses(const uvrun_address_t *a) {
  std::string out;
  for (; a != nullptr; a = a->next) {
    out += (a->family == AF_INET6 ? "[" + std::string(a->host) + "]" : std::string(a->host)) + ":" +
           std::to_string(a->port) + " ";
  }
  return out;
}

}  // namespace

TEST_CASE("N1: getaddrinfo runs on the loop's own executor") {
  std::thread::id job_thread;
  uvrun_options_t opts = one_worker();
  void *value = nullptr;
  std::string list;
  int rc = t::run(
      [&](uvrun_task_t *task, int step) -> int {
        uvrun_loop_t *loop = uvrun_task_loop(task);
        switch (step) {
        case 0: return uvrun_task_await(task, uvrun_run_in_executor(loop, record_thread, &job_thread));
        case 1: return uvrun_task_await(task, uvrun_getaddrinfo(loop, "localhost", "80", AF_INET, SOCK_STREAM));
        default:
          CHECK(uvrun_task_resume(task, &value) == 0);
          list = addresses(static_cast<const uvrun_address_t *>(value));
          return uvrun_task_return(task, nullptr);
        }
      },
      &opts);
  CHECK(rc == 0);
  CHECK(list == "127.0.0.1:80 ");
  // The executor's one worker made the call: not libuv's pool, not the loop.
  CHECK(resolver.calls_of("localhost") >= 1);
  CHECK(resolver.thread["localhost"] == job_thread);
  CHECK(job_thread != std::this_thread::get_id());
}

TEST_CASE("N1: a lookup cancelled before its job started never runs") {
  std::atomic<bool> gate{false};
  uvrun_options_t opts = one_worker();
  int cancelled = -1, before = resolver.calls_of("never.example");
  int rc = t::run(
      [&](uvrun_task_t *task, int step) -> int {
        uvrun_loop_t *loop = uvrun_task_loop(task);
        if (step == 0) {
          // The one worker is busy, so the lookup waits in the queue.
          uvrun_future_t *busy = uvrun_run_in_executor(loop, wait_for_gate, &gate);
          uvrun_future_t *lookup = uvrun_getaddrinfo(loop, "never.example", "80", 0, SOCK_STREAM);
          REQUIRE(lookup != nullptr);
          CHECK(uvrun_future_cancel(lookup, nullptr) == 1);
          cancelled = uvrun_future_cancelled(lookup);
          uvrun_future_unref(lookup);
          gate = true;
          return uvrun_task_await(task, busy);
        }
        // A lookup queued after it runs after it: by then its job was taken.
        if (step == 1) return uvrun_task_await(task, uvrun_getaddrinfo(loop, "localhost", "80", 0, SOCK_STREAM));
        CHECK(uvrun_task_resume(task, nullptr) == 0);
        return uvrun_task_return(task, nullptr);
      },
      &opts);
  CHECK(rc == 0);
  CHECK(cancelled == 1);
  CHECK(resolver.calls_of("never.example") == before);
}

TEST_CASE("N1: a lookup cancelled while it runs is dropped when it returns") {
  resolver.hold("slow.example");
  uvrun_loop_t *loop = t::new_loop();
  uvrun_future_t *lookup = uvrun_getaddrinfo(loop, "slow.example", "80", 0, SOCK_STREAM);
  REQUIRE(lookup != nullptr);
  while (resolver.calls_of("slow.example") == 0) sk::wait(loop, uvrun_sleep_value(loop, 0.001, nullptr));
  CHECK(uvrun_future_cancel(lookup, "no longer needed") == 1);
  resolver.let_go();
  while (resolver.returns_of("slow.example") == 0) sk::wait(loop, uvrun_sleep_value(loop, 0.001, nullptr));
  // Its completion comes and goes; the future stays cancelled and the
  // result is freed with it (ASan's leak check sees it).
  sk::wait(loop, uvrun_sleep_value(loop, 0.01, nullptr));
  CHECK(uvrun_future_cancelled(lookup));
  uvrun_future_unref(lookup);
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("N1: a lookup whose loop closes while it runs frees its result itself") {
  resolver.hold("closing.example");
  uvrun_loop_t *loop = t::new_loop();
  uvrun_future_t *lookup = uvrun_getaddrinfo(loop, "closing.example", "80", 0, SOCK_STREAM);
  REQUIRE(lookup != nullptr);
  while (resolver.calls_of("closing.example") == 0) sk::wait(loop, uvrun_sleep_value(loop, 0.001, nullptr));
  uvrun_future_unref(lookup);
  CHECK(uvrun_loop_free(loop) == 0);
  resolver.let_go();
  while (resolver.returns_of("closing.example") == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the worker lets go of it
}

namespace {

// Opens the gate that holds the executor's one worker as the executor's
// shutdown step begins: the lookups queued behind it are cancelled by then.
void open_gate_at_executor_step(const uvrun_shutdown_event_t *ev, void *ud) {
  if (ev->step == UVRUN_SHUTDOWN_EXECUTOR && !ev->end) *static_cast<std::atomic<bool> *>(ud) = true;
}

}  // namespace

TEST_CASE("L1: at runner close lookups still queued are cancelled and never run") {
  std::atomic<bool> gate{false};
  uvrun_options_t opts = one_worker();
  opts.shutdown_hook = open_gate_at_executor_step;
  opts.shutdown_hook_data = &gate;
  uvrun_future_t *busy = nullptr, *by_name = nullptr, *by_address = nullptr;
  int before = resolver.calls_of("queued.example");
  int rc = t::run(
      [&](uvrun_task_t *task, int) -> int {
        uvrun_loop_t *loop = uvrun_task_loop(task);
        // The one worker is held, so both lookups wait in the queue; the main
        // task ends with their futures held by nobody who waits.
        busy = uvrun_run_in_executor(loop, wait_for_gate, &gate);
        by_name = uvrun_getaddrinfo(loop, "queued.example", "80", 0, SOCK_STREAM);
        by_address = uvrun_getnameinfo(loop, "127.0.0.1", 80, 0);
        return uvrun_task_return(task, nullptr);
      },
      &opts);
  CHECK(rc == 0);
  CHECK(uvrun_future_done(busy));  // R59: a plain job still runs
  CHECK(uvrun_future_cancelled(by_name));
  CHECK(uvrun_future_cancelled(by_address));
  CHECK(resolver.calls_of("queued.example") == before);
  uvrun_future_unref(busy);
  uvrun_future_unref(by_name);
  uvrun_future_unref(by_address);
}

TEST_CASE("N2: a lookup's addresses are one list, walked with next and freed with the future") {
  uvrun_loop_t *loop = t::new_loop();
  {
    // No host: the loopback addresses of both families.
    sk::Waited w = sk::wait(loop, uvrun_getaddrinfo(loop, nullptr, "8080", 0, SOCK_STREAM));
    REQUIRE(w.rc == 0);
    int n = 0, v4 = 0, v6 = 0;
    for (auto *a = static_cast<const uvrun_address_t *>(w.value); a != nullptr; a = a->next, n++) {
      CHECK(a->port == 8080);
      CHECK(a->socktype == SOCK_STREAM);
      CHECK(a->protocol == IPPROTO_TCP);
      if (a->family == AF_INET) v4 += std::string(a->host) == "127.0.0.1";
      if (a->family == AF_INET6) v6 += std::string(a->host) == "::1";
    }
    CHECK(n == 2);
    CHECK(v4 == 1);
    CHECK(v6 == 1);
  }
  {
    sk::Waited w = sk::wait(loop, uvrun_getaddrinfo(loop, nullptr, "8080", AF_INET6, SOCK_STREAM));
    REQUIRE(w.rc == 0);
    CHECK(addresses(static_cast<const uvrun_address_t *>(w.value)) == "[::1]:8080 ");
  }
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("N1: getnameinfo gives the host and the service, numeric or by name") {
  uvrun_loop_t *loop = t::new_loop();
  {
    sk::Waited w = sk::wait(loop, uvrun_getnameinfo(loop, "127.0.0.1", 80, NI_NUMERICHOST | NI_NUMERICSERV));
    REQUIRE(w.rc == 0);
    auto *s = static_cast<const char *>(w.value);
    CHECK(std::string(s) == "127.0.0.1");
    CHECK(std::string(s + strlen(s) + 1) == "80");
  }
  {
    sk::Waited w = sk::wait(loop, uvrun_getnameinfo(loop, "127.0.0.1", 80, 0));
    REQUIRE(w.rc == 0);
    auto *s = static_cast<const char *>(w.value);
    CHECK(std::string(s) == "localhost");
    CHECK(std::string(s + strlen(s) + 1) == "http");
  }
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("E: an unknown host fails with UV_EAI_NONAME and a message naming it") {
  t::check_child(sk::with_hosts("127.0.0.1 localhost\n", []() -> int {
    uvrun_loop_t *loop = nullptr;
    CHILD_EXPECT(uvrun_loop_new(&loop) == 0, 1);
    {
      sk::Waited w = sk::wait(loop, uvrun_getaddrinfo(loop, "nope.invalid", "80", 0, SOCK_STREAM));
      CHILD_EXPECT(w.rc == UV_EAI_NONAME, 2);
      CHILD_EXPECT(w.message == "getaddrinfo(\"nope.invalid\"): unknown node or service", 3);
      CHILD_EXPECT(std::string(uvrun_err_name(w.rc)) == "EAI_NONAME", 4);
    }
    {
      // The loop goes on.
      sk::Waited w = sk::wait(loop, uvrun_getaddrinfo(loop, "localhost", "80", 0, SOCK_STREAM));
      CHILD_EXPECT(w.rc == 0, 5);
    }
    CHILD_EXPECT(uvrun_loop_free(loop) == 0, 6);
    return 0;
  }));
}

TEST_CASE("E: an unknown service fails with UV_EAI_SERVICE") {
  uvrun_loop_t *loop = t::new_loop();
  {
    sk::Waited w = sk::wait(loop, uvrun_getaddrinfo(loop, "127.0.0.1", "no-such-service", 0, SOCK_STREAM));
    CHECK(w.rc == UV_EAI_SERVICE);
    CHECK(w.message == "getaddrinfo(\"127.0.0.1\"): service not available for socket type");
  }
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("E: bad lookup arguments fail at once with UVRUN_E_INVAL") {
  uvrun_loop_t *loop = t::new_loop();
  CHECK(uvrun_getaddrinfo(nullptr, "localhost", "80", 0, 0) == nullptr);
  CHECK(t::take_error().code == UVRUN_E_INVAL);
  CHECK(uvrun_getaddrinfo(loop, nullptr, nullptr, 0, 0) == nullptr);
  CHECK(t::take_error().message == "getaddrinfo: host and service must not both be NULL");
  CHECK(uvrun_getaddrinfo(loop, "localhost", "80", AF_UNIX, 0) == nullptr);
  CHECK(t::take_error().message == "getaddrinfo: family must be 0, AF_INET or AF_INET6, not 1");
  CHECK(uvrun_getnameinfo(loop, "localhost", 80, 0) == nullptr);
  CHECK(t::take_error().message == "getnameinfo: \"localhost\" is not a numeric address");
  CHECK(uvrun_getnameinfo(loop, nullptr, 80, 0) == nullptr);
  CHECK(t::take_error().code == UVRUN_E_INVAL);
  CHECK(uvrun_getnameinfo(loop, "::1", 65536, 0) == nullptr);
  CHECK(t::take_error().message == "getnameinfo: port must be 0..65535, not 65536");
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("E: lookups on a closed loop fail with UVRUN_E_LOOP_CLOSED") {
  uvrun_loop_t *loop = t::new_loop();
  CHECK(uvrun_loop_close(loop) == 0);
  CHECK(uvrun_getaddrinfo(loop, "localhost", "80", 0, 0) == nullptr);
  CHECK(t::take_error().code == UVRUN_E_LOOP_CLOSED);
  CHECK(uvrun_getnameinfo(loop, "127.0.0.1", 80, 0) == nullptr);
  CHECK(t::take_error().code == UVRUN_E_LOOP_CLOSED);
  CHECK(uvrun_loop_free(loop) == 0);
}
