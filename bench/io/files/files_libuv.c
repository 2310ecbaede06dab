/* W14 on raw libuv: the floor under files_uvrun.c (usage in ../oneshot.h).
 * Each read of the whole file is the chain a libuv user writes on the
 * threadpool: uv_fs_open, uv_fs_fstat (the size), uv_fs_read until the end,
 * uv_fs_close -- one pool round trip per call, where uvrun's read_file is a
 * single executor job. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#include "../oneshot.h"

#define IMPL "libuv"

typedef struct {
  struct oneshot_args args;
  uv_loop_t *loop;
  uv_fs_t req;
  uv_file fd;
  char *buf;             /* this read's bytes */
  size_t cap, len, size; /* buf's size; bytes of this read; those of the first */
  uint64_t done;
  double start, first;
  double *mb_s; /* big: each read's rate */
  int failed;
} bench_t;

static void opened(uv_fs_t *req);
static void statted(uv_fs_t *req);
static void got_bytes(uv_fs_t *req);
static void closed(uv_fs_t *req);

static void fail(bench_t *b, const char *what, int status) {
  fprintf(stderr, "files-libuv: %s %s: %s\n", what, b->args.path, uv_strerror(status));
  b->failed = 1;
}

static void read_whole(bench_t *b) {
  int rc;
  b->first = oneshot_now();
  b->len = 0;
  b->req.data = b;
  if ((rc = uv_fs_open(b->loop, &b->req, b->args.path, O_RDONLY | O_CLOEXEC, 0, opened)) < 0) fail(b, "open", rc);
}

static void read_more(bench_t *b) {
  uv_buf_t buf = uv_buf_init(b->buf + b->len, (unsigned)(b->cap - b->len));
  int rc = uv_fs_read(b->loop, &b->req, b->fd, &buf, 1, (int64_t)b->len, got_bytes);
  if (rc < 0) fail(b, "read", rc);
}

/* Cleans req up: 1 when its call succeeded, else 0 and the failure told. */
static int succeeded(uv_fs_t *req, const char *what) {
  uv_fs_req_cleanup(req); /* keeps statbuf */
  if (req->result >= 0) return 1;
  fail(req->data, what, (int)req->result);
  return 0;
}

static void opened(uv_fs_t *req) {
  bench_t *b = req->data;
  int rc;
  if (!succeeded(req, "open")) return;
  b->fd = (uv_file)req->result;
  if ((rc = uv_fs_fstat(b->loop, &b->req, b->fd, statted)) < 0) fail(b, "fstat", rc);
}

static void statted(uv_fs_t *req) {
  bench_t *b = req->data;
  size_t want = (size_t)req->statbuf.st_size + 1; /* + 1: the read that finds the end */
  if (!succeeded(req, "fstat")) return;
  /* A new buffer each time, as read_file's bytes are the caller's to keep. */
  if ((b->buf = malloc(want)) == NULL) {
    fail(b, "a buffer for", UV_ENOMEM);
    return;
  }
  b->cap = want;
  read_more(b);
}

static void got_bytes(uv_fs_t *req) {
  bench_t *b = req->data;
  int rc;
  if (!succeeded(req, "read")) return;
  if (req->result > 0 && (b->len += (size_t)req->result) < b->cap) {
    read_more(b);
    return;
  }
  if ((rc = uv_fs_close(b->loop, &b->req, b->fd, closed)) < 0) fail(b, "close", rc);
}

static void closed(uv_fs_t *req) {
  bench_t *b = req->data;
  if (!succeeded(req, "close")) return;
  free(b->buf);
  b->buf = NULL;
  if (b->done == 0) b->size = b->len;
  if (b->len != b->size || b->len == 0 || b->len == b->cap) {
    fprintf(stderr, "files-libuv: read %zu bytes, then %zu (the file changed?)\n", b->size, b->len);
    b->failed = 1;
    return;
  }
  if (b->mb_s != NULL) b->mb_s[b->done] = (double)b->len / 1e6 / (oneshot_now() - b->first);
  if (++b->done < b->args.count) read_whole(b);
}

int main(int argc, char **argv) {
  bench_t b = {0};
  int rc = oneshot_parse_args(argc, argv, "files-libuv", "files", &b.args);
  if (rc != 0) return rc;
  if (b.args.mode[0] == 'b' && (b.mb_s = calloc(b.args.count, sizeof *b.mb_s)) == NULL) return 1;
  b.loop = uv_default_loop();
  b.start = oneshot_now();
  read_whole(&b);
  uv_run(b.loop, UV_RUN_DEFAULT);
  double s = oneshot_now() - b.start;
  if (!b.failed) oneshot_report(IMPL, &b.args, s, b.mb_s != NULL ? oneshot_median(b.mb_s, b.done) : (double)b.done / s);
  uv_loop_close(b.loop);
  free(b.buf);
  free(b.mb_s);
  return b.failed;
}
