/* W10 on uvrun's C API: bulk bytes through loopback (usage in bulk.h). The
 * sink reads into one buffer until EOF; the source writes a chunk, then
 * drains, as a user of asyncio-style streams would. */
#include <stdio.h>
#include <stdlib.h>

#include <uvrun.h>

#include "bulk.h"
#include "run_main.h"

#define IMPL "uvrun"

typedef struct {
  struct bulk_args args;
  int step;
  uvrun_server_t *server;
  uvrun_stream_t *stream;
  char *buf;
  uint64_t done; /* bytes read (sink) or written (source) */
  unsigned char count[8];
  double start;
  int mismatch;
} bulk_t;

enum { SINK_LISTEN, SINK_ACCEPT, SINK_READ, SINK_CLOSED };

static int sink(uvrun_task_t *task, bulk_t *b) {
  void *v;
  int rc = uvrun_task_resume(task, &v);
  if (rc < 0) return rc;
  switch (b->step) {
  case SINK_LISTEN:
    b->step = SINK_ACCEPT;
    return uvrun_task_await(task, uvrun_tcp_listen(uvrun_task_loop(task), b->args.host, b->args.port, NULL));
  case SINK_ACCEPT:
    b->server = uvrun_server_ref(v);
    bulk_print_listening(b->args.host, uvrun_server_port(b->server));
    b->step = SINK_READ;
    return uvrun_task_await(task, uvrun_server_accept(b->server));
  case SINK_READ:
    if (b->stream == NULL) { /* one connection is all a sink takes */
      b->stream = uvrun_stream_ref(v);
      uvrun_server_close(b->server);
    } else if ((uintptr_t)v > 0) {
      b->done += (uintptr_t)v;
    } else { /* EOF: answer with the count */
      bulk_encode_count(b->done, b->count);
      if ((rc = uvrun_stream_write(b->stream, b->count, sizeof b->count)) < 0) return rc;
      if ((rc = uvrun_stream_close(b->stream)) < 0) return rc;
      b->step = SINK_CLOSED;
      return uvrun_task_await(task, uvrun_stream_wait_closed(b->stream));
    }
    return uvrun_task_await(task, uvrun_stream_read(b->stream, b->buf, b->args.chunk));
  default: return 0;
  }
}

enum { SOURCE_CONNECT, SOURCE_WRITE, SOURCE_SHUTDOWN, SOURCE_COUNT, SOURCE_CLOSED };

static int source(uvrun_task_t *task, bulk_t *b) {
  void *v;
  size_t n;
  int rc = uvrun_task_resume(task, &v);
  if (rc < 0) return rc;
  switch (b->step) {
  case SOURCE_CONNECT:
    b->step = SOURCE_WRITE;
    return uvrun_task_await(task, uvrun_tcp_connect(uvrun_task_loop(task), b->args.host, b->args.port, NULL));
  case SOURCE_WRITE:
    if (b->stream == NULL) {
      b->stream = uvrun_stream_ref(v);
      b->start = bulk_now();
    }
    if (b->done < b->args.bytes) {
      n = b->args.bytes - b->done < b->args.chunk ? (size_t)(b->args.bytes - b->done) : b->args.chunk;
      if ((rc = uvrun_stream_write(b->stream, b->buf, n)) < 0) return rc;
      b->done += n;
      return uvrun_task_await(task, uvrun_stream_drain(b->stream));
    }
    b->step = SOURCE_SHUTDOWN;
    return uvrun_task_await(task, uvrun_stream_shutdown(b->stream));
  case SOURCE_SHUTDOWN:
    b->step = SOURCE_COUNT;
    return uvrun_task_await(task, uvrun_stream_read_exactly(b->stream, b->count, sizeof b->count));
  case SOURCE_COUNT:
    b->mismatch = bulk_report(IMPL, b->args.bytes, bulk_decode_count(b->count), bulk_now() - b->start);
    if ((rc = uvrun_stream_close(b->stream)) < 0) return rc;
    b->step = SOURCE_CLOSED;
    return uvrun_task_await(task, uvrun_stream_wait_closed(b->stream));
  default: return 0;
  }
}

/* The task's step: references go when it ends, however it ends. */
static int bulk_step(uvrun_task_t *task, void *arg) {
  bulk_t *b = arg;
  int rc = b->args.mode == BULK_SINK ? sink(task, b) : source(task, b);
  if (rc != UVRUN_SUSPEND) {
    uvrun_stream_unref(b->stream);
    uvrun_server_unref(b->server);
    b->stream = NULL;
    b->server = NULL;
  }
  return rc;
}

int main(int argc, char **argv) {
  bulk_t b = {0};
  int rc = bulk_parse_args(argc, argv, "bulk-uvrun", &b.args);
  if (rc != 0) return rc;
  if ((b.buf = bulk_chunk_new(b.args.chunk)) == NULL) return 1;
  rc = run_main(bulk_step, &b, "bulk-uvrun", argv[1]);
  free(b.buf);
  return rc < 0 || b.mismatch ? 1 : 0;
}
