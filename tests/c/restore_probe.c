/* Records every SIGINT disposition the process sets (sigaction is
 * interposed: the library's calls land here first), around a run in host
 * mode whose main task replaces uvrun's handler with its own. Prints whether
 * the host's original handler was ever set again after the replacement. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <uvrun.h>

static void original_handler(int signo) { (void)signo; }
static void replacement_handler(int signo) { (void)signo; }

static int replaced, original_set_after;

int sigaction(int signo, const struct sigaction *act, struct sigaction *old) {
  static int (*real)(int, const struct sigaction *, struct sigaction *);
  if (real == NULL) *(void **)&real = dlsym(RTLD_NEXT, "sigaction");
  if (signo == SIGINT && act != NULL && replaced && act->sa_handler == original_handler) original_set_after = 1;
  return real(signo, act, old);
}

static void set_handler(void (*fn)(int)) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = fn;
  sigaction(SIGINT, &sa, NULL);
}

static int main_task(uvrun_task_t *task, void *arg) {
  (void)arg;
  set_handler(replacement_handler);
  replaced = 1;
  return uvrun_task_return(task, NULL);
}

int main(void) {
  uvrun_options_t opts;
  struct sigaction now;
  int rc;
  set_handler(original_handler);
  uvrun_options_init(&opts);
  opts.host_sigint = 1;
  rc = uvrun_run(main_task, NULL, &opts, NULL);
  sigaction(SIGINT, NULL, &now);
  printf("rc=%d original_set_after_replacement=%d replacement_stays=%d\n", rc, original_set_after,
         now.sa_handler == replacement_handler);
  return 0;
}
