// SIGINT's disposition in a forked child (t::in_child): set it, read it,
// compare it; and a host handler that counts the signals it gets.
#pragma once
#include <signal.h>
#include <string.h>

namespace t {

// SIG_DFL and unblocked, whatever the test runner inherited (a background
// job starts with SIG_IGN).
inline void sigint_default() {
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(SIGINT, &dfl, nullptr);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigprocmask(SIG_UNBLOCK, &set, nullptr);
}

// Installs fn as SIGINT's handler, with an empty mask and `flags`.
inline void sigint_handler(void (*fn)(int), int flags = 0) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = flags;
  sa.sa_handler = fn;
  sigaction(SIGINT, &sa, nullptr);
}
inline void sigint_handler(void (*fn)(int, siginfo_t *, void *), int flags = 0) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = flags | SA_SIGINFO;
  sa.sa_sigaction = fn;
  sigaction(SIGINT, &sa, nullptr);
}

// SIGINT's disposition now.
inline struct sigaction sigint_now() {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sigaction(SIGINT, nullptr, &sa);
  return sa;
}

// Whether SIGINT's disposition is the plain (not SA_SIGINFO) handler h;
// SIG_DFL and SIG_IGN included.
inline bool sigint_is(void (*h)(int)) {
  struct sigaction sa = sigint_now();
  return !(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == h;
}

// Handler, flags and mask all equal.
inline bool same_sigaction(const struct sigaction &a, const struct sigaction &b) {
  if (a.sa_handler != b.sa_handler || a.sa_flags != b.sa_flags) return false;
  for (int s = 1; s < NSIG; s++)
    if (sigismember(&a.sa_mask, s) != sigismember(&b.sa_mask, s)) return false;
  return true;
}

// A host's own SIGINT handler (both shapes): counts in host_sigints.
inline volatile sig_atomic_t host_sigints = 0;
inline void host_sigint_handler(int) { host_sigints = host_sigints + 1; }
inline void host_sigint_siginfo_handler(int, siginfo_t *, void *) { host_sigints = host_sigints + 1; }

}  // namespace t
