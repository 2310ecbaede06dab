/* stream.h -- a stream's parts, shared by stream.c (its life), stream_read.c
 * and stream_write.c. Nothing here is API. */
#ifndef UVRUN_STREAM_H
#define UVRUN_STREAM_H

#include <termios.h>

#include "io.h"

/* Bytes received and not read yet: data[off .. off + len). Freed when
 * empty: an idle connection holds no buffer. */
typedef struct uvr_rbuf {
  char *data;
  size_t off, len, cap;
} uvr_rbuf;

/* A queued write: base[0 .. len) still to send. A copied write's bytes
 * follow the chunk in its own block; an owned one's go back by release. */
typedef struct uvr_wchunk {
  struct uvr_wchunk *next;
  char *base;
  size_t len;
  void *owned;
  uvrun_free_fn release;
} uvr_wchunk;

struct uvrun_stream_s {
  union {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
    uv_tty_t tty;
  } uv;
  /* The caller's references and those of the futures waiting on it. Memory
   * goes when they are gone and the handle is closed (L3). */
  int refs;
  uvrun_loop_t *loop;          /* reference */
  uvrun_stream_t *prev, *next; /* loop->streams, until the handle is closed */
  size_t read_limit, write_high, write_low;
  int nodelay, keepalive;
  void *data;
  uvrun_free_fn data_free;
  char *origin; /* debug mode: who made it, for the unclosed report */
  /* Told when the handle has closed (uvr_stream_on_closed). */
  void (*on_closed)(void *ud);
  void *on_closed_ud;
  uint8_t closing; /* close() or abort() was called */
  uint8_t closed;  /* the handle's close callback ran */
  uint8_t is_tcp;
  uint8_t is_file;  /* a regular file's stream: I/O on the executor (stream_file.c) */
  uint8_t reading;  /* uv_read_start is on */
  uint8_t at_eof;   /* the peer ended its side */
  uint8_t paused;   /* the queue went above write_high, not yet to write_low */
  uint8_t writing;  /* a uv_write is out */
  uint8_t shutdown; /* 1: shutdown() asked for, 2: uv_shutdown is out, 3: sent */
  /* reading (stream_read.c) */
  uvr_rbuf rbuf;
  uvrun_future_t *reader; /* the read waiting, or done but not yet taken */
  int read_err;           /* a failed read (reset by the peer): every read after reports it */
  /* writing (stream_write.c) */
  uvr_wchunk *wq_head, *wq_tail;
  size_t wq_bytes;    /* bytes queued, those out in uv_write included */
  unsigned wq_flight; /* chunks the uv_write out covers */
  int write_err;      /* the first failed write: every write after reports it */
  uv_write_t wreq;
  uv_shutdown_t sreq;
  uvr_waiters drains, shutdowns, closes;
  struct uvr_stdio *stdio; /* opened by uvrun_stdio_open: what its fd was like (stdio.c) */
};

/* 0, or the error (recorded): stream is not NULL and, in debug mode, used
 * on its loop's thread; uvr_stream_check_open also that it is not closed. */
int uvr_stream_check(const uvrun_stream_t *stream);
int uvr_stream_check_open(const uvrun_stream_t *stream);

/* A waiter (io.h) holding a reference to stream. */
uvrun_future_t *uvr_waiter_new(uvrun_stream_t *stream, uvr_waiters *list);

/* ---- stream_read.c ---- */
/* What a read of the stream's source gave (libuv's on_read contract: n > 0
 * bytes, UV_EOF, or an error). */
void uvr_stream_received(uvrun_stream_t *stream, ssize_t nread, const char *bytes);
/* The stream closes: a pending read fails with code, reading stops and the
 * buffer goes. */
void uvr_stream_read_close(uvrun_stream_t *stream, int code, const char *message);

/* ---- stream_write.c ---- */
/* The write out (the queue's first wq_flight chunks) ended with status. */
void uvr_stream_wrote(uvrun_stream_t *stream, int status);
/* close(): nothing is out or queued any more, so the handle may close. */
int uvr_stream_write_idle(const uvrun_stream_t *stream);
/* abort(): the queue is dropped (owned buffers released), drains and
 * shutdowns fail with STREAM_CLOSED. */
void uvr_stream_write_drop(uvrun_stream_t *stream);
/* The write side went idle after close(): stream.c closes the handle. */
void uvr_stream_close_handle(uvrun_stream_t *stream);

/* ---- stream_file.c: a regular file's stream, on the executor ----
 * Like uv_read_start/uv_read_stop/uv_write for the other kinds: bytes come
 * to uvr_stream_received and the end of a write to uvr_stream_wrote. */
int uvr_file_read_start(uvrun_stream_t *stream);
int uvr_file_write(uvrun_stream_t *stream, const uv_buf_t *bufs, unsigned n);

/* ---- stdio.c ---- */
/* What uvrun_stdio_open found, to leave the fd as it was at close. */
struct uvr_fd;
struct uvr_stdio {
  int fd;                 /* as given */
  int flags, fd_flags;    /* its F_GETFL and F_GETFD flags then */
  uint8_t owned;          /* fd > 2: the stream's, closed with it */
  uint8_t tty_reopened;   /* libuv's TTY handle has a new fd; fd is a copy of it */
  uint8_t raw;            /* a TTY in raw mode: termios goes back at close */
  uint8_t read_out;       /* a file: a read job is out */
  struct termios termios; /* a TTY's, when opened */
  struct uvr_fd *file;    /* a file: the descriptor its jobs use */
};
/* The handle is about to close: a TTY's settings go back. */
void uvr_stdio_closing(uvrun_stream_t *stream);
/* The handle has closed: the fd is left as it was found, or closed when the
 * stream owns it. */
void uvr_stdio_closed(uvrun_stream_t *stream);
/* With the stream's memory: the state goes. */
void uvr_stdio_free(struct uvr_stdio *stdio);
/* A stream's fd for info(): the file's, or what libuv has; -1: none. */
int uvr_stdio_fd(const uvrun_stream_t *stream);

#endif /* UVRUN_STREAM_H */
