/* address.c -- socket addresses from what callers write ("127.0.0.1",
 * "::1%lo", "/run/app.sock", "@abstract") and back to text for messages. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <sys/un.h>

#include "io.h"

int uvr_parse_ip(const char *host, int port, struct sockaddr_storage *sa) {
  if (host == NULL) return UV_EINVAL;
  if (uv_ip4_addr(host, port, (struct sockaddr_in *)sa) == 0) return 0;
  return uv_ip6_addr(host, port, (struct sockaddr_in6 *)sa);
}

void uvr_address_name(const struct sockaddr *sa, char *buf, size_t len) {
  char host[64] = "?";
  int port;
  uv_ip_name(sa, host, sizeof host);
  if (sa->sa_family == AF_INET6) {
    port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    snprintf(buf, len, "[%s]:%d", host, port);
  } else {
    port = ntohs(((const struct sockaddr_in *)sa)->sin_port);
    snprintf(buf, len, "%s:%d", host, port);
  }
}

int uvr_unix_address(const char *path, struct sockaddr_un *sun, socklen_t *len) {
  size_t n = path != NULL ? strlen(path) : 0;
  if (n == 0 || (n == 1 && path[0] == '@'))
    return uvr_fail(UVRUN_E_INVAL, "a Unix socket needs a path or an @name, not \"%s\"", path != NULL ? path : "");
  /* A path needs its NUL inside sun_path; an abstract name is its bytes
   * after a leading NUL, which the '@' stands for (Linux). */
  if (path[0] == '@' ? n > sizeof sun->sun_path : n >= sizeof sun->sun_path)
    return uvr_fail(UVRUN_E_INVAL, "Unix socket path \"%s\" is longer than %zu bytes", path,
                    sizeof sun->sun_path - (path[0] == '@' ? 0 : 1));
  memset(sun, 0, sizeof *sun);
  sun->sun_family = AF_UNIX;
  memcpy(sun->sun_path, path, n);
  if (path[0] == '@') {
    sun->sun_path[0] = '\0';
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
  } else {
    *len = (socklen_t)sizeof *sun;
  }
  return 0;
}
