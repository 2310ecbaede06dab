/* signal.c -- the process's SIGINT watch (R40-R46, D3, X1).
 *
 * Our own sigaction handler, not a uv_signal_t: libuv's handler only writes
 * to a pipe that a stuck loop never reads, so it cannot tell a stuck loop
 * from a busy one. Ours counts signals and raises a flag that the watching
 * loop reads before every step it runs, and wakes the loop through a
 * uv_async_t (async-signal-safe) when it sleeps. A Ctrl-C that finds the
 * previous one still unseen restores the default disposition and re-raises,
 * so the process ends the default way (killed by SIGINT).
 *
 * What a Ctrl-C means is the watcher's business (the runner's: cancel the
 * main task, or interrupt); this file only delivers each one, once, on the
 * loop's thread, and tells the watcher at the end about any that came too
 * late for the loop to see.
 *
 * Only the main thread installs, and only over SIG_DFL (R40) -- or, in host
 * mode (X6), over any disposition but SIG_IGN, the host's handler being put
 * back exactly afterwards. A run can only be active once per thread, so one
 * process-wide slot is enough. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#if defined(__linux__)
#  include <sys/syscall.h>
#elif defined(__APPLE__)
#  include <pthread.h>
#endif

#include "loop.h"

atomic_int uvr_sigint_pending;

static uvrun_loop_t *_Atomic watching;
static void (*watcher_fn)(void *ud);
static void *watcher_ud;
static volatile sig_atomic_t received, seen;
static struct sigaction previous;
/* uvr_signal_start installs first and looks at what it replaced after, so
 * for a moment our handler may stand in for SIG_IGN or a host's handler. A
 * SIGINT in that moment is only noted, then re-raised once the right
 * disposition is in place (R40: never ours to act on, or kill with). */
static atomic_int probing;
static volatile sig_atomic_t deferred;

static void on_sigint(int signo) {
  int saved_errno = errno;
  uvrun_loop_t *loop;
  if (atomic_load(&probing)) {
    deferred = 1;
    return;
  }
  loop = atomic_load(&watching);
  received++;
  if (loop == NULL || received - seen >= 2) {
    /* X1: the loop has not answered the last Ctrl-C; end the default way. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(signo, &dfl, NULL);
    raise(signo); /* delivered as soon as this handler returns */
  } else {
    atomic_store_explicit(&uvr_sigint_pending, 1, memory_order_relaxed);
    uvr_wake(&loop->backend->sig_async);
  }
  errno = saved_errno;
}

static int query_main_thread(void) {
#if defined(__linux__)
  return syscall(SYS_gettid) == getpid();
#elif defined(__APPLE__)
  return pthread_main_np() != 0;
#else
  return 0; /* unknown platform: never take SIGINT over */
#endif
}

/* A thread's answer never changes (a forked child's only thread is its main
 * thread, and the cache is reset there). */
static _Thread_local int main_thread_cache = -1;
static void reset_main_thread_cache(void) { main_thread_cache = -1; }
static uv_once_t main_thread_atfork_once = UV_ONCE_INIT;
static void install_main_thread_atfork(void) { pthread_atfork(NULL, NULL, reset_main_thread_cache); }

static int is_main_thread(void) {
  if (main_thread_cache < 0) {
    uv_once(&main_thread_atfork_once, install_main_thread_atfork);
    main_thread_cache = query_main_thread();
  }
  return main_thread_cache;
}

static int is_default(const struct sigaction *sa) { return !(sa->sa_flags & SA_SIGINFO) && sa->sa_handler == SIG_DFL; }

static int is_ignored(const struct sigaction *sa) { return !(sa->sa_flags & SA_SIGINFO) && sa->sa_handler == SIG_IGN; }

static int is_ours(const struct sigaction *sa) { return !(sa->sa_flags & SA_SIGINFO) && sa->sa_handler == on_sigint; }

/* The base's sig_async: it only wakes a sleeping loop, whose next look at
 * uvr_sigint_pending delivers the signal. */
void uvr_signal_on_async(uv_async_t *async) { (void)async; }

void uvr_signal_dispatch(uvrun_loop_t *loop) {
  if (atomic_load_explicit(&watching, memory_order_relaxed) != loop) return;
  atomic_store_explicit(&uvr_sigint_pending, 0, memory_order_relaxed);
  while (seen < received) {
    seen++;
    watcher_fn(watcher_ud);
  }
}

int uvr_signal_start(uvrun_loop_t *loop, void (*fn)(void *ud), void *ud, int host_mode) {
  struct sigaction ours;
  int rc, keep;
  if (!is_main_thread() || atomic_load(&watching) != NULL) return 0;
  received = seen = 0;
  atomic_store(&uvr_sigint_pending, 0);
  watcher_fn = fn;
  watcher_ud = ud;
  atomic_store(&watching, loop);
  memset(&ours, 0, sizeof ours);
  ours.sa_handler = on_sigint;
  ours.sa_flags = SA_RESTART;
  sigemptyset(&ours.sa_mask);
  /* Install and read the old disposition in one call (a run is hot); put
   * the old one back when it was not SIG_DFL (R40 b) -- in host mode, when
   * it was SIG_IGN -- or install failed (c). */
  deferred = 0;
  atomic_store(&probing, 1);
  rc = sigaction(SIGINT, &ours, &previous);
  keep = rc == 0 && (is_default(&previous) || (host_mode && !is_ignored(&previous) && !is_ours(&previous)));
  if (!keep) {
    if (rc == 0 && !is_ours(&previous)) sigaction(SIGINT, &previous, NULL);
    atomic_store(&watching, NULL);
  }
  atomic_store(&probing, 0);
  if (deferred) raise(SIGINT); /* now to whichever disposition stays */
  return keep;
}

int uvr_signal_stop(uvrun_loop_t *loop) {
  struct sigaction found;
  int late;
  if (atomic_load(&watching) != loop) return 0;
  /* R45: restore only if the handler is still ours -- looked at first, so
   * a handler user code put in place is never swapped out, not even for an
   * instant. */
  if (sigaction(SIGINT, NULL, &found) == 0 && is_ours(&found)) sigaction(SIGINT, &previous, NULL);
  /* From here on no SIGINT reaches on_sigint: what it counted and the loop
   * did not see came after the loop's last look. */
  atomic_store(&watching, NULL);
  late = received - seen;
  seen = received;
  atomic_store(&uvr_sigint_pending, 0);
  return late;
}
