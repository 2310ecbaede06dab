/* stream.c -- a stream's life: made (a connect, an accept, an adopted fd),
 * referenced, closed gracefully or aborted, reported when dropped open; and
 * the futures that wait for its events (drain, shutdown, closed).
 *
 * The uv handle lives inside the stream. The loop's list of open streams
 * keeps the memory until the handle's close callback has run, so a late
 * libuv callback never touches freed memory (L3); after that the caller's
 * references and those of waiting futures keep it. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "stream.h"

#define DEFAULT_READ_LIMIT (64 * 1024)
#define DEFAULT_WRITE_HIGH (64 * 1024)

/* ---- options ---- */

void uvrun_stream_opts_init(uvrun_stream_opts_t *opts) {
  if (opts == NULL) return;
  memset(opts, 0, sizeof *opts);
  opts->size = sizeof *opts;
  opts->nodelay = 1;
}

int uvr_stream_opts_from(const uvrun_stream_opts_t *given, uvrun_stream_opts_t *opts) {
  uvrun_stream_opts_init(opts);
  if (given != NULL) {
    if (given->size < sizeof given->size)
      return uvr_fail(UVRUN_E_INVAL, "opts->size must be set (uvrun_stream_opts_init)");
    memcpy(opts, given, given->size < sizeof *opts ? given->size : sizeof *opts);
    opts->size = sizeof *opts;
  }
  /* asyncio's defaults: a low mark alone sets the high one, and back. */
  if (opts->write_high == 0) opts->write_high = opts->write_low != 0 ? 4 * opts->write_low : DEFAULT_WRITE_HIGH;
  if (opts->write_low == 0) opts->write_low = opts->write_high / 4;
  if (opts->read_limit == 0) opts->read_limit = DEFAULT_READ_LIMIT;
  if (opts->write_low > opts->write_high)
    return uvr_fail(UVRUN_E_INVAL, "high (%llu) must be >= low (%llu)", (unsigned long long)opts->write_high,
                    (unsigned long long)opts->write_low);
  if (opts->nodelay != 0 && opts->nodelay != 1) return uvr_fail(UVRUN_E_INVAL, "nodelay must be 0 or 1");
  if (opts->keepalive < 0) return uvr_fail(UVRUN_E_INVAL, "keepalive must not be negative");
  if (opts->local_port < 0 || opts->local_port > 65535)
    return uvr_fail(UVRUN_E_INVAL, "local_port must be 0-65535, not %d", (int)opts->local_port);
  if (isnan(opts->connect_timeout) || opts->connect_timeout < 0)
    return uvr_fail(UVRUN_E_INVAL, "connect_timeout must be a number of seconds, 0 or more");
  return 0;
}

/* ---- checks ---- */

int uvr_stream_check(const uvrun_stream_t *stream) {
  if (stream == NULL) return uvr_fail(UVRUN_E_INVAL, "stream must not be NULL");
  if (uvr_loop_on_wrong_thread(stream->loop))
    return uvr_fail(UVRUN_E_WRONG_THREAD, "a stream is used from a thread other than its loop's");
  return 0;
}

int uvr_stream_check_open(const uvrun_stream_t *stream) {
  int rc = uvr_stream_check(stream);
  if (rc == 0 && stream->closing) rc = uvr_fail(UVRUN_E_STREAM_CLOSED, "the stream is closed");
  return rc;
}

/* ---- making one ---- */

/* Debug mode: the task that makes a stream (or a file), named in its
 * unclosed report. */
char *uvr_io_origin(uvrun_loop_t *loop) {
  char buf[256];
  const uvrun_task_t *task = loop->current_task;
  const char *site;
  if (task == NULL) return NULL;
  site = uvr_task_site(task);
  snprintf(buf, sizeof buf, " created by task '%s'%s%s", uvrun_task_name(task), site ? " at " : "", site ? site : "");
  return uvr_strdup(buf);
}

/* The handle: an unconnected TCP socket or pipe, or a TTY on fd. */
static int handle_init(uvrun_loop_t *loop, uvrun_stream_t *stream, uv_handle_type type, int fd) {
  switch (type) {
  case UV_TCP: return uv_tcp_init(loop->uv, &stream->uv.tcp);
  case UV_NAMED_PIPE: return uv_pipe_init(loop->uv, &stream->uv.pipe, 0);
  default: return uv_tty_init(loop->uv, &stream->uv.tty, fd, 0);
  }
}

static uvrun_stream_t *stream_new(uvrun_loop_t *loop, uv_handle_type type, int fd, const uvrun_stream_opts_t *opts) {
  uvrun_stream_opts_t o;
  uvrun_stream_t *stream;
  int rc;
  if (loop == NULL) {
    uvr_fail(UVRUN_E_INVAL, "loop must not be NULL");
    return NULL;
  }
  if (uvr_loop_check(loop) < 0 || uvr_stream_opts_from(opts, &o) < 0) return NULL;
  uvr_io_sigpipe_once();
  if ((stream = uvr_calloc(1, sizeof *stream)) == NULL) {
    uvr_fail(UVRUN_E_NOMEM, "out of memory");
    return NULL;
  }
  if ((rc = handle_init(loop, stream, type, fd)) < 0) {
    uvr_free(stream);
    uvr_fail(rc, "cannot make a stream: %s", uv_strerror(rc));
    return NULL;
  }
  stream->refs = 1;
  stream->loop = uvr_loop_ref(loop);
  stream->is_tcp = type == UV_TCP;
  stream->read_limit = (size_t)o.read_limit;
  stream->write_high = (size_t)o.write_high;
  stream->write_low = (size_t)o.write_low;
  stream->nodelay = o.nodelay;
  stream->keepalive = o.keepalive;
  if (loop->debug) stream->origin = uvr_io_origin(loop);
  stream->next = loop->streams;
  if (loop->streams != NULL) loop->streams->prev = stream;
  loop->streams = stream;
  return stream;
}

uvrun_stream_t *uvr_stream_new(uvrun_loop_t *loop, uv_handle_type type, const uvrun_stream_opts_t *opts) {
  if (type != UV_TCP && type != UV_NAMED_PIPE) {
    uvr_fail(UVRUN_E_INVAL, "a stream is a TCP connection or a pipe");
    return NULL;
  }
  return stream_new(loop, type, -1, opts);
}

uvrun_stream_t *uvr_stream_new_tty(uvrun_loop_t *loop, int fd, const uvrun_stream_opts_t *opts) {
  return stream_new(loop, UV_TTY, fd, opts);
}

uv_stream_t *uvr_stream_handle(uvrun_stream_t *stream) { return &stream->uv.stream; }

int uvr_stream_connected(uvrun_stream_t *stream) {
  int rc = 0;
  if (!stream->is_tcp) return 0;
  if ((rc = uv_tcp_nodelay(&stream->uv.tcp, stream->nodelay)) < 0 ||
      (rc = uv_tcp_keepalive(&stream->uv.tcp, stream->keepalive > 0, (unsigned)stream->keepalive)) < 0)
    return uvr_fail(rc, "cannot set the socket options: %s", uv_strerror(rc));
  return 0;
}

static void on_close(uv_handle_t *handle);

void uvr_stream_discard(uvrun_stream_t *stream) {
  stream->refs = 0;
  stream->closing = 1;
  uv_close(&stream->uv.handle, on_close);
}

int uvrun_stream_open(uvrun_loop_t *loop, int fd, const uvrun_stream_opts_t *opts, uvrun_stream_t **out) {
  uvrun_stream_t *stream;
  uv_handle_type type;
  int rc;
  if (out != NULL) *out = NULL;
  if (fd < 0) return uvr_fail(UVRUN_E_INVAL, "fd must not be negative");
  if (loop == NULL || out == NULL) {
    rc = uvr_fail(UVRUN_E_INVAL, "loop and out must not be NULL");
    goto close_fd;
  }
  type = uv_guess_handle(fd);
  if (type != UV_TCP && type != UV_NAMED_PIPE) {
    rc = uvr_fail(UVRUN_E_INVAL, "fd %d is not a socket or a pipe", fd);
    goto close_fd;
  }
  if ((stream = uvr_stream_new(loop, type, opts)) == NULL) {
    rc = uvr_last_code();
    goto close_fd;
  }
  rc = type == UV_TCP ? uv_tcp_open(&stream->uv.tcp, fd) : uv_pipe_open(&stream->uv.pipe, fd);
  if (rc < 0) {
    uvr_stream_discard(stream);
    rc = uvr_fail(rc, "cannot adopt fd %d: %s", fd, uv_strerror(rc));
    goto close_fd;
  }
  if ((rc = uvr_stream_connected(stream)) < 0) {
    uvr_stream_discard(stream); /* the handle closes fd */
    return rc;
  }
  *out = stream;
  return 0;

close_fd:
  close(fd);
  return rc;
}

/* ---- references, data ---- */

uvrun_stream_t *uvrun_stream_ref(uvrun_stream_t *stream) {
  if (stream != NULL) stream->refs++;
  return stream;
}

static void stream_free(uvrun_stream_t *stream) {
  if (stream->stdio != NULL) uvr_stdio_free(stream->stdio);
  if (stream->data_free != NULL) stream->data_free(stream->data);
  uvr_free(stream->origin);
  uvr_loop_unref(stream->loop);
  uvr_free(stream);
}

static void stream_abort(uvrun_stream_t *stream);

static void report_unclosed(uvrun_stream_t *stream, const char *when) {
  uvrun_stream_info_t info;
  char where[160] = "";
  memset(&info, 0, sizeof info);
  info.size = sizeof info;
  if (uvrun_stream_info(stream, &info) < 0) info.fd = -1;
  if (info.peer_host[0] != '\0') snprintf(where, sizeof where, " peer=%s:%d", info.peer_host, (int)info.peer_port);
  uvr_logf(UVRUN_LOG_WARNING, "unclosed stream <Stream fd=%d%s>%s, aborted %s", (int)info.fd, where,
           stream->origin != NULL ? stream->origin : "", when);
}

void uvrun_stream_unref(uvrun_stream_t *stream) {
  if (stream == NULL || --stream->refs > 0) return;
  if (!stream->closing) {
    /* S13: like asyncio's ResourceWarning for a transport never closed. */
    if (stream->loop->debug) report_unclosed(stream, "when dropped");
    stream_abort(stream); /* the close callback frees it */
  } else if (stream->closed) {
    stream_free(stream);
  }
}

uvrun_loop_t *uvrun_stream_loop(const uvrun_stream_t *stream) { return stream != NULL ? stream->loop : NULL; }

void uvrun_stream_set_data(uvrun_stream_t *stream, void *data, uvrun_free_fn data_free) {
  if (stream == NULL) return;
  if (stream->data_free != NULL && stream->data != data) stream->data_free(stream->data);
  stream->data = data;
  stream->data_free = data_free;
}

void *uvrun_stream_data(const uvrun_stream_t *stream) { return stream != NULL ? stream->data : NULL; }

/* ---- closing ---- */

static void on_close(uv_handle_t *handle) {
  uvrun_stream_t *stream = (uvrun_stream_t *)handle;
  uvrun_loop_t *loop = stream->loop;
  stream->closed = 1;
  if (stream->prev != NULL) stream->prev->next = stream->next;
  else loop->streams = stream->next;
  if (stream->next != NULL) stream->next->prev = stream->prev;
  if (stream->stdio != NULL) uvr_stdio_closed(stream);
  if (stream->on_closed != NULL) stream->on_closed(stream->on_closed_ud);
  uvr_waiters_settle(&stream->closes, 0, NULL);
  if (stream->refs == 0) stream_free(stream);
}

void uvr_stream_on_closed(uvrun_stream_t *stream, void (*fn)(void *ud), void *ud) {
  stream->on_closed = fn;
  stream->on_closed_ud = ud;
}

void uvr_stream_close_handle(uvrun_stream_t *stream) {
  if (uv_is_closing(&stream->uv.handle)) return;
  if (stream->stdio != NULL) uvr_stdio_closing(stream);
  uv_close(&stream->uv.handle, on_close);
}

static void stream_abort(uvrun_stream_t *stream) {
  stream->closing = 1;
  uvr_stream_read_close(stream, UVRUN_E_STREAM_CLOSED, "the stream is closed");
  uvr_stream_write_drop(stream);
  if (uv_is_closing(&stream->uv.handle)) return;
  /* A reset tells the peer the bytes it sent were not all read; a handle
   * with no socket yet, or one shutting down, closes plainly. */
  if (stream->is_tcp && uv_tcp_close_reset(&stream->uv.tcp, on_close) == 0) return;
  uvr_stream_close_handle(stream);
}

int uvrun_stream_close(uvrun_stream_t *stream) {
  int rc = uvr_stream_check(stream);
  if (rc < 0 || stream->closing) return rc;
  stream->closing = 1;
  uvr_stream_read_close(stream, UVRUN_E_STREAM_CLOSED, "the stream is closed");
  /* S9: the queued bytes go first; stream_write.c closes the handle once
   * they are out. */
  if (uvr_stream_write_idle(stream)) uvr_stream_close_handle(stream);
  return 0;
}

int uvrun_stream_abort(uvrun_stream_t *stream) {
  int rc = uvr_stream_check(stream);
  if (rc < 0) return rc;
  if (!uv_is_closing(&stream->uv.handle)) stream_abort(stream); /* also after a close() still sending */
  return 0;
}

uvrun_future_t *uvrun_stream_wait_closed(uvrun_stream_t *stream) {
  if (uvr_stream_check(stream) < 0) return NULL;
  if (stream->closed) return uvr_future_new_done(stream->loop);
  return uvr_waiter_new(stream, &stream->closes);
}

int uvr_streams_abort_all(uvrun_loop_t *loop) {
  uvrun_stream_t *stream;
  int any = 0;
  for (stream = loop->streams; stream != NULL; stream = stream->next) {
    if (stream->closing && uv_is_closing(&stream->uv.handle)) continue;
    if (loop->debug && !stream->closing) report_unclosed(stream, "at loop close");
    stream_abort(stream);
    any = 1;
  }
  return any;
}

/* ---- info ---- */

/* A socket address as numeric host and port; "" and 0 when there is none. */
static void name_address(const struct sockaddr_storage *ss, int ok, char *host, size_t len, int32_t *port) {
  host[0] = '\0';
  *port = 0;
  if (!ok || (ss->ss_family != AF_INET && ss->ss_family != AF_INET6)) return;
  uv_ip_name((const struct sockaddr *)ss, host, len);
  *port = ntohs(ss->ss_family == AF_INET ? ((const struct sockaddr_in *)ss)->sin_port
                                         : ((const struct sockaddr_in6 *)ss)->sin6_port);
}

int uvrun_stream_info(const uvrun_stream_t *stream, uvrun_stream_info_t *info) {
  uvrun_stream_info_t all;
  struct sockaddr_storage ss;
  uv_os_fd_t fd;
  int len, rc = uvr_stream_check(stream);
  if (rc < 0) return rc;
  if ((rc = uvr_io_info_start(info != NULL ? &info->size : NULL, &all, sizeof all)) < 0) return rc;
  all.fd = stream->closing                           ? -1
           : stream->stdio != NULL                   ? uvr_stdio_fd(stream)
           : uv_fileno(&stream->uv.handle, &fd) == 0 ? fd
                                                     : -1;
  all.closed = stream->closing;
  all.at_eof = stream->at_eof;
  all.read_buffered = stream->rbuf.len;
  all.write_queued = stream->wq_bytes;
  if (stream->is_tcp && all.fd >= 0) {
    len = sizeof ss;
    rc = uv_tcp_getsockname(&stream->uv.tcp, (struct sockaddr *)&ss, &len);
    name_address(&ss, rc == 0, all.local_host, sizeof all.local_host, &all.local_port);
    len = sizeof ss;
    rc = uv_tcp_getpeername(&stream->uv.tcp, (struct sockaddr *)&ss, &len);
    name_address(&ss, rc == 0, all.peer_host, sizeof all.peer_host, &all.peer_port);
  }
  memcpy(info, &all, all.size);
  return 0;
}

/* ---- futures waiting for an event ---- */

typedef struct waiter_state {
  void *owner; /* reference, let go by release */
  void (*release)(void *owner);
  uvr_waiters *list; /* NULL once settled or cancelled */
  uvrun_future_t *prev, *next;
} waiter_state;

static waiter_state *waiter_of(const uvrun_future_t *fut) { return uvr_io_future_state(fut); }

static void waiter_unlink(uvrun_future_t *fut) {
  waiter_state *w = waiter_of(fut);
  if (w->list == NULL) return;
  if (w->prev != NULL) waiter_of(w->prev)->next = w->next;
  else w->list->head = w->next;
  if (w->next != NULL) waiter_of(w->next)->prev = w->prev;
  w->list = NULL;
  w->prev = w->next = NULL;
}

/* S7: a cancelled drain leaves the queue alone; it only stops waiting. */
static int waiter_cancel(uvrun_future_t *fut, const char *msg) {
  if (fut->state == UVR_PENDING) waiter_unlink(fut);
  return uvr_future_cancel_plain(fut, msg);
}

static void waiter_free(uvrun_future_t *fut) {
  waiter_state *w = waiter_of(fut);
  waiter_unlink(fut);
  w->release(w->owner);
}

static const uvr_io_kind waiter_kind = {"event", waiter_cancel, waiter_free, NULL};

uvrun_future_t *uvr_waiter_new_on(uvrun_loop_t *loop, uvr_waiters *list, void *owner, void (*release)(void *owner)) {
  uvrun_future_t *fut = uvr_io_future_new(loop, &waiter_kind, sizeof(waiter_state));
  waiter_state *w;
  if (fut == NULL) {
    release(owner);
    return NULL;
  }
  w = waiter_of(fut);
  w->owner = owner;
  w->release = release;
  w->list = list;
  w->next = list->head;
  if (list->head != NULL) waiter_of(list->head)->prev = fut;
  list->head = fut;
  return fut;
}

static void stream_release(void *stream) { uvrun_stream_unref(stream); }

uvrun_future_t *uvr_waiter_new(uvrun_stream_t *stream, uvr_waiters *list) {
  return uvr_waiter_new_on(stream->loop, list, uvrun_stream_ref(stream), stream_release);
}

void uvr_waiters_settle(uvr_waiters *list, int code, const char *message) {
  while (list->head != NULL) {
    uvrun_future_t *fut = list->head;
    waiter_unlink(fut);
    if (code == 0) {
      uvrun_future_set_result(fut, NULL, NULL);
    } else {
      uvrun_future_set_error_code(fut, code, message);
    }
  }
}
