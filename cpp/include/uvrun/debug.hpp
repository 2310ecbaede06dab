// uvrun/debug.hpp -- debug mode on the C++ side (R25, R26): is it on, and
// the "never awaited" warning for a coroutine destroyed without running.
#pragma once

#include <uvrun.h>

#include <cstdlib>
#include <cstring>
#include <source_location>
#include <string>

namespace uvrun::detail {

// The running loop's debug flag; with no loop running, UVRUN_DEBUG (D7).
inline bool debug_enabled() noexcept {
  if (uvrun_loop_t *loop = uvrun_get_running_loop()) return uvrun_loop_get_debug(loop) != 0;
  const char *env = std::getenv("UVRUN_DEBUG");
  return env != nullptr && (!std::strcmp(env, "1") || !std::strcmp(env, "true") || !std::strcmp(env, "yes"));
}

// R26: Python's "coroutine '...' was never awaited", with where it was
// created (the promise captured the coroutine's source_location).
inline void warn_never_awaited(const std::source_location &where) noexcept {
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
