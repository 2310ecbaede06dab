/* W13 on raw libuv: the floor under proc_uvrun.c (usage in ../oneshot.h).
 * `spawn`: uv_spawn `true`, and spawn the next once its handle is closed.
 * `cat`: uv_spawn with two uv_pipe_t; a bounded number of uv_write()s of the
 * chunk in flight into cat's stdin, its stdout read into one buffer. */
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#include "../oneshot.h"

#define IMPL "libuv"
#define CHUNK (64u << 10)
/* Writes in flight at once: what uvrun's default marks let a writer queue
 * (as in ../bulk_libuv.c). */
#define IN_FLIGHT 2

typedef struct {
  struct oneshot_args args;
  uv_loop_t *loop;
  uv_process_t proc;
  uv_pipe_t in, out;
  uv_write_t writes[IN_FLIGHT];
  int in_flight;
  uint64_t queued, done; /* bytes written into cat; spawns or bytes read back */
  char *buf;             /* what is written, then what is read */
  double start;
  int failed;
} bench_t;

static void fail(bench_t *b, const char *what, int status) {
  fprintf(stderr, "proc-libuv: %s: %s\n", what, status < 0 ? uv_strerror(status) : "non-zero exit");
  b->failed = 1;
}

/* ---- spawn ---- */

static void spawn_next(bench_t *b);

static void spawned_closed(uv_handle_t *h) {
  bench_t *b = h->data;
  if (!b->failed && ++b->done < b->args.count) spawn_next(b);
}

static void true_exited(uv_process_t *p, int64_t status, int sig) {
  bench_t *b = p->data;
  if (status != 0 || sig != 0) fail(b, "true", 0);
  uv_close((uv_handle_t *)p, spawned_closed);
}

static void spawn_next(bench_t *b) {
  char *argv[] = {"true", NULL};
  uv_stdio_container_t stdio[3] = {{UV_INHERIT_FD, {.fd = 0}}, {UV_INHERIT_FD, {.fd = 1}}, {UV_INHERIT_FD, {.fd = 2}}};
  uv_process_options_t o = {.exit_cb = true_exited, .file = "true", .args = argv, .stdio_count = 3, .stdio = stdio};
  int rc;
  b->proc.data = b;
  if ((rc = uv_spawn(b->loop, &b->proc, &o)) < 0) {
    fail(b, "spawning true", rc);
    uv_close((uv_handle_t *)&b->proc, NULL);
  }
}

/* ---- cat ---- */

static void write_more(bench_t *b);

static void written(uv_write_t *req, int status) {
  bench_t *b = req->data;
  b->in_flight--;
  if (status < 0) {
    fail(b, "writing into cat", status);
    return;
  }
  write_more(b);
}

static void write_more(bench_t *b) {
  int rc;
  while (b->in_flight < IN_FLIGHT && b->queued < b->args.count) {
    uint64_t left = b->args.count - b->queued;
    uv_buf_t buf = uv_buf_init(b->buf, left < CHUNK ? (unsigned)left : CHUNK);
    uv_write_t *req = &b->writes[b->queued / CHUNK % IN_FLIGHT];
    req->data = b;
    if ((rc = uv_write(req, (uv_stream_t *)&b->in, &buf, 1, written)) < 0) {
      fail(b, "writing into cat", rc);
      return;
    }
    b->in_flight++;
    b->queued += buf.len;
  }
  /* Everything written: closing stdin is cat's end of input. */
  if (b->in_flight == 0 && !uv_is_closing((uv_handle_t *)&b->in)) uv_close((uv_handle_t *)&b->in, NULL);
}

static void alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  bench_t *b = h->data;
  (void)suggested;
  *buf = uv_buf_init(b->buf + CHUNK, CHUNK);
}

static void read_back(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  bench_t *b = s->data;
  (void)buf;
  if (n > 0) {
    b->done += (uint64_t)n;
  } else if (n < 0) {
    if (n != UV_EOF) fail(b, "reading from cat", (int)n);
    uv_close((uv_handle_t *)s, NULL);
  }
}

static void cat_exited(uv_process_t *p, int64_t status, int sig) {
  if (status != 0 || sig != 0) fail(p->data, "cat", 0);
  uv_close((uv_handle_t *)p, NULL);
}

static int start_cat(bench_t *b) {
  char *argv[] = {"cat", NULL};
  uv_stdio_container_t stdio[3] = {{UV_CREATE_PIPE | UV_READABLE_PIPE, {.stream = (uv_stream_t *)&b->in}},
                                   {UV_CREATE_PIPE | UV_WRITABLE_PIPE, {.stream = (uv_stream_t *)&b->out}},
                                   {UV_INHERIT_FD, {.fd = 2}}};
  uv_process_options_t o = {.exit_cb = cat_exited, .file = "cat", .args = argv, .stdio_count = 3, .stdio = stdio};
  int rc;
  uv_pipe_init(b->loop, &b->in, 0);
  uv_pipe_init(b->loop, &b->out, 0);
  b->in.data = b->out.data = b->proc.data = b;
  if ((rc = uv_spawn(b->loop, &b->proc, &o)) < 0) {
    fail(b, "spawning cat", rc);
    uv_close((uv_handle_t *)&b->in, NULL);
    uv_close((uv_handle_t *)&b->out, NULL);
    uv_close((uv_handle_t *)&b->proc, NULL);
    return rc;
  }
  b->start = oneshot_now(); /* as the others: from the spawn's return */
  if ((rc = uv_read_start((uv_stream_t *)&b->out, alloc, read_back)) < 0) return rc;
  write_more(b);
  return 0;
}

int main(int argc, char **argv) {
  bench_t b = {0};
  int rc = oneshot_parse_args(argc, argv, "proc-libuv", "proc", &b.args);
  if (rc != 0) return rc;
  if ((b.buf = calloc(2, CHUNK)) == NULL) return 1;
  b.loop = uv_default_loop();
  if (b.args.mode[0] == 's') {
    b.start = oneshot_now();
    spawn_next(&b);
  } else if (start_cat(&b) < 0) {
    b.failed = 1;
  }
  uv_run(b.loop, UV_RUN_DEFAULT);
  double s = oneshot_now() - b.start;
  if (!b.failed && b.args.mode[0] == 'c' && b.done != b.args.count) {
    fprintf(stderr, "proc-libuv: wrote %llu bytes, cat gave back %llu\n", (unsigned long long)b.args.count,
            (unsigned long long)b.done);
    b.failed = 1;
  }
  if (!b.failed)
    oneshot_report(IMPL, &b.args, s, b.args.mode[0] == 's' ? (double)b.done / s : (double)b.done / 1e6 / s);
  uv_loop_close(b.loop);
  free(b.buf);
  return b.failed;
}
