/* stdio.c -- U2: a process's stdin, stdout or stderr (any fd) as a stream,
 * whatever it is connected to: a TTY (uv_tty_init), a pipe or a socket
 * (uv_pipe_open, uv_tcp_open), or a regular file or device, whose reads and
 * writes run on the executor (stream_file.c).
 *
 * Who owns the fd. Above 2 the stream does, as uvrun_stream_open's and
 * asyncio's connect_read_pipe() transports do: it is closed with the stream,
 * or when the open fails. Fds 0, 1 and 2 are never closed (libuv refuses to
 * as well): a later open() would take the number, and printf() or a child
 * inheriting stdout would write into whatever that is. At close they are
 * left as found: their blocking mode (libuv makes them non-blocking, and the
 * open file may be a shell's too), not close-on-exec (libuv sets that on a
 * TTY it reopens), and a TTY's settings. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "fs.h"
#include "stream.h"

/* Adopts fd in stream's handle, by its kind. 0 or a libuv code. */
static int stdio_adopt(uvrun_stream_t *stream, uv_handle_type type, int fd) {
  char name[32];
  int rc;
  if (type == UV_TCP) return (rc = uv_tcp_open(&stream->uv.tcp, fd)) < 0 ? rc : uvr_stream_connected(stream);
  if (type == UV_NAMED_PIPE) return uv_pipe_open(&stream->uv.pipe, fd);
  /* A file: the handle, never opened, only gives the stream its close.
   * Its jobs use a descriptor of their own (a copy of 0-2, which must stay
   * open), closed by whichever lets go of it last. */
  snprintf(name, sizeof name, "fd %d", fd);
  if ((stream->stdio->file = uvr_fd_new(name)) == NULL) return uvr_last_code();
  stream->stdio->file->fd = stream->stdio->owned ? fd : fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (stream->stdio->file->fd < 0) return -errno;
  stream->is_file = 1;
  return 0;
}

/* The kind of stream fd can be, or the error (recorded). */
static int stdio_kind_of(int fd, uv_handle_type *type) {
  *type = uv_guess_handle(fd);
  switch (*type) {
  case UV_TTY:
  case UV_TCP:
  case UV_NAMED_PIPE:
  case UV_FILE: return 0;
  default: return uvr_fail(UVRUN_E_INVAL, "fd %d is not a TTY, a pipe, a stream socket or a file", fd);
  }
}

/* A stream of loop open on fd already: a second would take over its
 * watcher in libuv, and closing either would pull fd from under the other. */
static int fd_in_use(const uvrun_loop_t *loop, int fd) {
  const uvrun_stream_t *s;
  uv_os_fd_t used;
  for (s = loop->streams; s != NULL; s = s->next) {
    if (s->closing) continue;
    if (s->stdio != NULL ? s->stdio->fd == fd : uv_fileno(&s->uv.handle, &used) == 0 && used == fd) return 1;
  }
  return 0;
}

int uvrun_stdio_open(uvrun_loop_t *loop, int fd, uvrun_stream_t **out) {
  struct uvr_stdio *st = NULL;
  uvrun_stream_t *stream = NULL;
  uv_handle_type type;
  uv_os_fd_t handle_fd;
  int flags, rc;
  if (out != NULL) *out = NULL;
  if (fd < 0) return uvr_fail(UVRUN_E_INVAL, "fd must not be negative, not %d", fd);
  if ((flags = fcntl(fd, F_GETFL)) < 0) return uvr_fail(-errno, "fd %d is not open", fd);
  if (loop == NULL || out == NULL) {
    rc = uvr_fail(UVRUN_E_INVAL, "loop and out must not be NULL");
    goto fail;
  }
  if ((rc = uvr_io_check_loop(loop, "stdio_open")) < 0 || (rc = stdio_kind_of(fd, &type)) < 0) goto fail;
  if (fd_in_use(loop, fd)) /* fd is that stream's: left open */
    return uvr_fail(UVRUN_E_INVALID_STATE, "fd %d already has an open stream on this loop", fd);
  if ((st = uvr_calloc(1, sizeof *st)) == NULL) {
    rc = uvr_fail(UVRUN_E_NOMEM, "out of memory");
    goto fail;
  }
  st->fd = fd;
  st->flags = flags;
  st->fd_flags = fcntl(fd, F_GETFD); /* libuv's reopened TTY sets FD_CLOEXEC on fd */
  st->owned = fd > STDERR_FILENO;
  if (type == UV_TTY && tcgetattr(fd, &st->termios) < 0) {
    rc = uvr_fail(-errno, "cannot read the settings of TTY fd %d: %s", fd, uv_strerror(-errno));
    goto fail;
  }
  stream = type == UV_TTY ? uvr_stream_new_tty(loop, fd, NULL)
                          : uvr_stream_new(loop, type == UV_TCP ? UV_TCP : UV_NAMED_PIPE, NULL);
  if (stream == NULL) {
    rc = uvr_last_code();
    goto fail;
  }
  stream->stdio = st;
  if (type != UV_TTY && (rc = stdio_adopt(stream, type, fd)) < 0) {
    rc = uvr_fail(rc, "cannot open fd %d as a stream: %s", fd, uv_strerror(rc));
    goto fail;
  }
  if (type == UV_TTY) st->tty_reopened = uv_fileno(&stream->uv.handle, &handle_fd) == 0 && handle_fd != fd;
  *out = stream;
  return 0;

fail:
  if (stream != NULL) { /* fd was not adopted: closed or restored below */
    stream->stdio = NULL;
    uvr_stream_discard(stream);
  }
  uvr_stdio_free(st);
  if (fd > STDERR_FILENO) close(fd);
  else fcntl(fd, F_SETFL, flags);
  return rc;
}

int uvrun_stdio_set_raw(uvrun_stream_t *stream, int raw) {
  int rc = uvr_stream_check_open(stream);
  if (rc < 0) return rc;
  if (stream->uv.handle.type != UV_TTY) return uvr_fail(UVRUN_E_INVAL, "the stream is not a TTY");
  if (raw != 0 && raw != 1) return uvr_fail(UVRUN_E_INVAL, "raw must be 0 or 1");
  if ((rc = uv_tty_set_mode(&stream->uv.tty, raw ? UV_TTY_MODE_RAW : UV_TTY_MODE_NORMAL)) < 0)
    return uvr_fail(rc, "cannot set the TTY's mode: %s", uv_strerror(rc));
  stream->stdio->raw = (uint8_t)raw;
  return 0;
}

int uvr_stdio_fd(const uvrun_stream_t *stream) { return stream->stdio->fd; }

void uvr_stdio_closing(uvrun_stream_t *stream) {
  struct uvr_stdio *st = stream->stdio;
  if (st->raw) tcsetattr(st->fd, TCSANOW, &st->termios); /* while libuv's fd is still open */
  st->raw = 0;
}

void uvr_stdio_closed(uvrun_stream_t *stream) {
  struct uvr_stdio *st = stream->stdio;
  /* libuv closed its own fd: a pipe's or socket's above 2, a TTY's copy. */
  if (st->owned && st->tty_reopened) close(st->fd);
  if (!st->owned) {
    fcntl(st->fd, F_SETFL, st->flags);
    fcntl(st->fd, F_SETFD, st->fd_flags);
  }
  uvr_fd_unref(st->file); /* the file's fd closes with the last job's end */
  st->file = NULL;
}

void uvr_stdio_free(struct uvr_stdio *stdio) {
  if (stdio == NULL) return;
  uvr_fd_unref(stdio->file);
  uvr_free(stdio);
}
