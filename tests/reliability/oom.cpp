#include "oom.h"

#include <malloc.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <thread>

#include "support.h"

// LeakSanitizer's check, present in ASan builds: children end with _exit(),
// which skips the check LSan makes at exit.
extern "C" int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

namespace oom {
namespace {

std::atomic<long> allocations{0}, failed{0}, live{0}, fail_at{0}, big_bytes{0};
std::atomic<bool> persistent_mode{false}, count_new{false};
// Armed: the next allocation of either kind, or the next operator new.
std::atomic<bool> next_fails{false}, next_new_fails{false};

bool should_fail(bool cpp) {
  long idx = ++allocations;
  if (next_fails.exchange(false) || (cpp && next_new_fails.exchange(false))) return true;
  long at = fail_at.load();
  return at > 0 && (idx == at || (persistent_mode.load() && idx > at));
}

// The size of a block, if it counts as big.
long big_size(void *p) {
  size_t n = p != nullptr ? malloc_usable_size(p) : 0;
  return n >= 256 * 1024 ? (long)n : 0;
}

void *inj_malloc(size_t size, void *) {
  if (should_fail(false)) {
    ++failed;
    return nullptr;
  }
  void *p = malloc(size);
  if (p != nullptr) ++live;
  big_bytes += big_size(p);
  return p;
}

void *inj_realloc(void *ptr, size_t size, void *) {
  if (should_fail(false)) {
    ++failed;
    return nullptr;
  }
  long was = big_size(ptr);
  void *p = realloc(ptr, size);
  if (p != nullptr && ptr == nullptr) ++live;
  if (p != nullptr) big_bytes += big_size(p) - was;
  return p;
}

void inj_free(void *ptr, void *) {
  if (ptr == nullptr) return;
  --live;
  big_bytes -= big_size(ptr);
  free(ptr);
}

// operator new: malloc, so that operator delete frees any block with free()
// whether it was counted or not.
void *cpp_new(std::size_t size) {
  if (count_new.load() && should_fail(true)) {
    ++failed;
    throw std::bad_alloc();
  }
  void *p = malloc(size != 0 ? size : 1);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

}  // namespace

void install(long at, bool persistent, bool cpp) {
  fail_at = at;
  persistent_mode = persistent;
  count_new = cpp;
  uvrun_allocator_t a = {sizeof a, inj_malloc, inj_realloc, inj_free, nullptr};
  if (uvrun_set_allocator(&a) != 0) {
    fprintf(stderr, "uvrun_set_allocator failed: %s\n", uvrun_errmsg());
    _exit(2);
  }
}

Stats stats() { return {allocations.load(), failed.load(), live.load(), big_bytes.load()}; }
void fail_next() { next_fails = true; }
void fail_next_new() { next_new_fails = true; }
void fail_from_now() {
  persistent_mode = true;
  fail_at = allocations.load() + 1;
}
void disarm() {
  fail_at = 0;
  next_fails = false;
  next_new_fails = false;
  count_new = false;
}

bool wait_no_live(double seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (live.load() != 0) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

bool acceptable(const Outcome &o) {
  if (o.rc == 0) return o.ok;
  if (o.rc == UVRUN_E_NOMEM) return true;
  return o.rc == UVRUN_E_TASK_FAILED && o.error_code == UVRUN_E_NOMEM;
}

int run_point(const std::function<Outcome()> &scenario, long n, bool persistent, bool cpp, std::string *log) {
  t::ChildResult res = t::in_child(
      [&]() -> int {
        install(n, persistent, cpp);
        Outcome o = scenario();
        disarm();
        uvrun_release_memory();
        Stats s = stats();
        bool reached = n > 0 && s.allocations >= n;
        bool no_leak = wait_no_live(1.0);
        printf("point=%ld reached=%d rc=%d (%s) error=%s ok=%d what=%s live=%ld\n", n, reached ? 1 : 0, o.rc,
               uvrun_err_name(o.rc), uvrun_err_name(o.error_code), o.ok ? 1 : 0, o.what.c_str(), stats().live);
        bool lsan_leak = &__lsan_do_recoverable_leak_check != nullptr && __lsan_do_recoverable_leak_check() != 0;
        if (!no_leak || lsan_leak) return 4;
        if (!reached) return (o.rc == 0 && o.ok) ? 3 : 1;
        return acceptable(o) ? 0 : 1;
      },
      nullptr, 20.0);
  if (log != nullptr) *log = res.output;
  if (res.timed_out) return 5;
  if (!res.exited) return 6;
  return res.code;
}

}  // namespace oom

// The replaceable global allocation functions, all but the aligned ones
// (which keep their own pairing).
void *operator new(std::size_t size) { return oom::cpp_new(size); }
void *operator new[](std::size_t size) { return oom::cpp_new(size); }
void *operator new(std::size_t size, const std::nothrow_t &) noexcept {
  try {
    return oom::cpp_new(size);
  } catch (const std::bad_alloc &) {
    return nullptr;
  }
}
void *operator new[](std::size_t size, const std::nothrow_t &t) noexcept { return operator new(size, t); }
void operator delete(void *p) noexcept { free(p); }
void operator delete[](void *p) noexcept { free(p); }
void operator delete(void *p, std::size_t) noexcept { free(p); }
void operator delete[](void *p, std::size_t) noexcept { free(p); }
void operator delete(void *p, const std::nothrow_t &) noexcept { free(p); }
void operator delete[](void *p, const std::nothrow_t &) noexcept { free(p); }
