/* sigpipe.c -- L4: a write to a reset peer fails with -EPIPE instead of
 * killing the process. libuv leaves SIGPIPE alone; Python and Node ignore
 * it, and so does uvrun, from its first stream or server on, unless the
 * program says otherwise (uvrun_io_sigpipe(0), UVRUN_KEEP_SIGPIPE=1) or has
 * a disposition of its own. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"

/* Set once the process's choice is made: by the first stream or server,
 * or by uvrun_io_sigpipe(). */
static atomic_int decided;

static void ignore_if_default(void) {
  struct sigaction old, ign;
  if (sigaction(SIGPIPE, NULL, &old) < 0) return;
  if ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL) return; /* the program's own */
  memset(&ign, 0, sizeof ign);
  ign.sa_handler = SIG_IGN;
  sigemptyset(&ign.sa_mask);
  sigaction(SIGPIPE, &ign, NULL);
}

void uvr_io_sigpipe_once(void) {
  const char *keep;
  if (atomic_load_explicit(&decided, memory_order_acquire) || atomic_exchange(&decided, 1)) return;
  keep = getenv("UVRUN_KEEP_SIGPIPE");
  if (keep != NULL && strcmp(keep, "1") == 0) return;
  ignore_if_default();
}

void uvrun_io_sigpipe(int ignore) {
  atomic_store(&decided, 1);
  if (ignore) ignore_if_default();
}
