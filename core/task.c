/* task.c -- the C coroutine: a step function driven from the ready queue.
 *
 * A step runs until it awaits a future (UVRUN_SUSPEND), finishes (0) or
 * fails (a negative code). The task is woken by the awaited future's done
 * callback, which the loop runs from its ready queue, never from inside a
 * libuv callback. Cancellation follows asyncio's Task.cancel (R51). */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "internal.h"

static void task_step(uvrun_task_t *task, uvrun_future_t *from);
static void task_wakeup(uvrun_future_t *fut, void *ud);
static int task_cancel_hook(uvrun_future_t *fut, const char *msg);

/* ---- the loop's list of pending tasks ---- */

static void list_add(uvrun_task_t *task) {
  uvrun_loop_t *loop = task->fut.loop;
  task->fut.link_next = NULL;
  task->fut.link_prev = NULL;
  if (loop->tasks != NULL) {
    /* Append: keeps creation order for all_tasks and shutdown reports. */
    uvrun_future_t *tail = loop->tasks->fut.link_prev;
    tail->link_next = &task->fut;
    task->fut.link_prev = tail;
  } else {
    loop->tasks = task;
  }
  loop->tasks->fut.link_prev = &task->fut; /* head->prev is the tail */
  task->in_list = 1;
  loop->ntasks++;
}

static void list_remove(uvrun_task_t *task) {
  uvrun_loop_t *loop = task->fut.loop;
  uvrun_future_t *prev = task->fut.link_prev, *next = task->fut.link_next;
  if (!task->in_list) return;
  if (task == loop->tasks) {
    loop->tasks = (uvrun_task_t *)next;
    if (next != NULL) next->link_prev = prev;
  } else {
    prev->link_next = next;
    if (next != NULL) {
      next->link_prev = prev;
    } else {
      loop->tasks->fut.link_prev = prev;
    }
  }
  task->in_list = 0;
  task->fut.link_next = task->fut.link_prev = NULL;
  loop->ntasks--;
}

/* ---- scheduling ---- */

void uvr_task_run_step(uvrun_loop_t *loop, uvr_item *it, int run) {
  uvrun_task_t *task = it->a;
  (void)loop;
  if (run) task_step(task, NULL);
  uvrun_task_unref(task);
}

/* A task's own sleep (uvrun_task_sleep), due: its next step. */
const uvr_timer_ops uvr_task_timer_ops = {uvr_task_run_step, offsetof(uvrun_task_t, timer)};

/* Queues the task's next step on the word it keeps in reserve: NOMEM only
 * once a misuse queued its step twice (uvr_ready_push_reserved). */
UVR_HOT_INLINE int schedule_step(uvrun_task_t *task) {
  uvr_item it = {uvr_task_run_step, {NULL}, task, NULL, {NULL}, NULL};
  if (uvr_loop_push(task->fut.loop, &it) < 0) return UVRUN_E_NOMEM;
  task->fut.refs++;
  return 0;
}

const uvrun_task_t *uvr_item_task(const uvr_item *it) {
  if (it->run == uvr_task_run_step) return it->a;
  if (it->fn.done == task_wakeup) return it->b;
  return NULL;
}

/* ---- creation and destruction ---- */

static void task_free(uvrun_future_t *fut) {
  uvrun_task_t *task = (uvrun_task_t *)fut;
  if (fut->state == UVR_PENDING)
    uvr_report(fut->loop, "Task was destroyed but it is pending!", NULL, task, NULL, uvr_task_site(task));
  list_remove(task);
  if (task->waiter != NULL) {
    uvrun_future_remove_done_callback(task->waiter, task_wakeup, task);
    uvrun_future_unref(task->waiter);
  }
  uvr_task_who_free(task);
  if (!task->ctx_given) uvr_map_unref(task->ctx.own.map);
  if (task->arg_free != NULL) task->arg_free(task->arg);
  uvr_loop_unreserve(fut->loop, 1); /* its step's word */
}
const uvr_future_ops uvr_task_ops = {task_cancel_hook, task_free, NULL};

void uvrun_task_opts_init(uvrun_task_opts_t *opts) {
  if (opts == NULL) return;
  memset(opts, 0, sizeof *opts);
  opts->size = sizeof *opts;
}

/* Whether an options struct of the caller's version has that field. */
#define HAS_OPT(opts, field) ((opts)->size >= offsetof(uvrun_task_opts_t, field) + sizeof(opts)->field)

int uvrun_task_new(uvrun_loop_t *loop, uvrun_step_fn step, void *arg, const uvrun_task_opts_t *opts,
                   uvrun_task_t **out) {
  uvrun_task_opts_t o;
  uvrun_task_t *task;
  int rc;
  uvrun_task_opts_init(&o);
  if (opts != NULL) {
    /* Field by field: the caller just wrote them, and a block copy would
     * read them back wider than they were stored (a forwarding stall). */
    if (HAS_OPT(opts, name)) o.name = opts->name;
    if (HAS_OPT(opts, context)) o.context = opts->context;
    if (HAS_OPT(opts, arg_free)) o.arg_free = opts->arg_free;
    if (HAS_OPT(opts, site)) o.site = opts->site;
  }
  if (out != NULL) *out = NULL;
  if (loop == NULL || step == NULL) {
    rc = uvr_fail(UVRUN_E_INVAL, "A future, a step function or an awaitable is required");
    goto reject;
  }
  if (loop->closed) {
    rc = uvr_fail(UVRUN_E_LOOP_CLOSED, "Event loop is closed");
    goto reject;
  }
  /* The word its steps take on the ready queue, kept while it lives: its
   * wake-ups never need memory. */
  if (uvr_loop_reserve(loop, 1) < 0) goto nomem;
  if ((task = uvr_task_cache_take(loop)) != NULL) {
    memset(task, 0, sizeof *task);
  } else if ((task = uvr_calloc(1, sizeof *task)) == NULL) {
    goto nomem_reserved;
  }
  if (uvr_task_who_init(task, o.name, o.site, loop->task_counter + 1) < 0) goto nomem_task;
  loop->task_counter++; /* numbers count every task, named or not */
  if (o.context != NULL) {
    task->ctx.given = o.context; /* R31: the task runs in that very context */
    task->ctx_given = 1;
  } else {
    task->ctx.own.map = uvr_map_ref(uvr_context_current()->map); /* O(1) copy */
  }
  uvr_future_init(&task->fut, loop);
  task->fut.kind = UVR_FUT_TASK;
  task->step = step;
  task->arg = arg;
  task->arg_free = o.arg_free;
  schedule_step(task); /* on the word just reserved: it cannot fail */
  list_add(task);      /* the creation reference is the list's */
  if (out != NULL) {
    task->fut.refs++;
    *out = task;
  }
  return 0;

nomem_task:
  uvr_free(task);
nomem_reserved:
  uvr_loop_unreserve(loop, 1);
nomem:
  rc = uvr_fail(UVRUN_E_NOMEM, "out of memory");
reject:
  /* D1: a rejected step function never runs, and its state is released. */
  if (o.arg_free != NULL) o.arg_free(arg);
  return rc;
}

uvrun_task_t *uvrun_task_ref(uvrun_task_t *task) {
  if (task != NULL) task->fut.refs++;
  return task;
}

void uvrun_task_unref(uvrun_task_t *task) {
  if (task != NULL) uvrun_future_unref(&task->fut);
}

uvrun_future_t *uvrun_task_future(uvrun_task_t *task) { return task != NULL ? &task->fut : NULL; }
uvrun_loop_t *uvrun_task_loop(const uvrun_task_t *task) { return task != NULL ? task->fut.loop : NULL; }

/* ---- a pending cancellation ---- */

/* The message of a cancellation not yet delivered is kept as the
 * CancelledError it will throw, in the error slot a pending future does
 * not use (asyncio keeps _cancel_message). */
static uvrun_error_t *take_pending_cancel(uvrun_task_t *task) {
  uvrun_error_t *err = task->fut.error;
  task->fut.error = NULL;
  return err;
}

static const char *pending_cancel_msg(const uvrun_task_t *task) {
  return task->fut.error != NULL ? task->fut.error->message : NULL;
}

static void set_pending_cancel(uvrun_task_t *task, const char *msg) {
  uvrun_error_t *err = uvr_cancelled_with(msg); /* first: msg may be the old one's */
  uvrun_error_unref(take_pending_cancel(task));
  task->fut.error = err;
}

/* ---- finishing ---- */

static void finish(uvrun_task_t *task, int state, uvrun_error_t *err, const char *cancel_msg) {
  uvrun_future_t *fut = &task->fut;
  uvrun_error_t *pending = take_pending_cancel(task); /* cancel_msg may be its text */
  fut->state = (uint8_t)state;
  if (state != UVR_RESULT && fut->value_free != NULL) {
    fut->value_free(fut->value);
    fut->value_free = NULL;
  }
  if (state != UVR_RESULT) fut->value = NULL;
  if (state == UVR_ERROR) fut->error = err;
  if (state == UVR_CANCELLED) {
    fut->error = uvr_cancelled_with(cancel_msg);
    uvrun_error_unref(err); /* after: cancel_msg may be its text */
  }
  uvrun_error_unref(pending);
  uvr_future_schedule_callbacks(fut);
  list_remove(task);
  uvrun_future_unref(fut); /* the list's reference; the caller holds one */
}

/* The error a failing step stands for: what it raised or what was thrown
 * into it, with the same code (re-raised unchanged), or a new one. */
static uvrun_error_t *error_for(const uvr_step *step, int rc) {
  if (step->thrown != NULL && step->thrown->code == rc) return uvrun_error_ref(step->thrown);
  return uvr_error_for_code(rc);
}

/* What the step will see from uvrun_task_resume(): the outcome of `from`
 * (its reference taken over), replacing what it saw before. */
static void resume_from(uvr_step *step, uvrun_future_t *from) {
  uvrun_error_unref(step->thrown);
  step->thrown = NULL;
  uvrun_future_unref(step->from);
  step->from = from;
  if (from == NULL) return;
  if (from->state == UVR_CANCELLED) {
    step->thrown = uvrun_error_ref(uvr_future_cancelled_error(from));
  } else if (from->state == UVR_ERROR) {
    from->retrieved = 1;
    step->thrown = uvrun_error_ref(from->error);
  }
}

UVR_TLS_FAST uvr_step *uvr_running_step;

/* The running step of `task`, or NULL. */
static uvr_step *step_of(const uvrun_task_t *task) {
  uvr_step *step = uvr_running_step;
  return step != NULL && step->task == task ? step : NULL;
}

uvrun_future_t *uvr_task_resumed_from(const uvrun_task_t *task) {
  uvr_step *step = step_of(task);
  return step != NULL ? step->from : NULL;
}

/* Cancels the task's own sleep, as cancelling the sleep future it would
 * otherwise await (R51): the next step runs now, and its
 * uvrun_task_resume() reports the pending cancellation (sleep_cancelled).
 * 0 if there is no sleep to cancel (or, after a misuse, no memory to wake
 * the task early: it then wakes at the deadline). */
static int cancel_sleep(uvrun_task_t *task) {
  if (!task->sleeping || !task->timer.in_heap || task->timer.cancelled) return 0;
  if (schedule_step(task) < 0) return 0;
  uvr_timer_cancel(task->fut.loop, &task->timer);
  task->sleep_cancelled = 1;
  return 1;
}

/* A cancelled sleep's CancelledError, kept for the next step
 * (sleep_cancelled), becomes the cancellation that step takes in. */
static void take_cancelled_sleep(uvrun_task_t *task) {
  if (!task->sleep_cancelled) return;
  task->sleep_cancelled = 0;
  task->must_cancel = 1;
}

/* Throws a pending cancellation into the step (asyncio's __step). 1 when
 * the task had not started: it then finishes cancelled, its body unrun. */
static int deliver_cancel(uvrun_task_t *task, uvr_step *step) {
  uvrun_error_t *pending = take_pending_cancel(task);
  task->must_cancel = 0;
  /* A cancellation already on its way in keeps its message (asyncio's
   * __step only replaces what is not a CancelledError). */
  if (step->thrown == NULL || step->thrown->code != UVRUN_E_CANCELLED) {
    uvrun_error_unref(step->thrown);
    step->thrown = pending != NULL ? pending : uvr_error_make(UVRUN_E_CANCELLED, "");
  } else {
    uvrun_error_unref(pending);
  }
  if (task->started) return 0;
  /* Like throwing into an unstarted coroutine: the body never runs. */
  finish(task, UVR_CANCELLED, NULL, step->thrown->message);
  return 1;
}

/* Runs the step function once, as its loop's current task, inside the
 * task's context. */
static int run_body(uvrun_task_t *task) {
  uvrun_loop_t *loop = task->fut.loop;
  uvrun_context_t *ctx = uvr_task_ctx(task);
  uvrun_task_t *prev;
  int rc;
  task->started = 1;
  if (ctx->prev != NULL) /* entered */
    return uvr_fail(UVRUN_E_CONTEXT_ENTERED, "cannot enter context: it is already entered");
  prev = loop->current_task;
  loop->current_task = task;
  uvr_context_enter(ctx);
  rc = task->step(task, task->arg);
  uvr_context_exit(ctx);
  loop->current_task = prev;
  return rc;
}

/* A cancellation that came while the task ran goes on to what it awaits. */
static void forward_cancel(uvrun_task_t *task) {
  /* The message is handed down the chain of awaits, which may come back to
   * this task: it owns the message meanwhile, and forwarding_cancel keeps
   * that second cancel from touching it. */
  uvrun_error_t *pending = take_pending_cancel(task);
  int done;
  task->forwarding_cancel = 1;
  done = uvrun_future_cancel(task->waiter, pending != NULL ? pending->message : NULL);
  task->forwarding_cancel = 0;
  if (done) task->must_cancel = 0;
  if (done || task->fut.error != NULL) uvrun_error_unref(pending);
  else task->fut.error = pending;
}

enum { STEP_SUSPENDED = 0, STEP_RESUME = 1 };

/* The body returned UVRUN_SUSPEND: the task waits for its next step,
 * queued at once after a yield, due with its own sleep, or run by what it
 * awaits. STEP_SUSPENDED; STEP_RESUME when what it awaits is done already;
 * or the code the step fails with (recorded). */
static int suspend(uvrun_task_t *task, uvr_step *step) {
  uvrun_future_t *w = task->waiter;
  if (task->yielded) {
    task->yielded = 0;
    if (schedule_step(task) < 0) finish(task, UVR_ERROR, uvr_error_make(UVRUN_E_NOMEM, "out of memory"), NULL);
    return STEP_SUSPENDED;
  }
  if (task->sleeping) {
    if (task->must_cancel && cancel_sleep(task)) task->must_cancel = 0;
    return STEP_SUSPENDED;
  }
  if (w == NULL) return uvr_fail(UVRUN_E_INVALID_STATE, "step returned UVRUN_SUSPEND without awaiting a future");
  if (w->state != UVR_PENDING) {
    /* Awaiting a done future does not suspend: resume at once. */
    task->waiter = NULL;
    resume_from(step, w);
    return STEP_RESUME;
  }
  if (task->must_cancel) forward_cancel(task);
  if (uvrun_future_add_done_callback(task->waiter, task_wakeup, task) < 0)
    finish(task, UVR_ERROR, uvr_error_make(UVRUN_E_NOMEM, "out of memory"), NULL);
  return STEP_SUSPENDED;
}

/* The body is done (rc >= 0) or failed (rc < 0): the task finishes with
 * its result, its cancellation or its error. */
static void handle_result(uvrun_task_t *task, const uvr_step *step, int rc) {
  uvrun_loop_t *loop = task->fut.loop;
  if (task->waiter != NULL) {
    /* Finishing with an await pending: the future is not ours to keep. */
    uvrun_future_unref(task->waiter);
    task->waiter = NULL;
  }
  if (task->sleeping) {
    uvr_timer_cancel(loop, &task->timer); /* and the sleep is not either */
    task->sleeping = 0;
  }
  take_cancelled_sleep(task); /* its sleep was cancelled in this very step */
  if (rc >= 0) {
    if (task->must_cancel) {
      /* Cancelled right before the step finished (asyncio does the same). */
      task->must_cancel = 0;
      finish(task, UVR_CANCELLED, NULL, pending_cancel_msg(task));
    } else {
      finish(task, UVR_RESULT, NULL, NULL);
    }
  } else {
    uvrun_error_t *err = error_for(step, rc);
    if (rc == UVRUN_E_CANCELLED) {
      finish(task, UVR_CANCELLED, err, err->message);
    } else {
      /* R38: an interrupt or exit raised in a step unwinds the loop; it
       * reaches the caller, so it counts as retrieved. */
      int unwinds = rc == UVRUN_E_INTERRUPTED || rc == UVRUN_E_EXIT;
      if (unwinds) uvr_loop_raise(loop, uvrun_error_ref(err));
      task->fut.retrieved = (uint8_t)unwinds;
      finish(task, UVR_ERROR, err, NULL);
    }
  }
}

/* asyncio's __step_run_and_handle_result: runs the body until the task
 * suspends or finishes; again at once when what it awaits is done. */
static void run_and_handle_result(uvrun_task_t *task, uvr_step *step) {
  for (;;) {
    int rc;
    if (task->must_cancel && deliver_cancel(task, step)) return;
    step->fail_mark = uvr_fail_serial;
    rc = run_body(task);
    if (rc == UVRUN_SUSPEND) {
      rc = suspend(task, step);
      if (rc == STEP_RESUME) continue;
      if (rc == STEP_SUSPENDED) return;
    }
    handle_result(task, step, rc);
    return;
  }
}

/* Runs the task's next step, resumed from `from` (a reference, or NULL). */
static void task_step(uvrun_task_t *task, uvrun_future_t *from) {
  uvr_step step = {task, NULL, NULL, 0}, *outer;
  if (task->fut.state != UVR_PENDING) {
    uvrun_future_unref(from);
    return;
  }
  task->fut.refs++; /* finishing drops the list's reference */
  outer = uvr_running_step;
  uvr_running_step = &step;
  if (from != NULL) resume_from(&step, from);
  if (task->sleeping) task->sleeping = 0; /* woken by its timer, or by a cancel */
  take_cancelled_sleep(task);             /* cancelled between steps: thrown in now */
  run_and_handle_result(task, &step);
  uvr_running_step = outer;
  /* The step is over: what it resumed with goes (a yield or a timer's
   * wake-up resumed with nothing). */
  if (UVR_UNLIKELY(step.from != NULL || step.thrown != NULL)) resume_from(&step, NULL);
  uvrun_task_unref(task);
}

static void task_wakeup(uvrun_future_t *fut, void *ud) {
  uvrun_task_t *task = ud;
  if (task->waiter != fut) return; /* stale: the task moved on */
  task->waiter = NULL;
  task_step(task, fut); /* the waiter's reference goes with it */
}

/* ---- inside a step ---- */

/* A step suspends on one thing: a future, a yield or its own sleep. */
static int awaits_already(const uvrun_task_t *task) { return task->waiter != NULL || task->yielded || task->sleeping; }
static int one_at_a_time(void) { return uvr_fail(UVRUN_E_INVALID_STATE, "a step awaits one future at a time"); }

int uvrun_task_await(uvrun_task_t *task, uvrun_future_t *fut) {
  if (fut == NULL) /* the producer's failure, when it was just now */
    return uvr_failed_in_step() && uvr_last_code() < 0 ? uvr_last_code()
                                                       : uvr_fail(UVRUN_E_INVAL, "uvrun_task_await() needs a future");
  if (task == NULL) {
    uvrun_future_unref(fut);
    return uvr_fail(UVRUN_E_INVAL, "task must not be NULL");
  }
  if (fut->loop != task->fut.loop) {
    uvrun_future_unref(fut);
    return uvr_fail(UVRUN_E_INVAL, "Task got Future attached to a different loop");
  }
  if (fut == &task->fut) {
    uvrun_future_unref(fut);
    return uvr_fail(UVRUN_E_INVAL, "Task cannot await on itself");
  }
  if (awaits_already(task)) {
    uvrun_future_unref(fut);
    return one_at_a_time();
  }
  task->waiter = fut;
  return UVRUN_SUSPEND;
}

int uvrun_task_yield(uvrun_task_t *task) {
  if (task == NULL) return uvr_fail(UVRUN_E_INVAL, "task must not be NULL");
  if (task->waiter != NULL || task->sleeping) return one_at_a_time(); /* a second yield is the same one */
  task->yielded = 1;
  return UVRUN_SUSPEND;
}

int uvrun_task_sleep(uvrun_task_t *task, double seconds) {
  if (task == NULL) return uvr_fail(UVRUN_E_INVAL, "task must not be NULL");
  if (isnan(seconds)) return uvr_fail(UVRUN_E_INVAL, "sleep needs a number of seconds, not NaN");
  if (awaits_already(task)) return one_at_a_time();
  if (seconds <= 0) return uvrun_task_yield(task); /* asyncio.sleep(0) */
  /* A cancelled sleep's timer stays in the heap until its deadline: the
   * next sleep before then takes a future of its own. */
  if (task->timer.in_heap) return uvrun_task_await(task, uvrun_sleep(task, seconds));
  task->timer.kind = UVR_TIMER_TASK;
  task->timer.cancelled = 0;
  if (uvr_timer_start(task->fut.loop, &task->timer, seconds) < 0) return uvr_last_code();
  task->fut.refs++; /* the heap's */
  task->sleeping = 1;
  return UVRUN_SUSPEND;
}

int uvrun_task_resume(uvrun_task_t *task, void **value) {
  uvr_step *step;
  if (value != NULL) *value = NULL;
  if (task == NULL) return uvr_fail(UVRUN_E_INVAL, "task must not be NULL");
  if ((step = step_of(task)) == NULL) return 0;
  if (step->thrown != NULL) return uvr_fail(step->thrown->code, "%s", step->thrown->message);
  if (step->from != NULL) {
    uvr_future_take(step->from);
    if (value != NULL) *value = step->from->value;
  }
  return 0;
}

uvrun_error_t *uvrun_task_resume_error(uvrun_task_t *task) {
  uvr_step *step = task != NULL ? step_of(task) : NULL;
  return step != NULL ? step->thrown : NULL;
}

int uvrun_task_return_owned(uvrun_task_t *task, void *value, uvrun_free_fn value_free) {
  if (task == NULL) return uvr_fail(UVRUN_E_INVAL, "task must not be NULL");
  if (task->fut.value_free != NULL) task->fut.value_free(task->fut.value);
  task->fut.value = value;
  task->fut.value_free = value_free;
  return 0;
}

int uvrun_task_return(uvrun_task_t *task, void *value) { return uvrun_task_return_owned(task, value, NULL); }

int uvrun_task_raise(uvrun_task_t *task, uvrun_error_t *err) {
  if (task == NULL || err == NULL) {
    uvrun_error_unref(err);
    return uvr_fail(UVRUN_E_INVAL, "task and error must not be NULL");
  }
  uvr_step *step = step_of(task);
  int code = err->code;
  uvr_fail(code, "%s", err->message);
  if (step != NULL) {
    uvrun_error_unref(step->thrown);
    step->thrown = err;
  } else {
    uvrun_error_unref(err); /* outside its step there is no step to fail */
  }
  return code;
}

/* ---- cancellation (R51) ---- */

int uvr_task_cancel(uvrun_task_t *task, const char *msg) {
  int cancelled;
  /* Reached again through what it awaits (tasks awaiting each other, or a
   * gather of itself): one cancel is enough, and recursing would never end. */
  if (task->fut.state != UVR_PENDING || task->forwarding_cancel) return 0;
  task->num_cancels++;
  if (task->sleep_cancelled) return 1; /* a CancelledError is on its way in: it keeps its message */
  if (task->waiter != NULL) {
    task->forwarding_cancel = 1;
    cancelled = uvrun_future_cancel(task->waiter, msg);
    task->forwarding_cancel = 0;
    if (cancelled) return 1;
  }
  set_pending_cancel(task, msg);
  if (cancel_sleep(task)) return 1;
  task->must_cancel = 1;
  return 1;
}

static int task_cancel_hook(uvrun_future_t *fut, const char *msg) { return uvr_task_cancel((uvrun_task_t *)fut, msg); }

int uvrun_task_cancel(uvrun_task_t *task, const char *msg) { return task != NULL ? uvr_task_cancel(task, msg) : 0; }

int uvrun_task_cancelling(const uvrun_task_t *task) { return task != NULL ? task->num_cancels : 0; }

int uvrun_task_uncancel(uvrun_task_t *task) {
  if (task == NULL) return 0;
  if (task->num_cancels > 0 && --task->num_cancels == 0) task->must_cancel = 0; /* [3.13+] */
  return task->num_cancels;
}

/* R61: the loop closes with tasks still pending; it lets go of them. */
void uvr_task_drop_all(uvrun_loop_t *loop) {
  while (loop->tasks != NULL) {
    uvrun_task_t *task = loop->tasks;
    list_remove(task);
    /* Callbacks can never run now; what they hold (a gather awaiting this
     * task, say) would otherwise keep the task alive in a cycle. */
    task->fut.refs++;
    uvr_future_drop_callbacks(&task->fut);
    if (task->waiter != NULL) {
      /* Nor will it step again: what it awaits (a gather of itself, in an
       * await cycle) must not keep it alive either. */
      uvrun_future_t *w = task->waiter;
      task->waiter = NULL;
      uvrun_future_remove_done_callback(w, task_wakeup, task);
      uvrun_future_unref(w);
    }
    uvrun_future_unref(&task->fut);
    uvrun_future_unref(&task->fut);
  }
}
