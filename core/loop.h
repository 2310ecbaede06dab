/* loop.h -- the engine: a loop's ready queue, timers, libuv backend and
 * queue for other threads, and the hooks through which it reaches the
 * layers above it (tasks, sleeps, the executor, async generators). Nothing
 * here is API. */
#ifndef UVRUN_LOOP_H
#define UVRUN_LOOP_H

#include "ready.h"

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

/* ---- timers.c: call_at handles and the timer heap ---- */

/* What the timer heap orders: a call_at handle, a sleep future's timer
 * (sleep.c) or a task's own sleep (task.c). The heap holds a reference to
 * the handle, future or task until the timer is popped. */
enum { UVR_TIMER_HANDLE = 0, UVR_TIMER_SLEEP, UVR_TIMER_TASK, UVR_TIMER_KINDS };
typedef struct uvr_timer {
  uint32_t seq; /* FIFO among equal deadlines, compared wrapping */
  uint8_t cancelled, in_heap, kind;
} uvr_timer;

/* What a kind of timer does its own way. A due timer is queued as the item
 * {fire, a}, where a is the timer's owner, `owner_at` bytes before it; the
 * item run with run = 0 gives the heap's reference back instead (a
 * cancelled timer, a closed loop). */
typedef struct uvr_timer_ops {
  uvr_run_fn fire;
  size_t owner_at;
} uvr_timer_ops;
extern const uvr_timer_ops uvr_handle_timer_ops;

struct uvrun_handle_s {
  uvr_timer timer; /* first: the heap holds &timer */
  int refs;
  uvrun_callback_fn cb;
  void *ud;
  uvr_map *ctx;
  uvrun_loop_t *loop;
};

/* A timer heap slot keeps its timer's deadline beside it: sifting compares
 * without touching the timers (cache misses in a heap of 100k timers). */
typedef struct uvr_timer_slot {
  uint64_t when;
  uvr_timer *t;
} uvr_timer_slot;

/* ---- backend.c: the libuv side of a loop ---- */

/* A uv loop and uvrun's handles on it, kept for the next loop when a loop
 * closes clean. */
typedef struct uvr_backend {
  uv_loop_t uv;          /* unused when the loop is borrowed */
  uv_timer_t wake_timer; /* ends a poll at the next uvrun timer */
  uv_async_t async;      /* wakes the loop for other threads */
  uv_async_t sig_async;  /* wakes it for SIGINT; data: the loop */
  uv_prepare_t prepare;  /* keeps a poll from blocking on queued work;
                          * data: the loop, while uvr_backend_wait runs */
  unsigned fork_gen;     /* fork count when last set up in this process */
} uvr_backend;
/* Gives loop a backend on its own uv loop (borrowed NULL) or on borrowed;
 * sets loop->backend and loop->uv. 0 or a failure code (recorded). */
int uvr_backend_attach(uvrun_loop_t *loop, uv_loop_t *borrowed);
/* Blocks in libuv until an event or timeout_ms (0: no timeout), but not
 * when a callback run before the poll queued work for the loop. */
void uvr_backend_wait(uvrun_loop_t *loop, uint64_t timeout_ms);
/* At close: reports and closes the caller's handles left on the uv loop
 * (R27), then parks the backend or closes it. */
void uvr_backend_detach(uvrun_loop_t *loop);

/* ---- the loop ---- */

typedef struct uvr_executor uvr_executor;

#define UVR_CACHE_LINE 64
/* call_soon_threadsafe's queue: all that other threads touch of a loop. It
 * has cache lines of its own: a producer's writes would otherwise evict the
 * ready queue and flags the loop thread works on, item after item. */
typedef struct uvr_tsq {
  char before[UVR_CACHE_LINE];
  uv_mutex_t mu;
  uvr_ts_cell *cells, *spare; /* cells: appended under mu; spare: last drained */
  size_t n, cap, spare_cap;
  uv_async_t *wake;   /* the backend's async handle; NULL once closed */
  atomic_int pending; /* cells is not empty */
  atomic_int lost;    /* an item could not be queued (out of memory) */
  char after[UVR_CACHE_LINE];
} uvr_tsq;

struct uvrun_loop_s {
  int refs;
  uv_loop_t *uv; /* &backend->uv, or a borrowed loop; NULL once closed */
  uvr_backend *backend;
  uint8_t borrowed, closed, running, stopping, debug;
  uvrun_error_t *raised; /* an interrupt/exit unwinding the loop (R38) */
  unsigned skip_polls;   /* iterations since the last I/O poll */
  uvr_ring ready;
  /* the timer heap (timers.c; each slot holds a reference) */
  uvr_timer_slot *heap;
  size_t heap_n, heap_cap, heap_cancelled;
  uint32_t timer_seq;
  uv_thread_t thread;
  /* tasks */
  uvrun_task_t *current_task;
  uvrun_task_t *tasks; /* pending tasks, doubly linked */
  size_t ntasks;
  uvrun_future_t *held;     /* plain futures whose callbacks hold references */
  uvrun_task_t *task_cache; /* freed task memory kept for reuse (task_cache.c) */
  size_t ncached;
  size_t cache_low;        /* the fewest cached since cache_decay_at was set */
  uint64_t cache_decay_at; /* when what stayed unused is freed (ns) */
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
  /* I/O (stream.c, stream_read.c): the open streams, each kept until its
   * handle's close callback ran; the buffer libuv reads into */
  uvrun_stream_t *streams;
  char *read_scratch;
  uvrun_server_t *servers;    /* server.c: every server not yet freed */
  uvrun_process_t *processes; /* process.c: each kept until its handle closed */
  uvrun_file_t *files;        /* fs_file.c: every open file not yet freed */
  uvrun_udp_t *udps;          /* udp.c: each kept until its handle closed */
  uvr_tsq ts;                 /* last: what other threads write */
};

/* What the layers above the engine do at the loop's turning points. The
 * engine reaches them through this table only; hooks.c fills it in. */
typedef struct uvr_loop_hooks {
  /* The ready queue's one-word items run this (a task's next step). */
  uvr_run_fn step;
  /* Each kind of timer but UVR_TIMER_HANDLE belongs to a layer above. */
  const uvr_timer_ops *timer_kinds[UVR_TIMER_KINDS];
  /* Whether work is out on other threads whose completion the loop will
   * receive (executor jobs): an idle loop polls for it before it sleeps. */
  int (*busy)(const uvrun_loop_t *loop);
  /* Housekeeping while the loop is idle and now and then while it is busy
   * (the task cache gives memory back); returns when it wants to run next
   * (UINT64_MAX: no need), so a sleeping loop wakes for it. */
  uint64_t (*idle)(uvrun_loop_t *loop, uint64_t now);
  /* Loop close: stops what feeds the loop from other threads, before the
   * queued items are released unrun; lets go of what can never run now;
   * frees memory kept for reuse. */
  void (*close_detach)(uvrun_loop_t *loop);
  void (*close_drop)(uvrun_loop_t *loop);
  void (*close_free)(uvrun_loop_t *loop);
  /* Debug mode's slow-callback report: describes an item of theirs into
   * buf and returns 1, or returns 0. */
  int (*describe_item)(const uvr_item *it, char *buf, size_t len);
  /* In a forked child (R68): clears their thread-locals. */
  void (*forked_child)(void);
} uvr_loop_hooks;
extern const uvr_loop_hooks uvr_hooks;

uvrun_loop_t *uvr_loop_ref(uvrun_loop_t *loop);
void uvr_loop_unref(uvrun_loop_t *loop);
/* Queues an item on the ready queue (see uvr_ready_push). */
UVR_HOT_INLINE int uvr_loop_push(uvrun_loop_t *loop, const uvr_item *item) {
  return uvr_ready_push(&loop->ready, item, uvr_hooks.step);
}
/* What wakes a task never waits for memory: each task reserves a word of
 * the ready queue for its steps while it lives, each done callback the
 * words of its item from registration until it is queued (ready.h). 0 or
 * NOMEM (recorded). A closed loop queues nothing and keeps no reserve. */
UVR_HOT_INLINE int uvr_loop_reserve(uvrun_loop_t *loop, size_t n) {
  return loop->closed ? 0 : uvr_ready_reserve(&loop->ready, n);
}
static inline void uvr_loop_unreserve(uvrun_loop_t *loop, size_t n) {
  uvr_ready_unreserve(&loop->ready, n); /* closed: none left to give up */
}
/* Queues an item reserved with uvr_loop_reserve(loop, uvr_loop_item_words(item)). */
static inline int uvr_loop_push_reserved(uvrun_loop_t *loop, const uvr_item *item) {
  return uvr_ready_push_reserved(&loop->ready, item, uvr_hooks.step);
}
static inline size_t uvr_loop_item_words(const uvr_item *item) { return uvr_item_words(item, uvr_hooks.step); }
/* Runs a callback item (fn.cb, a) in its context (ctx), unless its handle
 * (x.handle) was cancelled; releases what it holds. */
void uvr_run_callback(uvrun_loop_t *loop, uvr_item *it, int run);
/* R23: in debug mode, while the loop runs, only its thread may use it or
 * what belongs to it (a stream, a UDP socket). */
int uvr_loop_on_wrong_thread(const uvrun_loop_t *loop);
/* The loop is open and, in debug mode, this is its thread: 0, or the error
 * (recorded). uvr_loop_check_call also checks cb, for `what`'s message. */
int uvr_loop_check(uvrun_loop_t *loop);
int uvr_loop_check_call(uvrun_loop_t *loop, uvrun_callback_fn cb, const char *what);

static inline uint64_t uvr_seconds_to_ns(double s) { return s <= 0 ? 0 : (uint64_t)(s * 1e9); }
uint64_t uvr_now_ns(void);
/* 0 if the loop may run now, else the error (recorded). */
int uvr_loop_check_runnable(const uvrun_loop_t *loop);
/* Runs the loop until stopped; the running-loop TLS is set meanwhile. */
int uvr_loop_run_forever(uvrun_loop_t *loop);
/* Fails the current run with err (reference taken): the loop unwinds at
 * once, as a KeyboardInterrupt leaves asyncio's loop (R38, R44). */
void uvr_loop_raise(uvrun_loop_t *loop, uvrun_error_t *err);
/* Describe a loop for reports. */
void uvr_loop_describe(const uvrun_loop_t *loop, char *buf, size_t len);
extern UVR_TLS_FAST uvrun_loop_t *uvr_running_loop;
extern UVR_TLS_FAST uvrun_loop_t *uvr_current_loop;

/* ---- timers.c ---- */
uvrun_handle_t *uvr_handle_new(uvrun_loop_t *loop, uvrun_callback_fn cb, void *ud, int refs);
/* Puts a timer in the heap, due `delay` seconds from now, with
 * call_later's checks and errors (recorded). The reference the heap holds
 * is the caller's to take. */
int uvr_timer_start(uvrun_loop_t *loop, uvr_timer *t, double delay);
void uvr_timer_cancel(uvrun_loop_t *loop, uvr_timer *t);
/* When the first timer is due (ns), UINT64_MAX with none. */
static inline uint64_t uvr_timers_next(const uvrun_loop_t *loop) {
  return loop->heap_n > 0 ? loop->heap[0].when : UINT64_MAX;
}
/* Drops cancelled timers from the top of the heap, and from all of it once
 * they are most of it. */
void uvr_timers_prune(uvrun_loop_t *loop);
/* Queues the timers due at `now`. */
void uvr_timers_queue_due(uvrun_loop_t *loop, uint64_t now);
/* Loop close: gives back every reference the heap holds; frees the heap. */
void uvr_timers_discard(uvrun_loop_t *loop);
void uvr_timers_free(uvrun_loop_t *loop);
/* Describes a due call_at handle's item: 1, or 0 for other items. */
int uvr_timers_describe_item(const uvr_item *it, char *buf, size_t len);

/* ---- threadsafe.c: what other threads post ---- */
/* Wakes the loop behind `async` for work stored just before (a flag the loop
 * reads after libuv clears the handle's pending mark). uv_async_send() skips
 * its eventfd write when it reads the handle still pending, with a plain
 * load; without a full fence that load can pass the store of the work, the
 * loop clear the mark and find no work, and neither side wakes the other: a
 * lost wake-up. Async-signal-safe. */
static inline void uvr_wake(uv_async_t *async) {
#if defined(__SANITIZE_THREAD__)
  /* GCC refuses fences under TSan, which does not model them; a seq_cst
   * read-modify-write is a full barrier on the x86 the TSan build runs on. */
  static atomic_int fence_word;
  atomic_fetch_add(&fence_word, 0);
#else
  atomic_thread_fence(memory_order_seq_cst);
#endif
  uv_async_send(async);
}
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

/* ---- signal.c: the process's SIGINT watch ---- */
/* Set by the SIGINT handler while a loop watches: the loop calls
 * uvr_signal_dispatch before its next step. */
extern atomic_int uvr_sigint_pending;
/* The callback of a backend's sig_async (its data is the loop). */
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

#endif /* UVRUN_LOOP_H */
