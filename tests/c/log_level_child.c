/* A fresh process for the log threshold tests: UVRUN_LOG_LEVEL is read once,
 * at the first log. Closes a debug loop (which logs its close at DEBUG),
 * then logs a line at each level. With an argument, sets that level first. */
#include <stdio.h>
#include <stdlib.h>
#include <uvrun.h>

int main(int argc, char **argv) {
  uvrun_loop_t *loop = NULL;
  if (argc > 1 && uvrun_set_log_level(atoi(argv[1])) < 0) return 2;
  if (uvrun_loop_new(&loop) < 0) return 3;
  uvrun_loop_set_debug(loop, 1);
  if (uvrun_loop_free(loop) < 0) return 4;
  uvrun_log(UVRUN_LOG_INFO, "an info line");
  uvrun_log(UVRUN_LOG_WARNING, "a warning line");
  uvrun_log(UVRUN_LOG_ERROR, "an error line");
  return 0;
}
