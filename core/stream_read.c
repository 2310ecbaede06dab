/* stream_read.c -- S1-S5: reading a stream.
 *
 * Received bytes wait in the stream's buffer. A read completes when its
 * condition holds (some bytes, n bytes, the delimiter) by copying them into
 * the caller's buffer, and consumes them only when its result is taken: a
 * read cancelled or timed out before that -- even in the loop iteration its
 * bytes arrived -- leaves them for the next read (S3), as asyncio's
 * readexactly() takes bytes out of its buffer only when it returns.
 *
 * The stream reads from the socket from its first read on, while its buffer
 * holds less than the limit (or less than the waiting read needs): a fast
 * sender then fills the kernel's buffers, not ours (S5). libuv reads into
 * one scratch buffer per loop; a stream keeps only what is left unread. */
#include <stdio.h>
#include <string.h>

#include "stream.h"

#define SCRATCH_SIZE (64 * 1024)

enum { READ_SOME, READ_EXACTLY, READ_UNTIL };

typedef struct read_state {
  uvrun_stream_t *stream; /* reference */
  char *buf;
  size_t n;        /* READ_SOME: at most; READ_EXACTLY: exactly; READ_UNTIL: the cap */
  size_t count;    /* once done: the bytes copied into buf, consumed when taken */
  size_t searched; /* READ_UNTIL: the bytes already searched for the delimiter */
  size_t delim_len;
  uint8_t mode;
  uint8_t taken;
  char delim[]; /* READ_UNTIL: a copy */
} read_state;

static read_state *read_of(const uvrun_future_t *fut) { return uvr_io_future_state(fut); }

static int reader_waits(const uvrun_stream_t *stream) {
  return stream->reader != NULL && stream->reader->state == UVR_PENDING;
}

/* ---- the buffer ---- */

static int buffer_append(uvr_rbuf *b, const char *bytes, size_t n) {
  if (b->off + b->len + n > b->cap) {
    if (b->off > 0) memmove(b->data, b->data + b->off, b->len);
    b->off = 0;
    if (b->len + n > b->cap) {
      size_t cap = b->cap * 2 > b->len + n ? b->cap * 2 : b->len + n;
      char *data = uvr_realloc(b->data, cap);
      if (data == NULL) return UVRUN_E_NOMEM;
      b->data = data;
      b->cap = cap;
    }
  }
  memcpy(b->data + b->off + b->len, bytes, n);
  b->len += n;
  return 0;
}

static void buffer_consume(uvr_rbuf *b, size_t n) {
  b->off += n;
  b->len -= n;
  if (b->len > 0) return;
  uvr_free(b->data); /* S5: an idle connection holds no buffer */
  memset(b, 0, sizeof *b);
}

/* ---- reading from the socket ---- */

/* Bytes the stream may hold: the limit, or more when the waiting read
 * needs more (read_exactly of a large n). */
static size_t wanted(const uvrun_stream_t *stream) {
  size_t need = 0;
  if (reader_waits(stream)) {
    const read_state *r = read_of(stream->reader);
    if (r->mode != READ_SOME) need = r->n;
  }
  return need > stream->read_limit ? need : stream->read_limit;
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
  uvrun_stream_t *stream = (uvrun_stream_t *)handle;
  uvrun_loop_t *loop = stream->loop;
  size_t room = wanted(stream) - stream->rbuf.len;
  size_t size;
  char *scratch = uvr_read_scratch(loop, &size);
  (void)suggested;
  /* No buffer: libuv reports UV_ENOBUFS to on_read. */
  *buf = uv_buf_init(scratch, room < size ? room : size);
}

static void reader_check(uvrun_stream_t *stream);
static void on_read(uv_stream_t *handle, ssize_t nread, const uv_buf_t *buf);

/* Reads while the buffer is below what is wanted, from the first read on. */
static void read_flow(uvrun_stream_t *stream) {
  int go = !stream->closing && !stream->at_eof && stream->read_err == 0 && stream->rbuf.len < wanted(stream);
  int rc;
  if (go && !stream->reading) {
    rc = stream->is_file ? uvr_file_read_start(stream) : uv_read_start(&stream->uv.stream, on_alloc, on_read);
    if (rc < 0) {
      stream->read_err = rc;
      reader_check(stream);
      return;
    }
    stream->reading = 1;
  } else if (!go && stream->reading) {
    if (!stream->is_file) uv_read_stop(&stream->uv.stream); /* a file's read out delivers when it ends */
    stream->reading = 0;
  }
}

static void on_read(uv_stream_t *handle, ssize_t nread, const uv_buf_t *buf) {
  uvr_stream_received((uvrun_stream_t *)handle, nread, buf->base);
}

void uvr_stream_received(uvrun_stream_t *stream, ssize_t nread, const char *bytes) {
  if (nread > 0) {
    if (buffer_append(&stream->rbuf, bytes, (size_t)nread) < 0) stream->read_err = UVRUN_E_NOMEM;
  } else if (nread == UV_EOF) {
    stream->at_eof = 1;
  } else if (nread < 0) {
    stream->read_err = (int)nread;
  }
  read_flow(stream);
  reader_check(stream);
}

char *uvr_read_scratch(uvrun_loop_t *loop, size_t *size) {
  if (loop->read_scratch == NULL) loop->read_scratch = uvr_malloc(SCRATCH_SIZE);
  *size = loop->read_scratch != NULL ? SCRATCH_SIZE : 0;
  return loop->read_scratch;
}

void uvr_streams_free_scratch(uvrun_loop_t *loop) {
  uvr_free(loop->read_scratch);
  loop->read_scratch = NULL;
}

/* ---- completing the waiting read ---- */

/* Done with `count` bytes in buf, which stay in the stream until taken. */
static void read_done(uvrun_future_t *fut, size_t count) {
  read_state *r = read_of(fut);
  if (count > 0) memcpy(r->buf, r->stream->rbuf.data + r->stream->rbuf.off, count);
  r->count = count;
  uvrun_future_set_result(fut, (void *)(uintptr_t)count, NULL);
}

/* Failed: the stream has no reader any more. */
static void read_fail(uvrun_stream_t *stream, uvrun_error_t *err) {
  uvrun_future_t *fut = stream->reader;
  stream->reader = NULL;
  uvrun_future_set_error(fut, err);
}

/* S2: the end came first. The bytes that came are the caller's now (in buf,
 * their count as the error's payload), as asyncio's IncompleteReadError
 * carries them. */
static void read_incomplete(uvrun_stream_t *stream) {
  read_state *r = read_of(stream->reader);
  size_t have = stream->rbuf.len;
  char msg[96];
  if (have > 0) memcpy(r->buf, stream->rbuf.data + stream->rbuf.off, have);
  buffer_consume(&stream->rbuf, have);
  if (r->mode == READ_EXACTLY) {
    snprintf(msg, sizeof msg, "%zu bytes read on a total of %zu expected bytes", have, r->n);
  } else {
    snprintf(msg, sizeof msg, "%zu bytes read on a total of undefined expected bytes", have);
  }
  read_fail(stream, uvrun_error_new(UVRUN_E_INCOMPLETE_READ, msg, (void *)(uintptr_t)have, NULL));
}

static void read_overrun(uvrun_stream_t *stream, const char *message) {
  read_fail(stream, uvr_error_make(UVRUN_E_LIMIT_OVERRUN, message));
}

static void check_until(uvrun_stream_t *stream) {
  read_state *r = read_of(stream->reader);
  const uvr_rbuf *b = &stream->rbuf;
  size_t from = r->searched >= r->delim_len ? r->searched - r->delim_len + 1 : 0;
  const char *at = b->len > from ? memmem(b->data + b->off + from, b->len - from, r->delim, r->delim_len) : NULL;
  if (at != NULL) {
    size_t end = (size_t)(at - (b->data + b->off)) + r->delim_len;
    if (end <= r->n) {
      read_done(stream->reader, end);
    } else {
      read_overrun(stream, "Separator is found, but chunk is longer than limit");
    }
  } else if (b->len >= r->n) {
    read_overrun(stream, "Separator is not found, and chunk exceed the limit");
  } else if (stream->at_eof) {
    read_incomplete(stream);
  } else {
    r->searched = b->len;
  }
}

static void reader_check(uvrun_stream_t *stream) {
  read_state *r;
  size_t len = stream->rbuf.len;
  if (!reader_waits(stream)) return;
  r = read_of(stream->reader);
  if (stream->read_err != 0) {
    char msg[128];
    read_fail(stream, uvr_error_make(stream->read_err, uvr_io_failure("read", stream->read_err, msg, sizeof msg)));
  } else if (r->mode == READ_SOME) {
    if (len > 0 || stream->at_eof) read_done(stream->reader, len < r->n ? len : r->n);
  } else if (r->mode == READ_EXACTLY) {
    if (len >= r->n) {
      read_done(stream->reader, r->n);
    } else if (stream->at_eof) {
      read_incomplete(stream);
    }
  } else {
    check_until(stream);
  }
  read_flow(stream); /* a read that ended no longer needs more than the limit */
}

/* ---- the read future ---- */

/* S3: the result is taken, so the bytes are consumed, once; not when a
 * later read took the reader's place first. */
static void read_take(uvrun_future_t *fut) {
  read_state *r = read_of(fut);
  uvrun_stream_t *stream = r->stream;
  if (r->taken) return;
  r->taken = 1;
  if (stream->reader != fut) return;
  stream->reader = NULL;
  buffer_consume(&stream->rbuf, r->count);
  read_flow(stream);
}

static int read_cancel(uvrun_future_t *fut, const char *msg) {
  uvrun_stream_t *stream = read_of(fut)->stream;
  int cancelled = uvr_future_cancel_plain(fut, msg);
  if (cancelled && stream->reader == fut) {
    stream->reader = NULL;
    read_flow(stream);
  }
  return cancelled;
}

static void read_free(uvrun_future_t *fut) {
  uvrun_stream_t *stream = read_of(fut)->stream;
  if (stream->reader == fut) {
    stream->reader = NULL;
    read_flow(stream);
  }
  uvrun_stream_unref(stream);
}

static const uvr_io_kind read_kind = {"read", read_cancel, read_free, read_take};

static const char *const read_names[] = {"read", "read_exactly", "read_until"};

static uvrun_future_t *read_start(uvrun_stream_t *stream, int mode, void *buf, size_t n, const void *delim,
                                  size_t delim_len) {
  uvrun_future_t *fut;
  read_state *r;
  if (reader_waits(stream)) {
    uvr_fail(UVRUN_E_READ_BUSY, "%s() called while another coroutine is already waiting for incoming data",
             read_names[mode]);
    return NULL;
  }
  fut = uvr_io_future_new(stream->loop, &read_kind, sizeof(read_state) + delim_len);
  if (fut == NULL) return NULL;
  r = read_of(fut);
  r->stream = uvrun_stream_ref(stream);
  r->buf = buf;
  r->n = n;
  r->mode = (uint8_t)mode;
  r->delim_len = delim_len;
  if (delim_len > 0) memcpy(r->delim, delim, delim_len);
  /* A read done but never taken consumed nothing, and now never will: this
   * one gets its bytes. */
  stream->reader = fut;
  reader_check(stream); /* bytes already here, the end, or an error */
  read_flow(stream);
  return fut;
}

/* NULL with the error recorded, unless stream is open and buf set. */
static int read_check(const uvrun_stream_t *stream, const void *buf) {
  int rc = uvr_stream_check_open(stream);
  if (rc == 0 && buf == NULL) rc = uvr_fail(UVRUN_E_INVAL, "buf must not be NULL");
  return rc;
}

uvrun_future_t *uvrun_stream_read(uvrun_stream_t *stream, void *buf, size_t n) {
  if (read_check(stream, buf) < 0) return NULL;
  if (n == 0) { /* a count of 0 is the end of the stream */
    uvr_fail(UVRUN_E_INVAL, "read() needs room for at least one byte");
    return NULL;
  }
  return read_start(stream, READ_SOME, buf, n, NULL, 0);
}

uvrun_future_t *uvrun_stream_read_exactly(uvrun_stream_t *stream, void *buf, size_t n) {
  if (n == 0) return uvr_stream_check_open(stream) < 0 ? NULL : uvr_future_new_done(stream->loop);
  if (read_check(stream, buf) < 0) return NULL;
  return read_start(stream, READ_EXACTLY, buf, n, NULL, 0);
}

uvrun_future_t *uvrun_stream_read_until(uvrun_stream_t *stream, const void *delim, size_t delim_len, void *buf,
                                        size_t cap) {
  if (read_check(stream, buf) < 0) return NULL;
  if (delim == NULL || delim_len == 0) {
    uvr_fail(UVRUN_E_INVAL, "Separator should be at least one-byte string");
    return NULL;
  }
  if (cap < delim_len) {
    uvr_fail(UVRUN_E_INVAL, "cap (%zu) must be at least the separator's length (%zu)", cap, delim_len);
    return NULL;
  }
  return read_start(stream, READ_UNTIL, buf, cap, delim, delim_len);
}

void uvr_stream_read_close(uvrun_stream_t *stream, int code, const char *message) {
  if (reader_waits(stream)) read_fail(stream, uvr_error_make(code, message));
  stream->reader = NULL;
  if (stream->reading && !stream->is_file) uv_read_stop(&stream->uv.stream);
  stream->reading = 0;
  buffer_consume(&stream->rbuf, stream->rbuf.len);
}
