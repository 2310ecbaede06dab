/* uvrun_process.h -- child processes (included by uvrun.h).
 *
 * A child is spawned with its arguments, environment, working directory
 * and standard streams; a stream set up as a pipe is a uvrun_stream_t, so
 * reads, writes and drains work on it unchanged. Waiting for the child and
 * communicating with it return a uvrun_future_t * to await; spawning and
 * signalling never wait and return an int. libuv's codes pass through: a
 * missing program is UV_ENOENT (-ENOENT), a child that already exited
 * UV_ESRCH (-ESRCH).
 *
 * Children are reaped by libuv's SIGCHLD machinery, which waits for each of
 * its own children by pid: uvrun installs no SIGCHLD handler of its own, and
 * a program's waitpid() on the children it forked itself keeps working.
 *
 * A process is reference-counted and belongs to its loop's thread. Dropping
 * the last reference to a running child kills it (SIGKILL) and closes its
 * pipes, as asyncio's transport does when it is closed. A runner's close
 * kills the children still running and reaps them. */
#ifndef UVRUN_PROCESS_H
#define UVRUN_PROCESS_H

#include "uvrun.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct uvrun_process_s uvrun_process_t;

/* What a child's stdin, stdout or stderr is. */
#define UVRUN_STDIO_INHERIT 0 /* the parent's own (the default) */
#define UVRUN_STDIO_PIPE 1 /* a pipe: uvrun_process_stdio() gives the stream */
#define UVRUN_STDIO_DEVNULL 2 /* /dev/null */
#define UVRUN_STDIO_FD \
  3 /* the descriptor in stdio_fd[i] (stays the caller's) */
/* stderr only: wherever stdout goes (asyncio's stderr=subprocess.STDOUT).
 * With stdout a pipe, both write into it, interleaved as the child wrote
 * them; uvrun_process_stdio(proc, 2) is then NULL, and so is communicate's
 * stderr. */
#define UVRUN_STDIO_STDOUT 4

typedef struct uvrun_process_opts_s {
  uint32_t size;
  /* "NAME=value" strings, NULL-terminated. NULL: the parent's environment.
   * With env_replace = 0 (the default) they are added to the parent's
   * (replacing a variable of the same name); with 1 they are all the child
   * gets. The program is looked up in the child's PATH. */
  const char *const *env;
  int32_t env_replace;
  const char *cwd; /* NULL: the parent's */
  /* stdin, stdout and stderr: UVRUN_STDIO_*; stdio_fd[i] for UVRUN_STDIO_FD. */
  int32_t stdio[3];
  int32_t stdio_fd[3];
  uvrun_stream_opts_t pipe; /* buffering of the pipes (size 0: defaults) */
} uvrun_process_opts_t;
UVRUN_EXTERN void uvrun_process_opts_init(uvrun_process_opts_t *opts);

/* Starts argv[0] (a path, or a name looked up in PATH) with argv, a
 * NULL-terminated list. A program that cannot be run fails here: missing
 * (-ENOENT), not executable (-EACCES), a working directory that does not
 * exist (-ENOENT), each named in the message. */
UVRUN_EXTERN int uvrun_process_spawn(uvrun_loop_t *loop,
                                     const char *const *argv,
                                     const uvrun_process_opts_t *opts,
                                     uvrun_process_t **out);

UVRUN_EXTERN uvrun_process_t *uvrun_process_ref(uvrun_process_t *proc);
UVRUN_EXTERN void uvrun_process_unref(uvrun_process_t *proc);
UVRUN_EXTERN uvrun_loop_t *uvrun_process_loop(const uvrun_process_t *proc);
UVRUN_EXTERN int uvrun_process_pid(const uvrun_process_t *proc);
/* The stream of the child's stdin (0), stdout (1) or stderr (2) when it is
 * a pipe, else NULL. Borrowed: the process holds it; uvrun_stream_ref() it
 * to keep it longer. */
UVRUN_EXTERN uvrun_stream_t *uvrun_process_stdio(const uvrun_process_t *proc,
                                                 int fd);
/* 1 and *returncode once the child has exited, 0 while it runs; a negative
 * code for bad arguments. */
UVRUN_EXTERN int uvrun_process_returncode(const uvrun_process_t *proc,
                                          int *returncode);

/* Done when the child has exited. The value is its returncode, as
 * intptr_t: the exit status, or -N when signal N ended it (asyncio's
 * returncode). Cancelling a wait leaves the child running. */
UVRUN_EXTERN uvrun_future_t *uvrun_process_wait(uvrun_process_t *proc);

/* Sends sig to the child. A child that already exited is -ESRCH ("process
 * ... has already exited"), and no signal is sent: its pid may belong to
 * another process by now. */
UVRUN_EXTERN int uvrun_process_kill(uvrun_process_t *proc, int sig);
/* SIGTERM. */
UVRUN_EXTERN int uvrun_process_terminate(uvrun_process_t *proc);

/* ---- communicate -----------------------------------------------------------
 * Writes input to the child's stdin and closes it, reads its stdout and
 * stderr to their ends, and waits for it, all at once: a child that fills
 * one pipe while the other waits never deadlocks. A child that stops
 * reading its stdin (a broken pipe) is not an error, as in asyncio. Needs
 * stdin as a pipe when len > 0; stdout and stderr are read when they are
 * pipes. The value is a uvrun_process_result_t *, owned by the future.
 * One that cannot start (a read already waits on a pipe: READ_BUSY) is
 * NULL and leaves the pipes alone.
 * Cancelling it, or an output past its limit (UVRUN_E_LIMIT_OVERRUN), closes
 * the pipes; the child is left running (wait, kill, or a runner's close). */
typedef struct uvrun_communicate_opts_s {
  uint32_t size;
  uint64_t stdout_limit; /* bytes kept at most; 0: no limit */
  uint64_t stderr_limit;
} uvrun_communicate_opts_t;
UVRUN_EXTERN void uvrun_communicate_opts_init(uvrun_communicate_opts_t *opts);

typedef struct uvrun_process_result_s uvrun_process_result_t;
UVRUN_EXTERN uvrun_future_t *uvrun_process_communicate(
    uvrun_process_t *proc, const void *input, size_t len,
    const uvrun_communicate_opts_t *opts);
/* The bytes the child wrote (*len their count); NULL when the stream was
 * not a pipe. Valid while the future lives. */
UVRUN_EXTERN const char *uvrun_process_result_stdout(
    const uvrun_process_result_t *result, size_t *len);
UVRUN_EXTERN const char *uvrun_process_result_stderr(
    const uvrun_process_result_t *result, size_t *len);
UVRUN_EXTERN int uvrun_process_result_returncode(
    const uvrun_process_result_t *result);

#ifdef __cplusplus
}
#endif
#endif /* UVRUN_PROCESS_H */
