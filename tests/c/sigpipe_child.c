/* A fresh process for the SIGPIPE tests (L4): the choice is made once per
 * process. Starts with SIGPIPE at its default whatever it inherited, writes
 * through a stream to a socket whose peer is gone, and prints the write's
 * code and SIGPIPE's disposition after. argv[1]: "default"; "keep"
 * (uvrun_io_sigpipe(0) first); "own" (a handler of its own first). */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uvrun.h>

static volatile sig_atomic_t handled;
static void on_sigpipe(int sig) {
  (void)sig;
  handled = 1;
}

/* sigaction rather than signal(), which under -std=c11 resets the handler
 * when it runs. */
static void set_handler(void (*fn)(int)) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = fn;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGPIPE, &sa, NULL);
}

static const char *disposition(void) {
  struct sigaction sa;
  sigaction(SIGPIPE, NULL, &sa);
  if (sa.sa_handler == SIG_IGN) return "ignored";
  if (sa.sa_handler == SIG_DFL) return "default";
  return "own";
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "default";
  uvrun_loop_t *loop = NULL;
  uvrun_stream_t *stream = NULL;
  int sv[2], rc;
  set_handler(SIG_DFL);
  if (strcmp(mode, "keep") == 0) uvrun_io_sigpipe(0);
  if (strcmp(mode, "own") == 0) set_handler(on_sigpipe);
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 || uvrun_loop_new(&loop) < 0) return 2;
  close(sv[1]);
  if (uvrun_stream_open(loop, sv[0], NULL, &stream) < 0) return 3;
  printf("before write: %s\n", disposition());
  fflush(stdout);
  rc = uvrun_stream_write(stream, "x", 1);
  printf("write %d, %s%s\n", rc, disposition(), handled ? ", handler ran" : "");
  uvrun_stream_abort(stream);
  uvrun_stream_unref(stream);
  uvrun_loop_free(loop);
  return 0;
}
