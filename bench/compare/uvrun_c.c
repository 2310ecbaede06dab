/* The comparison workloads written against uvrun's C API (see
 * bench/compare/README.md for what each workload means). Usage:
 *   uvrun_c [w1 w2 w3 w5 w6]   timed workloads (all when none is named)
 *   uvrun_c w4 [N]            N tasks sleeping 10 ms at once (fresh process)
 *   uvrun_c w7                a no-op main, for cold-start timing */
#include <pthread.h>
#include <stdint.h>
#include <uvrun.h>

#include "harness.h"

#define IMPL "uvrun-c"
#define BURST 100000
#define SPAWN 100000

static void die(const char *what, int rc) {
  fprintf(stderr, "uvrun_c: %s: %s (%s)\n", what, uvrun_strerror(rc), uvrun_errmsg());
  exit(1);
}

static int return_at_once(uvrun_task_t *task, void *arg) {
  (void)task, (void)arg;
  return 0;
}

static uvrun_runner_t *runner;

static void run_on(uvrun_runner_t *r, uvrun_step_fn step, void *arg) {
  int rc = uvrun_runner_run(r, step, arg, NULL, NULL);
  if (rc < 0) die("runner_run", rc);
}

static void run_main(uvrun_step_fn step, void *arg) { run_on(runner, step, arg); }

/* ---- W1: a fresh run(), and a reused runner's run() ---------------------- */

/* ctx: NULL, or the options to run with. */
static void w1_fresh(void *ctx, long iters) {
  uvrun_options_t defaults;
  const uvrun_options_t *opts = ctx;
  if (opts == NULL) {
    uvrun_options_init(&defaults);
    opts = &defaults;
  }
  for (long i = 0; i < iters; i++) {
    int rc = uvrun_run(return_at_once, NULL, opts, NULL);
    if (rc < 0) die("uvrun_run", rc);
  }
}

/* ctx: NULL for the shared runner, or another one. */
static void w1_reused(void *ctx, long iters) {
  uvrun_runner_t *r = ctx != NULL ? ctx : runner;
  for (long i = 0; i < iters; i++) run_on(r, return_at_once, NULL);
}

/* W1 again without Ctrl-C handling, which asio and tokio do not have: what
 * the two rt_sigaction calls of every run on the main thread cost (docs/semantics.md
 * R40, R45). A reference point, not a workload of its own. */
static void w1_without_sigint(void) {
  uvrun_options_t opts;
  uvrun_runner_t *quiet;
  int rc;
  uvrun_options_init(&opts);
  opts.handle_sigint = 0;
  bh_measure("W1.fresh.nosigint", IMPL, w1_fresh, &opts, 1);
  if ((rc = uvrun_runner_new(&opts, &quiet)) < 0) die("runner_new", rc);
  bh_measure("W1.reused.nosigint", IMPL, w1_reused, quiet, 1);
  uvrun_runner_free(quiet);
}

/* ---- W2: spawn 100k tasks that return at once, await them all ------------ */

/* Spawns n tasks running `child`, then awaits each (W2 and W4). */
struct spawn_state {
  int phase;
  long next; /* the task awaited next */
  long n;
  uvrun_task_t **tasks;
  uvrun_step_fn child;
  char *child_state; /* W4: one byte a child, its arg; NULL: none */
};

static int spawn_main(uvrun_task_t *task, void *arg) {
  struct spawn_state *s = arg;
  if (s->phase == 0) {
    uvrun_loop_t *loop = uvrun_task_loop(task);
    for (long i = 0; i < s->n; i++) {
      void *child_arg = s->child_state != NULL ? &s->child_state[i] : NULL;
      int rc = uvrun_task_new(loop, s->child, child_arg, NULL, &s->tasks[i]);
      if (rc < 0) die("task_new", rc);
    }
    s->phase = 1;
    s->next = 0;
  } else if (uvrun_task_resume(task, NULL) < 0) {
    die("resume", -1);
  }
  /* Await each in turn; one that is already done does not suspend. */
  while (s->next < s->n) {
    uvrun_future_t *f = uvrun_task_future(s->tasks[s->next]);
    if (!uvrun_future_done(f)) return uvrun_task_await(task, uvrun_future_ref(f));
    s->next++;
  }
  for (long i = 0; i < s->n; i++) uvrun_task_unref(s->tasks[i]);
  s->phase = 0;
  return 0;
}

static void w2_spawn(void *ctx, long iters) {
  for (long i = 0; i < iters; i++) run_main(spawn_main, ctx);
}

/* ---- W3: yield ping-pong between two tasks ------------------------------- */
/* (W3's inline await has no C counterpart: a C task's child is a plain
 * function call.) */

struct pingpong {
  long left_main, left_other;
  uvrun_task_t *other;
  int phase;
};

static int other_yielder(uvrun_task_t *task, void *arg) {
  struct pingpong *p = arg;
  if (p->left_other-- > 0) return uvrun_task_yield(task);
  return 0;
}

static int pingpong_main(uvrun_task_t *task, void *arg) {
  struct pingpong *p = arg;
  if (p->phase == 0) {
    int rc = uvrun_task_new(uvrun_task_loop(task), other_yielder, p, NULL, &p->other);
    if (rc < 0) die("task_new", rc);
    p->phase = 1;
  }
  if (p->phase == 1) {
    if (p->left_main-- > 0) return uvrun_task_yield(task);
    p->phase = 2;
    if (!uvrun_future_done(uvrun_task_future(p->other)))
      return uvrun_task_await(task, uvrun_future_ref(uvrun_task_future(p->other)));
  }
  uvrun_task_unref(p->other);
  return 0;
}

static void w3_yield(void *ctx, long iters) {
  struct pingpong p = {iters, iters, NULL, 0};
  (void)ctx;
  run_main(pingpong_main, &p);
}

/* ---- W5: round trips through the default executor ------------------------ */

static int noop_work(void *ud, void **result) {
  (void)ud;
  *result = NULL;
  return 0;
}

static int executor_main(uvrun_task_t *task, void *arg) {
  long *left = arg;
  if (uvrun_task_resume(task, NULL) < 0) die("executor resume", -1);
  if ((*left)-- > 0) return uvrun_task_await(task, uvrun_run_in_executor(uvrun_task_loop(task), noop_work, NULL));
  return 0;
}

static void w5_executor(void *ctx, long iters) {
  (void)ctx;
  run_main(executor_main, &iters);
}

/* ---- W6: callbacks posted from another thread ---------------------------- */

struct burst {
  uvrun_loop_t *loop;
  uvrun_future_t *done;
  long seen, want;
  pthread_t producer;
  int phase;
};

static void count_one(void *ud) {
  struct burst *b = ud;
  if (++b->seen == b->want) uvrun_future_set_result(b->done, NULL, NULL);
}

static void *produce(void *ud) {
  struct burst *b = ud;
  for (long i = 0; i < b->want; i++) uvrun_loop_call_soon_threadsafe(b->loop, count_one, b);
  return NULL;
}

static int burst_main(uvrun_task_t *task, void *arg) {
  struct burst *b = arg;
  if (b->phase == 0) {
    b->loop = uvrun_task_loop(task);
    b->seen = 0;
    uvrun_future_new(b->loop, &b->done);
    pthread_create(&b->producer, NULL, produce, b);
    b->phase = 1;
    return uvrun_task_await(task, uvrun_future_ref(b->done));
  }
  pthread_join(b->producer, NULL);
  uvrun_future_unref(b->done);
  b->phase = 0;
  return 0;
}

static void w6_threadsafe(void *ctx, long iters) {
  struct burst b = {NULL, NULL, 0, BURST, 0, 0};
  (void)ctx;
  for (long i = 0; i < iters; i++) run_main(burst_main, &b);
}

/* ---- W4: N tasks sleeping 10 ms at once ---------------------------------- */

/* On the task's own timer, as the C++ layer's sleep(). */
static int sleeper(uvrun_task_t *task, void *arg) {
  char *slept = arg;
  if (*slept) return uvrun_task_resume(task, NULL);
  *slept = 1;
  return uvrun_task_sleep(task, 0.010);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "w7") == 0) {
    return uvrun_run(return_at_once, NULL, NULL, NULL) < 0;
  }
  if (argc > 1 && strcmp(argv[1], "w4") == 0) {
    long n = argc > 2 ? atol(argv[2]) : SPAWN;
    /* Counted (touched during the run): the handles and state are the user's. */
    uvrun_task_t **tasks = calloc((size_t)n, sizeof *tasks);
    char *slept = calloc((size_t)n, 1);
    struct spawn_state s = {0, 0, n, tasks, sleeper, slept};
    long before = bh_peak_rss();
    double t0 = bh_now_ns();
    int rc = uvrun_run(spawn_main, &s, NULL, NULL);
    double wall = bh_now_ns() - t0;
    if (rc < 0) die("uvrun_run", rc);
    bh_report_w4(IMPL, n, wall, before);
    free(tasks);
    free(slept);
    return 0;
  }
  int rc = uvrun_runner_new(NULL, &runner);
  if (rc < 0) die("runner_new", rc);
  if (bh_wanted(argc, argv, "w1")) {
    bh_measure("W1.fresh", IMPL, w1_fresh, NULL, 1);
    bh_measure("W1.reused", IMPL, w1_reused, NULL, 1);
    w1_without_sigint();
  }
  if (bh_wanted(argc, argv, "w2")) {
    struct spawn_state s = {0, 0, SPAWN, calloc(SPAWN, sizeof(uvrun_task_t *)), return_at_once, NULL};
    bh_measure("W2.spawn", IMPL, w2_spawn, &s, SPAWN);
    free(s.tasks);
  }
  if (bh_wanted(argc, argv, "w3")) bh_measure("W3.yield", IMPL, w3_yield, NULL, 2);
  if (bh_wanted(argc, argv, "w5")) bh_measure("W5.executor", IMPL, w5_executor, NULL, 1);
  if (bh_wanted(argc, argv, "w6")) bh_measure("W6.threadsafe", IMPL, w6_threadsafe, NULL, BURST);
  uvrun_runner_free(runner);
  return 0;
}
