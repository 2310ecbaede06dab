// uvrun/detail/frame_cache.hpp -- where coroutine frames come from: a
// per-thread cache of freed frames by size class. An allocator policy, kept
// apart from what a Task means.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>

namespace uvrun::detail {

// Coroutine frames come and go with every `co_await child()` and task: each
// thread keeps freed frames by size class for the next ones instead of a
// malloc/free pair each. A burst leaves a large cache: what stayed unused for
// a whole second, above a floor of 1024 frames a class, is freed when the
// thread next frees 1024 frames, at the end of a run(), or at thread exit.
// The cache is constant-initialized and trivially destructible, so the hot
// path reads it with no thread-local init guard; the first frame cached on a
// thread arms a reaper for thread exit. Off under AddressSanitizer, which
// must see every free.
struct FrameCache {
  struct Node {
    Node *next;
  };
#if defined(__SANITIZE_ADDRESS__)
  static constexpr bool kOn = false;
#else
  static constexpr bool kOn = true;
#endif
  // Classes are 16 bytes apart and 8 short of a multiple of 16, so that each
  // fills the chunk malloc gives it (glibc: an 8-byte header, 16-byte steps).
  static constexpr std::size_t kClasses = 64;  // frames up to 1016 bytes
  static constexpr std::size_t kFloor = 1024, kCheckEvery = 1024;
  static constexpr std::int64_t kDecayNs = 1000000000;

  Node *free[kClasses];
  std::size_t count[kClasses];
  std::size_t low[kClasses];  // the fewest cached since decay_at was set
  std::size_t frees;          // frames cached since the last reset_frees()
  std::size_t most;           // the largest count when frees was last reset
  std::int64_t decay_at;      // steady_clock ns
  bool armed;                 // the reaper is registered
  bool dead;                  // the thread is exiting: frames go straight back

  static std::size_t size_class(std::size_t n) noexcept { return (n + 7) / 16; }
  static std::size_t class_size(std::size_t c) noexcept { return 16 * c + 8; }
  void free_top(std::size_t c, std::size_t n) noexcept {
    for (; n > 0 && free[c] != nullptr; n--, count[c]--) ::operator delete(std::exchange(free[c], free[c]->next));
  }
  // No class holds more than most + frees frames until the next reset.
  void reset_frees() noexcept {
    frees = 0;
    most = 0;
    for (std::size_t c = 0; c < kClasses; c++) most = std::max(most, count[c]);
  }
  [[gnu::noinline]] void decay() noexcept {
    std::int64_t now =
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
            .count();
    if (now >= decay_at) {
      for (std::size_t c = 0; c < kClasses; c++) {
        if (low[c] > kFloor) free_top(c, low[c] - kFloor);
        low[c] = count[c];
      }
      decay_at = now + kDecayNs;
    }
    reset_frees();
  }
  // At the end of a run: only a class above the floor can have anything to
  // give back. The bound, kept beside what every free writes, answers most
  // runs without reading the counts (cold by then) or the clock.
  void decay_if_over_floor() noexcept {
    if (most + frees <= kFloor) return;
    reset_frees();
    if (most > kFloor) decay();
  }
  void release_all() noexcept {
    dead = true;
    for (std::size_t c = 0; c < kClasses; c++) free_top(c, count[c]);
  }
};
inline thread_local constinit FrameCache frame_cache{};

struct FrameCacheReaper {
  ~FrameCacheReaper() { frame_cache.release_all(); }
};
[[gnu::noinline]] inline void arm_frame_cache_reaper() {
  static thread_local FrameCacheReaper reaper;
  asm volatile("" : : "r"(&reaper));  // constructs it, registering its destructor
  frame_cache.armed = true;
}

// Lets the frame cache decay when a run ends, however it ends.
struct FrameCacheDecayAtExit {
  FrameCacheDecayAtExit() = default;
  FrameCacheDecayAtExit(const FrameCacheDecayAtExit &) = delete;
  FrameCacheDecayAtExit &operator=(const FrameCacheDecayAtExit &) = delete;
  ~FrameCacheDecayAtExit() { frame_cache.decay_if_over_floor(); }
};

inline void *allocate_frame(std::size_t n) {
  FrameCache &fc = frame_cache;
  std::size_t c = FrameCache::size_class(n);
  if (c < FrameCache::kClasses && fc.free[c] != nullptr) {
    FrameCache::Node *node = fc.free[c];
    fc.free[c] = node->next;
    if (--fc.count[c] < fc.low[c]) fc.low[c] = fc.count[c];
    return node;
  }
  return ::operator new(c < FrameCache::kClasses ? FrameCache::class_size(c) : n);
}

inline void deallocate_frame(void *p, std::size_t n) noexcept {
  FrameCache &fc = frame_cache;
  std::size_t c = FrameCache::size_class(n);
  if (FrameCache::kOn && c < FrameCache::kClasses && !fc.dead) {
    if (!fc.armed) arm_frame_cache_reaper();
    fc.free[c] = new (p) FrameCache::Node{fc.free[c]};
    fc.count[c]++;
    if (++fc.frees == FrameCache::kCheckEvery) fc.decay();
    return;
  }
  ::operator delete(p);
}

}  // namespace uvrun::detail
