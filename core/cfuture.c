/* cfuture.c -- a task started from another thread, and the thread-safe
 * future of its outcome (asyncio's run_coroutine_threadsafe and
 * concurrent.futures.Future).
 *
 * A submission crosses to the loop as one item of the thread-safe queue;
 * run there, it starts the task in the submitter's context, unless the
 * future was cancelled first (then the task never runs: asyncio's
 * gh-105836). The loop's thread alone touches the task; other threads touch
 * only the cfuture, under its mutex. While a cfuture is pending its loop's
 * memory is alive: the queue item or the task that will complete it is the
 * loop's to release, and a loop completes every such cfuture (LOOP_CLOSED,
 * or cancelled) before it is freed. That is why a cancel may post to the
 * loop while it holds the cfuture's mutex. */
#include "io.h"

enum { CF_PENDING, CF_DONE, CF_FAILED, CF_CANCELLED };

typedef struct cf_callback {
  uvrun_cfuture_done_fn fn;
  void *ud;
} cf_callback;

struct uvrun_cfuture_s {
  atomic_int refs;
  uv_mutex_t mu;
  uv_cond_t done_cond;
  int state;
  uvrun_loop_t *loop;
  void *value;
  uvrun_free_fn value_free;
  uvrun_error_t *error; /* CF_FAILED, CF_CANCELLED (made on demand) */
  cf_callback *callbacks;
  size_t ncallbacks, callbacks_cap;
  /* until the task starts (the loop's thread after submission) */
  uvrun_step_fn step;
  void *arg;
  uvrun_free_fn arg_free;
  char *name;
  const char *site;
  uvrun_context_t *context; /* given, or NULL: run in ctx */
  uvr_map *ctx;             /* the submitter's context (reference) */
  uvrun_task_t *task;       /* the loop's thread only; a reference */
};

uvrun_cfuture_t *uvrun_cfuture_ref(uvrun_cfuture_t *cf) {
  if (cf != NULL) atomic_fetch_add_explicit(&cf->refs, 1, memory_order_relaxed);
  return cf;
}

void uvrun_cfuture_unref(uvrun_cfuture_t *cf) {
  if (cf == NULL || atomic_fetch_sub_explicit(&cf->refs, 1, memory_order_acq_rel) != 1) return;
  if (cf->value_free != NULL) cf->value_free(cf->value);
  uvrun_error_unref(cf->error);
  uvr_free(cf->callbacks);
  uvr_free(cf->name);
  uv_cond_destroy(&cf->done_cond);
  uv_mutex_destroy(&cf->mu);
  uvr_free(cf);
}

/* Releases what only a task that never started needed. */
static void cf_drop_start(uvrun_cfuture_t *cf) {
  if (cf->arg_free != NULL) cf->arg_free(cf->arg);
  cf->arg_free = NULL;
  uvr_map_unref(cf->ctx);
  cf->ctx = NULL;
}

/* Runs the done callbacks taken out of the mutex by cf_finish(). */
static void cf_run_callbacks(uvrun_cfuture_t *cf, cf_callback *cbs, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) cbs[i].fn(cf, cbs[i].ud);
  uvr_free(cbs);
}

/* Settles a pending cfuture (caller holds mu) and takes its callbacks, to
 * run once mu is released. */
static void cf_settle_locked(uvrun_cfuture_t *cf, int state, cf_callback **cbs, size_t *n) {
  cf->state = state;
  *cbs = cf->callbacks;
  *n = cf->ncallbacks;
  cf->callbacks = NULL;
  cf->ncallbacks = cf->callbacks_cap = 0;
  uv_cond_broadcast(&cf->done_cond);
}

/* Completes cf with an outcome (value with its destructor, or err, a
 * reference taken over), unless it was cancelled meanwhile: the outcome is
 * then released, as asyncio drops a late result. */
static void cf_finish(uvrun_cfuture_t *cf, int state, void *value, uvrun_free_fn value_free, uvrun_error_t *err) {
  cf_callback *cbs;
  size_t n;
  uv_mutex_lock(&cf->mu);
  if (cf->state != CF_PENDING) {
    uv_mutex_unlock(&cf->mu);
    if (value_free != NULL) value_free(value);
    uvrun_error_unref(err);
    return;
  }
  cf->value = value;
  cf->value_free = value_free;
  cf->error = err;
  cf_settle_locked(cf, state, &cbs, &n);
  uv_mutex_unlock(&cf->mu);
  cf_run_callbacks(cf, cbs, n);
}

/* ---- the loop's side ---- */

/* The task ended: its outcome moves to cf (a value with its destructor). */
static void cf_on_task_done(uvrun_future_t *fut, void *ud) {
  uvrun_cfuture_t *cf = ud;
  uvrun_task_t *task = cf->task;
  uvrun_error_t *err = uvrun_future_error(fut);
  cf->task = NULL;
  if (err != NULL) {
    cf_finish(cf, uvrun_future_cancelled(fut) ? CF_CANCELLED : CF_FAILED, NULL, NULL, uvrun_error_ref(err));
  } else {
    fut->value_moved = 1;
    cf_finish(cf, CF_DONE, fut->value, fut->value_free, NULL);
  }
  uvrun_task_unref(task);
  uvrun_cfuture_unref(cf);
}

/* The loop closed with the task pending (no runner cancelled it first). */
static void cf_on_task_dropped(void *ud) {
  uvrun_cfuture_t *cf = ud;
  uvrun_task_t *task = cf->task;
  cf->task = NULL;
  cf_finish(cf, CF_CANCELLED, NULL, NULL, uvr_cancelled_with("the loop closed before the task finished"));
  uvrun_task_unref(task);
  uvrun_cfuture_unref(cf);
}

/* Runs in the submitter's context, so that the task copies it (R31). */
static void cf_start_task(void *ud) {
  uvrun_cfuture_t *cf = ud;
  uvrun_task_opts_t opts;
  uvrun_task_t *task = NULL;
  uvrun_task_opts_init(&opts);
  opts.name = cf->name;
  opts.context = cf->context;
  opts.arg_free = cf->arg_free;
  opts.site = cf->site;
  cf->arg_free = NULL; /* the task's now, or run by a failing task_new */
  if (uvrun_task_new(cf->loop, cf->step, cf->arg, &opts, &task) < 0) {
    cf_finish(cf, CF_FAILED, NULL, NULL, uvrun_take_error());
    return;
  }
  cf->task = task;
  if (uvrun_future_add_done_callback_owned(uvrun_task_future(task), cf_on_task_done, uvrun_cfuture_ref(cf),
                                           cf_on_task_dropped) < 0) {
    cf->task = NULL;
    uvrun_task_cancel(task, NULL);
    uvrun_task_unref(task);
    cf_finish(cf, CF_FAILED, NULL, NULL, uvrun_take_error());
    uvrun_cfuture_unref(cf);
  }
}

/* The submission's queue item: starts the task, unless cf was cancelled
 * first; run = 0 means the loop closed (or lost it for lack of memory). */
static void cf_run_submission(uvrun_loop_t *loop, uvr_item *it, int run) {
  uvrun_cfuture_t *cf = it->a;
  int cancelled;
  uv_mutex_lock(&cf->mu);
  cancelled = cf->state != CF_PENDING;
  uv_mutex_unlock(&cf->mu);
  if (run && !cancelled) {
    uvr_call_in_map(cf->ctx, cf_start_task, cf);
  } else if (!cancelled) {
    int code = loop->closed ? UVRUN_E_LOOP_CLOSED : UVRUN_E_NOMEM;
    cf_finish(cf, CF_FAILED, NULL, NULL, uvr_error_make(code, uvrun_strerror(code)));
  }
  cf_drop_start(cf);
  uvr_free(cf->name);
  cf->name = NULL;
  uvrun_cfuture_unref(cf);
}

/* A cancel's queue item: the task, if it started, is cancelled on its
 * thread. */
static void cf_run_cancel(uvrun_loop_t *loop, uvr_item *it, int run) {
  uvrun_cfuture_t *cf = it->a;
  (void)loop;
  if (run && cf->task != NULL) uvrun_task_cancel(cf->task, NULL);
  uvrun_cfuture_unref(cf);
}

/* ---- any thread ---- */

static uvrun_cfuture_t *cfuture_new(uvrun_loop_t *loop) {
  uvrun_cfuture_t *cf = uvr_calloc(1, sizeof *cf);
  if (cf == NULL) return NULL;
  if (uv_mutex_init(&cf->mu) != 0) {
    uvr_free(cf);
    return NULL;
  }
  if (uv_cond_init(&cf->done_cond) != 0) {
    uv_mutex_destroy(&cf->mu);
    uvr_free(cf);
    return NULL;
  }
  atomic_init(&cf->refs, 1);
  cf->loop = loop;
  return cf;
}

int uvrun_submit_threadsafe(uvrun_loop_t *loop, uvrun_step_fn step, void *arg, const uvrun_task_opts_t *opts,
                            uvrun_cfuture_t **out) {
  uvrun_free_fn arg_free = opts != NULL ? opts->arg_free : NULL;
  uvrun_cfuture_t *cf;
  int rc;
  if (out != NULL) *out = NULL;
  if (loop == NULL || step == NULL || out == NULL) {
    if (arg_free != NULL) arg_free(arg);
    return uvr_fail(UVRUN_E_INVAL, "submit_threadsafe() needs a loop, a step function and somewhere to put the future");
  }
  cf = cfuture_new(loop);
  if (cf == NULL || (opts != NULL && opts->name != NULL && (cf->name = uvr_strdup(opts->name)) == NULL)) {
    uvrun_cfuture_unref(cf);
    if (arg_free != NULL) arg_free(arg);
    return uvr_fail(UVRUN_E_NOMEM, "out of memory");
  }
  cf->step = step;
  cf->arg = arg;
  cf->arg_free = arg_free;
  cf->site = opts != NULL ? opts->site : NULL;
  cf->context = opts != NULL ? opts->context : NULL;
  cf->ctx = uvr_map_ref(uvr_context_current()->map);
  if ((rc = uvr_loop_push_threadsafe(loop, cf_run_submission, uvrun_cfuture_ref(cf))) < 0) {
    cf_drop_start(cf);
    uvrun_cfuture_unref(cf);
    uvrun_cfuture_unref(cf);
    return uvr_fail(rc, "%s", uvrun_strerror(rc));
  }
  *out = cf;
  return 0;
}

/* Seconds beyond which a deadline in nanoseconds would overflow (292
 * years): a longer timeout, INFINITY included, is no limit. */
#define CF_WAIT_LIMIT ((double)(INT64_MAX / 1000000000))

int uvrun_cfuture_wait(uvrun_cfuture_t *cf, double timeout) {
  uint64_t deadline = 0;
  int forever = !(timeout >= 0 && timeout < CF_WAIT_LIMIT);
  int rc = 0;
  if (cf == NULL) return uvr_fail(UVRUN_E_INVAL, "cfuture must not be NULL");
  uv_mutex_lock(&cf->mu);
  if (cf->state == CF_PENDING && uvr_running_loop == cf->loop) {
    uv_mutex_unlock(&cf->mu);
    return uvr_fail(UVRUN_E_WOULD_DEADLOCK, "a blocking wait on the thread of the loop that completes the future");
  }
  if (!forever) deadline = uv_hrtime() + uvr_seconds_to_ns(timeout);
  while (cf->state == CF_PENDING && rc == 0) {
    if (forever) {
      uv_cond_wait(&cf->done_cond, &cf->mu);
    } else {
      uint64_t now = uv_hrtime();
      if (now >= deadline || uv_cond_timedwait(&cf->done_cond, &cf->mu, deadline - now) == UV_ETIMEDOUT)
        rc = cf->state == CF_PENDING ? UVRUN_E_TIMEDOUT : 0;
    }
  }
  uv_mutex_unlock(&cf->mu);
  return rc < 0 ? uvr_fail(rc, "the future was not done within %g seconds", timeout) : 0;
}

static int cf_state(uvrun_cfuture_t *cf) {
  int state;
  uv_mutex_lock(&cf->mu);
  state = cf->state;
  uv_mutex_unlock(&cf->mu);
  return state;
}

int uvrun_cfuture_done(uvrun_cfuture_t *cf) { return cf != NULL && cf_state(cf) != CF_PENDING; }

int uvrun_cfuture_cancelled(uvrun_cfuture_t *cf) { return cf != NULL && cf_state(cf) == CF_CANCELLED; }

/* The error of a done cfuture (mu held): a cancelled one's is made when
 * first asked for. */
static uvrun_error_t *cf_error_locked(uvrun_cfuture_t *cf) {
  if (cf->state == CF_CANCELLED && cf->error == NULL) cf->error = uvr_error_make(UVRUN_E_CANCELLED, "cancelled");
  return cf->state == CF_DONE ? NULL : cf->error;
}

int uvrun_cfuture_result(uvrun_cfuture_t *cf, void **value) {
  uvrun_error_t *err;
  if (cf == NULL) return uvr_fail(UVRUN_E_INVAL, "cfuture must not be NULL");
  uv_mutex_lock(&cf->mu);
  if (cf->state == CF_PENDING) {
    uv_mutex_unlock(&cf->mu);
    return uvr_fail(UVRUN_E_INVALID_STATE, "Result is not set.");
  }
  if ((err = uvrun_error_ref(cf_error_locked(cf))) == NULL && value != NULL) *value = cf->value;
  uv_mutex_unlock(&cf->mu);
  return err != NULL ? uvr_fail_error(err) : 0;
}

uvrun_error_t *uvrun_cfuture_error(uvrun_cfuture_t *cf) {
  uvrun_error_t *err = NULL;
  if (cf == NULL) return NULL;
  uv_mutex_lock(&cf->mu);
  if (cf->state != CF_PENDING) err = uvrun_error_ref(cf_error_locked(cf));
  uv_mutex_unlock(&cf->mu);
  return err;
}

int uvrun_cfuture_cancel(uvrun_cfuture_t *cf) {
  cf_callback *cbs;
  size_t n;
  if (cf == NULL) return 0;
  uv_mutex_lock(&cf->mu);
  if (cf->state != CF_PENDING) {
    uv_mutex_unlock(&cf->mu);
    return 0;
  }
  /* Posted under mu: the loop cannot complete cf, and so cannot be freed,
   * before the post is in. A closed loop has nothing left to cancel. */
  if (uvr_loop_push_threadsafe(cf->loop, cf_run_cancel, uvrun_cfuture_ref(cf)) < 0) uvrun_cfuture_unref(cf);
  cf_settle_locked(cf, CF_CANCELLED, &cbs, &n);
  uv_mutex_unlock(&cf->mu);
  cf_run_callbacks(cf, cbs, n);
  return 1;
}

int uvrun_cfuture_add_done_callback(uvrun_cfuture_t *cf, uvrun_cfuture_done_fn cb, void *ud) {
  if (cf == NULL || cb == NULL) return uvr_fail(UVRUN_E_INVAL, "a callable object was expected by add_done_callback()");
  uv_mutex_lock(&cf->mu);
  if (cf->state != CF_PENDING) {
    uv_mutex_unlock(&cf->mu);
    cb(cf, ud);
    return 0;
  }
  if (cf->ncallbacks == cf->callbacks_cap) {
    size_t cap = cf->callbacks_cap ? cf->callbacks_cap * 2 : 2;
    cf_callback *grown = uvr_realloc(cf->callbacks, cap * sizeof *grown);
    if (grown == NULL) {
      uv_mutex_unlock(&cf->mu);
      return uvr_fail(UVRUN_E_NOMEM, "out of memory");
    }
    cf->callbacks = grown;
    cf->callbacks_cap = cap;
  }
  cf->callbacks[cf->ncallbacks].fn = cb;
  cf->callbacks[cf->ncallbacks++].ud = ud;
  uv_mutex_unlock(&cf->mu);
  return 0;
}

/* ---- awaiting from another loop ---- */

/* What links a cfuture to a future on the waiting loop. Counted atomically:
 * the cfuture's callback (any thread) and the future (the waiting loop's
 * thread) each hold it. `fut` is touched on the waiting loop's thread only
 * and cleared when the future is freed. */
typedef struct cf_link {
  atomic_int refs;
  uv_mutex_t mu; /* the future's end versus the cfuture's callback */
  uvrun_cfuture_t *cf;
  uvrun_future_t *fut;
  uvrun_loop_t *loop; /* alive while fut is: it holds the loop */
} cf_link;

static void link_unref(cf_link *l) {
  if (atomic_fetch_sub_explicit(&l->refs, 1, memory_order_acq_rel) != 1) return;
  uvrun_cfuture_unref(l->cf);
  uv_mutex_destroy(&l->mu);
  uvr_free(l);
}

static cf_link **link_slot(uvrun_future_t *fut) { return uvr_io_future_state(fut); }

/* On the waiting loop: the future takes cf's outcome (value borrowed). */
static void cf_run_settle(uvrun_loop_t *loop, uvr_item *it, int run) {
  cf_link *l = it->a;
  uvrun_future_t *fut = l->fut;
  (void)loop;
  if (run && fut != NULL && !uvrun_future_done(fut)) {
    void *value = NULL;
    uvrun_future_ref(fut);
    if (uvrun_cfuture_cancelled(l->cf)) {
      uvrun_future_cancel(fut, NULL);
    } else if (uvrun_cfuture_result(l->cf, &value) < 0) {
      uvrun_future_set_error(fut, uvrun_take_error());
    } else {
      uvrun_future_set_result(fut, value, NULL);
    }
    uvrun_future_unref(fut);
  }
  link_unref(l);
}

/* Posted under the link's mutex while the future lives, so the waiting loop
 * is still there; a future already freed needs no news. */
static void on_cfuture_done(uvrun_cfuture_t *cf, void *ud) {
  cf_link *l = ud;
  int posted;
  (void)cf;
  uv_mutex_lock(&l->mu);
  posted = l->fut != NULL && uvr_loop_push_threadsafe(l->loop, cf_run_settle, l) == 0;
  uv_mutex_unlock(&l->mu);
  if (!posted) link_unref(l);
}

static int link_cancel(uvrun_future_t *fut, const char *msg) {
  cf_link *l = *link_slot(fut);
  int rc = uvr_future_cancel_plain(fut, msg);
  if (rc == 1) uvrun_cfuture_cancel(l->cf);
  return rc;
}

static void link_free(uvrun_future_t *fut) {
  cf_link *l = *link_slot(fut);
  uv_mutex_lock(&l->mu);
  l->fut = NULL;
  uv_mutex_unlock(&l->mu);
  link_unref(l);
}

static const uvr_io_kind cf_wait_kind = {"wrap_cfuture", link_cancel, link_free, NULL};

uvrun_future_t *uvrun_wrap_cfuture(uvrun_loop_t *loop, uvrun_cfuture_t *cf) {
  uvrun_future_t *fut;
  cf_link *l;
  if (cf == NULL) {
    uvr_fail(UVRUN_E_INVAL, "wrap_cfuture: cfuture must not be NULL");
    return NULL;
  }
  if (uvr_io_check_loop(loop, "wrap_cfuture") < 0) return NULL;
  if ((l = uvr_calloc(1, sizeof *l)) == NULL || uv_mutex_init(&l->mu) != 0) {
    uvr_free(l);
    uvr_fail(UVRUN_E_NOMEM, "out of memory");
    return NULL;
  }
  if ((fut = uvr_io_future_new(loop, &cf_wait_kind, sizeof l)) == NULL) {
    uv_mutex_destroy(&l->mu);
    uvr_free(l);
    return NULL;
  }
  atomic_init(&l->refs, 2);
  l->cf = uvrun_cfuture_ref(cf);
  l->fut = fut;
  l->loop = loop;
  *link_slot(fut) = l;
  if (uvrun_cfuture_add_done_callback(cf, on_cfuture_done, l) < 0) {
    link_unref(l);
    uvrun_future_unref(fut);
    return NULL;
  }
  return fut;
}
