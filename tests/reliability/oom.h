// Allocation-failure injection (SQLite's method) through uvrun_set_allocator.
//
// uvrun_set_allocator() must come before any other uvrun call, so every
// injected run happens in a forked child of a parent that never calls uvrun.
#pragma once
#include <uvrun.h>

#include <functional>
#include <string>

namespace oom {

// The allocator's counters (atomic: executor workers allocate too).
struct Stats {
  long allocations;  // calls to malloc/realloc (and operator new, when counted) so far
  long failed;       // of which failed on purpose
  long live;         // uvrun's blocks allocated and not freed yet
  long big_bytes;    // bytes in uvrun's live blocks of 256 KiB or more
};

// Installs the counting allocator. fail_at > 0 fails that allocation (and,
// if persistent, every later one); 0 fails none. With cpp, C++'s global
// operator new (coroutine frames, the C++ layer's objects) is counted and
// failed in the same sequence, throwing std::bad_alloc; its blocks are left
// to LeakSanitizer. Child process only.
void install(long fail_at, bool persistent, bool cpp = false);
Stats stats();
// Fails the next allocation (then stops failing): for regression tests that
// aim at one call.
void fail_next();
// The same for the next operator new only (counted since install(..., true)).
void fail_next_new();
// Fails every allocation of either kind from now on, until disarm(). Needs
// install(..., true).
void fail_from_now();
// Stops failing (and counting operator new) from now on.
void disarm();
// Waits until every block uvrun allocated is freed again (executor pools are
// freed by their last worker, a moment after close); false on timeout.
bool wait_no_live(double seconds);

// A scenario's outcome: rc is what the top-level call returned; ok says the
// values it checked were right (only meaningful when rc == 0).
struct Outcome {
  int rc = 0;
  int error_code = 0;  // for UVRUN_E_TASK_FAILED: the error's code
  bool ok = true;
  std::string what;  // why not ok
};

// An outcome is acceptable under injection when it succeeded with the right
// values (the failure was absorbed), or reports UVRUN_E_NOMEM directly or as
// the failed main task's error.
bool acceptable(const Outcome &o);

// Runs scenario in a child with allocation `n` failing. Returns 0 when the
// child's outcome was acceptable and allocation n happened, 3 when the run
// completed without reaching allocation n, anything else on a bad outcome
// (crash, hang, leak, wrong error); `log` gets the child's output.
// cpp: as for install().
int run_point(const std::function<Outcome()> &scenario, long n, bool persistent, bool cpp, std::string *log);

}  // namespace oom
