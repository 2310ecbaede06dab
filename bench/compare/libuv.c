/* Raw libuv: the floor under uvrun where one exists (W1, W4, W5, W6). Usage
 * as uvrun_c (see bench/compare/README.md). */
#include <pthread.h>
#include <uv.h>

#include "harness.h"

#define IMPL "libuv"
#define BURST 100000

static void close_async(uv_async_t *a) { uv_close((uv_handle_t *)a, NULL); }

/* W1: a loop with one ready handle, run to the end. */
static void w1_fresh(void *ctx, long iters) {
  (void)ctx;
  for (long i = 0; i < iters; i++) {
    uv_loop_t loop;
    uv_async_t async;
    uv_loop_init(&loop);
    uv_async_init(&loop, &async, close_async);
    uv_async_send(&async);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
  }
}

static void w1_reused(void *ctx, long iters) {
  uv_loop_t *loop = ctx;
  for (long i = 0; i < iters; i++) {
    uv_async_t async;
    uv_async_init(loop, &async, close_async);
    uv_async_send(&async);
    uv_run(loop, UV_RUN_DEFAULT);
  }
}

/* W5: sequential uv_queue_work round trips. */
struct work_chain {
  uv_work_t req;
  long left;
};
static void work_noop(uv_work_t *req) { (void)req; }
static void work_done(uv_work_t *req, int status) {
  struct work_chain *c = (struct work_chain *)req;
  (void)status;
  if (--c->left > 0) uv_queue_work(req->loop, req, work_noop, work_done);
}
static void w5_executor(void *ctx, long iters) {
  struct work_chain c;
  c.left = iters;
  uv_queue_work(ctx, &c.req, work_noop, work_done);
  uv_run(ctx, UV_RUN_DEFAULT);
}

/* W6: a mutex-protected queue of callbacks drained on uv_async. */
typedef void (*cb_fn)(void *);
struct item {
  cb_fn fn;
  void *ud;
};
struct raw_queue {
  uv_loop_t *loop;
  uv_async_t async;
  uv_mutex_t mu;
  struct item *items, *spare;
  long len, cap, spare_cap;
  long seen, want;
};
static void count_one(void *ud) {
  struct raw_queue *q = ud;
  if (++q->seen == q->want) uv_stop(q->loop);
}
static void drain(uv_async_t *a) {
  struct raw_queue *q = a->data;
  uv_mutex_lock(&q->mu);
  struct item *batch = q->items;
  long n = q->len, cap = q->cap;
  q->items = q->spare;
  q->cap = q->spare_cap;
  q->len = 0;
  uv_mutex_unlock(&q->mu);
  for (long i = 0; i < n; i++) batch[i].fn(batch[i].ud);
  q->spare = batch;
  q->spare_cap = cap;
}
static void post(struct raw_queue *q, cb_fn fn, void *ud) {
  uv_mutex_lock(&q->mu);
  if (q->len == q->cap) {
    q->cap = q->cap ? q->cap * 2 : 64;
    q->items = realloc(q->items, sizeof(struct item) * (size_t)q->cap);
  }
  q->items[q->len++] = (struct item){fn, ud};
  int first = q->len == 1;
  uv_mutex_unlock(&q->mu);
  if (first) uv_async_send(&q->async);
}
static void *produce(void *ud) {
  struct raw_queue *q = ud;
  for (long i = 0; i < q->want; i++) post(q, count_one, q);
  return NULL;
}
static void w6_threadsafe(void *ctx, long iters) {
  struct raw_queue *q = ctx;
  for (long i = 0; i < iters; i++) {
    pthread_t producer;
    q->seen = 0;
    pthread_create(&producer, NULL, produce, q);
    uv_run(q->loop, UV_RUN_DEFAULT);
    pthread_join(producer, NULL);
  }
}

/* W4: N heap-allocated timers of 10 ms, each freed when it has fired. */
static void free_handle(uv_handle_t *h) { free(h); }
static void timer_fired(uv_timer_t *t) { uv_close((uv_handle_t *)t, free_handle); }

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "w7") == 0) {
    w1_fresh(NULL, 1);
    return 0;
  }
  if (argc > 1 && strcmp(argv[1], "w4") == 0) {
    long n = argc > 2 ? atol(argv[2]) : 100000;
    long before = bh_peak_rss();
    double t0 = bh_now_ns();
    uv_loop_t loop;
    uv_loop_init(&loop);
    for (long i = 0; i < n; i++) {
      uv_timer_t *t = malloc(sizeof *t);
      uv_timer_init(&loop, t);
      uv_timer_start(t, timer_fired, 10, 0);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    bh_report_w4(IMPL, n, bh_now_ns() - t0, before);
    return 0;
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  if (bh_wanted(argc, argv, "w1")) {
    bh_measure("W1.fresh", IMPL, w1_fresh, NULL, 1);
    bh_measure("W1.reused", IMPL, w1_reused, &loop, 1);
  }
  if (bh_wanted(argc, argv, "w5")) bh_measure("W5.executor", IMPL, w5_executor, &loop, 1);
  if (bh_wanted(argc, argv, "w6")) {
    struct raw_queue q;
    memset(&q, 0, sizeof q);
    uv_loop_t own;
    uv_loop_init(&own);
    q.loop = &own;
    q.want = BURST;
    uv_mutex_init(&q.mu);
    uv_async_init(&own, &q.async, drain);
    q.async.data = &q;
    bh_measure("W6.threadsafe", IMPL, w6_threadsafe, &q, BURST);
    uv_close((uv_handle_t *)&q.async, NULL);
    uv_run(&own, UV_RUN_DEFAULT);
    uv_loop_close(&own);
    uv_mutex_destroy(&q.mu);
    free(q.items);
    free(q.spare);
  }
  uv_loop_close(&loop);
  return 0;
}
