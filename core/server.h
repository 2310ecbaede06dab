/* server.h -- a server's parts, shared by server.c (its life: listening,
 * closing, references) and server_accept.c (taking connections: accept,
 * serve, shutdown). Nothing here is API. */
#ifndef UVRUN_SERVER_H
#define UVRUN_SERVER_H

#include "io.h"

/* One listening socket. The server makes it itself, so that it can set
 * SO_REUSEPORT before bind (libuv 1.44 has no UV_TCP_REUSEPORT), and polls
 * it rather than handing it to uv_listen(): libuv's accept loop drops every
 * pending connection when the process runs out of descriptors (its "EMFILE
 * trick"), where V6 wants them kept in the backlog until descriptors free
 * up, and it accepts one connection ahead of any accept() call. Memory goes
 * in the poll handle's close callback. */
typedef struct uvr_listener {
  uv_poll_t poll;
  uvrun_server_t *server; /* holds a memory reference until closed */
  int fd;
  uint8_t polling;
} uvr_listener;

/* An accepted connection, known to its server until its handle closes (V7's
 * count, V5's shutdown). */
typedef struct uvr_conn {
  uvrun_server_t *server; /* holds a memory reference */
  uvrun_stream_t *stream;
  uvrun_task_t *task;       /* serve(): the handler's task while it runs (reference) */
  uvrun_context_t *context; /* serve(): the copy of the server's context it runs in */
  struct uvr_conn *prev, *next;
  uint8_t open;      /* the stream's handle has not closed yet */
  uint8_t holds;     /* the conn holds a reference to the stream */
  uint8_t unclaimed; /* accepted for an accept() whose result was never taken */
} uvr_conn;

struct uvrun_server_s {
  /* The caller's references and those of the futures waiting on it: when
   * the last goes, the server stops listening. */
  int users;
  /* Memory: one while there are users, one per listener not yet closed,
   * one per connection still known. */
  int refs;
  uvrun_loop_t *loop;          /* reference */
  uvrun_server_t *prev, *next; /* loop->servers, until freed */
  uvrun_server_opts_t opts;
  uvr_listener **listeners;
  size_t nlisteners;
  int port;        /* TCP: the port bound, once listening */
  char *unix_path; /* a Unix socket file of ours, removed at close */
  uint64_t unix_ino;
  uint8_t is_tcp;
  uint8_t listening;
  uint8_t closed;      /* close(), shutdown() or the last user gone */
  uint8_t backing_off; /* V6: out of descriptors, waiting for retry */
  uint8_t reported;    /* V6: this shortage was logged */
  /* accept() and serve() */
  uvrun_future_t *accepts_head, *accepts_tail; /* waiting accepts, oldest first */
  size_t nunclaimed;
  uvr_conn *conns;
  uvrun_handler_fn handler; /* serve(): set */
  void *handler_ud;
  uvrun_free_fn handler_ud_free; /* runs on handler_ud when the server is freed */
  uvrun_context_t *context;
  size_t handlers; /* handler tasks running */
  uvrun_handle_t *retry;
  uvrun_future_t *shutdowns; /* shutdown() futures waiting for the handlers */
  uint64_t open, accepted, refused;
};

/* ---- server.c ---- */
void uvr_server_mem_unref(uvrun_server_t *server);
/* "127.0.0.1:8080", "[::]:80" or the Unix path of a listener, for messages. */
void uvr_server_where(const uvrun_server_t *server, char *buf, size_t len);
/* 0, or the error (recorded): server not NULL, its loop open and, in debug
 * mode, this its thread; uvr_server_check_open also that it listens. */
int uvr_server_check(const uvrun_server_t *server);
int uvr_server_check_open(const uvrun_server_t *server);

/* ---- server_accept.c ---- */
/* Polls the listeners when a connection is wanted (an accept waits, or
 * serve() is on) and stops otherwise: unwanted connections stay in the
 * kernel's backlog (V2). */
void uvr_server_want(uvrun_server_t *server);
void uvr_server_on_readable(uv_poll_t *poll, int status, int events);
/* The server stopped listening: waiting accepts fail, connections taken
 * for accepts never taken are aborted, the backoff timer goes. */
void uvr_server_accepts_close(uvrun_server_t *server);
/* Loop close: handler tasks will never end now; their connections let go. */
void uvr_server_conns_drop(uvrun_server_t *server);

#endif /* UVRUN_SERVER_H */
