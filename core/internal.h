/* internal.h -- what core files share. Nothing here is API. */
#ifndef UVRUN_INTERNAL_H
#define UVRUN_INTERNAL_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "uvrun.h"
#include "uvrun_uv.h"

#if defined(__GNUC__)
#  define UVR_LIKELY(x) __builtin_expect(!!(x), 1)
#  define UVR_UNLIKELY(x) __builtin_expect(!!(x), 0)
#  define UVR_PRINTF(a, b) __attribute__((format(printf, a, b)))
/* For the few thread-locals on hot paths: initial-exec avoids a call to
 * __tls_get_addr on every access from the shared library. */
#  define UVR_TLS_FAST _Thread_local __attribute__((tls_model("initial-exec")))
/* For a small function on a hot path that also has cold callers, which
 * would otherwise make the compiler keep it out of line. */
#  define UVR_HOT_INLINE static inline __attribute__((always_inline))
#else
#  define UVR_HOT_INLINE static inline
#  define UVR_TLS_FAST _Thread_local
#  define UVR_LIKELY(x) (x)
#  define UVR_UNLIKELY(x) (x)
#  define UVR_PRINTF(a, b)
#endif

/* How long a thread polls for work from another thread before it sleeps
 * (an executor worker between jobs, the loop awaiting a job): about the
 * cost of a futex sleep and wake-up, which it saves when work comes soon. */
#define UVR_SPIN_NS 50000
static inline void uvr_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/* ---- alloc.c ---- */
void *uvr_malloc(size_t size);
void *uvr_calloc(size_t n, size_t size);
void *uvr_realloc(void *ptr, size_t size);
void uvr_free(void *ptr);
char *uvr_strdup(const char *s);
/* Marks that objects exist, so the allocator can no longer change. */
void uvr_alloc_lock(void);

/* ---- error.c ---- */
struct uvrun_error_s {
  atomic_int refs;
  int code;
  void *payload;
  uvrun_free_fn payload_free;
  uvrun_error_t *context; /* the error this one was raised while handling */
  char message[]; /* NUL-terminated */
};
/* Records code + formatted message as this thread's last failure; returns
 * code, so `return uvr_fail(UVRUN_E_INVAL, "...")` reads naturally. */
int uvr_fail(int code, const char *fmt, ...) UVR_PRINTF(2, 3);
/* The thread's last failure with its object (reference taken over). */
int uvr_fail_error(uvrun_error_t *err);
/* Attaches `context` (a reference taken over) as what `err` was raised
 * while handling, as Python sets __context__; drops it where err cannot
 * take it (the static out-of-memory error, or a cycle). */
void uvr_error_set_context(uvrun_error_t *err, uvrun_error_t *context);
int uvr_last_code(void);
/* A new error; on OOM a static NOMEM error (refcount is ignored for it). */
uvrun_error_t *uvr_error_make(int code, const char *message);
/* A CancelledError carrying msg; NULL for no message or no memory (the
 * message is lost, as a copy of it would be). */
uvrun_error_t *uvr_cancelled_with(const char *msg);
/* Error for a negative code from a step: the thread's last message when
 * it has that code, else the code's text. */
uvrun_error_t *uvr_error_for_code(int code);

/* ---- log.c ---- */
void uvr_logf(int level, const char *fmt, ...) UVR_PRINTF(2, 3);

/* ---- context.c ---- */
/* An immutable, reference-counted map from variable to value. NULL is the
 * empty map. Copying a context shares its map (O(1)). */
typedef struct uvr_map uvr_map;
uvr_map *uvr_map_ref(uvr_map *map);
void uvr_map_unref(uvr_map *map);

struct uvrun_context_s {
  uvr_map *map;
  uvrun_context_t *prev; /* the context current when entered; NULL: not entered */
};
/* The thread's current context (never NULL: a thread-local base). */
uvrun_context_t *uvr_context_current(void);
/* Enter/exit without the entered check, for the loop's hot paths. */
void uvr_context_enter(uvrun_context_t *ctx);
void uvr_context_exit(uvrun_context_t *ctx);

/* ---- loop.c: ready queue, timers, threadsafe queue ---- */
typedef struct uvr_item uvr_item;
/* run = 1: do the work; run = 0: the loop closed, only release references. */
typedef void (*uvr_run_fn)(uvrun_loop_t *loop, uvr_item *item, int run);
typedef union uvr_item_fn {
  uvrun_callback_fn cb;
  uvrun_done_fn done;
} uvr_item_fn;
typedef union uvr_item_x {
  uvrun_handle_t *handle; /* callbacks: a reference, or NULL */
  uvrun_free_fn drop;     /* done callbacks: releases b if never run */
} uvr_item_x;
struct uvr_item {
  uvr_run_fn run;
  uvr_item_fn fn;
  void *a, *b;
  uvr_item_x x;
  uvr_map *ctx; /* reference: run inside a copy of this map */
};

/* The ready queue holds items in 8-byte words. A task's step, the item
 * queued most, is one word: the task | 1. A run function and one pointer
 * (a due timer, a completion from another thread) take two: {a | 2, run}.
 * A callback with no handle and no context (a task woken by what it
 * awaited, say) takes four: {a | 3, run, fn, b}. Any other item takes six:
 * {ctx, run, fn, a, b, x} -- ctx is a map or NULL, aligned. The tagged
 * forms need a aligned too. */
typedef union uvr_word {
  uintptr_t tag; /* an item's first word */
  uvr_run_fn run;
  uvr_item_fn fn;
  void *p;
  uvr_item_x x;
} uvr_word;

/* A cell of the queue other threads post to: 16 bytes, four to a cache
 * line, as each crosses between cores. A callback posted with no context
 * variables set takes one cell; anything else takes a head cell (cb NULL,
 * which a callback never is) and a body: a callback if the head has a
 * context, else a loop item. */
typedef union uvr_ts_cell {
  struct {
    uvrun_callback_fn cb;
    void *ud;
  } call;
  struct {
    uvrun_callback_fn none; /* NULL */
    uvr_map *ctx;           /* reference, or NULL: the body is an item */
  } head;
  struct {
    uvr_run_fn run;
    void *a;
  } item;
} uvr_ts_cell;

/* What the timer heap orders: a call_at handle, a sleep future's timer
 * (helpers.c) or a task's own sleep (task.c). The heap holds a reference to
 * the handle, future or task until the timer is popped. */
enum { UVR_TIMER_HANDLE = 0, UVR_TIMER_SLEEP, UVR_TIMER_TASK };
typedef struct uvr_timer {
  uint32_t seq; /* FIFO among equal deadlines, compared wrapping */
  uint8_t cancelled, in_heap, kind;
} uvr_timer;

struct uvrun_handle_s {
  uvr_timer timer; /* first: the heap holds &timer */
  int refs;
  uvrun_callback_fn cb;
  void *ud;
  uvr_map *ctx;
  uvrun_loop_t *loop;
};

typedef struct uvr_ring {
  uvr_word *words;
  size_t head, nwords, cap; /* in words; cap is a power of two */
  size_t count;             /* items */
} uvr_ring;

/* A timer heap slot keeps its handle's deadline beside it: sifting compares
 * without touching the handles (cache misses in a heap of 100k timers). */
typedef struct uvr_timer_slot {
  uint64_t when;
  uvr_timer *t;
} uvr_timer_slot;

typedef struct uvr_executor uvr_executor;

/* uvbase.c: the libuv side of a loop, kept for the next loop when it closes
 * clean. */
typedef struct uvr_uvbase {
  uv_loop_t uv;          /* unused when the loop is borrowed */
  uv_timer_t wake_timer; /* ends a poll at the next uvrun timer */
  uv_async_t async;      /* wakes the loop for other threads */
  uv_async_t sig_async;  /* wakes it for SIGINT; data: the loop */
  uv_prepare_t prepare;  /* keeps a poll from blocking on queued work;
                          * data: the loop, while uvr_uvbase_wait runs */
  unsigned fork_gen;     /* fork count when last set up in this process */
} uvr_uvbase;
/* Gives loop a base on its own uv loop (borrowed NULL) or on borrowed; sets
 * loop->base and loop->uv. 0 or a failure code (recorded). */
int uvr_uvbase_attach(uvrun_loop_t *loop, uv_loop_t *borrowed);
/* Blocks in libuv until an event or timeout_ms (0: no timeout), but not
 * when a callback run before the poll queued work for the loop. */
void uvr_uvbase_wait(uvrun_loop_t *loop, uint64_t timeout_ms);
/* At close: reports and closes the caller's handles left on the uv loop
 * (R27), then parks the base or closes it. */
void uvr_uvbase_detach(uvrun_loop_t *loop);

#define UVR_CACHE_LINE 64
/* call_soon_threadsafe's queue: all that other threads touch of a loop. It
 * has cache lines of its own: a producer's writes would otherwise evict the
 * ready queue and flags the loop thread works on, item after item. */
typedef struct uvr_tsq {
  char before[UVR_CACHE_LINE];
  uv_mutex_t mu;
  uvr_ts_cell *cells, *spare; /* cells: appended under mu; spare: last drained */
  size_t n, cap, spare_cap;
  uv_async_t *wake;        /* the base's async handle; NULL once closed */
  atomic_int pending;      /* cells is not empty */
  atomic_int lost;         /* an item could not be queued (out of memory) */
  char after[UVR_CACHE_LINE];
} uvr_tsq;

struct uvrun_loop_s {
  int refs;
  uv_loop_t *uv;    /* &base->uv, or a borrowed loop; NULL once closed */
  uvr_uvbase *base;
  uint8_t borrowed, closed, running, stopping, debug;
  uvrun_error_t *raised;         /* an interrupt/exit unwinding the loop (R38) */
  unsigned skip_polls;           /* iterations since the last I/O poll */
  uvr_ring ready;
  /* timer heap of handles (each heap slot holds a reference) */
  uvr_timer_slot *heap;
  size_t heap_n, heap_cap, heap_cancelled;
  uint32_t timer_seq;
  uv_thread_t thread;
  /* tasks */
  uvrun_task_t *current_task;
  uvrun_task_t *tasks; /* pending tasks, doubly linked */
  size_t ntasks;
  uvrun_future_t *held;     /* plain futures whose callbacks hold references */
  uvrun_task_t *task_cache; /* freed task memory kept for reuse */
  size_t ncached;
  size_t cache_low;         /* the fewest cached since cache_decay_at was set */
  uint64_t cache_decay_at;  /* when what stayed unused is freed (ns) */
  uint64_t task_counter;
  /* reports */
  uvrun_exception_handler_fn eh;
  void *eh_ud;
  uint64_t slow_ns;
  /* executor (executor.c) */
  uvr_executor *executor;
  int executor_shutdown_called;
  int executor_max_workers;
  /* async finalizers (asyncgen.c) */
  uvrun_asyncgen_t *asyncgens;
  int asyncgens_shutdown_called;
  uvr_tsq ts; /* last: what other threads write */
};

uvrun_loop_t *uvr_loop_ref(uvrun_loop_t *loop);
void uvr_loop_unref(uvrun_loop_t *loop);
/* Whether an item is a run function and a, aligned: one or two words. */
static inline int uvr_item_is_run_a(const uvr_item *item) {
  return item->fn.cb == NULL && item->b == NULL && item->x.handle == NULL && item->ctx == NULL &&
         ((uintptr_t)item->a & 3) == 0;
}
/* The item that runs a task's next step (a = the task, with a reference):
 * one word in the ready queue. */
void uvr_task_run_step(uvrun_loop_t *loop, uvr_item *it, int run);
/* Queues an item; takes over its ctx/handle references. 0 or NOMEM. The
 * one- and two-word forms are inline: for a constant item the checks fold
 * away. */
int uvr_loop_push_words(uvrun_loop_t *loop, const uvr_item *item);
static inline int uvr_loop_push(uvrun_loop_t *loop, const uvr_item *item) {
  uvr_ring *r = &loop->ready;
  if (uvr_item_is_run_a(item) && UVR_LIKELY(r->cap - r->nwords >= 2)) {
    size_t mask = r->cap - 1, at = r->head + r->nwords;
    if (item->run == uvr_task_run_step) {
      r->words[at & mask].tag = (uintptr_t)item->a | 1;
      r->nwords += 1;
    } else {
      r->words[at & mask].tag = (uintptr_t)item->a | 2;
      r->words[(at + 1) & mask].run = item->run;
      r->nwords += 2;
    }
    r->count++;
    return 0;
  }
  return uvr_loop_push_words(loop, item);
}
/* Puts a sleep's timer in the heap, due `delay` seconds from now, with
 * call_later's checks and errors (recorded). The reference the heap holds
 * is the caller's to take. */
int uvr_timer_start(uvrun_loop_t *loop, uvr_timer *t, double delay);
void uvr_timer_cancel(uvrun_loop_t *loop, uvr_timer *t);
/* helpers.c: a due sleep (an item's a), and a sleep the heap lets go of. */
void uvr_sleep_fire(uvrun_loop_t *loop, uvr_item *item, int run);
void uvr_sleep_release(uvr_timer *t);
/* Runs a callback item (fn.cb, a) in its context (ctx), unless its handle
 * (x.handle) was cancelled; releases what it holds. */
void uvr_run_callback(uvrun_loop_t *loop, uvr_item *it, int run);

uint64_t uvr_now_ns(void);
/* Runs the loop until stopped; the running-loop TLS is set meanwhile. */
int uvr_loop_run_forever(uvrun_loop_t *loop);
/* 0 if the loop may run now (not closed, nothing running on this thread),
 * else the error (recorded). */
int uvr_loop_check_runnable(const uvrun_loop_t *loop);
/* Fails the current run with err (reference taken): the loop unwinds at
 * once, as a KeyboardInterrupt leaves asyncio's loop (R38, R44). */
void uvr_loop_raise(uvrun_loop_t *loop, uvrun_error_t *err);
/* Enter a fresh context holding (a reference to) map: code run inside works
 * on a copy, as a call_soon callback does (R31). */
void uvr_scope_enter(uvrun_context_t *scope, uvr_map *map);
void uvr_scope_exit(uvrun_context_t *scope);
/* Describe a loop for reports. */
void uvr_loop_describe(const uvrun_loop_t *loop, char *buf, size_t len);
/* Calls the handler; never fails. */
void uvr_report(uvrun_loop_t *loop, const char *message, uvrun_error_t *err,
                uvrun_task_t *task, uvrun_future_t *fut, const char *source);
extern UVR_TLS_FAST uvrun_loop_t *uvr_running_loop;
extern UVR_TLS_FAST uvrun_loop_t *uvr_current_loop;

/* ---- threadsafe.c: what other threads post ---- */
/* Queue from any thread. Returns LOOP_CLOSED after close. */
int uvr_loop_push_threadsafe(uvrun_loop_t *loop, uvr_run_fn run, void *a);
/* The queue's lock (loop setup); 0 or a libuv error code. */
int uvr_ts_init(uvrun_loop_t *loop);
/* Loop thread: moves what other threads posted onto the ready queue. */
void uvr_ts_drain(uvrun_loop_t *loop);
/* Loop close: posts fail with LOOP_CLOSED from now on; queued ones are
 * released unrun by uvr_ts_discard; uvr_ts_free frees the buffers. */
void uvr_ts_close(uvrun_loop_t *loop);
void uvr_ts_discard(uvrun_loop_t *loop);
void uvr_ts_free(uvrun_loop_t *loop);
/* An item that had to be queued was dropped for lack of memory (a done
 * callback, a due timer, an executor completion): the current or next run
 * of the loop fails with UVRUN_E_NOMEM instead of waiting for it forever.
 * Any thread, while the loop is alive. */
void uvr_loop_lost(uvrun_loop_t *loop);

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

/* What a kind of future does its own way: tasks and the helper futures of
 * helpers.c; a plain future's entries are all NULL. A future names its kind
 * in three bits rather than pointing at its ops: one word less in each. */
typedef struct uvr_future_ops {
  int (*cancel)(uvrun_future_t *fut, const char *msg); /* NULL: as a plain future */
  void (*on_free)(uvrun_future_t *fut);                 /* NULL: nothing of its own */
} uvr_future_ops;
enum { UVR_FUT_PLAIN = 0, UVR_FUT_TASK, UVR_FUT_SLEEP, UVR_FUT_GATHER, UVR_FUT_WAIT_ANY, UVR_FUT_WAIT_FOR };
extern const uvr_future_ops uvr_task_ops, uvr_sleep_ops, uvr_gather_ops, uvr_wait_any_ops, uvr_wait_for_ops;

struct uvrun_future_s {
  int refs;
  uint8_t state;
  uint8_t retrieved : 1;
  uint8_t value_moved : 1;
  uint8_t held : 1;       /* in loop->held */
  uint8_t kind : 3;       /* UVR_FUT_* */
  uvrun_loop_t *loop;
  void *value;
  uvrun_free_fn value_free;
  uvrun_error_t *error;   /* for ERROR; for CANCELLED made with the message,
                           * or on demand when there is none */
  uvr_done_cb cb0;        /* first callback inline: no allocation; fn NULL: none */
  struct uvr_done_cbs *more; /* the callbacks after cb0, or NULL */
  /* A plain future's links in loop->held while it is pending with callbacks
   * that hold references; a task's in loop->tasks while it is pending. */
  uvrun_future_t *link_prev, *link_next;
};

static inline int uvr_is_task(const uvrun_future_t *fut) { return fut->kind == UVR_FUT_TASK; }

void uvr_future_init(uvrun_future_t *fut, uvrun_loop_t *loop);
/* A new future, already done with a NULL result; NULL on failure. */
uvrun_future_t *uvr_future_new_done(uvrun_loop_t *loop);
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
/* Sets the outcome of dst from src (both done/pending respectively). */
void uvr_future_copy_outcome(uvrun_future_t *dst, uvrun_future_t *src);
/* Plain-future cancel (tasks override it). */
int uvr_future_cancel_plain(uvrun_future_t *fut, const char *msg);
void uvr_future_release_fields(uvrun_future_t *fut);
/* "<Future pending>" and friends; tasks describe themselves. */
void uvr_future_describe(const uvrun_future_t *fut, char *buf, size_t len);
/* Reports "... exception was never retrieved" when due. */
void uvr_future_check_unretrieved(uvrun_future_t *fut);

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
    uint64_t id;            /* its creation number, for "Task-<id>" */
    char *name;             /* named: set, or made from id when asked */
    struct uvr_task_info *info; /* with_info: number, name and site */
  } who;
  uvrun_future_t *waiter;   /* what the task awaits now (reference) */
  uvr_timer timer;          /* its own sleep: no future (uvrun_task_sleep) */
  int num_cancels;
  uint8_t must_cancel : 1, yielded : 1, started : 1;
  uint8_t sleeping : 1;     /* suspended on timer, which still runs */
  uint8_t ctx_given : 1;
  uint8_t named : 1;
  uint8_t with_info : 1;    /* created with a site (debug mode) */
  uint8_t in_list : 1;      /* in loop->tasks, through fut.link_prev/next */
  uint8_t in_cancel : 1;    /* uvr_task_cancel is on the stack (await cycles) */
  uint8_t cancel_in : 1;    /* its sleep was cancelled: the next step gets the
                             * CancelledError kept in fut.error */
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
} uvr_step;
extern UVR_TLS_FAST uvr_step *uvr_running_step;
/* The future the task's running step resumed from, or NULL (also outside
 * its step). */
uvrun_future_t *uvr_task_resumed_from(const uvrun_task_t *task);
/* The next task in loop->tasks (or in the task cache). */
#define UVR_TASK_NEXT(t) ((uvrun_task_t *)(t)->fut.link_next)
/* Format "<Task pending name='..' ...>" into buf. */
void uvr_task_describe(const uvrun_task_t *task, char *buf, size_t len);
static inline uvrun_context_t *uvr_task_ctx(uvrun_task_t *task) {
  return task->ctx_given ? task->ctx.given : &task->ctx.own;
}
#define UVR_TASK_OF_TIMER(t) ((uvrun_task_t *)((char *)(t) - offsetof(uvrun_task_t, timer)))
/* Where the task was created (debug mode), or NULL. */
const char *uvr_task_site(const uvrun_task_t *task);
/* The task an item steps, or NULL for other items. */
const uvrun_task_t *uvr_item_task(const uvr_item *it);
int uvr_task_cancel(uvrun_task_t *task, const char *msg);
/* Keeps a freed task's memory for the next task of its loop; 0 if not. */
int uvr_task_recycle(uvrun_task_t *task);
/* Frees the cached task memory that stayed unused for a second, when that
 * second is over at `now`; returns when the loop must be awake for the next
 * such step (UINT64_MAX: never, the cache is small). */
uint64_t uvr_task_cache_decay(uvrun_loop_t *loop, uint64_t now);
/* Frees the loop's cache of task memory. */
void uvr_task_cache_free(uvrun_loop_t *loop);
/* Drops the loop's hold of every pending task (loop close). */
void uvr_task_drop_all(uvrun_loop_t *loop);
/* Fails the main task's run with `code` unwinding the loop (R38). */

/* ---- executor.c ---- */
/* Frees nothing that a late worker may still touch: workers hold their own
 * reference to the shared pool state. */
int uvr_executor_submit(uvrun_loop_t *loop, uvrun_work_fn fn, void *ud,
                        uvrun_future_t **out);
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

/* ---- signal.c ---- */
/* Set by the SIGINT handler while a loop watches: the loop calls
 * uvr_signal_dispatch before its next step. */
extern atomic_int uvr_sigint_pending;
/* The callback of a base's sig_async (its data is the loop). */
void uvr_signal_on_async(uv_async_t *async);
/* Delivers the SIGINTs the loop has not seen to the watcher's fn, once each
 * (nothing unless this loop is the one watching). */
void uvr_signal_dispatch(uvrun_loop_t *loop);
/* Starts watching SIGINT on loop's thread when R40 allows (host_mode: X6,
 * over a host's handler too): fn(ud) runs on the loop for each Ctrl-C. 1 if
 * watching. */
int uvr_signal_start(uvrun_loop_t *loop, void (*fn)(void *ud), void *ud, int host_mode);
/* Stops watching and restores the disposition (R45); returns how many
 * SIGINTs came after the loop's last look. */
int uvr_signal_stop(uvrun_loop_t *loop);

#endif /* UVRUN_INTERNAL_H */
