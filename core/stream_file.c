/* stream_file.c -- a regular file (or a device such as /dev/null) as a
 * stream: U2's redirected stdin or stdout.
 *
 * epoll cannot watch a regular file, so libuv has no stream for one. Here
 * the stream's reads and writes become jobs on the loop's executor, one at a
 * time each way, and end where a socket's would: bytes read go to
 * uvr_stream_received (0 is the end of the file), a write's end to
 * uvr_stream_wrote. The rest -- buffering, read_until, the write queue and
 * drain -- is the stream's own. Reads and writes use the file's position,
 * shared with whoever else has the open file (a shell's `(read; cat) < f`). */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"
#include "stream.h"

#define FILE_CHUNK (64 * 1024)

/* ---- on a worker ---- */

static int file_run_read(uvr_fs_req *req) {
  ssize_t k;
  if ((req->data = uvr_malloc(FILE_CHUNK)) == NULL) return uvr_fail(UVRUN_E_NOMEM, "out of memory");
  while ((k = read(req->fd->fd, req->data, FILE_CHUNK)) < 0 && errno == EINTR) {
  }
  if (k < 0) return uvr_fs_fail(req, -errno);
  req->len = (size_t)k;
  req->result = req;
  return 0;
}

static int file_run_write(uvr_fs_req *req) {
  int rc = uvr_fs_write_all(req->fd->fd, req->data, req->len, -1);
  return rc < 0 ? uvr_fs_fail(req, rc) : 0;
}

/* ---- on the loop ---- */

/* A job's file_outcome: 0 with its request, or the error's code. */
static int file_outcome(uvrun_future_t *fut, uvr_fs_req **req) {
  uvrun_error_t *err = uvrun_future_error(fut);
  *req = NULL;
  if (err != NULL) return uvrun_error_code(err) == UVRUN_E_CANCELLED ? UV_ECANCELED : uvrun_error_code(err);
  uvrun_future_result(fut, (void **)req);
  return 0;
}

static void file_drop_stream(void *stream) { uvrun_stream_unref(stream); }

/* Submits req; done(fut, stream) runs when it ends, holding a reference to
 * stream. 0 or the error (recorded). */
static int file_submit(uvrun_stream_t *stream, uvr_fs_req *req, uvrun_done_fn done) {
  uvrun_future_t *fut;
  int rc;
  req->fd = uvr_fd_ref(stream->stdio->file);
  if ((fut = uvr_fs_submit(stream->loop, req, NULL)) == NULL) return uvr_last_code();
  rc = uvrun_future_add_done_callback_owned(fut, done, uvrun_stream_ref(stream), file_drop_stream);
  if (rc < 0) uvrun_stream_unref(stream);
  uvrun_future_unref(fut); /* the job holds it until it ends */
  return rc;
}

static void file_read_ended(uvrun_future_t *fut, void *ud);

static int file_read_next(uvrun_stream_t *stream) {
  uvr_fs_req *req = uvr_fs_req_new("read", file_run_read, NULL);
  int rc = req != NULL ? file_submit(stream, req, file_read_ended) : uvr_last_code();
  stream->stdio->read_out = rc == 0;
  return rc;
}

static void file_read_ended(uvrun_future_t *fut, void *ud) {
  uvrun_stream_t *stream = ud;
  uvr_fs_req *req;
  int rc = file_outcome(fut, &req);
  stream->stdio->read_out = 0;
  if (rc == UV_ECANCELED) stream->reading = 0; /* runner close: a later read starts again, or fails */
  if (!stream->closing && rc != UV_ECANCELED) {
    uvr_stream_received(stream, rc < 0 ? rc : req->len > 0 ? (ssize_t)req->len : UV_EOF, req ? req->data : NULL);
    /* Still reading: the buffer has room and the file may have more. */
    if (stream->reading && !stream->closing && (rc = file_read_next(stream)) < 0) uvr_stream_received(stream, rc, NULL);
  }
  uvrun_stream_unref(stream);
}

int uvr_file_read_start(uvrun_stream_t *stream) {
  return stream->stdio->read_out ? 0 : file_read_next(stream); /* the read out goes on when it ends */
}

static void file_write_ended(uvrun_future_t *fut, void *ud) {
  uvrun_stream_t *stream = ud;
  uvr_fs_req *req;
  int rc = file_outcome(fut, &req);
  uvr_stream_wrote(stream, rc < 0 || !uv_is_closing(&stream->uv.handle) ? rc : UV_ECANCELED);
  uvrun_stream_unref(stream);
}

/* The job writes a copy: an abort frees the queue while the job may run. */
int uvr_file_write(uvrun_stream_t *stream, const uv_buf_t *bufs, unsigned n) {
  uvr_fs_req *req = uvr_fs_req_new("write", file_run_write, NULL);
  size_t total = 0, at = 0;
  unsigned i;
  if (req == NULL) return uvr_last_code();
  for (i = 0; i < n; i++) total += bufs[i].len;
  if ((req->data = uvr_malloc(total)) == NULL) {
    uvr_fs_req_free(req);
    return uvr_fail(UVRUN_E_NOMEM, "out of memory");
  }
  for (i = 0; i < n; i++) {
    memcpy(req->data + at, bufs[i].base, bufs[i].len);
    at += bufs[i].len;
  }
  req->len = total;
  return file_submit(stream, req, file_write_ended);
}
