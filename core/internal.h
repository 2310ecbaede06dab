/* internal.h -- what core files share: the engine (loop.h) and the
 * semantics on top of it -- futures, tasks, the executor, async generators,
 * signals. Nothing here is API. */
#ifndef UVRUN_INTERNAL_H
#define UVRUN_INTERNAL_H

#include "loop.h"

/* ---- future.c ---- */
enum { UVR_PENDING = 0, UVR_RESULT, UVR_ERROR, UVR_CANCELLED };

typedef struct uvr_done_cb {
  uvrun_done_fn fn;
  void *ud;
  uvr_map *ctx;
  uvrun_free_fn drop; /* internal callbacks that hold ud: release it unrun */
} uvr_done_cb;

/* A future's done callbacks after the first, with their count. */
typedef struct uvr_done_cbs {
  uint32_t n, cap;
  uvr_done_cb at[];
} uvr_done_cbs;

/* What a kind of future does its own way: tasks, sleeps and the
 * combinators; a plain future's entries are all NULL. A future names its kind
 * in three bits rather than pointing at its ops: one word less in each. */
typedef struct uvr_future_ops {
  int (*cancel)(uvrun_future_t *fut, const char *msg); /* NULL: as a plain future */
  void (*on_free)(uvrun_future_t *fut);                /* NULL: nothing of its own */
  /* A result being taken (uvrun_task_resume, uvrun_future_result): an I/O
   * read consumes its bytes only then. NULL: nothing to do. */
  void (*take)(uvrun_future_t *fut);
} uvr_future_ops;
enum { UVR_FUT_PLAIN = 0, UVR_FUT_TASK, UVR_FUT_SLEEP, UVR_FUT_GATHER, UVR_FUT_WAIT_ANY, UVR_FUT_WAIT_FOR, UVR_FUT_IO };
extern const uvr_future_ops uvr_task_ops, uvr_sleep_ops, uvr_gather_ops, uvr_wait_any_ops, uvr_wait_for_ops,
    uvr_io_future_ops;

struct uvrun_future_s {
  int refs;
  uint8_t state;
  uint8_t retrieved : 1;
  uint8_t value_moved : 1;
  uint8_t held : 1; /* in loop->held */
  uint8_t kind : 3; /* UVR_FUT_* */
  uvrun_loop_t *loop;
  void *value;
  uvrun_free_fn value_free;
  uvrun_error_t *error;      /* for ERROR; for CANCELLED made with the message,
                           * or on demand when there is none */
  uvr_done_cb cb0;           /* first callback inline: no allocation; fn NULL: none */
  struct uvr_done_cbs *more; /* the callbacks after cb0, or NULL */
  /* A plain future's links in loop->held while it is pending with callbacks
   * that hold references; a task's in loop->tasks while it is pending. */
  uvrun_future_t *link_prev, *link_next;
};

static inline int uvr_is_task(const uvrun_future_t *fut) { return fut->kind == UVR_FUT_TASK; }

void uvr_future_init(uvrun_future_t *fut, uvrun_loop_t *loop);
/* A done future's result is being taken: lets an I/O future commit. */
void uvr_future_take(uvrun_future_t *fut);
/* A future of `kind` whose state (state_size bytes) shares its block and is
 * freed with it, at UVR_FUTURE_STATE_AT, aligned; NULL on failure
 * (recorded). */
#define UVR_FUTURE_STATE_AT ((sizeof(uvrun_future_t) + 15) & ~(size_t)15)
uvrun_future_t *uvr_future_new_with_state(uvrun_loop_t *loop, size_t state_size, int kind);
/* A new future, already done with a NULL result; NULL on failure. */
uvrun_future_t *uvr_future_new_done(uvrun_loop_t *loop);
static inline void *uvr_future_state(const uvrun_future_t *fut) { return (char *)fut + UVR_FUTURE_STATE_AT; }
/* A done callback that holds a reference through ud: `drop(ud)` runs
 * instead of the callback when it can no longer run (its future is freed
 * pending, or its loop closed). */
int uvr_future_add_done_callback_holding(uvrun_future_t *fut, uvrun_done_fn cb, void *ud, uvrun_free_fn drop);
/* Releases every registered callback unrun (loop close). */
void uvr_future_drop_callbacks(uvrun_future_t *fut);
/* Loop close: releases the callbacks of every pending plain future that
 * holds references through them (a wait_any waiting on a sleep that can
 * never fire, say), breaking the cycle outer -> child -> callback -> outer. */
void uvr_future_drop_all_held(uvrun_loop_t *loop);
/* Marks done and schedules callbacks. */
void uvr_future_schedule_callbacks(uvrun_future_t *fut);
/* The CANCELLED error with the cancel message (cached). */
uvrun_error_t *uvr_future_cancelled_error(uvrun_future_t *fut);
/* Sets the outcome of dst from src (both done/pending respectively); a
 * result is taken from src only when dst's is (uvr_future_take). */
void uvr_future_copy_outcome(uvrun_future_t *dst, uvrun_future_t *src);
/* Plain-future cancel (tasks override it). */
int uvr_future_cancel_plain(uvrun_future_t *fut, const char *msg);
void uvr_future_release_fields(uvrun_future_t *fut);
/* "<Future pending>" and friends; tasks describe themselves. */
void uvr_future_describe(const uvrun_future_t *fut, char *buf, size_t len);
/* Reports "... exception was never retrieved" when due. */
void uvr_future_check_unretrieved(uvrun_future_t *fut);

/* ---- sleep.c ---- */
extern const uvr_timer_ops uvr_sleep_timer_ops;
/* Describes a due sleep's item: 1, or 0 for other items. */
int uvr_sleep_describe_item(const uvr_item *it, char *buf, size_t len);

/* ---- report.c ---- */
/* Calls the handler; never fails. */
void uvr_report(uvrun_loop_t *loop, const char *message, uvrun_error_t *err, uvrun_task_t *task, uvrun_future_t *fut,
                const char *source);

/* ---- task.c ---- */
struct uvrun_task_s {
  struct uvrun_future_s fut; /* first: a task is a future */
  uvrun_step_fn step;
  void *arg;
  uvrun_free_fn arg_free;
  union {
    uvrun_context_t own;    /* a copy of the creator's context (R31) */
    uvrun_context_t *given; /* ctx_given: the context it was given */
  } ctx;                    /* where its steps run: uvr_task_ctx() */
  union {
    uint64_t id;                /* its creation number, for "Task-<id>" */
    char *name;                 /* named: set, or made from id when asked */
    struct uvr_task_info *info; /* with_info: number, name and site */
  } who;
  uvrun_future_t *waiter; /* what the task awaits now (reference) */
  uvr_timer timer;        /* its own sleep: no future (uvrun_task_sleep) */
  int num_cancels;
  uint8_t must_cancel : 1, yielded : 1, started : 1;
  uint8_t sleeping : 1; /* suspended on timer, which still runs */
  uint8_t ctx_given : 1;
  uint8_t named : 1;
  uint8_t with_info : 1;         /* created with a site (debug mode) */
  uint8_t in_list : 1;           /* in loop->tasks, through fut.link_prev/next */
  uint8_t forwarding_cancel : 1; /* it is cancelling what it awaits, which may
                                 * come back to it (await cycles) */
  uint8_t sleep_cancelled : 1;   /* its own sleep was cancelled: the next step
                                 * takes in the CancelledError kept in fut.error */
};
/* What a running step resumed with, on task_step's stack (the thread
 * points at it meanwhile: steps never nest): the future the task awaited (a
 * reference: its value stays valid through the step) and the error
 * uvrun_task_resume() reports, or what the step raised since (a
 * reference). */
typedef struct uvr_step {
  uvrun_task_t *task;
  uvrun_future_t *from;
  uvrun_error_t *thrown;
  unsigned fail_mark; /* uvr_fail_serial when the body began */
} uvr_step;
extern UVR_TLS_FAST uvr_step *uvr_running_step;
/* Whether a failure was recorded since the running step's body began: a
 * NULL future the body passes on then stands for that failure, never for an
 * older one. */
static inline int uvr_failed_in_step(void) {
  return uvr_running_step != NULL && uvr_running_step->fail_mark != uvr_fail_serial;
}
/* The future the task's running step resumed from, or NULL (also outside
 * its step). */
uvrun_future_t *uvr_task_resumed_from(const uvrun_task_t *task);
/* The next task in loop->tasks (or in the task cache). */
#define UVR_TASK_NEXT(t) ((uvrun_task_t *)(t)->fut.link_next)
static inline uvrun_context_t *uvr_task_ctx(uvrun_task_t *task) {
  return task->ctx_given ? task->ctx.given : &task->ctx.own;
}
/* The item that runs a task's next step (a = the task, with a reference):
 * the ready queue's one-word item. */
void uvr_task_run_step(uvrun_loop_t *loop, uvr_item *it, int run);
extern const uvr_timer_ops uvr_task_timer_ops;
/* The task an item steps, or NULL for other items. */
const uvrun_task_t *uvr_item_task(const uvr_item *it);
int uvr_task_cancel(uvrun_task_t *task, const char *msg);
/* Drops the loop's hold of every pending task (loop close). */
void uvr_task_drop_all(uvrun_loop_t *loop);

/* ---- task_names.c ---- */
/* Sets a new task's identity: creation number, name (copied) and site,
 * each optional. 0 or NOMEM. uvr_task_who_free releases it. Inline: most
 * tasks have a number only, and task creation is a hot path. */
int uvr_task_who_init_named(uvrun_task_t *task, const char *name, const char *site, uint64_t id);
static inline int uvr_task_who_init(uvrun_task_t *task, const char *name, const char *site, uint64_t id) {
  if (name == NULL && site == NULL) {
    task->who.id = id;
    return 0;
  }
  return uvr_task_who_init_named(task, name, site, id);
}
void uvr_task_who_free(uvrun_task_t *task);
/* Where the task was created (debug mode), or NULL. */
const char *uvr_task_site(const uvrun_task_t *task);
/* Format "<Task pending name='..' ...>" into buf. */
void uvr_task_describe(const uvrun_task_t *task, char *buf, size_t len);

/* ---- task_cache.c ---- */
/* Memory for a new task of the loop (not cleared), or NULL when the cache
 * is empty. */
uvrun_task_t *uvr_task_cache_take(uvrun_loop_t *loop);
/* Keeps a freed task's memory for the next task of its loop; 0 if not. */
int uvr_task_recycle(uvrun_task_t *task);
/* Frees the cached task memory that stayed unused for a second, when that
 * second is over at `now`; returns when the loop must be awake for the next
 * such step (UINT64_MAX: never, the cache is small). */
uint64_t uvr_task_cache_decay(uvrun_loop_t *loop, uint64_t now);
/* Frees the loop's cache of task memory. */
void uvr_task_cache_free(uvrun_loop_t *loop);

/* ---- executor.c ---- */
/* Frees nothing that a late worker may still touch: workers hold their own
 * reference to the shared pool state. */
int uvr_executor_submit(uvrun_loop_t *loop, uvrun_work_fn fn, void *ud, uvrun_future_t **out);
/* An I/O job (a file operation, a name lookup) completing fut, the
 * caller's (an I/O future that frees its result itself); the job holds a
 * reference to it until it completes. A runner's close cancels it while it
 * is still queued: fut's cancel must make the job return at once when it
 * starts. */
int uvr_executor_submit_io(uvrun_loop_t *loop, uvrun_work_fn fn, void *ud, uvrun_future_t *fut);
/* Runner close (L1): cancels the futures of the I/O jobs not yet started. */
void uvr_executor_cancel_queued_io(uvrun_loop_t *loop);
/* Whether jobs are out whose completion the loop will receive. */
int uvr_executor_busy(const uvrun_loop_t *loop);
/* Jobs queued or running (0 without an executor). */
size_t uvr_executor_jobs(const uvrun_loop_t *loop);
/* Loop close: stop waiting, detach the workers (R61). */
void uvr_executor_detach(uvrun_loop_t *loop);

/* ---- asyncgen.c ---- */
/* Live generators registered on the loop. */
size_t uvr_asyncgen_count(const uvrun_loop_t *loop);
void uvr_asyncgen_detach_all(uvrun_loop_t *loop);

/* ---- continuation.c ---- */
/* What runs after the awaited future: the code uvrun_task_resume() gave
 * (its error: uvrun_task_resume_error), returned as a step's result. */
typedef int (*uvr_then_fn)(uvrun_task_t *task, int rc, void *arg);
/* A task that awaits fut (reference taken over; NULL: its error stands),
 * then returns then(task, rc, arg). Cancelled before its first step, it
 * cancels fut. arg_free(arg) runs when the task is freed, or on failure.
 * Returns the task as a future, or NULL with the error recorded. */
uvrun_future_t *uvr_continue_with(uvrun_loop_t *loop, uvrun_future_t *fut, uvr_then_fn then, void *arg,
                                  uvrun_free_fn arg_free);

#endif /* UVRUN_INTERNAL_H */
