// A value that counts its constructions and destructions, so a test can
// check that every object made was destroyed exactly once.
#pragma once

#include <atomic>
#include <utility>

namespace t {

struct Counted {
  // Atomic: executor jobs make and destroy values on worker threads.
  static inline std::atomic<int> made{0};
  static inline std::atomic<int> destroyed{0};
  static int alive() { return made - destroyed; }
  static void reset_counts() { made = 0, destroyed = 0; }

  int value = 0;
  explicit Counted(int v = 0) : value(v) { made++; }
  Counted(const Counted &o) : value(o.value) { made++; }
  Counted(Counted &&o) noexcept : value(std::exchange(o.value, -1)) { made++; }
  Counted &operator=(const Counted &) = default;
  Counted &operator=(Counted &&) = default;
  ~Counted() { destroyed++; }
};

}  // namespace t
