/* conn.c -- a connection's task: a step function that reads what the
 * client sent, runs every complete request in it, and writes the replies in
 * one go (pipelined clients get one write per batch), waiting for the queue
 * to drain before it reads again. */
#include "conn.h"

#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "resp.h"

#define FIRST_BUFFER 4096

enum { STARTING, READING, DRAINING };

struct conn {
  conn *prev, *next;
  server_state *st;
  uvrun_task_t *task; /* borrowed, while the task runs; NULL once it ended */
  int step;
  char *in; /* received, not yet run */
  size_t len, cap;
};

/* The task is ending: the connection leaves the list shutdown walks. */
static void conn_unlink(conn *c) {
  if (c->task == NULL) return;
  if (c->prev != NULL) c->prev->next = c->next;
  else c->st->conns = c->next;
  if (c->next != NULL) c->next->prev = c->prev;
  c->prev = c->next = NULL;
  c->task = NULL;
}

static void conn_free(void *p) {
  conn *c = p;
  conn_unlink(c);
  free(c->in);
  free(c);
}

static conn *conn_new(server_state *st, uvrun_task_t *task) {
  conn *c = calloc(1, sizeof *c);
  if (c == NULL) return NULL;
  c->st = st;
  c->task = task;
  c->next = st->conns;
  if (st->conns != NULL) st->conns->prev = c;
  st->conns = c;
  return c;
}

void server_state_free_scratch(server_state *st) {
  resp_args_free(&st->args);
  free(st->out.p);
}

void conns_cancel_idle(server_state *st) {
  conn *c;
  for (c = st->conns; c != NULL; c = c->next)
    if (c->step == READING && c->len == 0) uvrun_task_cancel(c->task, "server shutdown");
}

/* Runs every complete request received; 1 when the connection must end
 * (QUIT, a protocol error, a request over the limit). */
static int run_requests(conn *c, uvrun_stream_t *stream) {
  resp_out *out = &c->st->out;
  size_t at = 0, used = 0;
  const char *err = NULL;
  int end = 0, rc;
  while (!end && at < c->len) {
    rc = resp_parse(c->in + at, c->len - at, c->st->max_request, &c->st->args, &used, &err);
    if (rc == 0) break;
    if (rc < 0) {
      resp_error(out, "ERR %s", err);
      end = 1;
      break;
    }
    end = command_run(c->st->db, &c->st->args, out);
    at += used;
  }
  memmove(c->in, c->in + at, c->len - at);
  c->len -= at;
  if (!end && c->len == c->cap && c->cap >= c->st->max_request) {
    resp_error(out, "ERR request too large");
    end = 1;
  }
  if (out->oom) end = 1;
  if (out->n > 0) uvrun_stream_write(stream, out->p, out->n); /* a failure shows at the drain */
  out->n = 0;
  out->oom = 0;
  return end;
}

/* Room for the next read: the buffer doubles up to the request limit. */
static int make_room(conn *c) {
  size_t cap;
  char *p;
  if (c->len < c->cap) return 0;
  cap = c->cap ? c->cap * 2 : FIRST_BUFFER;
  if (cap > c->st->max_request) cap = c->st->max_request;
  if ((p = realloc(c->in, cap)) == NULL) return UVRUN_E_NOMEM;
  c->in = p;
  c->cap = cap;
  return 0;
}

static int conn_step(conn *c, uvrun_task_t *task, uvrun_stream_t *stream) {
  void *value;
  int rc = uvrun_task_resume(task, &value);
  /* A cancellation (shutdown) is re-raised; a reset peer just ends it. */
  if (rc < 0) return rc == UVRUN_E_CANCELLED ? rc : 0;
  if (c->step == READING) {
    if ((uintptr_t)value == 0) return 0; /* the client is done */
    c->len += (uintptr_t)value;
    if (run_requests(c, stream)) return 0;
    c->step = DRAINING;
    return uvrun_task_await(task, uvrun_stream_drain(stream));
  }
  if (c->st->stopping) return 0;
  if ((rc = make_room(c)) < 0) return rc;
  c->step = READING;
  return uvrun_task_await(task, uvrun_stream_read(stream, c->in + c->len, c->cap - c->len));
}

int conn_handler(uvrun_task_t *task, uvrun_stream_t *stream, void *ud) {
  conn *c = uvrun_stream_data(stream);
  int rc;
  if (c == NULL) {
    if ((c = conn_new(ud, task)) == NULL) return UVRUN_E_NOMEM;
    uvrun_stream_set_data(stream, c, conn_free);
  }
  rc = conn_step(c, task, stream);
  if (rc != UVRUN_SUSPEND) conn_unlink(c);
  return rc;
}
