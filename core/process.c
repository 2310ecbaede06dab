/* process.c -- P1, P2, P4, P5: a child process's life: spawned (uv_spawn),
 * waited for, signalled, dropped, and killed and reaped when its runner or
 * loop closes (L1, L2).
 *
 * The uv_process_t lives inside the process. libuv reaps the child (its
 * SIGCHLD handler waits for each child of its own by pid, so a program's own
 * waitpid() on other children is undisturbed) and calls process_on_exit, which
 * closes the handle. The loop's list keeps the memory until the handle's
 * close callback ran, so a late libuv callback never touches freed memory
 * (L3); after that the caller's references and those of waits keep it. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "process.h"

/* How long a loop's close waits for a killed child to be reaped. */
#define DROP_REAP_NS (2 * 1000000000ull)

struct uvrun_process_s {
  uv_process_t handle; /* first: libuv's callbacks get &handle */
  int refs;
  uvrun_loop_t *loop;           /* reference */
  uvrun_process_t *prev, *next; /* loop->processes, until the handle is closed */
  uvrun_stream_t *stdio[3];     /* the pipes (references), NULL for the others */
  uvrun_future_t **waits;       /* pending waits, not held: a freed wait leaves */
  size_t nwaits, waits_cap;
  char *program; /* argv[0], for messages and reports */
  int pid;
  int returncode;
  uint8_t exited; /* process_on_exit ran (or the loop's close reaped it) */
  uint8_t closed; /* the handle's close callback ran */
};

/* ---- options ---- */

void uvrun_process_opts_init(uvrun_process_opts_t *opts) {
  if (opts == NULL) return;
  memset(opts, 0, sizeof *opts);
  opts->size = sizeof *opts;
  opts->stdio_fd[0] = opts->stdio_fd[1] = opts->stdio_fd[2] = -1;
}

static int process_opts_from(const uvrun_process_opts_t *given, uvrun_process_opts_t *opts) {
  int i;
  uvrun_process_opts_init(opts);
  if (given != NULL) {
    if (given->size < sizeof given->size)
      return uvr_fail(UVRUN_E_INVAL, "opts->size must be set (uvrun_process_opts_init)");
    memcpy(opts, given, given->size < sizeof *opts ? given->size : sizeof *opts);
    opts->size = sizeof *opts;
  }
  if (opts->env_replace != 0 && opts->env_replace != 1) return uvr_fail(UVRUN_E_INVAL, "env_replace must be 0 or 1");
  for (i = 0; i < 3; i++) {
    if (opts->stdio[i] < UVRUN_STDIO_INHERIT || opts->stdio[i] > UVRUN_STDIO_STDOUT)
      return uvr_fail(UVRUN_E_INVAL, "stdio[%d] must be a UVRUN_STDIO_* value, not %d", i, (int)opts->stdio[i]);
    if (opts->stdio[i] == UVRUN_STDIO_STDOUT && i != 2)
      return uvr_fail(UVRUN_E_INVAL, "stdio[%d]: UVRUN_STDIO_STDOUT is for stderr (stdio[2]) only", i);
    if (opts->stdio[i] == UVRUN_STDIO_FD && opts->stdio_fd[i] < 0)
      return uvr_fail(UVRUN_E_INVAL, "stdio_fd[%d] must be a descriptor for UVRUN_STDIO_FD", i);
  }
  return 0;
}

/* ---- the list of the loop's processes ---- */

static void process_list_add(uvrun_process_t *proc) {
  uvrun_loop_t *loop = proc->loop;
  proc->next = loop->processes;
  if (loop->processes != NULL) loop->processes->prev = proc;
  loop->processes = proc;
}

static void process_list_remove(uvrun_process_t *proc) {
  if (proc->prev != NULL) proc->prev->next = proc->next;
  else proc->loop->processes = proc->next;
  if (proc->next != NULL) proc->next->prev = proc->prev;
  proc->prev = proc->next = NULL;
}

/* ---- memory ---- */

static void process_free(uvrun_process_t *proc) {
  int i;
  for (i = 0; i < 3; i++) {
    /* Closed with the process, as asyncio's transport closes its pipes. */
    if (proc->stdio[i] != NULL) uvrun_stream_close(proc->stdio[i]);
    uvrun_stream_unref(proc->stdio[i]);
  }
  uvr_free(proc->waits);
  uvr_free(proc->program);
  uvr_loop_unref(proc->loop);
  uvr_free(proc);
}

static void process_on_close(uv_handle_t *handle) {
  uvrun_process_t *proc = (uvrun_process_t *)handle;
  proc->closed = 1;
  process_list_remove(proc);
  if (proc->refs == 0) process_free(proc);
}

static void process_close_handle(uvrun_process_t *proc) {
  if (!uv_is_closing((uv_handle_t *)&proc->handle)) uv_close((uv_handle_t *)&proc->handle, process_on_close);
}

/* ---- waits ---- */

typedef struct process_wait_state {
  uvrun_process_t *proc; /* reference */
} process_wait_state;

static void process_waits_remove(uvrun_process_t *proc, const uvrun_future_t *fut) {
  size_t i;
  for (i = 0; i < proc->nwaits; i++) {
    if (proc->waits[i] != fut) continue;
    proc->waits[i] = proc->waits[--proc->nwaits];
    return;
  }
}

/* P2: a cancelled wait only stops waiting; the child runs on. */
static int process_wait_cancel(uvrun_future_t *fut, const char *msg) {
  process_wait_state *w = uvr_io_future_state(fut);
  if (fut->state == UVR_PENDING) process_waits_remove(w->proc, fut);
  return uvr_future_cancel_plain(fut, msg);
}

static void process_wait_free(uvrun_future_t *fut) {
  process_wait_state *w = uvr_io_future_state(fut);
  process_waits_remove(w->proc, fut);
  uvrun_process_unref(w->proc);
}

static const uvr_io_kind process_wait_kind = {"process wait", process_wait_cancel, process_wait_free, NULL};

/* Every pending wait is done: with the returncode, or the error. */
static void process_waits_settle(uvrun_process_t *proc, int code, const char *message) {
  while (proc->nwaits > 0) {
    uvrun_future_t *fut = proc->waits[--proc->nwaits];
    if (code == 0) {
      uvrun_future_set_result(fut, (void *)(intptr_t)proc->returncode, NULL);
    } else {
      uvrun_future_set_error_code(fut, code, message);
    }
  }
}

/* ---- checks ---- */

/* A child that can still be signalled: spawned, not reaped. Never pid 0,
 * which kill() reads as the whole process group. */
static int process_running(const uvrun_process_t *proc) {
  return proc->pid > 0 && !proc->exited && !uv_is_closing((const uv_handle_t *)&proc->handle);
}

static int process_check(const uvrun_process_t *proc) {
  if (proc == NULL) return uvr_fail(UVRUN_E_INVAL, "process must not be NULL");
  return uvr_loop_check(proc->loop);
}

/* ---- spawning ---- */

static void process_on_exit(uv_process_t *handle, int64_t exit_status, int term_signal) {
  uvrun_process_t *proc = (uvrun_process_t *)handle;
  proc->exited = 1;
  proc->returncode = term_signal != 0 ? -term_signal : (int)exit_status;
  process_waits_settle(proc, 0, NULL);
  process_close_handle(proc);
}

/* stdout as a pipe that stderr shares (asyncio's stderr=STDOUT). libuv
 * makes its pipes during the spawn, too late for stderr to name one, so this
 * one is made first: the parent's end is the stream, the child's end is
 * given to both as a descriptor and closed by the caller after the spawn. */
static int process_shared_pipe(uvrun_process_t *proc, const uvrun_process_opts_t *o, uv_stdio_container_t *c,
                               int *child_end) {
  uv_os_fd_t fds[2];
  int rc = uv_socketpair(SOCK_STREAM, 0, fds, 0, 0);
  if (rc < 0) return uvr_fail(rc, "cannot make the stdout pipe: %s", uv_strerror(rc));
  *child_end = fds[1];
  if ((proc->stdio[1] = uvr_stream_new(proc->loop, UV_NAMED_PIPE, o->pipe.size != 0 ? &o->pipe : NULL)) == NULL) {
    close(fds[0]);
    return uvr_last_code();
  }
  if ((rc = uv_pipe_open((uv_pipe_t *)uvr_stream_handle(proc->stdio[1]), fds[0])) < 0) {
    close(fds[0]);
    return uvr_fail(rc, "cannot open the stdout pipe: %s", uv_strerror(rc));
  }
  c->flags = UV_INHERIT_FD;
  c->data.fd = fds[1];
  return 0;
}

/* The child's stdio[i] as libuv takes it. A pipe's stream is made here;
 * descriptors opened for the child (/dev/null, a shared pipe's end) go into
 * opened[i], closed by the caller after the spawn. */
static int process_stdio_setup(uvrun_process_t *proc, const uvrun_process_opts_t *o, int i, uv_stdio_container_t *c,
                               int *opened) {
  switch (o->stdio[i]) {
  case UVRUN_STDIO_PIPE:
    if (i == 1 && o->stdio[2] == UVRUN_STDIO_STDOUT) return process_shared_pipe(proc, o, &c[i], &opened[i]);
    proc->stdio[i] = uvr_stream_new(proc->loop, UV_NAMED_PIPE, o->pipe.size != 0 ? &o->pipe : NULL);
    if (proc->stdio[i] == NULL) return uvr_last_code();
    /* The child's side: it reads its stdin, writes the others. */
    c[i].flags = UV_CREATE_PIPE | (i == 0 ? UV_READABLE_PIPE : UV_WRITABLE_PIPE);
    c[i].data.stream = uvr_stream_handle(proc->stdio[i]);
    return 0;
  case UVRUN_STDIO_DEVNULL:
    if ((opened[i] = open("/dev/null", (i == 0 ? O_RDONLY : O_WRONLY) | O_CLOEXEC)) < 0)
      return uvr_fail(-errno, "cannot open /dev/null: %s", strerror(errno));
    c[i].flags = UV_INHERIT_FD;
    c[i].data.fd = opened[i];
    return 0;
  case UVRUN_STDIO_FD:
    c[i].flags = UV_INHERIT_FD;
    c[i].data.fd = o->stdio_fd[i];
    return 0;
  case UVRUN_STDIO_STDOUT: /* stderr: whatever stdout is, always a descriptor by now */ c[i] = c[1]; return 0;
  default:
    c[i].flags = UV_INHERIT_FD;
    c[i].data.fd = i;
    return 0;
  }
}

/* E: the program, or the working directory, named with libuv's words. */
static int process_spawn_error(int rc, const char *program, const char *cwd) {
  char text[96];
  struct stat st;
  uv_strerror_r(rc, text, sizeof text);
  if (cwd != NULL && (rc == UV_ENOENT || rc == UV_ENOTDIR) && stat(cwd, &st) != 0)
    return uvr_fail(rc, "cannot run '%s': working directory '%s': %s", program, cwd, text);
  return uvr_fail(rc, "cannot run '%s': %s", program, text);
}

static uvrun_process_t *process_new(uvrun_loop_t *loop, const char *program) {
  uvrun_process_t *proc = uvr_calloc(1, sizeof *proc);
  if (proc == NULL || (proc->program = uvr_strdup(program)) == NULL) {
    uvr_free(proc);
    uvr_fail(UVRUN_E_NOMEM, "out of memory");
    return NULL;
  }
  proc->refs = 1;
  proc->loop = uvr_loop_ref(loop);
  return proc;
}

/* A spawn that failed: its pipes never became the caller's. */
static void process_spawn_undo(uvrun_process_t *proc, int spawned) {
  int i;
  for (i = 0; i < 3; i++) {
    if (proc->stdio[i] != NULL) uvr_stream_discard(proc->stdio[i]);
    proc->stdio[i] = NULL;
  }
  proc->refs = 0;
  if (spawned) { /* libuv initialized the handle: it must be closed */
    process_list_add(proc);
    process_close_handle(proc);
  } else {
    process_free(proc);
  }
}

static int process_spawn(uvrun_process_t *proc, const char *const *argv, const uvrun_process_opts_t *o) {
  uv_process_options_t uo;
  uv_stdio_container_t stdio[3];
  int opened[3] = {-1, -1, -1}, i, rc = 0, failed;
  char **env = uvr_env_build(o->env, o->env_replace, &failed);
  if (failed < 0) return failed;
  memset(&uo, 0, sizeof uo);
  for (i = 0; i < 3 && rc == 0; i++) rc = process_stdio_setup(proc, o, i, stdio, opened);
  if (rc == 0) {
    uo.exit_cb = process_on_exit;
    uo.file = argv[0];
    uo.args = (char **)(uintptr_t)argv;
    uo.env = env;
    uo.cwd = o->cwd;
    uo.stdio_count = 3;
    uo.stdio = stdio;
    rc = uv_spawn(proc->loop->uv, &proc->handle, &uo);
    if (rc < 0) rc = process_spawn_error(rc, argv[0], o->cwd);
  }
  for (i = 0; i < 3; i++)
    if (opened[i] >= 0) close(opened[i]);
  uvr_env_free(env);
  return rc;
}

int uvrun_process_spawn(uvrun_loop_t *loop, const char *const *argv, const uvrun_process_opts_t *opts,
                        uvrun_process_t **out) {
  uvrun_process_opts_t o;
  uvrun_process_t *proc;
  int rc;
  if (out != NULL) *out = NULL;
  if ((rc = uvr_io_check_loop(loop, "uvrun_process_spawn")) < 0) return rc;
  if (out == NULL) return uvr_fail(UVRUN_E_INVAL, "out must not be NULL");
  if (argv == NULL || argv[0] == NULL || argv[0][0] == '\0')
    return uvr_fail(UVRUN_E_INVAL, "argv must hold at least the program to run");
  if ((rc = process_opts_from(opts, &o)) < 0) return rc;
  uvr_io_sigpipe_once(); /* before the first pipe: a closed one must not kill us */
  if ((proc = process_new(loop, argv[0])) == NULL) return uvr_last_code();
  if ((rc = process_spawn(proc, argv, &o)) < 0) {
    process_spawn_undo(proc, uv_handle_get_type((uv_handle_t *)&proc->handle) == UV_PROCESS);
    return rc;
  }
  proc->pid = proc->handle.pid;
  process_list_add(proc);
  *out = proc;
  return 0;
}

/* ---- references, accessors ---- */

uvrun_process_t *uvrun_process_ref(uvrun_process_t *proc) {
  if (proc != NULL) proc->refs++;
  return proc;
}

/* "<Process pid=12 sleep running>", for reports. */
static void process_describe(const uvrun_process_t *proc, char *buf, size_t len) {
  if (proc->exited) {
    snprintf(buf, len, "<Process pid=%d %s returncode=%d>", proc->pid, proc->program, proc->returncode);
  } else {
    snprintf(buf, len, "<Process pid=%d %s running>", proc->pid, proc->program);
  }
}

/* Dropped while running: killed, its pipes aborted, as asyncio's transport
 * close() does. */
static void process_drop_running(uvrun_process_t *proc) {
  char desc[160];
  int i;
  if (proc->loop->debug) {
    process_describe(proc, desc, sizeof desc);
    uvr_logf(UVRUN_LOG_WARNING, "unclosed process %s dropped while running: killed", desc);
  }
  for (i = 0; i < 3; i++)
    if (proc->stdio[i] != NULL) uvrun_stream_abort(proc->stdio[i]);
  uv_process_kill(&proc->handle, SIGKILL);
}

void uvrun_process_unref(uvrun_process_t *proc) {
  if (proc == NULL || --proc->refs > 0) return;
  if (process_running(proc)) {
    process_drop_running(proc); /* process_on_exit closes the handle, whose callback frees it */
  } else if (proc->closed) {
    process_free(proc);
  }
}

uvrun_loop_t *uvrun_process_loop(const uvrun_process_t *proc) { return proc != NULL ? proc->loop : NULL; }

int uvrun_process_pid(const uvrun_process_t *proc) {
  if (proc == NULL) return uvr_fail(UVRUN_E_INVAL, "process must not be NULL");
  return proc->pid;
}

uvrun_stream_t *uvrun_process_stdio(const uvrun_process_t *proc, int fd) {
  if (proc == NULL || fd < 0 || fd > 2) {
    uvr_fail(UVRUN_E_INVAL, "stdio needs a process and fd 0, 1 or 2");
    return NULL;
  }
  return proc->stdio[fd];
}

int uvrun_process_returncode(const uvrun_process_t *proc, int *returncode) {
  if (proc == NULL || returncode == NULL) return uvr_fail(UVRUN_E_INVAL, "process and returncode must not be NULL");
  if (!proc->exited) return 0;
  *returncode = proc->returncode;
  return 1;
}

/* ---- waiting, signalling ---- */

uvrun_future_t *uvrun_process_wait(uvrun_process_t *proc) {
  uvrun_future_t *fut, **waits;
  if (process_check(proc) < 0) return NULL;
  if ((fut = uvr_io_future_new(proc->loop, &process_wait_kind, sizeof(process_wait_state))) == NULL) return NULL;
  ((process_wait_state *)uvr_io_future_state(fut))->proc = uvrun_process_ref(proc);
  if (proc->exited || proc->closed) {
    uvrun_future_set_result(fut, (void *)(intptr_t)proc->returncode, NULL);
    return fut;
  }
  if (proc->nwaits == proc->waits_cap) {
    size_t cap = proc->waits_cap != 0 ? 2 * proc->waits_cap : 4;
    if ((waits = uvr_realloc(proc->waits, cap * sizeof *waits)) == NULL) {
      uvrun_future_unref(fut);
      uvr_fail(UVRUN_E_NOMEM, "out of memory");
      return NULL;
    }
    proc->waits = waits;
    proc->waits_cap = cap;
  }
  proc->waits[proc->nwaits++] = fut;
  return fut;
}

int uvrun_process_kill(uvrun_process_t *proc, int sig) {
  int rc = process_check(proc);
  if (rc < 0) return rc;
  /* P4: once reaped, the pid may be another process's. libuv reaps in the
   * callback that sets `exited`, so a pid not marked so is still ours. */
  if (!process_running(proc))
    return uvr_fail(UV_ESRCH, "process %d (%s) has already exited with returncode %d", proc->pid, proc->program,
                    proc->returncode);
  if ((rc = uv_process_kill(&proc->handle, sig)) < 0)
    return uvr_fail(rc, "cannot send signal %d to process %d: %s", sig, proc->pid, uv_strerror(rc));
  return 0;
}

int uvrun_process_terminate(uvrun_process_t *proc) { return uvrun_process_kill(proc, SIGTERM); }

/* ---- when the runner or the loop closes (L1) ---- */

/* SIGKILL to a child left running when its runner or loop (`closer`)
 * closes; debug mode names it. */
static void process_kill_left(uvrun_process_t *proc, const char *closer) {
  char desc[160];
  if (proc->loop->debug) {
    process_describe(proc, desc, sizeof desc);
    uvr_logf(UVRUN_LOG_WARNING, "process %s still running at %s close: killed", desc, closer);
  }
  uv_process_kill(&proc->handle, SIGKILL);
}

uvrun_future_t *uvr_processes_kill_all(uvrun_loop_t *loop) {
  uvrun_process_t *proc;
  uvrun_future_t **waits, *all;
  size_t n = 0, i = 0;
  for (proc = loop->processes; proc != NULL; proc = proc->next) n += process_running(proc);
  if (n == 0) return NULL;
  if ((waits = uvr_calloc(n, sizeof *waits)) == NULL) {
    uvr_fail(UVRUN_E_NOMEM, "out of memory");
    return NULL;
  }
  for (proc = loop->processes; proc != NULL; proc = proc->next) {
    if (!process_running(proc)) continue;
    process_kill_left(proc, "runner");
    if ((waits[i] = uvrun_process_wait(proc)) != NULL) i++;
  }
  all = uvrun_gather(loop, waits, i, 1);
  while (i > 0) uvrun_future_unref(waits[--i]);
  uvr_free(waits);
  return all;
}

/* The loop cannot run any more: the child is reaped here, by pid, once
 * libuv no longer tracks it, so it is left neither running nor a zombie. */
static void process_reap_now(uvrun_process_t *proc) {
  uint64_t deadline = uv_hrtime() + DROP_REAP_NS;
  int status;
  pid_t got;
  while ((got = waitpid(proc->pid, &status, WNOHANG)) == 0 && uv_hrtime() < deadline) usleep(1000);
  if (got == proc->pid) {
    proc->exited = 1;
    proc->returncode = WIFSIGNALED(status) ? -WTERMSIG(status) : WEXITSTATUS(status);
  } else {
    uvr_logf(UVRUN_LOG_WARNING, "process %d (%s) was killed at loop close but did not exit", proc->pid, proc->program);
  }
}

void uvr_processes_drop_all(uvrun_loop_t *loop) {
  uvrun_process_t *proc;
  for (proc = loop->processes; proc != NULL; proc = proc->next) {
    if (!process_running(proc)) continue;
    process_kill_left(proc, "loop");
    process_close_handle(proc);
    process_reap_now(proc);
    process_waits_settle(proc, UVRUN_E_LOOP_CLOSED, "Event loop is closed");
  }
}
