/* connect.c -- T1-T4, U1: making a connected stream.
 *
 * A numeric host is connected to at once; a name is looked up on the
 * loop's executor (dns.c), then its addresses are tried in order with Happy
 * Eyeballs (RFC 8305): the next attempt starts 250 ms after the last one
 * if that is still pending, or at once when it fails, and the first to
 * connect wins; the others are aborted. Each attempt is a stream of its own
 * with its connect request, so a loser's socket closes with its stream.
 *
 * The connect future owns its attempts. Letting go of one (it lost, the
 * connect was cancelled or timed out) aborts its stream; libuv then calls
 * the request back with UV_ECANCELED before the handle's memory goes, and
 * the attempt, no longer tied to the future, frees itself there (T3). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sys/un.h>

#include "io.h"

#define ATTEMPT_DELAY 0.25 /* RFC 8305's "Connection Attempt Delay" */

typedef struct attempt {
  uv_connect_t req;
  uvrun_stream_t *stream; /* reference, while tied to the connect */
  uvrun_future_t *fut;    /* the connect; NULL once it let go */
  struct attempt *next;   /* the connect's attempts out */
  struct sockaddr_storage addr;
} attempt;

typedef struct connect_op {
  uvrun_stream_opts_t opts;
  struct sockaddr_storage local; /* has_local: bind here first (T2) */
  uint8_t has_local, local_any;  /* local_any: a port only, on either family */
  uint8_t numeric_pending;
  struct sockaddr_storage numeric;   /* a numeric host's one address */
  uvrun_future_t *lookup;            /* a name's lookup, which owns its addresses */
  const uvrun_address_t *untried[2]; /* the next untried of the first family, of the other */
  uint8_t turn;                      /* which of the two goes next */
  attempt *out;                      /* attempts in flight */
  uvrun_handle_t *stagger, *timeout; /* the next attempt's start; connect_timeout */
  int err;                           /* the first failure's code */
  char target[280];                  /* "host:port" as the caller wrote it */
  char why[512];                     /* every failure, named by its address */
} connect_op;

static connect_op *connect_of(const uvrun_future_t *fut) { return uvr_io_future_state(fut); }

static void timer_drop(uvrun_handle_t **h) {
  uvrun_handle_cancel(*h);
  uvrun_handle_unref(*h);
  *h = NULL;
}

static void attempt_let_go(attempt *a) {
  a->fut = NULL;
  uvrun_stream_abort(a->stream);
  uvrun_stream_unref(a->stream);
}

/* Everything the connect still has out goes: attempts, lookup, timers. */
static void connect_teardown(uvrun_future_t *fut) {
  connect_op *op = connect_of(fut);
  while (op->out != NULL) {
    attempt *a = op->out;
    op->out = a->next;
    attempt_let_go(a);
  }
  if (op->lookup != NULL) uvrun_future_cancel(op->lookup, NULL);
  timer_drop(&op->stagger);
  timer_drop(&op->timeout);
}

static void stream_value_unref(void *stream) { uvrun_stream_unref(stream); }

static void connect_fail(uvrun_future_t *fut, int code, const char *message) {
  connect_teardown(fut);
  uvrun_future_set_error_code(fut, code, message);
}

/* T4: each failure named by its address; the first one's code stands. */
static void note_failure(connect_op *op, const struct sockaddr *sa, int code) {
  char where[sizeof op->target], text[128];
  size_t n = strlen(op->why);
  if (sa != NULL) uvr_address_name(sa, where, sizeof where);
  else snprintf(where, sizeof where, "%s", op->target);
  snprintf(op->why + n, sizeof op->why - n, "%s%s: %s", n == 0 ? "connect to " : "; ", where,
           uvr_io_strerror(code, text, sizeof text));
  if (op->err == 0) op->err = code;
}

/* The first address at or after a whose family is (or, with other, is not) family. */
static const uvrun_address_t *of_family(const uvrun_address_t *a, int family, int other) {
  while (a != NULL && (a->family == family) == other) a = a->next;
  return a;
}

/* RFC 8305 section 4: the families take turns, each in the resolver's order,
 * so one family's unreachable addresses cannot hold back the other's. */
static const struct sockaddr *take_address(connect_op *op) {
  const uvrun_address_t *a;
  int side;
  if (op->numeric_pending) {
    op->numeric_pending = 0;
    return (const struct sockaddr *)&op->numeric;
  }
  side = op->untried[op->turn] != NULL ? op->turn : !op->turn;
  if ((a = op->untried[side]) == NULL) return NULL;
  op->untried[side] = of_family(a->next, a->family, 0);
  op->turn = !side;
  return uvr_address_sockaddr(a);
}

static int more_addresses(const connect_op *op) {
  return op->numeric_pending || op->untried[0] != NULL || op->untried[1] != NULL;
}

static void attempt_done(uv_connect_t *req, int status);

/* Starts one attempt; 0 or the failure (a descriptor shortage, say). */
static int attempt_start(uvrun_future_t *fut, const struct sockaddr *sa) {
  connect_op *op = connect_of(fut);
  uvrun_stream_t *stream = uvr_stream_new(uvrun_future_loop(fut), UV_TCP, &op->opts);
  uv_tcp_t *tcp;
  attempt *a;
  int rc;
  if (stream == NULL) return uvr_last_code();
  tcp = (uv_tcp_t *)uvr_stream_handle(stream);
  rc = (a = uvr_calloc(1, sizeof *a)) != NULL ? 0 : UVRUN_E_NOMEM;
  if (rc == 0 && op->local_any)
    rc = uvr_parse_ip(sa->sa_family == AF_INET6 ? "::" : "0.0.0.0", op->opts.local_port, &op->local);
  if (rc == 0 && op->has_local) {
    rc = op->local.ss_family == sa->sa_family ? uv_tcp_bind(tcp, (struct sockaddr *)&op->local, 0) : UV_EAFNOSUPPORT;
  }
  if (rc == 0) rc = uv_tcp_connect(&a->req, tcp, sa, attempt_done);
  if (rc < 0) {
    uvr_free(a);
    uvrun_stream_abort(stream);
    uvrun_stream_unref(stream);
    return rc;
  }
  a->stream = stream;
  a->fut = fut;
  memcpy(&a->addr, sa, sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
  a->next = op->out;
  op->out = a;
  return 0;
}

static void stagger_over(void *ud);

/* Starts the next address that can be tried; fails the connect when none
 * is left and nothing is out. */
static void start_next(uvrun_future_t *fut) {
  connect_op *op = connect_of(fut);
  const struct sockaddr *sa;
  timer_drop(&op->stagger);
  while ((sa = take_address(op)) != NULL) {
    int rc = attempt_start(fut, sa);
    if (rc == 0) {
      if (more_addresses(op))
        uvrun_loop_call_later(uvrun_future_loop(fut), ATTEMPT_DELAY, stagger_over, fut, &op->stagger);
      return;
    }
    note_failure(op, sa, rc);
  }
  if (op->out == NULL) connect_fail(fut, op->err, op->why);
}

static void stagger_over(void *ud) {
  uvrun_future_t *fut = ud;
  connect_op *op = connect_of(fut);
  uvrun_handle_unref(op->stagger);
  op->stagger = NULL;
  start_next(fut);
}

static void unlink_attempt(connect_op *op, attempt *a) {
  attempt **p = &op->out;
  while (*p != a) p = &(*p)->next;
  *p = a->next;
}

static void attempt_done(uv_connect_t *req, int status) {
  attempt *a = (attempt *)req;
  uvrun_future_t *fut = a->fut;
  connect_op *op;
  int rc;
  if (fut == NULL) { /* let go: its stream is closing */
    uvr_free(a);
    return;
  }
  op = connect_of(fut);
  unlink_attempt(op, a);
  if (status == 0 && (rc = uvr_stream_connected(a->stream)) < 0) status = rc;
  if (status == 0) { /* the winner: the others go */
    connect_teardown(fut);
    uvrun_future_set_result(fut, a->stream, stream_value_unref);
  } else {
    note_failure(op, (struct sockaddr *)&a->addr, status);
    attempt_let_go(a);
    if (more_addresses(op)) start_next(fut);
    else if (op->out == NULL) connect_fail(fut, op->err, op->why);
  }
  uvr_free(a);
}

static void timed_out(void *ud) {
  uvrun_future_t *fut = ud;
  connect_op *op = connect_of(fut);
  char message[400];
  uvrun_handle_unref(op->timeout);
  op->timeout = NULL;
  snprintf(message, sizeof message, "connect to %s: timed out after %g s", op->target, op->opts.connect_timeout);
  connect_fail(fut, UVRUN_E_TIMEDOUT, message);
}

/* A name's addresses are there: the attempts begin (T1). */
static void resolved(uvrun_future_t *lookup, void *ud) {
  uvrun_future_t *fut = ud;
  connect_op *op = connect_of(fut);
  void *addresses;
  if (!uvrun_future_done(fut)) {
    if (uvrun_future_result(lookup, &addresses) < 0) {
      uvrun_error_t *err = uvrun_future_error(lookup);
      connect_fail(fut, uvrun_error_code(err), uvrun_error_message(err));
    } else {
      const uvrun_address_t *first = addresses;
      op->untried[0] = first;
      op->untried[1] = first != NULL ? of_family(first, first->family, 1) : NULL;
      start_next(fut);
    }
  }
  uvrun_future_unref(fut);
}

static int connect_cancel(uvrun_future_t *fut, const char *msg) {
  if (!uvrun_future_done(fut)) connect_teardown(fut); /* T3 */
  return uvr_future_cancel_plain(fut, msg);
}

static void connect_free(uvrun_future_t *fut) {
  connect_teardown(fut);
  uvrun_future_unref(connect_of(fut)->lookup); /* it owns the addresses */
}

static const uvr_io_kind connect_kind = {"connect", connect_cancel, connect_free, NULL};

/* T2: bind to local_host, local_port first. */
static int set_local(connect_op *op) {
  const uvrun_stream_opts_t *o = &op->opts;
  if (o->local_host == NULL && o->local_port == 0) return 0;
  op->has_local = 1;
  op->local_any = o->local_host == NULL;
  if (!op->local_any && uvr_parse_ip(o->local_host, o->local_port, &op->local) < 0)
    return uvr_fail(UVRUN_E_INVAL, "local_host must be a numeric address, not \"%s\"", o->local_host);
  return 0;
}

uvrun_future_t *uvrun_tcp_connect(uvrun_loop_t *loop, const char *host, int port, const uvrun_stream_opts_t *opts) {
  uvrun_future_t *fut;
  connect_op *op;
  char service[16];
  if (uvr_io_check_loop(loop, "tcp_connect") < 0) return NULL;
  if (host == NULL || *host == '\0') {
    uvr_fail(UVRUN_E_INVAL, "tcp_connect: a host is needed");
    return NULL;
  }
  if (port < 1 || port > 65535) {
    uvr_fail(UVRUN_E_INVAL, "tcp_connect: port must be 1..65535, not %d", port);
    return NULL;
  }
  if ((fut = uvr_io_future_new(loop, &connect_kind, sizeof(connect_op))) == NULL) return NULL;
  op = connect_of(fut);
  if (uvr_stream_opts_from(opts, &op->opts) < 0 || set_local(op) < 0) goto fail;
  op->opts.local_host = NULL; /* the caller's string: parsed above */
  snprintf(op->target, sizeof op->target, strchr(host, ':') != NULL ? "[%s]:%d" : "%s:%d", host, port);
  if (op->opts.connect_timeout > 0 &&
      uvrun_loop_call_later(loop, op->opts.connect_timeout, timed_out, fut, &op->timeout) < 0)
    goto fail;
  if (uvr_parse_ip(host, port, &op->numeric) == 0) { /* T1: no lookup */
    op->numeric_pending = 1;
    start_next(fut);
    return fut;
  }
  snprintf(service, sizeof service, "%d", port);
  op->lookup = uvr_getaddrinfo(loop, host, service, AF_UNSPEC, SOCK_STREAM, 0);
  if (op->lookup == NULL) goto fail;
  if (uvr_future_add_done_callback_holding(op->lookup, resolved, uvrun_future_ref(fut), uvr_io_future_drop) < 0) {
    uvrun_future_unref(fut); /* the callback's */
    goto fail;
  }
  return fut;

fail:
  uvrun_future_unref(fut);
  return NULL;
}

/* U1: a Unix socket connects at once or not at all (Linux never makes a
 * Unix stream connect wait), so it needs no request: the socket is made
 * here, which also reaches abstract names (libuv 1.44's uv_pipe_connect
 * takes a NUL-terminated path only). */
uvrun_future_t *uvrun_unix_connect(uvrun_loop_t *loop, const char *path, const uvrun_stream_opts_t *opts) {
  uvrun_stream_opts_t o;
  struct sockaddr_un sun;
  uvrun_stream_t *stream;
  uvrun_future_t *fut;
  socklen_t len;
  char text[128];
  int fd, rc;
  if (uvr_io_check_loop(loop, "unix_connect") < 0 || uvr_stream_opts_from(opts, &o) < 0 ||
      uvr_unix_address(path, &sun, &len) < 0)
    return NULL;
  if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
    rc = -errno;
  } else if (connect(fd, (struct sockaddr *)&sun, len) < 0) {
    rc = -errno;
    close(fd);
  } else {
    if (uvrun_stream_open(loop, fd, &o, &stream) < 0) return NULL; /* it closed fd */
    if (uvrun_future_new(loop, &fut) < 0) {
      uvrun_stream_abort(stream);
      uvrun_stream_unref(stream);
      return NULL;
    }
    uvrun_future_set_result(fut, stream, stream_value_unref);
    return fut;
  }
  uvr_fail(rc, "connect to %s: %s", path, uvr_io_strerror(rc, text, sizeof text));
  return NULL;
}
