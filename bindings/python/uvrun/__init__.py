"""uvrun for Python: asyncio's run() and Runner over libuvrun, through ctypes.

A task is a step function ``step(task, state)`` called again after each
await, as in C::

    def hello(task, state):
        if state.step == 0:
            state.step = 1
            return task.await_(task.sleep(0.01))
        task.resume()                      # raises what the await raised
        return task.done("hello")

    uvrun.run(hello)                       # -> "hello"

A step returns ``task.await_(future)``, ``task.yield_()`` or
``task.done(value)``; an exception it raises fails the task and comes out of
``run()`` as the same exception object. Errors of the C library arrive as
``uvrun.Error`` (``.code``, ``.name``, ``.message``), cancellation as
``uvrun.CancelledError`` and Ctrl-C as ``KeyboardInterrupt``.

Python objects handed to C (step state, results, exceptions carried as error
payloads) are kept alive in a registry until C frees them.
"""
import ctypes
import sys
import threading
import types

from ._lib import lib, library_path, Options, TaskOpts, ExceptionContext
from ._lib import FREE_FN, STEP_FN, CALLBACK_FN, WORK_FN, LOG_FN, EXCEPTION_HANDLER_FN

__all__ = ["run", "Runner", "Task", "TaskHandle", "Future", "Loop", "Handle", "Error", "CancelledError",
           "set_log_sink", "version", "library_path", "SUSPEND",
           "DEBUG_DEFAULT", "DEBUG_OFF", "DEBUG_ON"]

SUSPEND = 1
DEBUG_DEFAULT, DEBUG_OFF, DEBUG_ON = -1, 0, 1
E_INVAL = -22
E_CLOSED = -20000
E_INTERRUPTED = -20006
E_CANCELLED = -20007
E_TASK_FAILED = -20010
E_EXIT = -20012


def _s(b):
    return b.decode("utf-8", "replace") if b is not None else ""


def version():
    """The loaded library's version string ("0.1.0")."""
    return _s(lib.uvrun_version_string())


# ---- errors ------------------------------------------------------------------

class Error(Exception):
    """A uvrun error: ``code`` (negative UVRUN_E_* value), ``name``, ``message``."""

    def __init__(self, code, message=None):
        self.code = code
        self.name = _s(lib.uvrun_err_name(code))
        self.message = message if message is not None else _s(lib.uvrun_strerror(code))
        super().__init__(f"{self.message} ({self.name})")


class CancelledError(BaseException):
    """The task or the run was cancelled (asyncio.CancelledError: a BaseException)."""

    code = E_CANCELLED

    def __init__(self, message=""):
        self.message = message
        super().__init__(message)


def _error_for(code, message=None):
    message = message if message is not None else _s(lib.uvrun_errmsg())
    if code == E_CANCELLED:
        return CancelledError(message if message != _s(lib.uvrun_strerror(code)) else "")
    if code == E_INTERRUPTED:
        return KeyboardInterrupt()
    return Error(code, message)


def _check(rc):
    if rc < 0:
        raise _error_for(rc)
    return rc


# ---- the registry: Python objects that C holds ---------------------------------
# Each registration gets a one-byte buffer whose address is the void * C sees,
# so a key can never be mistaken for another live C pointer.

_objects = {}


def _register(obj):
    buf = ctypes.create_string_buffer(1)
    key = ctypes.addressof(buf)
    _objects[key] = (buf, obj)
    return key


def _lookup(ptr):
    if not ptr:
        return None
    entry = _objects.get(ptr)
    return entry[1] if entry is not None else ptr


def _release(ptr):
    try:
        if ptr:
            _objects.pop(ptr, None)
    except AttributeError:  # interpreter shutdown: the registry is gone
        pass


_c_release = FREE_FN(_release)
_c_release_addr = ctypes.cast(_c_release, ctypes.c_void_p).value


def _exception_from(err, code):
    """The Python exception for a C error object (borrowed) and its code."""
    if err and lib.uvrun_error_payload_free(err) == _c_release_addr:
        exc = _lookup(lib.uvrun_error_payload(err))
        if isinstance(exc, BaseException):
            return exc
    if err:
        code = lib.uvrun_error_code(err)
        return _error_for(code, _s(lib.uvrun_error_message(err)))
    return _error_for(code)


def _new_error(exc):
    """A C error object (new reference) carrying exc as its payload."""
    if isinstance(exc, KeyboardInterrupt):
        code = E_INTERRUPTED
    elif isinstance(exc, SystemExit):
        code = E_EXIT
    elif isinstance(exc, CancelledError):
        code = E_CANCELLED
    elif isinstance(exc, Error) and exc.code < 0:
        code = exc.code
    else:
        code = E_TASK_FAILED
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return lib.uvrun_error_new(code, text.encode(), _register(exc), _c_release)


def _take_error(rc):
    err = lib.uvrun_take_error()
    try:
        exc = _exception_from(err, rc)
        other = lib.uvrun_error_context(err) if err else None
        if other:  # the run's and the shutdown's errors: the one not raised
            exc.__context__ = _exception_from(other, lib.uvrun_error_code(other))
        return exc
    finally:
        lib.uvrun_error_unref(err)


# ---- futures and handles ----------------------------------------------------------

class Future:
    """A reference to a C future (sleep, gather, executor job, task)."""

    def __init__(self, ptr, keep=None):
        if not ptr:
            raise _error_for(E_INVAL)
        self._ptr = ptr
        self._keep = keep  # Python objects the future's value may point at

    def __del__(self):
        ptr, self._ptr = getattr(self, "_ptr", None), None
        if ptr and lib is not None:
            lib.uvrun_future_unref(ptr)

    def _fut(self):
        if not self._ptr:
            raise Error(E_INVAL, "the future was released")
        return self._ptr

    def done(self):
        return bool(lib.uvrun_future_done(self._fut()))

    def cancelled(self):
        return bool(lib.uvrun_future_cancelled(self._fut()))

    def cancel(self, msg=None):
        return bool(lib.uvrun_future_cancel(self._fut(), msg.encode() if msg else None))

    def result(self):
        """The value; raises the error, CancelledError, or Error(INVALID_STATE) while pending."""
        value = ctypes.c_void_p()
        rc = lib.uvrun_future_result(self._fut(), ctypes.byref(value))
        if rc < 0:
            raise _exception_from(lib.uvrun_future_error(self._fut()), rc)
        return _lookup(value.value)


class TaskHandle(Future):
    """A task created with Loop.create_task(): await it, cancel it, read its result."""

    def __init__(self, task_ptr, keep=None):
        self._task = task_ptr
        super().__init__(lib.uvrun_future_ref(lib.uvrun_task_future(task_ptr)), keep)

    def __del__(self):
        Future.__del__(self)
        task, self._task = getattr(self, "_task", None), None
        if task:
            lib.uvrun_task_unref(task)

    @property
    def name(self):
        return _s(lib.uvrun_task_name(self._task))

    def cancel(self, msg=None):
        return bool(lib.uvrun_task_cancel(self._task, msg.encode() if msg else None))


class Handle:
    """A scheduled callback (call_soon / call_later)."""

    def __init__(self, ptr, key):
        self._ptr, self._key = ptr, key

    def __del__(self):
        ptr, self._ptr = getattr(self, "_ptr", None), None
        if ptr:
            lib.uvrun_handle_unref(ptr)

    def cancel(self):
        if self._ptr and not lib.uvrun_handle_cancelled(self._ptr):
            lib.uvrun_handle_cancel(self._ptr)
            _release(self._key)  # the callback will never run

    def cancelled(self):
        return bool(self._ptr and lib.uvrun_handle_cancelled(self._ptr))


def _report(loop_ptr, message, exc):
    err = _new_error(exc)
    ctx = ExceptionContext(ctypes.sizeof(ExceptionContext), message.encode(), err, None, None, None, None)
    lib.uvrun_loop_call_exception_handler(loop_ptr, ctypes.byref(ctx))
    lib.uvrun_error_unref(err)


def _callback(key):
    entry = _objects.pop(key, None)
    if entry is None:
        return
    loop_ptr, fn, args = entry[1]
    try:
        fn(*args)
    except BaseException as exc:  # noqa: B902 -- reported as asyncio does
        _report(loop_ptr, f"Exception in callback {getattr(fn, '__qualname__', fn)!s}", exc)


_c_callback = CALLBACK_FN(_callback)


class _Job:
    __slots__ = ("fn", "args", "value_key")

    def __init__(self, fn, args):
        self.fn, self.args, self.value_key = fn, args, 0

    def __del__(self):
        _release(self.value_key)


def _work(key, result):
    # On an executor worker: ctypes takes the GIL for us. The registry holds
    # the job until here, whether or not its Future is still alive.
    job = _lookup(key)
    _release(key)
    try:
        value = job.fn(*job.args)
    except BaseException as exc:  # noqa: B902 -- becomes the future's error
        return lib.uvrun_error_set_last(_new_error(exc))
    if value is not None:
        job.value_key = _register(value)  # lives as long as the job, which the Future keeps
        result[0] = job.value_key
    return 0


_c_work = WORK_FN(_work)


class Loop:
    """The running loop, as seen from a step (task.loop) or a Runner."""

    def __init__(self, ptr):
        self._ptr = ptr

    def time(self):
        return lib.uvrun_loop_time(self._ptr)

    def get_debug(self):
        return bool(lib.uvrun_loop_get_debug(self._ptr))

    def call_soon(self, fn, *args):
        return self._schedule(lib.uvrun_loop_call_soon, (), fn, args)

    def call_later(self, delay, fn, *args):
        return self._schedule(lib.uvrun_loop_call_later, (float(delay),), fn, args)

    def _schedule(self, c_fn, when, fn, args):
        key = _register((self._ptr, fn, args))
        handle = ctypes.c_void_p()
        rc = c_fn(self._ptr, *when, _c_callback, key, ctypes.byref(handle))
        if rc < 0:
            _release(key)
            raise _error_for(rc)
        return Handle(handle.value, key)

    def call_soon_threadsafe(self, fn, *args):
        key = _register((self._ptr, fn, args))
        rc = lib.uvrun_loop_call_soon_threadsafe(self._ptr, _c_callback, key)
        if rc < 0:
            _release(key)
            raise _error_for(rc)

    def run_in_executor(self, fn, *args):
        """fn(*args) on the loop's thread pool; a Future of its return value."""
        job = _Job(fn, args)
        key = _register(job)
        ptr = lib.uvrun_run_in_executor(self._ptr, _c_work, key)
        if not ptr:
            _release(key)
            raise _error_for(E_INVAL)
        return Future(ptr, keep=job)  # the job holds its value

    def create_task(self, step, state=None, name=None):
        """A new task running step(task, state); returns its TaskHandle."""
        return TaskHandle(_new_task(self._ptr, step, state, name))


class _Keep:
    __slots__ = ("key",)

    def __init__(self, key):
        self.key = key

    def __del__(self):
        _release(self.key)


# ---- tasks -------------------------------------------------------------------------

class _Slot:
    """What C holds for a task (its arg): the step, the state and the last await."""
    __slots__ = ("step", "state", "awaiting", "resume_exc", "resume_code")

    def __init__(self, step, state):
        self.step = step
        self.state = state if state is not None else types.SimpleNamespace(step=0)
        self.awaiting = None
        self.resume_exc = None
        self.resume_code = 0


class Task:
    """The view of a running task handed to its step function."""

    __slots__ = ("_ptr", "_slot")

    def __init__(self, ptr, slot):
        self._ptr, self._slot = ptr, slot

    @property
    def loop(self):
        return Loop(lib.uvrun_task_loop(self._ptr))

    @property
    def name(self):
        return _s(lib.uvrun_task_name(self._ptr))

    @property
    def state(self):
        return self._slot.state

    def sleep(self, seconds):
        return Future(lib.uvrun_sleep(self._ptr, float(seconds)))

    def await_(self, fut):
        """Suspend until fut is done: ``return task.await_(fut)``."""
        if not isinstance(fut, Future):
            raise TypeError("task.await_() needs a uvrun.Future")
        self._slot.awaiting = fut  # keeps its value alive until the next await
        return lib.uvrun_task_await(self._ptr, lib.uvrun_future_ref(fut._fut()))

    def yield_(self):
        """Give way for one loop iteration: ``return task.yield_()``."""
        self._slot.awaiting = None
        return lib.uvrun_task_yield(self._ptr)

    def sleep_(self, seconds):
        """Sleep on the task's own timer, no future: ``return task.sleep_(0.5)``."""
        self._slot.awaiting = None
        return lib.uvrun_task_sleep(self._ptr, float(seconds))

    def resume(self):
        """What the last await gave; raises its error (CancelledError when cancelled)."""
        value = ctypes.c_void_p()
        rc = lib.uvrun_task_resume(self._ptr, ctypes.byref(value))
        if rc < 0:
            exc = _exception_from(lib.uvrun_task_resume_error(self._ptr), rc)
            self._slot.resume_exc, self._slot.resume_code = exc, rc
            raise exc
        return _lookup(value.value)

    def done(self, value=None):
        """Finish with value: ``return task.done(value)``."""
        if value is None:
            return lib.uvrun_task_return(self._ptr, None)
        return lib.uvrun_task_return_owned(self._ptr, _register(value), _c_release)

    def run_in_executor(self, fn, *args):
        return self.loop.run_in_executor(fn, *args)

    def call_later(self, delay, fn, *args):
        return self.loop.call_later(delay, fn, *args)

    def create_task(self, step, state=None, name=None):
        return self.loop.create_task(step, state, name)

    def gather(self, *futs, return_exceptions=False):
        arr = (ctypes.c_void_p * len(futs))(*[f._fut() for f in futs])
        return Future(lib.uvrun_gather(lib.uvrun_task_loop(self._ptr), arr, len(futs), int(return_exceptions)),
                      keep=futs)

    def wait_for(self, fut, timeout):
        return Future(lib.uvrun_wait_for(lib.uvrun_future_ref(fut._fut()), float(timeout)), keep=fut)


def _step(task_ptr, key):
    slot = _lookup(key)
    task = Task(task_ptr, slot)
    try:
        rc = slot.step(task, slot.state)
        if not isinstance(rc, int) or isinstance(rc, bool):
            raise TypeError(f"step function {getattr(slot.step, '__qualname__', slot.step)!s} returned {rc!r}; "
                            "return task.await_(...), task.yield_() or task.done(...)")
        return rc
    except BaseException as exc:  # noqa: B902 -- every exception becomes the task's error
        if exc is slot.resume_exc:
            return slot.resume_code  # the same error object goes on (cancellation too)
        return lib.uvrun_task_raise(task_ptr, _new_error(exc))
    finally:
        slot.resume_exc = None


_c_step = STEP_FN(_step)


def _task_opts(name, arg_free):
    opts = TaskOpts()
    lib.uvrun_task_opts_init(ctypes.byref(opts))
    if name is not None:
        opts.name = name.encode()
    if arg_free:
        opts.arg_free = _c_release
    opts.site = b"python"
    return opts


def _new_task(loop_ptr, step, state, name):
    if not callable(step):
        raise TypeError("step must be callable: step(task, state)")
    key = _register(_Slot(step, state))
    opts = _task_opts(name, True)
    out = ctypes.c_void_p()
    _check(lib.uvrun_task_new(loop_ptr, _c_step, key, ctypes.byref(opts), ctypes.byref(out)))
    return out.value


# ---- run() and Runner ------------------------------------------------------------------

def _handler_trampoline(loop_ptr, ctx, key):
    fn = _lookup(key)
    c = ctx.contents
    context = {"message": _s(c.message)}
    if c.error:
        context["exception"] = _exception_from(c.error, lib.uvrun_error_code(c.error))
    if c.task:
        context["task"] = _s(lib.uvrun_task_name(c.task))
    if c.source:
        context["source"] = _s(c.source)
    try:
        fn(Loop(loop_ptr), context)
    except BaseException:  # noqa: B902 -- never let a handler unwind into C
        lib.uvrun_loop_default_exception_handler(loop_ptr, ctx)


_c_handler = EXCEPTION_HANDLER_FN(_handler_trampoline)
_c_entry_points = (_step, _callback, _work, _release, _handler_trampoline)


# ---- process-wide hooks ---------------------------------------------------------------------

_log_sink = [None, None]


def set_log_sink(fn):
    """Route uvrun's log (warnings, reports) to fn(level, message); None restores stderr."""
    if fn is None:
        lib.uvrun_set_log_sink(LOG_FN(), None)
        _log_sink[:] = [None, None]
        return

    def sink(level, message, ud):
        try:
            fn(level, _s(message))
        except BaseException:  # noqa: B902 -- a log sink must not unwind into C
            pass

    c_sink = LOG_FN(sink)
    lib.uvrun_set_log_sink(c_sink, None)
    _log_sink[:] = [fn, c_sink]


def set_log_level(level):
    """The default (stderr) sink's threshold: DEBUG=10, INFO=20, WARNING=30 (default), ERROR=40.

    Returns the previous level. UVRUN_LOG_LEVEL sets it for a process; a sink of your own sees every level.
    """
    return _check(lib.uvrun_set_log_level(int(level)))


def get_log_level():
    return lib.uvrun_get_log_level()


from ._runner import run, Runner, ShutdownEvent  # noqa: E402  (they use the names above)
