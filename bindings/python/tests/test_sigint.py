"""Ctrl-C from Python with a real SIGINT (a child process and os.kill).

By default uvrun leaves Python's SIGINT handler alone (it is not SIG_DFL, R40):
Python raises KeyboardInterrupt in the next step it runs. With host_sigint
(X6) a run takes SIGINT over, so Ctrl-C cancels the main task, whose cleanup
runs, and puts Python's sigaction back byte for byte when it ends.
"""
import os
import signal
import subprocess
import sys
import textwrap
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))

CHILD_PRELUDE = textwrap.dedent("""
    import ctypes, os, sys
    sys.path.insert(0, %r)
    import uvrun

    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    def sigint_action():
        # struct sigaction on Linux/x86-64 glibc: handler at 0, sa_mask at 8
        # (the kernel keeps its first 64 signals: 8 bytes; glibc leaves stack
        # bytes in the rest), sa_flags at 136, sa_restorer at 144.
        buf = ctypes.create_string_buffer(256)
        assert libc.sigaction(2, None, buf) == 0
        raw = buf.raw
        return (raw[0:8], raw[8:16], raw[136:140], raw[144:152])

    def say(*a):
        print(*a, flush=True)
""") % os.path.join(HERE, "..")


def spawn(body):
    code = CHILD_PRELUDE + textwrap.dedent(body)
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=dict(os.environ))


def wait_for_line(proc, want, timeout=20):
    lines = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if lines[-1] == want:
            return lines
    raise AssertionError(f"no {want!r} from the child; got {lines}")


class TestSigint(unittest.TestCase):
    def finish(self, proc, lines):
        out, _ = proc.communicate(timeout=30)
        return lines + out.splitlines(), proc.returncode

    def test_host_mode_ctrl_c_cancels_the_main_task_and_restores_python_handler(self):
        proc = spawn("""
            before = sigint_action()
            def main(task, s):
                if s.step == 0:
                    s.step = 1
                    s.during = sigint_action()
                    say("ready")
                    return task.await_(task.sleep(30))
                try:
                    task.resume()
                except uvrun.CancelledError:
                    say("cleanup ran")
                    raise
                return task.done("not cancelled")
            state = type("S", (), {"step": 0})()
            try:
                uvrun.run(main, state, host_sigint=True)
            except KeyboardInterrupt:
                say("KeyboardInterrupt")
            say("taken over" if state.during != before else "not taken over")
            say("restored exactly" if sigint_action() == before else "NOT restored")
            import signal
            say("python handler" if signal.getsignal(signal.SIGINT) is signal.default_int_handler else "other")
        """)
        lines = wait_for_line(proc, "ready")
        os.kill(proc.pid, signal.SIGINT)
        lines, rc = self.finish(proc, lines)
        self.assertEqual(rc, 0, lines)
        self.assertEqual(lines[1:], ["cleanup ran", "KeyboardInterrupt", "taken over", "restored exactly",
                                     "python handler"])

    def test_host_mode_restores_a_custom_python_handler(self):
        proc = spawn("""
            import signal
            got = []
            signal.signal(signal.SIGINT, lambda *a: got.append("python"))
            before = sigint_action()
            def main(task, s):
                if s.step == 0:
                    s.step = 1
                    say("ready")
                    return task.await_(task.sleep(30))
                task.resume()
                return task.done()
            try:
                uvrun.run(main, None, host_sigint=True)
            except KeyboardInterrupt:
                say("KeyboardInterrupt")
            say("restored exactly" if sigint_action() == before else "NOT restored")
            os.kill(os.getpid(), signal.SIGINT)  # Python's handler again
            say(got)
        """)
        lines = wait_for_line(proc, "ready")
        os.kill(proc.pid, signal.SIGINT)
        lines, rc = self.finish(proc, lines)
        self.assertEqual(rc, 0, lines)
        self.assertEqual(lines[1:], ["KeyboardInterrupt", "restored exactly", "['python']"])

    def test_default_leaves_python_handler_alone(self):
        proc = spawn("""
            before = sigint_action()
            def main(task, s):
                s.step += 1
                if s.step == 1:
                    s.during = sigint_action()
                    say("ready")
                if s.step < 2000:
                    return task.await_(task.sleep(0.01))  # Python code runs every 10 ms
                return task.done("finished")
            state = type("S", (), {"step": 0})()
            try:
                say(uvrun.run(main, state))
            except KeyboardInterrupt:
                say("KeyboardInterrupt from Python's handler")
            say("untouched" if state.during == before == sigint_action() else "changed")
        """)
        lines = wait_for_line(proc, "ready")
        os.kill(proc.pid, signal.SIGINT)
        lines, rc = self.finish(proc, lines)
        self.assertEqual(rc, 0, lines)
        self.assertEqual(lines[1:], ["KeyboardInterrupt from Python's handler", "untouched"])


if __name__ == "__main__":
    unittest.main()
