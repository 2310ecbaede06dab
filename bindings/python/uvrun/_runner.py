"""run() and Runner: asyncio.run() and asyncio.Runner over the C runner, and the shutdown hook."""
import collections
import ctypes
import sys
import threading

from ._lib import lib, Options, SHUTDOWN_HOOK_FN
from . import (_register, _release, _lookup, _Keep, _Slot, _c_handler, _c_step, _c_entry_points, _task_opts,
               _check, _error_for, Loop, _take_error, _s, Error, DEBUG_ON, DEBUG_OFF, E_CLOSED, E_TASK_FAILED,
               E_INTERRUPTED, E_CANCELLED, E_EXIT)

ShutdownEvent = collections.namedtuple("ShutdownEvent", "step end status count timeout time")
ShutdownEvent.__doc__ = """One step of a runner's close beginning (end=False) or ending (end=True).

step: "cancel_tasks", "shutdown_asyncgens", "shutdown_default_executor" or "close_loop", in that order.
count: at the beginning, the tasks to cancel, live async generators or executor jobs; at the end, those left.
timeout: the step's bound in seconds (0: none). status: at the end, 0 or the step's error code.
time: the loop's clock (0 once the loop is closed).
"""


def _hook_trampoline(event, key):
    # What the hook raises goes to sys.unraisablehook (ctypes' rule for
    # callbacks): the shutdown goes on.
    ev = event.contents
    _lookup(key)(ShutdownEvent(_s(lib.uvrun_shutdown_step_name(ev.step)), bool(ev.end), ev.status, ev.count,
                               ev.timeout, ev.time))


_c_hook = SHUTDOWN_HOOK_FN(_hook_trampoline)


def _options(debug, handle_sigint, host_sigint, executor_shutdown_timeout, cancel_timeout, exception_handler,
             shutdown_hook, keep):
    opts = Options()
    lib.uvrun_options_init(ctypes.byref(opts))
    if debug is not None:
        opts.debug = DEBUG_ON if debug else DEBUG_OFF
    opts.handle_sigint = 1 if handle_sigint else 0
    opts.host_sigint = 1 if host_sigint else 0
    if executor_shutdown_timeout is not None:
        opts.executor_shutdown_timeout = float(executor_shutdown_timeout)
    if cancel_timeout is not None:
        opts.cancel_timeout = float(cancel_timeout)
    if exception_handler is not None:
        key = _register(exception_handler)
        keep.append(_Keep(key))
        opts.exception_handler = _c_handler
        opts.exception_handler_data = key
    if shutdown_hook is not None:
        key = _register(shutdown_hook)
        keep.append(_Keep(key))
        opts.shutdown_hook = _c_hook
        opts.shutdown_hook_data = key
    return opts


# Python's own SIGINT handler (uvrun leaves it alone unless host_sigint) may
# raise KeyboardInterrupt on the first line of a callback, before the binding
# can catch it; ctypes then reports it as unraisable and C sees an undefined
# return value. Such interrupts are kept here and raised when the run returns.
_pending_interrupts = []
_previous_unraisablehook = sys.unraisablehook


def _unraisablehook(unraisable):
    if isinstance(unraisable.exc_value, KeyboardInterrupt) and unraisable.object in _c_entry_points:
        _pending_interrupts.append(unraisable.exc_value)
        return
    _previous_unraisablehook(unraisable)


sys.unraisablehook = _unraisablehook


def _outcome(rc, result):
    if _pending_interrupts:
        exc = _pending_interrupts.pop()
        _pending_interrupts.clear()
        if rc == 0:
            _release(result.value)
        raise exc
    if rc == 0:
        value = _lookup(result.value)
        _release(result.value)  # the result was moved out to us
        return value
    if rc in (E_TASK_FAILED, E_INTERRUPTED, E_CANCELLED, E_EXIT):
        raise _take_error(rc)
    raise _error_for(rc)


def run(step, state=None, debug=None, *, handle_sigint=True, host_sigint=False, executor_shutdown_timeout=None,
        cancel_timeout=None, exception_handler=None, shutdown_hook=None):
    """asyncio.run(): runs step(task, state) as the main task on a fresh loop, shuts it down, returns the result.

    shutdown_hook(event) sees each step of the close begin and end (a ShutdownEvent).
    host_sigint=True takes SIGINT over from Python's handler for the run, so Ctrl-C cancels the main task
    (KeyboardInterrupt afterwards); Python's handler is restored exactly when the run ends.
    """
    if not callable(step):
        raise TypeError("step must be callable: step(task, state)")
    keep = []
    opts = _options(debug, handle_sigint, host_sigint, executor_shutdown_timeout, cancel_timeout,
                    exception_handler, shutdown_hook, keep)
    key = _register(_Slot(step, state))
    result = ctypes.c_void_p()
    try:
        rc = lib.uvrun_run(_c_step, key, ctypes.byref(opts), ctypes.byref(result))
    finally:
        _release(key)  # the main task is gone once uvrun_run returns
    return _outcome(rc, result)


class Runner:
    """asyncio.Runner: several run() calls on one loop and one context; close() shuts down.

    Use it as a context manager. A Runner that is garbage collected unclosed is
    freed with uvrun_runner_free_v2 (safe from any thread, at any time).
    """

    def __init__(self, debug=None, *, handle_sigint=True, host_sigint=False, executor_shutdown_timeout=None,
                 cancel_timeout=None, exception_handler=None, shutdown_hook=None):
        self._keep = []
        opts = _options(debug, handle_sigint, host_sigint, executor_shutdown_timeout, cancel_timeout,
                        exception_handler, shutdown_hook, self._keep)
        out = ctypes.c_void_p()
        _check(lib.uvrun_runner_new(ctypes.byref(opts), ctypes.byref(out)))
        self._ptr = out.value
        self._lock = threading.Lock()

    def _runner(self):
        if not self._ptr:
            raise Error(E_CLOSED, "Runner is closed")
        return self._ptr

    def run(self, step, state=None, name=None):
        if not callable(step):
            raise TypeError("step must be callable: step(task, state)")
        runner = self._runner()
        key = _register(_Slot(step, state))
        opts = _task_opts(name, True)  # C releases the state when the main task goes
        result = ctypes.c_void_p()
        rc = lib.uvrun_runner_run_task(runner, _c_step, key, ctypes.byref(opts), ctypes.byref(result))
        return _outcome(rc, result)

    def get_loop(self):
        out = ctypes.c_void_p()
        _check(lib.uvrun_runner_get_loop(self._runner(), ctypes.byref(out)))
        return Loop(out.value)

    def close(self):
        """Shut down (cancel what is left, executor, loop) and free. Idempotent."""
        with self._lock:
            ptr = self._ptr
            if not ptr:
                return
            rc = lib.uvrun_runner_close(ptr)
            if rc < 0:
                err = _error_for(rc)
                if rc in (-20001, -20008):  # LOOP_RUNNING, WRONG_THREAD: nothing changed
                    raise err
            self._ptr = None
            lib.uvrun_runner_free(ptr)
        if rc < 0:
            raise err

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        ptr, self._ptr = getattr(self, "_ptr", None), None
        if ptr:
            lib.uvrun_runner_free_v2(ptr)  # GC finalizer: any thread, any time
