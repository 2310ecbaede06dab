/* server_accept.c -- V2, V3, V5, V6: taking a server's connections.
 *
 * The listening sockets are polled only while a connection is wanted -- an
 * accept() waits, or serve() is on -- so the others wait in the kernel's
 * backlog and the clients' connects in turn: backpressure without a queue
 * of our own (V2). A connection given to an accept whose result is never
 * taken (the task awaiting it was cancelled in the same iteration) goes back
 * to the server for the next accept or handler: none is lost.
 *
 * Out of descriptors (EMFILE, ENFILE), the server logs once, stops polling
 * and tries again 100 ms later; the connection stays in the backlog until
 * then, and nothing spins (V6). */
#include <errno.h>
#include <math.h>
#include <unistd.h>

#include <sys/socket.h>

#include "server.h"

#define ACCEPTS_PER_WAKE 64 /* then other callbacks get their turn */
#define RETRY_DELAY 0.1     /* seconds between accepts while out of descriptors */

static int accepting_wanted(const uvrun_server_t *server) {
  return server->listening && !server->backing_off && (server->accepts_head != NULL || server->handler != NULL);
}

void uvr_server_want(uvrun_server_t *server) {
  int want = accepting_wanted(server);
  size_t i;
  for (i = 0; i < server->nlisteners; i++) {
    uvr_listener *l = server->listeners[i];
    if (want && !l->polling) l->polling = uv_poll_start(&l->poll, UV_READABLE, uvr_server_on_readable) == 0;
    else if (!want && l->polling) l->polling = uv_poll_stop(&l->poll) != 0;
  }
}

/* ---- connections ---- */

/* Frees a connection record once nothing is left of it. */
static void conn_release(uvr_conn *conn) {
  uvrun_server_t *server = conn->server;
  if (conn->open || conn->holds || conn->task != NULL) return;
  if (conn->prev != NULL) conn->prev->next = conn->next;
  else server->conns = conn->next;
  if (conn->next != NULL) conn->next->prev = conn->prev;
  uvrun_context_free(conn->context);
  uvr_free(conn);
  uvr_server_mem_unref(server);
}

/* The stream's handle closed (V7's open count). */
static void conn_closed(void *ud) {
  uvr_conn *conn = ud;
  conn->open = 0;
  conn->server->open--;
  conn_release(conn);
}

/* The reference the connection holds goes: the stream closes or aborts. */
static void conn_let_go(uvr_conn *conn, int abort) {
  if (!conn->holds) return;
  conn->holds = 0;
  if (abort) uvrun_stream_abort(conn->stream);
  else uvrun_stream_close(conn->stream);
  uvrun_stream_unref(conn->stream);
}

/* ---- accept() ---- */

typedef struct accept_op {
  uvrun_server_t *server; /* a user reference */
  uvrun_future_t *prev, *next;
  uvr_conn *conn; /* once done: the connection it carries */
  uint8_t waiting, taken;
} accept_op;

static accept_op *accept_of(const uvrun_future_t *fut) { return uvr_io_future_state(fut); }

static void accept_unlink(uvrun_future_t *fut) {
  accept_op *op = accept_of(fut);
  uvrun_server_t *server = op->server;
  if (!op->waiting) return;
  if (op->prev != NULL) accept_of(op->prev)->next = op->next;
  else server->accepts_head = op->next;
  if (op->next != NULL) accept_of(op->next)->prev = op->prev;
  else server->accepts_tail = op->prev;
  op->waiting = 0;
  op->prev = op->next = NULL;
}

static void stream_value_free(void *stream) { uvrun_stream_unref(stream); }

/* The stream's reference moves into the future; the connection still counts
 * it as held until the result is taken. */
static void accept_complete(uvrun_future_t *fut, uvr_conn *conn) {
  accept_unlink(fut);
  accept_of(fut)->conn = conn;
  uvrun_future_set_result(fut, conn->stream, stream_value_free);
}

static void hand_over(uvrun_server_t *server, uvr_conn *conn);

static int accept_cancel(uvrun_future_t *fut, const char *msg) {
  if (!uvrun_future_done(fut)) {
    accept_unlink(fut);
    uvr_server_want(accept_of(fut)->server);
  }
  return uvr_future_cancel_plain(fut, msg);
}

static void accept_take(uvrun_future_t *fut) {
  accept_op *op = accept_of(fut);
  if (op->taken || op->conn == NULL) return; /* no connection: a result the caller set */
  op->taken = 1;
  op->conn->holds = 0;
  conn_release(op->conn); /* gone already when its stream closed untaken */
}

/* A result never taken: the connection goes back to the server. */
static void accept_free(uvrun_future_t *fut) {
  accept_op *op = accept_of(fut);
  uvr_conn *conn = op->conn;
  accept_unlink(fut);
  if (fut->state == UVR_RESULT && !op->taken && conn != NULL) {
    fut->value_free = NULL; /* the connection holds the reference again */
    if (!conn->open || op->server->closed) {
      conn_let_go(conn, 1);
      conn_release(conn);
    } else {
      hand_over(op->server, conn);
    }
  }
  uvr_server_want(op->server);
  uvrun_server_unref(op->server);
}

static const uvr_io_kind accept_kind = {"accept", accept_cancel, accept_free, accept_take};

/* The oldest connection given back (conns lists the newest first). */
static uvr_conn *oldest_unclaimed(uvrun_server_t *server) {
  uvr_conn *conn, *found = NULL;
  for (conn = server->conns; conn != NULL; conn = conn->next)
    if (conn->unclaimed) found = conn;
  return found;
}

static void claim(uvrun_server_t *server, uvr_conn *conn) {
  conn->unclaimed = 0;
  server->nunclaimed--;
}

uvrun_future_t *uvrun_server_accept(uvrun_server_t *server) {
  uvrun_future_t *fut;
  accept_op *op;
  if (uvr_server_check_open(server) < 0) return NULL;
  if ((fut = uvr_io_future_new(server->loop, &accept_kind, sizeof(accept_op))) == NULL) return NULL;
  op = accept_of(fut);
  op->server = uvrun_server_ref(server);
  if (server->nunclaimed > 0) {
    uvr_conn *conn = oldest_unclaimed(server);
    claim(server, conn);
    accept_complete(fut, conn);
    return fut;
  }
  op->waiting = 1;
  op->prev = server->accepts_tail;
  if (server->accepts_tail != NULL) accept_of(server->accepts_tail)->next = fut;
  else server->accepts_head = fut;
  server->accepts_tail = fut;
  uvr_server_want(server);
  return fut;
}

/* ---- serve() ---- */

static int handler_step(uvrun_task_t *task, void *arg) {
  uvr_conn *conn = arg;
  return conn->server->handler(task, conn->stream, conn->server->handler_ud);
}

typedef struct shutdown_op {
  uvrun_server_t *server; /* a user reference */
  uvrun_future_t *prev, *next;
  uvrun_handle_t *timer; /* the grace period's end */
  uint8_t waiting, then_abort;
} shutdown_op;

static shutdown_op *shutdown_of(const uvrun_future_t *fut) { return uvr_io_future_state(fut); }
static void shutdown_unlink(uvrun_future_t *fut);

/* V5: the shutdowns are done when the last handler has ended. */
static void settle_shutdowns(uvrun_server_t *server) {
  while (server->shutdowns != NULL) {
    uvrun_future_t *fut = server->shutdowns;
    shutdown_unlink(fut);
    uvrun_future_set_result(fut, NULL, NULL);
  }
}

/* V3: the connection closes when its handler ends; a failure is reported
 * as asyncio reports a failing client_connected_cb, and the server goes on. */
static void handler_ended(uvrun_future_t *fut, void *ud) {
  uvr_conn *conn = ud;
  uvrun_server_t *server = conn->server;
  uvrun_task_t *task = conn->task;
  if (fut->state == UVR_ERROR)
    uvr_report(server->loop, "Unhandled exception in client_connected_cb", uvrun_future_error(fut), task, NULL, NULL);
  conn->task = NULL;
  server->handlers--;
  conn_let_go(conn, 0);
  uvrun_task_unref(task);
  if (server->handlers == 0) settle_shutdowns(server);
  conn_release(conn);
}

static void start_handler(uvrun_server_t *server, uvr_conn *conn) {
  uvrun_task_opts_t opts;
  uvrun_task_t *task = NULL;
  uvrun_task_opts_init(&opts);
  if (uvrun_context_copy(server->context, &conn->context) == 0) {
    opts.context = conn->context;
    uvrun_task_new(server->loop, handler_step, conn, &opts, &task);
  }
  if (task == NULL) {
    server->refused++;
    uvr_logf(UVRUN_LOG_ERROR, "a connection was dropped: no handler task: %s", uvrun_errmsg());
    conn_let_go(conn, 1);
    conn_release(conn);
    return;
  }
  /* A new task's first done callback is kept inline: this cannot fail. */
  uvrun_future_add_done_callback(uvrun_task_future(task), handler_ended, conn);
  conn->task = task;
  server->handlers++;
}

static int serve_refused(void *ud, uvrun_free_fn ud_free, int rc) {
  if (ud_free != NULL) ud_free(ud);
  return rc;
}

int uvrun_server_serve(uvrun_server_t *server, uvrun_handler_fn handler, void *ud, uvrun_free_fn ud_free) {
  int rc = uvr_server_check_open(server);
  if (rc < 0) return serve_refused(ud, ud_free, rc);
  if (handler == NULL) return serve_refused(ud, ud_free, uvr_fail(UVRUN_E_INVAL, "handler must not be NULL"));
  if (server->handler != NULL)
    return serve_refused(ud, ud_free, uvr_fail(UVRUN_E_INVALID_STATE, "the server is already serving"));
  if ((rc = uvrun_context_copy_current(&server->context)) < 0) return serve_refused(ud, ud_free, rc);
  server->handler = handler;
  server->handler_ud = ud;
  server->handler_ud_free = ud_free;
  while (server->nunclaimed > 0) hand_over(server, oldest_unclaimed(server));
  uvr_server_want(server);
  return 0;
}

/* A connection to whoever waits for one: an accept first, then serve(). */
static void hand_over(uvrun_server_t *server, uvr_conn *conn) {
  if (conn->unclaimed) claim(server, conn);
  if (server->accepts_head != NULL) {
    accept_complete(server->accepts_head, conn);
  } else if (server->handler != NULL) {
    start_handler(server, conn);
  } else {
    conn->unclaimed = 1;
    server->nunclaimed++;
  }
}

/* ---- taking connections from the kernel ---- */

static void deliver(uvrun_server_t *server, int fd) {
  uvrun_stream_t *stream = uvr_stream_new(server->loop, server->is_tcp ? UV_TCP : UV_NAMED_PIPE, &server->opts.stream);
  uvr_conn *conn = NULL;
  char text[128];
  int rc = stream != NULL ? 0 : uvr_last_code();
  if (rc == 0) {
    uv_stream_t *handle = uvr_stream_handle(stream);
    rc = server->is_tcp ? uv_tcp_open((uv_tcp_t *)handle, fd) : uv_pipe_open((uv_pipe_t *)handle, fd);
    fd = rc == 0 ? -1 : fd; /* the handle owns it now */
  }
  if (rc == 0) rc = uvr_stream_connected(stream);
  if (rc == 0 && (conn = uvr_calloc(1, sizeof *conn)) == NULL) rc = UVRUN_E_NOMEM;
  if (rc < 0) {
    server->refused++;
    uvr_logf(UVRUN_LOG_ERROR, "a connection was dropped: %s", uvr_io_strerror(rc, text, sizeof text));
    if (fd >= 0) close(fd);
    if (stream != NULL) {
      uvrun_stream_abort(stream);
      uvrun_stream_unref(stream);
    }
    return;
  }
  conn->server = server;
  server->refs++;
  conn->stream = stream;
  conn->open = conn->holds = 1;
  conn->next = server->conns;
  if (server->conns != NULL) server->conns->prev = conn;
  server->conns = conn;
  uvr_stream_on_closed(stream, conn_closed, conn);
  server->open++;
  server->accepted++;
  server->reported = 0; /* a later shortage is news again */
  hand_over(server, conn);
}

static void retry_accepting(void *ud) {
  uvrun_server_t *server = ud;
  uvrun_handle_unref(server->retry);
  server->retry = NULL;
  server->backing_off = 0;
  uvr_server_want(server);
}

static void back_off(uvrun_server_t *server, int err) {
  char where[128], text[128];
  server->refused++;
  if (!server->reported) {
    uvr_server_where(server, where, sizeof where);
    uvr_logf(UVRUN_LOG_WARNING, "server %s: cannot accept a connection: %s; trying again every %g s", where,
             uvr_io_strerror(err, text, sizeof text), RETRY_DELAY);
    server->reported = 1;
  }
  /* Without a timer it keeps polling: better a busy server than a deaf one. */
  if (uvrun_loop_call_later(server->loop, RETRY_DELAY, retry_accepting, server, &server->retry) < 0) return;
  server->backing_off = 1;
  uvr_server_want(server);
}

void uvr_server_on_readable(uv_poll_t *poll, int status, int events) {
  uvr_listener *l = (uvr_listener *)poll;
  uvrun_server_t *server = l->server;
  char text[128];
  int i, fd;
  (void)events;
  if (status < 0) {
    uvr_logf(UVRUN_LOG_ERROR, "a listening socket failed: %s", uvr_io_strerror(status, text, sizeof text));
    l->polling = uv_poll_stop(poll) != 0;
    return;
  }
  for (i = 0; i < ACCEPTS_PER_WAKE && accepting_wanted(server); i++) {
    if ((fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
      deliver(server, fd);
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue; /* that client gave up */
    back_off(server, -errno); /* EMFILE, ENFILE, ENOBUFS, ENOMEM: the system's shortage */
    return;
  }
  uvr_server_want(server);
}

void uvr_server_accepts_close(uvrun_server_t *server) {
  uvr_conn *conn, *next;
  while (server->accepts_head != NULL) {
    uvrun_future_t *fut = server->accepts_head;
    accept_unlink(fut);
    uvrun_future_set_error_code(fut, UVRUN_E_STREAM_CLOSED, "the server is closed");
  }
  for (conn = server->conns; conn != NULL && server->nunclaimed > 0; conn = next) {
    next = conn->next;
    if (!conn->unclaimed) continue;
    claim(server, conn);
    conn_let_go(conn, 1);
    conn_release(conn);
  }
  uvrun_handle_cancel(server->retry);
  uvrun_handle_unref(server->retry);
  server->retry = NULL;
  server->backing_off = 0;
}

void uvr_server_conns_drop(uvrun_server_t *server) {
  uvr_conn *conn, *next;
  for (conn = server->conns; conn != NULL; conn = next) {
    next = conn->next;
    if (conn->task == NULL) continue;
    uvrun_future_remove_done_callback(uvrun_task_future(conn->task), handler_ended, conn);
    uvrun_task_unref(conn->task);
    conn->task = NULL;
    server->handlers--;
    /* The stream's data goes now, not with the stream: it may hold the
     * stream (a C++ handler's coroutine frame does), a cycle that nothing
     * else would break once the handler can no longer end. */
    if (conn->holds) uvrun_stream_set_data(conn->stream, NULL, NULL);
    conn_let_go(conn, 1);
    conn_release(conn);
  }
}

/* ---- shutdown() ---- */

static void shutdown_unlink(uvrun_future_t *fut) {
  shutdown_op *op = shutdown_of(fut);
  uvrun_handle_cancel(op->timer);
  uvrun_handle_unref(op->timer);
  op->timer = NULL;
  if (!op->waiting) return;
  if (op->prev != NULL) shutdown_of(op->prev)->next = op->next;
  else op->server->shutdowns = op->next;
  if (op->next != NULL) shutdown_of(op->next)->prev = op->prev;
  op->waiting = 0;
  op->prev = op->next = NULL;
}

static int shutdown_cancel(uvrun_future_t *fut, const char *msg) {
  if (!uvrun_future_done(fut)) shutdown_unlink(fut);
  return uvr_future_cancel_plain(fut, msg);
}

static void shutdown_free(uvrun_future_t *fut) {
  shutdown_unlink(fut);
  uvrun_server_unref(shutdown_of(fut)->server);
}

static const uvr_io_kind shutdown_kind = {"server shutdown", shutdown_cancel, shutdown_free, NULL};

/* The grace period is over: the handlers left are cancelled, their
 * connections closed or aborted (asyncio 3.13's close_clients() and
 * abort_clients()). */
static void grace_over(void *ud) {
  shutdown_op *op = shutdown_of(ud);
  uvr_conn *conn;
  uvrun_handle_unref(op->timer);
  op->timer = NULL;
  for (conn = op->server->conns; conn != NULL; conn = conn->next) {
    if (conn->task == NULL) continue;
    uvrun_task_cancel(conn->task, "server shutdown");
    if (op->then_abort) uvrun_stream_abort(conn->stream);
    else uvrun_stream_close(conn->stream);
  }
}

uvrun_future_t *uvrun_server_shutdown(uvrun_server_t *server, double grace, int then_abort) {
  uvrun_future_t *fut;
  shutdown_op *op;
  if (uvr_server_check(server) < 0) return NULL;
  if (!(grace >= 0)) { /* also NaN */
    uvr_fail(UVRUN_E_INVAL, "grace must be >= 0 seconds");
    return NULL;
  }
  if (then_abort != 0 && then_abort != 1) {
    uvr_fail(UVRUN_E_INVAL, "then_abort must be 0 (close) or 1 (abort)");
    return NULL;
  }
  uvrun_server_close(server);
  if ((fut = uvr_io_future_new(server->loop, &shutdown_kind, sizeof(shutdown_op))) == NULL) return NULL;
  op = shutdown_of(fut);
  op->server = uvrun_server_ref(server);
  op->then_abort = (uint8_t)then_abort;
  if (server->handlers == 0) {
    uvrun_future_set_result(fut, NULL, NULL);
    return fut;
  }
  op->waiting = 1;
  op->next = server->shutdowns;
  if (server->shutdowns != NULL) shutdown_of(server->shutdowns)->prev = fut;
  server->shutdowns = fut;
  if (isfinite(grace) && uvrun_loop_call_later(server->loop, grace, grace_over, fut, &op->timer) < 0) {
    uvrun_future_unref(fut);
    return NULL;
  }
  return fut;
}
