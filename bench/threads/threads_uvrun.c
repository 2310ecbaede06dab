/* W15 on uvrun's C API (usage in bench_threads.h): a runner on a thread of
 * its own (uvrun_background_t); this thread hands it a task returning an
 * int with uvrun_submit_threadsafe and blocks on its uvrun_cfuture_t. */
#include <stdio.h>
#include <stdlib.h>

#include <uvrun.h>

#include "bench_threads.h"

#define IMPL "uvrun"

static int answer_step(uvrun_task_t *task, void *arg) {
  (void)arg;
  return uvrun_task_return(task, (void *)(intptr_t)42);
}

/* The task's int, or a negative code. */
static int result_of(uvrun_cfuture_t *cf) {
  void *value = NULL;
  int rc = uvrun_cfuture_wait(cf, -1);
  if (rc == 0) rc = uvrun_cfuture_result(cf, &value);
  uvrun_cfuture_unref(cf);
  return rc < 0 ? rc : (int)(intptr_t)value;
}

static int roundtrip(uvrun_loop_t *loop, uint64_t n) {
  double *trips = malloc(n * sizeof *trips), start = oneshot_now();
  uint64_t i;
  if (trips == NULL) return UVRUN_E_NOMEM;
  for (i = 0; i < n; i++) {
    double t0 = oneshot_now();
    uvrun_cfuture_t *cf;
    int rc = uvrun_submit_threadsafe(loop, answer_step, NULL, NULL, &cf);
    if (rc < 0 || (rc = result_of(cf)) != 42) {
      free(trips);
      return rc < 0 ? rc : UVRUN_E_INVAL;
    }
    trips[i] = oneshot_now() - t0;
  }
  threads_report_roundtrip(IMPL, trips, n, oneshot_now() - start);
  free(trips);
  return 0;
}

static int burst(uvrun_loop_t *loop, uint64_t n) {
  uvrun_cfuture_t **futures = calloc(n, sizeof *futures);
  double start = oneshot_now();
  uint64_t i, sent = 0;
  int rc = 0;
  if (futures == NULL) return UVRUN_E_NOMEM;
  while (sent < n && (rc = uvrun_submit_threadsafe(loop, answer_step, NULL, NULL, &futures[sent])) == 0) sent++;
  for (i = 0; i < sent; i++) {
    int r = result_of(futures[i]);
    if (rc == 0 && r != 42) rc = r < 0 ? r : UVRUN_E_INVAL;
  }
  if (rc == 0) threads_report_burst(IMPL, n, oneshot_now() - start);
  free(futures);
  return rc;
}

int main(int argc, char **argv) {
  uvrun_background_t *bg;
  const char *mode;
  uint64_t n;
  int rc = threads_parse_args(argc, argv, "threads-uvrun", &mode, &n);
  if (rc != 0) return rc;
  if ((rc = uvrun_background_start(NULL, &bg)) < 0) {
    fprintf(stderr, "threads-uvrun: %s\n", uvrun_errmsg());
    return 1;
  }
  rc = mode[0] == 'r' ? roundtrip(uvrun_background_loop(bg), n) : burst(uvrun_background_loop(bg), n);
  if (rc < 0) fprintf(stderr, "threads-uvrun %s: %s\n", mode, uvrun_strerror(rc));
  if (uvrun_background_free(bg) < 0 && rc == 0) rc = -1;
  return rc < 0;
}
