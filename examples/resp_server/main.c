/* uvrun-resp-server -- a Redis-protocol server on uvrun's C API: PING, ECHO,
 * GET, SET, DEL, INCR, EXISTS, QUIT; binary-safe, pipelined.
 *
 *   uvrun-resp-server [--host HOST] [--port PORT] [--max-request BYTES]
 *
 * Port 0 picks a free port. The first line on stdout is "listening on
 * HOST:PORT". SIGINT and SIGTERM shut down gracefully: no new clients,
 * requests in flight finish (for up to 5 s), idle connections close; then
 * the process dies of the signal, as Unix tools do. */
#define _POSIX_C_SOURCE 200809L /* uv.h needs POSIX types under -std=c11 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uvrun.h>
#include <uvrun_uv.h>

#include "conn.h"

#define GRACE_SECONDS 5.0

typedef struct {
  int step;
  const char *host;
  int port;
  server_state st;
  uvrun_server_t *server;
  uvrun_task_t *task;
  uv_signal_t sigterm; /* the runner handles SIGINT; SIGTERM is ours */
  int terminated;
  uvrun_error_t *cancelled; /* re-raised once shutdown is done */
} app_t;

/* SIGTERM ends the run as Ctrl-C does: by cancelling the main task. */
static void on_sigterm(uv_signal_t *h, int signum) {
  app_t *app = h->data;
  (void)signum;
  app->terminated = 1;
  uvrun_task_cancel(app->task, "SIGTERM");
}

static int main_step(uvrun_task_t *task, void *arg) {
  app_t *app = arg;
  uvrun_server_opts_t opts;
  uvrun_future_t *forever;
  void *value;
  int rc = uvrun_task_resume(task, &value);
  switch (app->step++) {
  case 0:
    uvrun_server_opts_init(&opts);
    return uvrun_task_await(task, uvrun_tcp_listen(uvrun_task_loop(task), app->host, app->port, &opts));
  case 1:
    if (rc < 0) {
      fprintf(stderr, "uvrun-resp-server: cannot listen on %s:%d: %s\n", app->host, app->port, uvrun_errmsg());
      return rc;
    }
    app->server = uvrun_server_ref(value);
    app->task = task;
    uv_signal_init(uvrun_loop_get_uv(uvrun_task_loop(task)), &app->sigterm);
    app->sigterm.data = app;
    uv_signal_start(&app->sigterm, on_sigterm, SIGTERM);
    if ((rc = uvrun_server_serve(app->server, conn_handler, &app->st, NULL)) < 0) return rc;
    printf("listening on %s:%d\n", app->host, uvrun_server_port(app->server));
    fflush(stdout);
    /* Serve until cancelled: a future nothing completes. */
    if ((rc = uvrun_future_new(uvrun_task_loop(task), &forever)) < 0) return rc;
    return uvrun_task_await(task, forever);
  case 2:
    app->cancelled = uvrun_error_ref(uvrun_task_resume_error(task));
    app->st.stopping = 1;
    conns_cancel_idle(&app->st);
    return uvrun_task_await(task, uvrun_server_shutdown(app->server, GRACE_SECONDS, 0));
  default:
    uv_close((uv_handle_t *)&app->sigterm, NULL);
    uvrun_server_unref(app->server);
    return app->cancelled != NULL ? uvrun_task_raise(task, app->cancelled) : rc;
  }
}

static int usage(void) {
  fprintf(stderr, "usage: uvrun-resp-server [--host HOST] [--port PORT] [--max-request BYTES]\n");
  return 2;
}

int main(int argc, char **argv) {
  app_t app;
  int i, rc;
  memset(&app, 0, sizeof app);
  app.host = "127.0.0.1";
  app.st.max_request = 64u << 20;
  for (i = 1; i < argc; i++) {
    char *end;
    if (i + 1 >= argc) return usage();
    if (strcmp(argv[i], "--host") == 0) {
      app.host = argv[++i];
    } else if (strcmp(argv[i], "--port") == 0) {
      long port = strtol(argv[++i], &end, 10);
      if (*end != '\0' || port < 0 || port > 65535) return usage();
      app.port = (int)port;
    } else if (strcmp(argv[i], "--max-request") == 0) {
      unsigned long long n = strtoull(argv[++i], &end, 10);
      if (*end != '\0' || n < 64) return usage();
      app.st.max_request = (size_t)n;
    } else {
      return usage();
    }
  }
  if ((app.st.db = store_new()) == NULL) return 1;
  rc = uvrun_run(main_step, &app, NULL, NULL);
  server_state_free_scratch(&app.st);
  store_free(app.st.db);
  if (rc == UVRUN_E_INTERRUPTED || (rc == UVRUN_E_CANCELLED && app.terminated)) {
    int sig = rc == UVRUN_E_INTERRUPTED ? SIGINT : SIGTERM;
    signal(sig, SIG_DFL);
    raise(sig);
  }
  if (rc < 0 && app.server != NULL) fprintf(stderr, "uvrun-resp-server: %s\n", uvrun_strerror(rc));
  return rc < 0 ? 1 : 0;
}
