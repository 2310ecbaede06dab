/* stream_write.c -- S6-S9: writing a stream.
 *
 * A write never waits: with nothing queued ahead of it, it gives the socket
 * what it takes now (uv_try_write) and queues the rest, copied or, for
 * write_owned, by reference. The queue goes out in one uv_write at a time,
 * each taking the chunks queued by then, so bytes leave in call order.
 * drain() waits on the low-water mark as asyncio's does; a failed write is
 * kept and reported by every write, drain and shutdown after it. */
#include <stdio.h>
#include <string.h>

#include "stream.h"

/* Chunks one uv_write takes at most: libuv copies the buffer list. */
#define MAX_BUFS 64

/* uv_buf_init() takes an unsigned int length; a chunk may be longer. */
static uv_buf_t buf_of(char *bytes, size_t len) {
  uv_buf_t buf;
  buf.base = bytes;
  buf.len = len;
  return buf;
}

static void chunk_free(uvr_wchunk *chunk) {
  if (chunk->release != NULL) chunk->release(chunk->owned);
  uvr_free(chunk);
}

/* Drops the queue, releasing owned buffers. */
static void queue_drop(uvrun_stream_t *stream) {
  while (stream->wq_head != NULL) {
    uvr_wchunk *chunk = stream->wq_head;
    stream->wq_head = chunk->next;
    chunk_free(chunk);
  }
  stream->wq_tail = NULL;
  stream->wq_bytes = 0;
  stream->wq_flight = 0;
  stream->paused = 0;
}

static int write_error(int code) {
  char msg[128];
  return uvr_fail(code, "%s", uvr_io_failure("write", code, msg, sizeof msg));
}

/* S11: the first error stays; what waits on the queue fails with it. */
static void write_failed(uvrun_stream_t *stream, int code) {
  char msg[128];
  if (stream->write_err == 0) stream->write_err = code;
  queue_drop(stream);
  uvr_io_failure("write", code, msg, sizeof msg);
  uvr_waiters_settle(&stream->drains, code, msg);
  uvr_waiters_settle(&stream->shutdowns, code, msg);
  if (stream->closing && uvr_stream_write_idle(stream)) uvr_stream_close_handle(stream);
}

static void shutdown_done(uvrun_stream_t *stream, int status) {
  stream->shutdown = 3;
  if (status < 0 && status != UV_ECANCELED) {
    write_failed(stream, status);
    return;
  }
  uvr_waiters_settle(&stream->shutdowns, 0, NULL);
  if (stream->closing) uvr_stream_close_handle(stream);
}

static void on_shutdown(uv_shutdown_t *req, int status) { shutdown_done(req->data, status); }

static void start_shutdown(uvrun_stream_t *stream) {
  int rc;
  if (stream->is_file) { /* a file has no end to send: its bytes are written */
    shutdown_done(stream, 0);
    return;
  }
  stream->sreq.data = stream;
  if ((rc = uv_shutdown(&stream->sreq, &stream->uv.stream, on_shutdown)) < 0) {
    stream->shutdown = 3;
    write_failed(stream, rc);
    return;
  }
  stream->shutdown = 2;
}

static void on_write(uv_write_t *req, int status);

/* Sends the queue's first chunks, unless a uv_write is out; when all is
 * sent, what waited for that goes on: shutdown, then close. */
static void write_next(uvrun_stream_t *stream) {
  uv_buf_t bufs[MAX_BUFS];
  uvr_wchunk *chunk;
  unsigned n = 0;
  int rc;
  if (stream->writing) return;
  if (stream->wq_head == NULL) {
    if (stream->shutdown == 1) start_shutdown(stream);
    if (stream->closing && uvr_stream_write_idle(stream)) uvr_stream_close_handle(stream);
    return;
  }
  for (chunk = stream->wq_head; chunk != NULL && n < MAX_BUFS; chunk = chunk->next)
    bufs[n++] = buf_of(chunk->base, chunk->len);
  stream->wreq.data = stream;
  rc = stream->is_file ? uvr_file_write(stream, bufs, n)
                       : uv_write(&stream->wreq, &stream->uv.stream, bufs, n, on_write);
  if (rc < 0) {
    write_failed(stream, rc);
    return;
  }
  stream->writing = 1;
  stream->wq_flight = n;
}

static void on_write(uv_write_t *req, int status) { uvr_stream_wrote(req->data, status); }

void uvr_stream_wrote(uvrun_stream_t *stream, int status) {
  stream->writing = 0;
  if (status == UV_ECANCELED && stream->closing) return; /* abort: the queue is gone already */
  if (status < 0) {
    write_failed(stream, status);
    return;
  }
  for (; stream->wq_flight > 0; stream->wq_flight--) {
    uvr_wchunk *chunk = stream->wq_head;
    stream->wq_head = chunk->next;
    stream->wq_bytes -= chunk->len;
    chunk_free(chunk);
  }
  if (stream->wq_head == NULL) stream->wq_tail = NULL;
  if (stream->paused && stream->wq_bytes <= stream->write_low) {
    stream->paused = 0;
    uvr_waiters_settle(&stream->drains, 0, NULL);
  }
  write_next(stream);
}

/* Writes what the socket takes now and queues the rest (by reference when
 * `owned`, else copied). 0: all written; 1: queued; or the error
 * (recorded), nothing queued. */
static int write_bytes(uvrun_stream_t *stream, const char *data, size_t n, int owned) {
  uvr_wchunk *chunk;
  size_t done = 0;
  /* Nothing ahead of it: a socket may take it now; a file's bytes go on the executor. */
  if (stream->wq_head == NULL && !stream->is_file) {
    uv_buf_t buf = buf_of((char *)data, n);
    int rc = uv_try_write(&stream->uv.stream, &buf, 1);
    if (rc >= 0) {
      done = (size_t)rc;
    } else if (rc != UV_EAGAIN) {
      stream->write_err = rc;
      return write_error(rc);
    }
    if (done == n) return 0;
  }
  chunk = uvr_malloc(sizeof *chunk + (owned ? 0 : n - done));
  if (chunk == NULL) return uvr_fail(UVRUN_E_NOMEM, "out of memory");
  chunk->next = NULL;
  chunk->len = n - done;
  chunk->owned = NULL;
  chunk->release = NULL;
  if (owned) {
    chunk->base = (char *)data + done;
  } else {
    chunk->base = (char *)(chunk + 1);
    memcpy(chunk->base, data + done, n - done);
  }
  if (stream->wq_tail != NULL) stream->wq_tail->next = chunk;
  else stream->wq_head = chunk;
  stream->wq_tail = chunk;
  stream->wq_bytes += n - done;
  if (stream->wq_bytes > stream->write_high) stream->paused = 1;
  write_next(stream);
  return 1;
}

/* 0 when data may be written, else the error (recorded). */
static int write_check(const uvrun_stream_t *stream, const void *data, size_t n) {
  int rc = uvr_stream_check_open(stream);
  if (rc < 0) return rc;
  if (data == NULL && n > 0) return uvr_fail(UVRUN_E_INVAL, "data must not be NULL");
  if (stream->write_err != 0) return write_error(stream->write_err);
  if (stream->shutdown != 0 && n > 0) return uvr_fail(UVRUN_E_INVALID_STATE, "Cannot call write() after shutdown()");
  return 0;
}

int uvrun_stream_write(uvrun_stream_t *stream, const void *data, size_t n) {
  int rc = write_check(stream, data, n);
  if (rc < 0 || n == 0) return rc;
  rc = write_bytes(stream, data, n, 0);
  return rc < 0 ? rc : 0;
}

int uvrun_stream_write_owned(uvrun_stream_t *stream, void *data, size_t n, uvrun_free_fn release) {
  int rc = write_check(stream, data, n);
  if (rc == 0 && n > 0) rc = write_bytes(stream, data, n, 1);
  if (rc == 1) { /* the queue releases it */
    stream->wq_tail->owned = data;
    stream->wq_tail->release = release;
    return 0;
  }
  /* Written at once, or refused: the buffer was given either way. */
  if (release != NULL) release(data);
  return rc;
}

/* A future already failed with the stream's write error. */
static uvrun_future_t *failed_future(uvrun_stream_t *stream) {
  uvrun_future_t *fut;
  char msg[128];
  if (uvrun_future_new(stream->loop, &fut) < 0) return NULL;
  uvrun_future_set_error_code(fut, stream->write_err, uvr_io_failure("write", stream->write_err, msg, sizeof msg));
  return fut;
}

uvrun_future_t *uvrun_stream_drain(uvrun_stream_t *stream) {
  if (uvr_stream_check_open(stream) < 0) return NULL;
  if (stream->write_err != 0) return failed_future(stream);
  if (!stream->paused) return uvr_future_new_done(stream->loop);
  return uvr_waiter_new(stream, &stream->drains);
}

uvrun_future_t *uvrun_stream_shutdown(uvrun_stream_t *stream) {
  uvrun_future_t *fut;
  if (uvr_stream_check_open(stream) < 0) return NULL;
  if (stream->write_err != 0) return failed_future(stream);
  if (stream->shutdown == 3) return uvr_future_new_done(stream->loop);
  if ((fut = uvr_waiter_new(stream, &stream->shutdowns)) == NULL) return NULL;
  if (stream->shutdown == 0) {
    stream->shutdown = 1;
    write_next(stream); /* starts it now when nothing is queued */
  }
  return fut;
}

int uvr_stream_write_idle(const uvrun_stream_t *stream) {
  return !stream->writing && stream->wq_head == NULL && stream->shutdown != 2;
}

void uvr_stream_write_drop(uvrun_stream_t *stream) {
  queue_drop(stream);
  uvr_waiters_settle(&stream->drains, UVRUN_E_STREAM_CLOSED, "the stream is closed");
  uvr_waiters_settle(&stream->shutdowns, UVRUN_E_STREAM_CLOSED, "the stream is closed");
}
