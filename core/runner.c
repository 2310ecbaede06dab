/* runner.c -- asyncio.run() and asyncio.Runner (R1-R69).
 *
 * A runner is CREATED (nothing allocated but itself), INITIALIZED (a loop and
 * a context) or CLOSED. It initializes lazily, binds to the thread that
 * initialized it (D6), and closes in asyncio's order: cancel what is left,
 * close async generators, shut the executor down, close the loop (R47);
 * servers stop listening before all that, and after it streams no task
 * closed are aborted and children still running are killed and reaped
 * (L1). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "process.h"

enum { CREATED, INITIALIZED, CLOSED };

struct uvrun_runner_s {
  int state;
  uvrun_options_t opts;
  uvrun_loop_t *loop;
  uvrun_context_t *context;
  uint8_t set_event_loop;
  uv_thread_t thread;
  int interrupt_count;         /* Ctrl-Cs during this run (R33) */
  uvrun_task_t *main_task;     /* this run's, while it runs */
  uvrun_runner_t *next_zombie; /* uvrun_runner_free_v2's queue */
};

/* ---- zombies (uvrun_runner_free_v2) ----
 * A runner freed where it cannot be closed now -- from another thread, or
 * while a loop runs on its thread -- waits here; its own thread closes and
 * frees it at its next runner entry point with no loop running. */
static uv_once_t zombie_once = UV_ONCE_INIT;
static uv_mutex_t zombie_mu;
static uvrun_runner_t *zombies;
static atomic_int nzombies;

static void zombie_init(void) {
  if (uv_mutex_init(&zombie_mu) != 0) abort();
}

static void reap_zombies(void) {
  uvrun_runner_t *mine = NULL, **p, *z;
  uvrun_error_t *err;
  uv_thread_t self;
  if (UVR_LIKELY(atomic_load_explicit(&nzombies, memory_order_acquire) == 0) || uvr_running_loop != NULL) return;
  self = uv_thread_self();
  uv_mutex_lock(&zombie_mu);
  for (p = &zombies; (z = *p) != NULL;) {
    if (uv_thread_equal(&z->thread, &self)) {
      *p = z->next_zombie;
      z->next_zombie = mine;
      mine = z;
      atomic_fetch_sub(&nzombies, 1);
    } else {
      p = &z->next_zombie;
    }
  }
  uv_mutex_unlock(&zombie_mu);
  if (mine == NULL) return;
  err = uvrun_take_error(); /* the caller's outcome survives the reaping */
  while ((z = mine) != NULL) {
    mine = z->next_zombie;
    uvrun_runner_free(z);
  }
  if (err != NULL) uvr_fail_error(err);
}

void uvrun_options_init(uvrun_options_t *opts) {
  static const uvrun_options_t defaults = UVRUN_OPTIONS_INIT;
  if (opts != NULL) *opts = defaults;
}

int uvrun_runner_new(const uvrun_options_t *opts, uvrun_runner_t **out) {
  uvrun_runner_t *r;
  uvrun_options_t o;
  if (out == NULL) return uvr_fail(UVRUN_E_INVAL, "out must not be NULL");
  *out = NULL;
  reap_zombies();
  uvrun_options_init(&o);
  if (opts != NULL) {
    if (opts->size < offsetof(uvrun_options_t, debug) + sizeof opts->debug)
      return uvr_fail(UVRUN_E_INVAL, "options must be set up with uvrun_options_init()");
    memcpy(&o, opts, opts->size < sizeof o ? opts->size : sizeof o);
    o.size = sizeof o;
  }
  if (o.debug < UVRUN_DEBUG_DEFAULT || o.debug > UVRUN_DEBUG_ON)
    return uvr_fail(UVRUN_E_INVAL, "debug must be UVRUN_DEBUG_DEFAULT, UVRUN_DEBUG_OFF or UVRUN_DEBUG_ON");
  if (!(o.executor_shutdown_timeout >= 0)) /* also NaN */
    return uvr_fail(UVRUN_E_INVAL, "executor_shutdown_timeout must be >= 0 seconds");
  if (o.executor_max_workers < 0) return uvr_fail(UVRUN_E_INVAL, "executor_max_workers must be >= 0");
  if (isnan(o.cancel_timeout)) return uvr_fail(UVRUN_E_INVAL, "cancel_timeout must be a number");
  r = uvr_calloc(1, sizeof *r);
  if (r == NULL) return uvr_fail(UVRUN_E_NOMEM, "out of memory");
  r->state = CREATED; /* R2: nothing else until first use */
  r->opts = o;
  *out = r;
  return 0;
}

static int check_thread(const uvrun_runner_t *r) {
  uv_thread_t self = uv_thread_self();
  if (!uv_thread_equal(&r->thread, &self))
    return uvr_fail(UVRUN_E_WRONG_THREAD, "Runner is bound to the thread that initialized it");
  return 0;
}

/* R3, R4: create the loop (or ask the factory), apply debug, snapshot the
 * caller's context. A failing factory leaves the runner CREATED. */
static int lazy_init(uvrun_runner_t *r) {
  uvrun_loop_t *loop = NULL;
  int rc;
  if (r->state == CLOSED) return uvr_fail(UVRUN_E_CLOSED, "Runner is closed");
  if (r->state == INITIALIZED) return check_thread(r);
  if (r->opts.loop_factory != NULL) {
    rc = r->opts.loop_factory(r->opts.loop_factory_data, &loop);
    if (rc < 0) return uvr_last_code() == rc ? rc : uvr_fail(rc, "loop factory failed: %s", uvrun_strerror(rc));
    if (loop == NULL) return uvr_fail(UVRUN_E_INVAL, "loop factory returned no loop");
  } else {
    rc = uvrun_loop_new(&loop);
    if (rc < 0) return rc;
  }
  r->context = NULL;
  if (uvrun_context_copy_current(&r->context) < 0) {
    uvrun_loop_free(loop);
    return uvr_fail(UVRUN_E_NOMEM, "out of memory");
  }
  if (r->opts.loop_factory == NULL) {
    uvr_current_loop = loop; /* R16: once, and only on the default path */
    r->set_event_loop = 1;
  }
  if (r->opts.debug != UVRUN_DEBUG_DEFAULT) uvrun_loop_set_debug(loop, r->opts.debug);
  if (r->opts.exception_handler != NULL)
    uvrun_loop_set_exception_handler(loop, r->opts.exception_handler, r->opts.exception_handler_data);
  loop->executor_max_workers = r->opts.executor_max_workers;
  r->loop = loop;
  r->thread = uv_thread_self();
  r->state = INITIALIZED;
  return 0;
}

int uvrun_runner_get_loop(uvrun_runner_t *r, uvrun_loop_t **out) {
  int rc;
  if (out != NULL) *out = NULL;
  if (r == NULL || out == NULL) return uvr_fail(UVRUN_E_INVAL, "runner and out must not be NULL");
  rc = lazy_init(r);
  if (rc < 0) return rc;
  *out = r->loop;
  return 0;
}

/* A Ctrl-C, on the loop: the first cancels the main task (R41); another,
 * or one that finds the main task done, interrupts the loop (R44). */
static void on_interrupt(void *ud) {
  uvrun_runner_t *r = ud;
  if (++r->interrupt_count == 1 && r->main_task->fut.state == UVR_PENDING) {
    uvr_task_cancel(r->main_task, NULL);
  } else {
    uvr_loop_raise(r->loop, uvr_error_make(UVRUN_E_INTERRUPTED, "KeyboardInterrupt"));
  }
}

/* Runs the main task to its end and maps the outcome (R33-R45). */
static int drive(uvrun_runner_t *r, uvrun_task_t *main_task, void **result) {
  void *value = NULL;
  int rc, watching;
  r->interrupt_count = 0; /* R33: interrupts do not carry over */
  r->main_task = main_task;
  watching = r->opts.handle_sigint && uvr_signal_start(r->loop, on_interrupt, r, r->opts.host_sigint);
  rc = uvrun_loop_run_until_complete(r->loop, &main_task->fut, &value);
  /* Nobody else can reach the main task: its error is run()'s outcome, so
   * it is retrieved, as asyncio consumes a BaseException there (R38). */
  if (main_task->fut.state == UVR_ERROR) main_task->fut.retrieved = 1;
  if (rc == UVRUN_E_CANCELLED && r->interrupt_count > 0 && uvrun_task_uncancel(main_task) == 0)
    rc = uvr_fail(UVRUN_E_INTERRUPTED, "KeyboardInterrupt"); /* R42 */
  /* R44: a Ctrl-C after the loop's last look, before the handler is
   * restored, still interrupts the run, whatever the main task did. */
  if (watching && uvr_signal_stop(r->loop) > 0 && rc != UVRUN_E_INTERRUPTED && rc != UVRUN_E_EXIT) {
    r->interrupt_count++;
    rc = uvr_fail(UVRUN_E_INTERRUPTED, "KeyboardInterrupt");
  }
  r->main_task = NULL;
  if (rc == 0) {
    /* R36: the result is moved out, never inspected. */
    if (result != NULL) {
      *result = value;
      main_task->fut.value_moved = 1;
    }
  } else if (main_task->fut.state == UVR_ERROR && rc == main_task->fut.error->code && rc != UVRUN_E_INTERRUPTED &&
             rc != UVRUN_E_EXIT) {
    rc = UVRUN_E_TASK_FAILED; /* uvrun_take_error() has the task's error */
  }
  uvrun_task_unref(main_task);
  return rc;
}

static int check_run(uvrun_runner_t *r) {
  int rc;
  if (r == NULL) return uvr_fail(UVRUN_E_INVAL, "runner must not be NULL");
  if (uvr_running_loop != NULL) /* R10 */
    return uvr_fail(UVRUN_E_LOOP_RUNNING, "uvrun_runner_run() cannot be called from a running event loop");
  rc = lazy_init(r);
  return rc;
}

int uvrun_runner_run_task(uvrun_runner_t *r, uvrun_step_fn step, void *arg, const uvrun_task_opts_t *opts,
                          void **result) {
  uvrun_task_opts_t topts;
  uvrun_task_t *task;
  int rc;
  uvrun_task_opts_init(&topts);
  if (opts != NULL) memcpy(&topts, opts, opts->size < sizeof topts ? opts->size : sizeof topts);
  if (result != NULL) *result = NULL;
  if ((rc = check_run(r)) < 0 || step == NULL) {     /* R12: checks in 3.14's order */
    if (topts.arg_free != NULL) topts.arg_free(arg); /* D1 */
    return rc < 0 ? rc : uvr_fail(UVRUN_E_INVAL, "A future, a step function or an awaitable is required");
  }
  if (topts.context == NULL) topts.context = r->context;
  rc = uvrun_task_new(r->loop, step, arg, &topts, &task);
  if (rc < 0) return rc;
  rc = drive(r, task, result); /* r may be a zombie, freed below */
  reap_zombies();
  return rc;
}

int uvrun_runner_run(uvrun_runner_t *r, uvrun_step_fn step, void *arg, uvrun_context_t *context, void **result) {
  uvrun_task_opts_t topts;
  uvrun_task_opts_init(&topts);
  topts.context = context;
  return uvrun_runner_run_task(r, step, arg, &topts, result);
}

/* R11: a future becomes a main task that awaits it. */
static int await_future_step(uvrun_task_t *task, void *arg) {
  uvrun_future_t *fut = arg;
  void *value;
  int rc;
  if (uvr_task_resumed_from(task) == NULL) return uvrun_task_await(task, uvrun_future_ref(fut));
  rc = uvrun_task_resume(task, &value);
  if (rc < 0) return rc;
  fut->value_moved = 1; /* the value changes hands with its destructor */
  return uvrun_task_return_owned(task, value, fut->value_free);
}

static void unref_future(void *fut) { uvrun_future_unref(fut); }

int uvrun_runner_run_future(uvrun_runner_t *r, uvrun_future_t *fut, void **result) {
  uvrun_task_opts_t topts;
  uvrun_task_t *task;
  int rc;
  if (result != NULL) *result = NULL;
  if ((rc = check_run(r)) < 0 || fut == NULL) {
    uvrun_future_unref(fut);
    return rc < 0 ? rc : uvr_fail(UVRUN_E_INVAL, "A future, a step function or an awaitable is required");
  }
  uvrun_task_opts_init(&topts);
  topts.context = r->context;
  topts.arg_free = unref_future;
  rc = uvrun_task_new(r->loop, await_future_step, fut, &topts, &task);
  if (rc < 0) return rc;
  rc = drive(r, task, result);
  reap_zombies();
  return rc;
}

/* ---- shutdown (R47-R54) ---- */

static void stop_loop(void *ud) {
  int *expired = ud;
  *expired = 1;
  uvrun_loop_stop(uvr_running_loop);
}

/* X2: name what ignored the cancellation past the deadline. */
static void report_abandoned(uvrun_runner_t *r, uvrun_task_t **tasks, size_t n) {
  char desc[512];
  size_t i;
  for (i = 0; i < n; i++) {
    if (tasks[i]->fut.state != UVR_PENDING) continue;
    uvr_task_describe(tasks[i], desc, sizeof desc);
    uvr_logf(UVRUN_LOG_WARNING, "%s ignored cancellation for %g seconds and was abandoned", desc,
             r->opts.cancel_timeout);
  }
}

static int cancel_all_tasks(uvrun_runner_t *r) {
  uvrun_loop_t *loop = r->loop;
  uvrun_task_t **tasks, *t;
  uvrun_future_t *gather;
  uvrun_handle_t *deadline = NULL;
  size_t n = loop->ntasks, i = 0;
  int rc, expired = 0;
  if (n == 0) return 0; /* R48: no iteration when nothing is left */
  tasks = uvr_malloc(n * sizeof *tasks);
  if (tasks == NULL) return uvr_fail(UVRUN_E_NOMEM, "out of memory");
  for (t = loop->tasks; t != NULL; t = UVR_TASK_NEXT(t)) tasks[i++] = uvrun_task_ref(t);
  for (i = 0; i < n; i++) uvr_task_cancel(tasks[i], NULL);
  gather = uvrun_gather(loop, (uvrun_future_t *const *)tasks, n, 1);
  if (gather == NULL) {
    rc = uvr_last_code();
    goto done;
  }
  if (r->opts.cancel_timeout > 0) uvrun_loop_call_later(loop, r->opts.cancel_timeout, stop_loop, &expired, &deadline);
  rc = uvrun_loop_run_until_complete(loop, gather, NULL); /* R49 */
  uvrun_handle_cancel(deadline);
  uvrun_handle_unref(deadline);
  if (expired && rc == UVRUN_E_LOOP_STOPPED) {
    report_abandoned(r, tasks, n);
    rc = 0;
  }
  uvrun_future_unref(gather);
  if (rc < 0) goto done;
  for (i = 0; i < n; i++) {
    t = tasks[i];
    if (t->fut.state == UVR_ERROR) /* R50 */
      uvr_report(loop, "unhandled exception during uvrun_run() shutdown", t->fut.error, t, NULL, uvr_task_site(t));
  }
done:
  for (i = 0; i < n; i++) uvrun_task_unref(tasks[i]);
  uvr_free(tasks);
  return rc;
}

/* The forms that run the loop refuse up front, with nothing started, as
 * run_until_complete() refuses before it wraps the coroutine in a task. */
static int loop_can_run(const uvrun_loop_t *loop) {
  if (loop == NULL) return uvr_fail(UVRUN_E_INVAL, "loop must not be NULL");
  return uvr_loop_check_runnable(loop);
}

static int run_to_end(uvrun_loop_t *loop, uvrun_future_t *fut) {
  int rc;
  if (fut == NULL) return uvr_last_code();
  rc = uvrun_loop_run_until_complete(loop, fut, NULL);
  uvrun_future_unref(fut);
  return rc;
}

int uvrun_loop_shutdown_default_executor(uvrun_loop_t *loop, double timeout) {
  int rc = loop_can_run(loop);
  return rc < 0 ? rc : run_to_end(loop, uvrun_shutdown_default_executor(loop, timeout));
}

int uvrun_loop_shutdown_asyncgens(uvrun_loop_t *loop) {
  int rc = loop_can_run(loop);
  return rc < 0 ? rc : run_to_end(loop, uvrun_shutdown_asyncgens(loop));
}

typedef size_t (*count_fn)(const uvrun_loop_t *loop);

static size_t pending_tasks(const uvrun_loop_t *loop) { return loop->ntasks; }

/* Tells the host's hook that a shutdown step begins or ended (X9). What the
 * step counts is counted only for a hook; NULL counts nothing. */
static void announce(const uvrun_runner_t *r, int step, int end, int status, count_fn count, double timeout) {
  uvrun_shutdown_event_t ev;
  if (r->opts.shutdown_hook == NULL) return;
  memset(&ev, 0, sizeof ev);
  ev.size = sizeof ev;
  ev.step = step;
  ev.end = end;
  ev.status = status;
  ev.count = count != NULL ? count(r->loop) : 0;
  ev.timeout = timeout;
  ev.time = r->loop != NULL ? uvrun_loop_time(r->loop) : 0;
  r->opts.shutdown_hook(&ev, r->opts.shutdown_hook_data);
}

/* L1: how long a runner's close waits for the children it killed. */
#define CHILD_REAP_SECONDS 5.0

/* L1: children still running are sent SIGKILL and reaped by libuv, for at
 * most CHILD_REAP_SECONDS; one still there then is left to the loop's close. */
static int reap_children(uvrun_loop_t *loop) {
  uvrun_future_t *reaped = uvr_processes_kill_all(loop);
  int rc;
  if (reaped == NULL) return 0;
  rc = run_to_end(loop, uvrun_wait_for(reaped, CHILD_REAP_SECONDS));
  if (rc == UVRUN_E_TIMEDOUT) {
    uvr_logf(UVRUN_LOG_WARNING, "children killed at runner close did not exit within %g seconds", CHILD_REAP_SECONDS);
    rc = 0;
  }
  return rc;
}

/* R47's steps before the loop closes; stops at the first error. */
static int shut_down(uvrun_runner_t *r) {
  uvrun_loop_t *loop = r->loop;
  double cancel_timeout = r->opts.cancel_timeout > 0 ? r->opts.cancel_timeout : 0;
  double executor_timeout = r->opts.executor_shutdown_timeout;
  int rc;
  uvr_servers_close_all(loop); /* L1: no new clients while the rest shuts down */
  announce(r, UVRUN_SHUTDOWN_CANCEL_TASKS, 0, 0, pending_tasks, cancel_timeout);
  rc = cancel_all_tasks(r);
  announce(r, UVRUN_SHUTDOWN_CANCEL_TASKS, 1, rc, pending_tasks, cancel_timeout);
  if (rc < 0) return rc;
  announce(r, UVRUN_SHUTDOWN_ASYNCGENS, 0, 0, uvr_asyncgen_count, 0);
  rc = uvrun_loop_shutdown_asyncgens(loop);
  announce(r, UVRUN_SHUTDOWN_ASYNCGENS, 1, rc, uvr_asyncgen_count, 0);
  if (rc < 0) return rc;
  uvr_executor_cancel_queued_io(loop); /* L1: lookups and file jobs not started never run */
  announce(r, UVRUN_SHUTDOWN_EXECUTOR, 0, 0, uvr_executor_jobs, executor_timeout);
  rc = uvrun_loop_shutdown_default_executor(loop, executor_timeout);
  announce(r, UVRUN_SHUTDOWN_EXECUTOR, 1, rc, uvr_executor_jobs, executor_timeout);
  if (rc < 0) return rc;
  uvr_streams_abort_all(loop); /* L1: what no task closed */
  return reap_children(loop);
}

/* What follows a shutdown always happens (R47 "finally", R7). */
static void close_loop(uvrun_runner_t *r) {
  announce(r, UVRUN_SHUTDOWN_CLOSE_LOOP, 0, 0, NULL, 0);
  if (r->set_event_loop && uvr_current_loop == r->loop) uvr_current_loop = NULL;
  uvrun_loop_free(r->loop);
  r->loop = NULL;
  uvrun_context_free(r->context); /* R8 */
  r->context = NULL;
  r->state = CLOSED;
  announce(r, UVRUN_SHUTDOWN_CLOSE_LOOP, 1, 0, NULL, 0);
}

/* 0 when the runner may close now, else the error; 1 when there is nothing
 * to close. */
static int check_close(uvrun_runner_t *r) {
  int rc;
  if (r == NULL) return uvr_fail(UVRUN_E_INVAL, "runner must not be NULL");
  if (r->state != INITIALIZED) return 1; /* R6 */
  if ((rc = check_thread(r)) < 0) return rc;
  if (uvr_running_loop != NULL) /* D5: refused up front, nothing changed */
    return uvr_fail(UVRUN_E_LOOP_RUNNING, "uvrun_runner_close() cannot be called from a running event loop");
  return 0;
}

int uvrun_runner_close(uvrun_runner_t *r) {
  int rc = check_close(r);
  if (rc != 0) return rc < 0 ? rc : 0;
  rc = shut_down(r);
  close_loop(r);
  return rc;
}

void uvrun_runner_free(uvrun_runner_t *r) {
  int rc;
  if (r == NULL) return;
  rc = uvrun_runner_close(r);
  if (rc == UVRUN_E_LOOP_RUNNING || rc == UVRUN_E_WRONG_THREAD) {
    /* Freeing it now would pull the loop from under its own thread. */
    uvr_logf(UVRUN_LOG_ERROR, "uvrun_runner_free: %s; the runner was not freed", uvrun_errmsg());
    return;
  }
  if (rc < 0) uvr_logf(UVRUN_LOG_ERROR, "uvrun_runner_free: closing failed: %s", uvrun_errmsg());
  uvr_free(r);
  reap_zombies();
}

void uvrun_runner_free_v2(uvrun_runner_t *r) {
  uv_thread_t self;
  if (r == NULL) return;
  self = uv_thread_self();
  /* The host holds no reference any more (this is its finalizer), so only
   * the thread the runner is bound to may still be inside it, running. */
  if (r->state != INITIALIZED || (uv_thread_equal(&r->thread, &self) && uvr_running_loop == NULL)) {
    uvrun_runner_free(r);
    return;
  }
  uv_once(&zombie_once, zombie_init);
  uv_mutex_lock(&zombie_mu);
  r->next_zombie = zombies;
  zombies = r;
  atomic_fetch_add_explicit(&nzombies, 1, memory_order_release);
  uv_mutex_unlock(&zombie_mu);
}

/* ---- asyncio.run() ---- */

/* R62: when the run and its shutdown both failed, one error is returned
 * and carries the other as its context; the other is also reported through
 * the loop's exception handler. An interrupt or exit while closing wins over
 * an ordinary failure of the main task, as asyncio's close() exception does;
 * otherwise the main task's error wins. Returns the winner's code. */
static int settle(uvrun_runner_t *r, int run_rc, uvrun_error_t *run_err, int close_rc, uvrun_error_t *close_err) {
  int close_wins;
  uvrun_error_t *winner, *other;
  /* Out of memory, a failure may have no error object yet. */
  if (run_err == NULL) run_err = uvr_error_for_code(run_rc);
  if (close_err == NULL) close_err = uvr_error_for_code(close_rc);
  close_wins = (close_rc == UVRUN_E_INTERRUPTED || close_rc == UVRUN_E_EXIT) && run_rc != UVRUN_E_INTERRUPTED &&
               run_rc != UVRUN_E_EXIT;
  winner = close_wins ? close_err : run_err;
  other = close_wins ? run_err : close_err;
  uvr_report(r->loop,
             close_wins ? "the main task's error, superseded by an interrupt while closing the loop"
                        : "error while closing the loop after a failed run",
             other, NULL, NULL, NULL);
  uvr_error_set_context(winner, other);
  uvr_fail_error(winner);
  return close_wins ? close_rc : run_rc;
}

int uvrun_run(uvrun_step_fn step, void *arg, const uvrun_options_t *opts, void **result) {
  uvrun_runner_t *r;
  uvrun_error_t *run_err = NULL;
  int rc, close_rc;
  if (result != NULL) *result = NULL;
  if (uvr_running_loop != NULL) /* R9: before anything exists */
    return uvr_fail(UVRUN_E_LOOP_RUNNING, "uvrun_run() cannot be called from a running event loop");
  rc = uvrun_runner_new(opts, &r);
  if (rc < 0) return rc;
  rc = lazy_init(r); /* R13: a loop exists, and is shut down, even for a bad step */
  if (rc < 0) {
    uvr_free(r);
    return rc;
  }
  rc = uvrun_runner_run(r, step, arg, NULL, result);
  if (rc < 0) run_err = uvrun_take_error();
  close_rc = shut_down(r);
  if (close_rc < 0 && rc < 0) {
    rc = settle(r, rc, run_err, close_rc, uvrun_take_error());
  } else if (close_rc < 0) {
    rc = close_rc; /* R62: a close error wins over a result */
  } else if (run_err != NULL) {
    uvr_fail_error(run_err);
  }
  close_loop(r);
  uvr_free(r);
  return rc;
}

const char *uvrun_shutdown_step_name(int step) {
  switch (step) {
  case UVRUN_SHUTDOWN_CANCEL_TASKS: return "cancel_tasks";
  case UVRUN_SHUTDOWN_ASYNCGENS: return "shutdown_asyncgens";
  case UVRUN_SHUTDOWN_EXECUTOR: return "shutdown_default_executor";
  case UVRUN_SHUTDOWN_CLOSE_LOOP: return "close_loop";
  }
  return "unknown";
}
