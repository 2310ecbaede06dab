/* W14 on uvrun's C API (usage in ../oneshot.h): await uvrun_read_file() of
 * the same file N times in turn; `big` times each read and reports the
 * median. */
#include <stdio.h>
#include <stdlib.h>

#include <uvrun.h>

#include "../oneshot.h"
#include "../run_main.h"

#define IMPL "uvrun"

typedef struct {
  struct oneshot_args args;
  uint64_t done;
  size_t size; /* of the first read: every read must give as much */
  double start, first;
  double *mb_s; /* big: each read's rate */
} bench_t;

static int read_step(uvrun_task_t *task, void *arg) {
  bench_t *b = arg;
  void *v;
  int rc = uvrun_task_resume(task, &v);
  double now = oneshot_now();
  if (rc < 0) return rc;
  if (v == NULL) {
    b->start = now;
  } else {
    const uvrun_bytes_t *bytes = v;
    if (b->done == 0) b->size = bytes->len;
    if (bytes->len != b->size || bytes->len == 0) {
      fprintf(stderr, "files-uvrun: read %zu bytes, then %zu\n", b->size, bytes->len);
      return UVRUN_E_INVAL;
    }
    if (b->mb_s != NULL) b->mb_s[b->done] = (double)bytes->len / 1e6 / (now - b->first);
    b->done++;
  }
  if (b->done == b->args.count) {
    double s = now - b->start;
    oneshot_report(IMPL, &b->args, s, b->mb_s != NULL ? oneshot_median(b->mb_s, b->done) : (double)b->done / s);
    return 0;
  }
  b->first = oneshot_now();
  return uvrun_task_await(task, uvrun_read_file(uvrun_task_loop(task), b->args.path, 0));
}

int main(int argc, char **argv) {
  bench_t b = {0};
  int rc = oneshot_parse_args(argc, argv, "files-uvrun", "files", &b.args);
  if (rc != 0) return rc;
  if (b.args.mode[0] == 'b' && (b.mb_s = calloc(b.args.count, sizeof *b.mb_s)) == NULL) return 1;
  rc = run_main(read_step, &b, "files-uvrun", argv[1]);
  free(b.mb_s);
  return rc < 0 ? 1 : 0;
}
