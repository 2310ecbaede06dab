/* W10 on raw libuv: the floor under bulk_uvrun.c, with the same structure
 * (usage in bulk.h). The sink reads into one buffer until EOF; the source
 * keeps a bounded number of uv_write()s of its chunk in flight. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "bulk.h"

#define IMPL "libuv"
/* Writes in flight at once: the backpressure bound. Two 64 KiB chunks is
 * what uvrun's default marks let its source queue (a write on top of a
 * queue at the 64 KiB high-water mark, then a drain). */
#define IN_FLIGHT 2

typedef struct {
  struct bulk_args args;
  uv_loop_t *loop;
  uv_tcp_t listener;
  uv_tcp_t conn;
  uv_connect_t connect_req;
  uv_write_t writes[IN_FLIGHT];
  int free_writes[IN_FLIGHT], n_free;
  uv_write_t count_req;
  uv_shutdown_t shutdown_req;
  char *buf;
  uint64_t done; /* bytes read (sink) or queued (source) */
  unsigned char count[8];
  size_t count_len;
  double start;
  int failed;
} bulk_t;

static void close_handle(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

/* Reports the error and closes everything, which ends the run. */
static void fail(bulk_t *b, const char *what, int status) {
  fprintf(stderr, "bulk-libuv: %s: %s\n", what, uv_strerror(status));
  b->failed = 1;
  uv_walk(b->loop, close_handle, NULL);
}

static int parse_addr(const char *host, int port, struct sockaddr_storage *addr) {
  if (uv_ip4_addr(host, port, (struct sockaddr_in *)addr) == 0) return 0;
  return uv_ip6_addr(host, port, (struct sockaddr_in6 *)addr);
}

/* ---- sink ---- */

static void sink_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  bulk_t *b = h->data;
  (void)suggested;
  *buf = uv_buf_init(b->buf, (unsigned)b->args.chunk);
}

static void count_written(uv_write_t *req, int status) {
  bulk_t *b = req->data;
  if (status < 0) fail(b, "writing the count", status);
  else uv_close((uv_handle_t *)&b->conn, NULL);
}

static void sink_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  bulk_t *b = s->data;
  uv_buf_t out;
  int rc;
  (void)buf;
  if (n > 0) {
    b->done += (uint64_t)n;
  } else if (n == UV_EOF) { /* answer with the count */
    uv_read_stop(s);
    bulk_encode_count(b->done, b->count);
    out = uv_buf_init((char *)b->count, sizeof b->count);
    b->count_req.data = b;
    if ((rc = uv_write(&b->count_req, s, &out, 1, count_written)) < 0) fail(b, "writing the count", rc);
  } else if (n < 0) {
    fail(b, "reading", (int)n);
  }
}

static void on_connection(uv_stream_t *server, int status) {
  bulk_t *b = server->data;
  int rc;
  if (status < 0) return fail(b, "listening", status);
  uv_tcp_init(b->loop, &b->conn);
  b->conn.data = b;
  if ((rc = uv_accept(server, (uv_stream_t *)&b->conn)) < 0) return fail(b, "accepting", rc);
  uv_close((uv_handle_t *)&b->listener, NULL); /* one connection is all a sink takes */
  uv_tcp_nodelay(&b->conn, 1);
  if ((rc = uv_read_start((uv_stream_t *)&b->conn, sink_alloc, sink_read)) < 0) fail(b, "reading", rc);
}

static void sink(bulk_t *b) {
  struct sockaddr_storage addr;
  int len = sizeof addr, rc;
  uv_tcp_init(b->loop, &b->listener);
  b->listener.data = b;
  if ((rc = parse_addr(b->args.host, b->args.port, &addr)) < 0 ||
      (rc = uv_tcp_bind(&b->listener, (struct sockaddr *)&addr, 0)) < 0 ||
      (rc = uv_listen((uv_stream_t *)&b->listener, 511, on_connection)) < 0 ||
      (rc = uv_tcp_getsockname(&b->listener, (struct sockaddr *)&addr, &len)) < 0) {
    fail(b, "listening", rc);
    return;
  }
  bulk_print_listening(b->args.host, ntohs(((struct sockaddr_in *)&addr)->sin_port));
}

/* ---- source ---- */

static void count_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  bulk_t *b = s->data;
  (void)buf;
  if (n > 0) b->count_len += (size_t)n;
  if (b->count_len == sizeof b->count) {
    b->failed = bulk_report(IMPL, b->args.bytes, bulk_decode_count(b->count), bulk_now() - b->start);
    uv_close((uv_handle_t *)s, NULL);
  } else if (n < 0) {
    fail(b, "reading the count", (int)n);
  }
}

static void count_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  bulk_t *b = h->data;
  (void)suggested;
  *buf = uv_buf_init((char *)b->count + b->count_len, (unsigned)(sizeof b->count - b->count_len));
}

static void shut_down(uv_shutdown_t *req, int status) {
  bulk_t *b = req->data;
  int rc;
  if (status < 0) return fail(b, "shutting down", status);
  if ((rc = uv_read_start((uv_stream_t *)&b->conn, count_alloc, count_read)) < 0) fail(b, "reading the count", rc);
}

static void chunk_written(uv_write_t *req, int status);

/* Queues chunks while a write slot is free; shuts down after the last. */
static void pump(bulk_t *b) {
  int rc;
  while (b->n_free > 0 && b->done < b->args.bytes) {
    uint64_t left = b->args.bytes - b->done;
    uv_buf_t buf = uv_buf_init(b->buf, (unsigned)(left < b->args.chunk ? left : b->args.chunk));
    uv_write_t *req = &b->writes[b->free_writes[--b->n_free]];
    req->data = b;
    if ((rc = uv_write(req, (uv_stream_t *)&b->conn, &buf, 1, chunk_written)) < 0) return fail(b, "writing", rc);
    b->done += buf.len;
  }
  if (b->n_free == IN_FLIGHT && b->done == b->args.bytes) {
    b->shutdown_req.data = b;
    if ((rc = uv_shutdown(&b->shutdown_req, (uv_stream_t *)&b->conn, shut_down)) < 0) fail(b, "shutting down", rc);
  }
}

static void chunk_written(uv_write_t *req, int status) {
  bulk_t *b = req->data;
  if (status < 0) {
    if (status != UV_ECANCELED) fail(b, "writing", status);
    return;
  }
  b->free_writes[b->n_free++] = (int)(req - b->writes);
  pump(b);
}

static void connected(uv_connect_t *req, int status) {
  bulk_t *b = req->data;
  if (status < 0) return fail(b, "connecting", status);
  uv_tcp_nodelay(&b->conn, 1);
  b->start = bulk_now();
  pump(b);
}

static void source(bulk_t *b) {
  struct sockaddr_storage addr;
  int rc;
  uv_tcp_init(b->loop, &b->conn);
  b->conn.data = b;
  for (int i = 0; i < IN_FLIGHT; i++) b->free_writes[b->n_free++] = i;
  b->connect_req.data = b;
  if ((rc = parse_addr(b->args.host, b->args.port, &addr)) < 0 ||
      (rc = uv_tcp_connect(&b->connect_req, &b->conn, (struct sockaddr *)&addr, connected)) < 0)
    fail(b, "connecting", rc);
}

int main(int argc, char **argv) {
  bulk_t b;
  int rc;
  memset(&b, 0, sizeof b);
  if ((rc = bulk_parse_args(argc, argv, "bulk-libuv", &b.args)) != 0) return rc;
  if ((b.buf = bulk_chunk_new(b.args.chunk)) == NULL) return 1;
  b.loop = uv_default_loop();
  if (b.args.mode == BULK_SINK) sink(&b);
  else source(&b);
  uv_run(b.loop, UV_RUN_DEFAULT);
  uv_loop_close(b.loop);
  free(b.buf);
  return b.failed;
}
