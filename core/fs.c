/* fs.c -- whole files (F1): read_file and write_file, each one executor job
 * from open to close. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"

#define FIRST_CHUNK (64 * 1024) /* when the size is unknown: a FIFO, /proc */

static int read_file_overrun(uvr_fs_req *req) {
  return uvr_fail(UVRUN_E_LIMIT_OVERRUN, "read_file(\"%s\"): the file is longer than the limit of %zu bytes", req->path,
                  req->limit);
}

/* Reads to the end into req->data, growing it, never past limit + 1 bytes
 * (one more tells an overrun). `hint`: the size fstat gave, 0 if none. */
static int read_to_end(uvr_fs_req *req, int fd, size_t hint) {
  size_t want = req->limit + 1, cap = (hint > 0 ? hint : FIRST_CHUNK) + 1;
  ssize_t k;
  for (;;) {
    char *grown;
    if (cap > want) cap = want;
    if ((grown = uvr_realloc(req->data, cap + 1)) == NULL) return uvr_fail(UVRUN_E_NOMEM, "out of memory");
    req->data = grown;
    if ((k = uvr_fs_read_full(fd, req->data + req->len, cap - req->len, -1)) < 0) return uvr_fs_fail(req, (int)k);
    req->len += (size_t)k;
    if (req->len > req->limit) return read_file_overrun(req);
    if (req->len < cap) break; /* the end */
    cap *= 2;
  }
  req->data[req->len] = '\0';
  req->bytes.data = req->data;
  req->bytes.len = req->len;
  req->result = &req->bytes;
  return 0;
}

static int run_read_file(uvr_fs_req *req) {
  struct stat st;
  int fd, rc;
  if ((fd = open(req->path, O_RDONLY | O_CLOEXEC)) < 0) return uvr_fs_fail(req, -errno);
  if (fstat(fd, &st) < 0) rc = uvr_fs_fail(req, -errno);
  else if (S_ISDIR(st.st_mode)) rc = uvr_fs_fail(req, -EISDIR);
  else if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > req->limit) rc = read_file_overrun(req);
  else rc = read_to_end(req, fd, S_ISREG(st.st_mode) ? (size_t)st.st_size : 0);
  close(fd);
  return rc;
}

uvrun_future_t *uvrun_read_file(uvrun_loop_t *loop, const char *path, size_t limit) {
  uvr_fs_req *req;
  if (uvr_io_check_loop(loop, "read_file") < 0) return NULL;
  if (path == NULL) {
    uvr_fs_bad_arg("read_file", "path must not be NULL");
    return NULL;
  }
  if ((req = uvr_fs_req_new("read_file", run_read_file, path)) == NULL) return NULL;
  req->limit = limit == 0 || limit > (size_t)SSIZE_MAX ? (size_t)SSIZE_MAX : limit;
  return uvr_fs_submit(loop, req, NULL);
}

static int run_write_file(uvr_fs_req *req) {
  int oflags = O_WRONLY | O_CREAT | O_CLOEXEC, fd, rc;
  oflags |= req->flags & UVRUN_FS_APPEND ? O_APPEND : O_TRUNC;
  if (req->flags & UVRUN_FS_EXCLUSIVE) oflags |= O_EXCL;
  if ((fd = open(req->path, oflags, 0666)) < 0) return uvr_fs_fail(req, -errno);
  rc = uvr_fs_write_all(fd, req->data, req->len, -1);
  if (rc == 0 && (req->flags & UVRUN_FS_SYNC) && fsync(fd) < 0) rc = -errno;
  if (close(fd) < 0 && rc == 0 && errno != EINTR) rc = -errno; /* NFS reports a failed write here */
  if (rc < 0) return uvr_fs_fail(req, rc);
  req->result = (void *)(uintptr_t)req->len;
  return 0;
}

uvrun_future_t *uvrun_write_file(uvrun_loop_t *loop, const char *path, const void *data, size_t n, int flags) {
  uvr_fs_req *req;
  if (uvr_io_check_loop(loop, "write_file") < 0) return NULL;
  if (path == NULL || (data == NULL && n > 0)) {
    uvr_fs_bad_arg("write_file", path == NULL ? "path must not be NULL" : "data must not be NULL");
    return NULL;
  }
  if (flags & ~(UVRUN_FS_APPEND | UVRUN_FS_EXCLUSIVE | UVRUN_FS_SYNC)) {
    uvr_fail(UVRUN_E_INVAL, "write_file: unknown flags 0x%x", (unsigned)flags);
    return NULL;
  }
  if ((req = uvr_fs_req_new("write_file", run_write_file, path)) == NULL) return NULL;
  if (uvr_fs_req_take_copy(req, data, n) < 0) return NULL;
  req->flags = flags;
  return uvr_fs_submit(loop, req, NULL);
}
