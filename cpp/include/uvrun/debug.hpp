// uvrun/debug.hpp -- debug mode on the C++ side: is it on, and
// the "never awaited" warning for a coroutine destroyed without running.
#pragma once

#include <uvrun.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <source_location>
#include <string>

namespace uvrun::detail {

#if defined(__cpp_lib_source_location)
using SourceLocation = std::source_location;
#else
// libstdc++'s std::source_location needs __builtin_source_location, which
// clang has only from 15 on; the older builtins tell the same, and as
// default arguments they too name the caller.
class SourceLocation {
 public:
  static constexpr SourceLocation current(const char *file = __builtin_FILE(),
                                          const char *function = __builtin_FUNCTION(),
                                          std::uint_least32_t line = __builtin_LINE()) noexcept {
    SourceLocation loc;
    loc.file_ = file;
    loc.function_ = function;
    loc.line_ = line;
    return loc;
  }
  constexpr const char *file_name() const noexcept { return file_; }
  constexpr const char *function_name() const noexcept { return function_; }
  constexpr std::uint_least32_t line() const noexcept { return line_; }
  constexpr std::uint_least32_t column() const noexcept { return 0; }

 private:
  const char *file_ = "";
  const char *function_ = "";
  std::uint_least32_t line_ = 0;
};
#endif

// The running loop's debug flag; with no loop running, UVRUN_DEBUG.
inline bool debug_enabled() noexcept {
  if (uvrun_loop_t *loop = uvrun_get_running_loop()) return uvrun_loop_get_debug(loop) != 0;
  const char *env = std::getenv("UVRUN_DEBUG");
  return env != nullptr && (!std::strcmp(env, "1") || !std::strcmp(env, "true") || !std::strcmp(env, "yes"));
}

// Python's "coroutine '...' was never awaited", with where it was
// created (the promise captured the coroutine's source_location).
inline void warn_never_awaited(const SourceLocation &where) noexcept {
  if (!debug_enabled()) return;
  try {
    std::string msg = std::string("coroutine '") + where.function_name() + "' was never awaited (created at " +
                      where.file_name() + ":" + std::to_string(where.line()) + ")";
    uvrun_log(UVRUN_LOG_WARNING, msg.c_str());
  } catch (...) {
    // out of memory: the warning is best effort
  }
}

}  // namespace uvrun::detail
