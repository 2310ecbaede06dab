// uvrun/errors.hpp -- the exceptions of the C++ layer, and their crossing of
// the C core in both directions.
#pragma once

#include <uvrun.h>

#include <exception>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>

namespace uvrun {

// Python's BaseException: CancelledError and KeyboardInterrupt derive from
// it and not from std::exception, so `catch (const std::exception&)` does
// not swallow them.
class BaseException {
 public:
  explicit BaseException(std::string message = {}) : message_(std::move(message)) {}
  virtual ~BaseException() = default;
  virtual const char *what() const noexcept { return message_.c_str(); }
  virtual int code() const noexcept = 0;

 private:
  std::string message_;
};

class CancelledError : public BaseException {
 public:
  using BaseException::BaseException;
  int code() const noexcept override { return UVRUN_E_CANCELLED; }
};

class KeyboardInterrupt : public BaseException {
 public:
  KeyboardInterrupt() : BaseException("KeyboardInterrupt") {}
  int code() const noexcept override { return UVRUN_E_INTERRUPTED; }
};

class SystemExit : public BaseException {
 public:
  explicit SystemExit(int status = 0) : BaseException("SystemExit"), status_(status) {}
  int status() const noexcept { return status_; }
  int code() const noexcept override { return UVRUN_E_EXIT; }

 private:
  int status_;
};

// Everything the C ABI reports: a code and its message.
class Error : public std::runtime_error {
 public:
  Error(int code, const std::string &message) : std::runtime_error(message), code_(code) {}
  int code() const noexcept { return code_; }

 private:
  int code_;
};

// asyncio's RuntimeError cases ("Runner is closed", "... cannot be called from
// a running event loop", ...).
class RuntimeError : public Error {
 public:
  using Error::Error;
};

// No value for a context variable (Python's LookupError).
class LookupError : public Error {
 public:
  using Error::Error;
};

class TimeoutError : public Error {
 public:
  explicit TimeoutError(const std::string &message = "timed out") : Error(UVRUN_E_TIMEDOUT, message) {}
};

class InvalidStateError : public Error {
 public:
  explicit InvalidStateError(const std::string &message = "invalid state") : Error(UVRUN_E_INVALID_STATE, message) {}
};

// I/O failures: the C code is libuv's (a negative errno, or UV_EAI_* for a
// lookup). Subclasses where asyncio has them.
class OSError : public Error {
 public:
  using Error::Error;
};
class ConnectionError : public OSError {
 public:
  using OSError::OSError;
};
class ConnectionResetError : public ConnectionError {
 public:
  using ConnectionError::ConnectionError;
};
class ConnectionRefusedError : public ConnectionError {
 public:
  using ConnectionError::ConnectionError;
};
class BrokenPipeError : public ConnectionError {
 public:
  using ConnectionError::ConnectionError;
};
// -ENOENT where the code is known to come from the system: a file, a Unix
// socket path or a program that does not exist (alone, -ENOENT is also
// UVRUN_E_NOTFOUND, a LookupError). The other file errors, as Python names
// them: -EEXIST, -EISDIR, -ENOTDIR, and -EACCES or -EPERM.
class FileNotFoundError : public OSError {
 public:
  using OSError::OSError;
};
class FileExistsError : public OSError {
 public:
  using OSError::OSError;
};
class IsADirectoryError : public OSError {
 public:
  using OSError::OSError;
};
class NotADirectoryError : public OSError {
 public:
  using OSError::OSError;
};
class PermissionError : public OSError {
 public:
  using OSError::OSError;
};
// A signal to a child that already exited (-ESRCH).
class ProcessLookupError : public OSError {
 public:
  using OSError::OSError;
};
// Any use of a stream after close() or abort().
class StreamClosedError : public ConnectionError {
 public:
  using ConnectionError::ConnectionError;
};

// read_exactly()/read_until() met the end of the stream: `partial` holds
// the bytes that did arrive (asyncio.IncompleteReadError).
class IncompleteReadError : public Error {
 public:
  IncompleteReadError(const std::string &message, std::string partial = {})
      : Error(UVRUN_E_INCOMPLETE_READ, message), partial(std::move(partial)) {}
  std::string partial;
};

// read_until() found no separator within its limit; the bytes stay in the
// stream (asyncio.LimitOverrunError).
class LimitOverrunError : public Error {
 public:
  explicit LimitOverrunError(const std::string &message) : Error(UVRUN_E_LIMIT_OVERRUN, message) {}
};

namespace detail {

// Using an object that holds nothing (made empty, or moved from) is a bug
// of the caller's: InvalidStateError, never a null dereference.
[[noreturn, gnu::cold]] inline void throw_empty(const char *what) {
  throw InvalidStateError(std::string(what) + " is empty (default-constructed or moved from)");
}

// An exception crossing the C core travels as the error's payload.
inline void free_exception(void *p) { delete static_cast<std::exception_ptr *>(p); }

inline int code_of(const std::exception_ptr &e) noexcept {
  try {
    std::rethrow_exception(e);
  } catch (const BaseException &x) {
    return x.code();
  } catch (const Error &x) {
    return x.code();
  } catch (...) {
    return UVRUN_E_TASK_FAILED;
  }
}

inline std::string message_of(const std::exception_ptr &e) {
  try {
    std::rethrow_exception(e);
  } catch (const BaseException &x) {
    return x.what();
  } catch (const std::exception &x) {
    return x.what();
  } catch (...) {
    return "unknown C++ exception";
  }
}

// A C error that carries `e`; nullptr only when out of memory. Never
// throws: C callbacks use it, and nothing may unwind through the C core.
inline uvrun_error_t *error_from(std::exception_ptr e) noexcept {
  try {
    std::string message = message_of(e);
    int code = code_of(e);
    auto *payload = new std::exception_ptr(std::move(e));
    uvrun_error_t *err = uvrun_error_new(code, message.c_str(), payload, free_exception);
    if (err == nullptr) delete payload;
    return err;
  } catch (const std::bad_alloc &) {
    return nullptr;
  }
}

// Who reported a code. uvrun's own codes reuse the errno values that mean
// the same (UVRUN_E_INVAL is -EINVAL) except one: UVRUN_E_NOTFOUND, a
// context variable without a value, is -ENOENT -- which an I/O call
// reports for a missing file. Only the caller knows which it was.
enum class CodeSource { runtime, io };

// Throws what a C error stands for: the original C++ exception when it
// came from C++, else the exception that matches its code.
[[noreturn]] inline void throw_error(const uvrun_error_t *err, CodeSource from = CodeSource::runtime) {
  // The free function tells our payload from other hosts' (Python's...).
  if (err != nullptr && uvrun_error_payload_free(err) == free_exception)
    std::rethrow_exception(*static_cast<std::exception_ptr *>(uvrun_error_payload(err)));
  int code = err != nullptr ? uvrun_error_code(err) : UVRUN_E_INVAL;
  std::string message = err != nullptr ? uvrun_error_message(err) : uvrun_strerror(code);
  switch (code) {
  case UVRUN_E_CANCELLED: throw CancelledError(message);
  case UVRUN_E_INTERRUPTED: throw KeyboardInterrupt();
  case UVRUN_E_EXIT: throw SystemExit();
  case UVRUN_E_TIMEDOUT: throw TimeoutError(message);
  case UVRUN_E_INVALID_STATE: throw InvalidStateError(message);
  case UVRUN_E_NOTFOUND:
    if (from == CodeSource::io) throw FileNotFoundError(code, message);
    throw LookupError(code, message);
  case UVRUN_E_CONTEXT_ENTERED:
  case UVRUN_E_TOKEN_USED:
  case UVRUN_E_CLOSED:
  case UVRUN_E_LOOP_RUNNING:
  case UVRUN_E_LOOP_CLOSED:
  case UVRUN_E_LOOP_ALREADY_RUNNING:
  case UVRUN_E_OTHER_LOOP_RUNNING:
  case UVRUN_E_LOOP_STOPPED:
  case UVRUN_E_WRONG_THREAD:
  case UVRUN_E_WOULD_DEADLOCK:
  case UVRUN_E_EXECUTOR_SHUTDOWN:
  case UVRUN_E_READ_BUSY: throw RuntimeError(code, message);
  case UVRUN_E_STREAM_CLOSED: throw StreamClosedError(code, message);
  case UVRUN_E_INCOMPLETE_READ: throw IncompleteReadError(message);
  case UVRUN_E_LIMIT_OVERRUN: throw LimitOverrunError(message);
  case -ECONNRESET: throw ConnectionResetError(code, message);
  case -ECONNREFUSED: throw ConnectionRefusedError(code, message);
  case -EPIPE: throw BrokenPipeError(code, message);
  case -ECONNABORTED: throw ConnectionError(code, message);
  case -EEXIST: throw FileExistsError(code, message);
  case -EISDIR: throw IsADirectoryError(code, message);
  case -ENOTDIR: throw NotADirectoryError(code, message);
  case -EACCES:
  case -EPERM: throw PermissionError(code, message);
  case -ESRCH: throw ProcessLookupError(code, message);
  case UVRUN_E_NOMEM:
  case UVRUN_E_INVAL: throw Error(code, message);
  default:
    // libuv's codes: a negative errno, or UV_EAI_* (-3000 and below, above
    // uvrun's own range).
    if (code < 0 && code > UVRUN_E_MAX_ && code > -20000) throw OSError(code, message);
    throw Error(code, message);
  }
}

// The exception a C error stands for, as an exception_ptr.
inline std::exception_ptr exception_of(const uvrun_error_t *err) noexcept {
  try {
    throw_error(err);
  } catch (...) {
    return std::current_exception();
  }
}

inline std::exception_ptr &error_context_slot() noexcept {
  static thread_local std::exception_ptr slot;
  return slot;
}

}  // namespace detail

// When run() threw because both the main task and the shutdown failed, the
// exception it did not throw (Python's __context__: an interrupt while
// closing is thrown, the main task's error is kept here). Every failure
// thrown from a C call on this thread sets it anew: null when it carried
// nothing else.
inline std::exception_ptr last_error_context() noexcept { return detail::error_context_slot(); }

}  // namespace uvrun
