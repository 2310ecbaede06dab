/* conn.h -- one client connection: read requests, run them, write replies. */
#ifndef RESP_CONN_H
#define RESP_CONN_H

#include <uvrun.h>

#include "resp.h"
#include "store.h"

typedef struct conn conn;

typedef struct server_state {
  store *db;
  size_t max_request; /* bytes one request may take */
  int stopping;       /* shutting down: connections end after their request */
  conn *conns;        /* open connections */
  /* Scratch for the batch being run: one runs at a time, and the replies
   * are written (copied when they cannot go out at once) before the next,
   * so an idle connection holds no reply buffer. */
  resp_args args;
  resp_out out;
} server_state;

/* The connection handler (uvrun_handler_fn), with the server_state. */
int conn_handler(uvrun_task_t *task, uvrun_stream_t *stream, void *ud);
/* Shutdown: cancels the connections waiting for a request with nothing
 * received; the others finish the request they are in. */
void conns_cancel_idle(server_state *st);
/* Frees the scratch. */
void server_state_free_scratch(server_state *st);

#endif
