/* W13 on uvrun's C API (usage in ../oneshot.h). `spawn`: spawn `true`, await
 * its wait, drop it, again. `cat`: one task feeds cat's stdin a chunk at a
 * time, awaiting drain, while the main task reads its stdout to the end. */
#include <stdio.h>
#include <stdlib.h>

#include <uvrun.h>

#include "../oneshot.h"
#include "../run_main.h"

#define IMPL "uvrun"
#define CHUNK (64u << 10)

typedef struct {
  struct oneshot_args args;
  int step;
  uint64_t done; /* spawns waited for, or bytes read back */
  uvrun_process_t *proc;
  uvrun_task_t *feeder;
  char *buf;
  uint64_t left; /* bytes the feeder has still to write */
  double start;
} bench_t;

static int child_failed(const char *what, intptr_t returncode) {
  fprintf(stderr, "proc-uvrun: %s returned %d\n", what, (int)returncode);
  return UVRUN_E_INVAL;
}

static int spawn_step(uvrun_task_t *task, bench_t *b) {
  const char *argv[] = {"true", NULL};
  void *v;
  int rc = uvrun_task_resume(task, &v);
  if (rc < 0) return rc;
  if (b->proc == NULL) {
    b->start = oneshot_now();
  } else {
    uvrun_process_unref(b->proc);
    b->proc = NULL;
    if ((intptr_t)v != 0) return child_failed("true", (intptr_t)v);
    b->done++;
  }
  if (b->done == b->args.count) {
    double s = oneshot_now() - b->start;
    oneshot_report(IMPL, &b->args, s, (double)b->done / s);
    return 0;
  }
  if ((rc = uvrun_process_spawn(uvrun_task_loop(task), argv, NULL, &b->proc)) < 0) return rc;
  return uvrun_task_await(task, uvrun_process_wait(b->proc));
}

/* Writes the bytes into cat's stdin, then closes it: cat sees the end. */
static int feed_step(uvrun_task_t *task, void *arg) {
  bench_t *b = arg;
  size_t n = b->left < CHUNK ? (size_t)b->left : CHUNK;
  uvrun_stream_t *in;
  void *v;
  int rc = uvrun_task_resume(task, &v);
  if (rc < 0) return rc; /* before touching b->proc: the main task may be gone */
  in = uvrun_process_stdio(b->proc, 0);
  if (n == 0) return uvrun_stream_close(in);
  if ((rc = uvrun_stream_write(in, b->buf, n)) < 0) return rc;
  b->left -= n;
  return uvrun_task_await(task, uvrun_stream_drain(in));
}

static int read_more(uvrun_task_t *task, bench_t *b) {
  return uvrun_task_await(task, uvrun_stream_read(uvrun_process_stdio(b->proc, 1), b->buf + CHUNK, CHUNK));
}

enum { CAT_SPAWN, CAT_READ, CAT_FED, CAT_EXITED };

static int cat_step(uvrun_task_t *task, bench_t *b) {
  const char *argv[] = {"cat", NULL};
  uvrun_process_opts_t opts;
  void *v;
  int rc = uvrun_task_resume(task, &v);
  if (rc < 0) return rc;
  switch (b->step) {
  case CAT_SPAWN:
    uvrun_process_opts_init(&opts);
    opts.stdio[0] = opts.stdio[1] = UVRUN_STDIO_PIPE;
    if ((rc = uvrun_process_spawn(uvrun_task_loop(task), argv, &opts, &b->proc)) < 0) return rc;
    b->start = oneshot_now();
    b->left = b->args.count;
    if ((rc = uvrun_task_new(uvrun_task_loop(task), feed_step, b, NULL, &b->feeder)) < 0) return rc;
    b->step = CAT_READ;
    return read_more(task, b);
  case CAT_READ:
    if ((uintptr_t)v > 0) {
      b->done += (uintptr_t)v;
      return read_more(task, b);
    }
    b->step = CAT_FED; /* the end of cat's output */
    return uvrun_task_await(task, uvrun_future_ref(uvrun_task_future(b->feeder)));
  case CAT_FED: b->step = CAT_EXITED; return uvrun_task_await(task, uvrun_process_wait(b->proc));
  default:
    if ((intptr_t)v != 0) return child_failed("cat", (intptr_t)v);
    if (b->done != b->args.count) {
      fprintf(stderr, "proc-uvrun: wrote %llu bytes, cat gave back %llu\n", (unsigned long long)b->args.count,
              (unsigned long long)b->done);
      return UVRUN_E_INVAL;
    }
    double s = oneshot_now() - b->start;
    oneshot_report(IMPL, &b->args, s, (double)b->done / 1e6 / s);
    return 0;
  }
}

/* The task's step: references go when it ends, however it ends. */
static int bench_step(uvrun_task_t *task, void *arg) {
  bench_t *b = arg;
  int rc = b->args.mode[0] == 's' ? spawn_step(task, b) : cat_step(task, b);
  if (rc != UVRUN_SUSPEND) {
    uvrun_task_unref(b->feeder);
    uvrun_process_unref(b->proc);
    b->feeder = NULL;
    b->proc = NULL;
  }
  return rc;
}

int main(int argc, char **argv) {
  bench_t b = {0};
  int rc = oneshot_parse_args(argc, argv, "proc-uvrun", "proc", &b.args);
  if (rc != 0) return rc;
  if ((b.buf = calloc(2, CHUNK)) == NULL) return 1; /* what is written, then what is read */
  rc = run_main(bench_step, &b, "proc-uvrun", argv[1]);
  free(b.buf);
  return rc < 0 ? 1 : 0;
}
