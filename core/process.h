/* process.h -- what the process files share (process.c, process_env.c,
 * process_communicate.c) and what the runner and the loop's close call.
 * Nothing here is API (that is uvrun_process.h). */
#ifndef UVRUN_PROCESS_INTERNAL_H
#define UVRUN_PROCESS_INTERNAL_H

#include "io.h"

/* ---- process_env.c ---- */
/* The environment a child gets: NULL for the parent's own (env NULL), else
 * a NULL-terminated array, freed with uvr_env_free. With replace = 0, env's
 * entries are added to the parent's, replacing those of the same name.
 * Sets *failed (recorded) when it cannot be built. */
char **uvr_env_build(const char *const *env, int replace, int *failed);
void uvr_env_free(char **env);

/* ---- process.c ---- */
/* Runner close (L1): every child still running is sent SIGKILL. The future
 * is done when all of them are reaped (NULL: none was running). */
uvrun_future_t *uvr_processes_kill_all(uvrun_loop_t *loop);
/* Loop close: children still running are killed, their handles closed and
 * each reaped within a bounded wait; waits fail with LOOP_CLOSED. */
void uvr_processes_drop_all(uvrun_loop_t *loop);

#endif /* UVRUN_PROCESS_INTERNAL_H */
