/* How each uvrun C program in bench/io runs its main task: uvrun_run(),
 * and when that fails, one line on stderr saying why ("PROG MODE: why"). */
#ifndef BENCH_IO_RUN_MAIN_H
#define BENCH_IO_RUN_MAIN_H

#include <stdio.h>

#include <uvrun.h>

/* uvrun_run()'s code. */
static inline int run_main(uvrun_step_fn step, void *arg, const char *prog, const char *mode) {
  int rc = uvrun_run(step, arg, NULL, NULL);
  if (rc == UVRUN_E_TASK_FAILED) {
    uvrun_error_t *err = uvrun_take_error();
    fprintf(stderr, "%s %s: %s\n", prog, mode, err != NULL ? uvrun_error_message(err) : uvrun_strerror(rc));
    uvrun_error_unref(err);
  } else if (rc < 0) {
    fprintf(stderr, "%s %s: %s\n", prog, mode, uvrun_strerror(rc));
  }
  return rc;
}

#endif
