"""Runs a command in a real pseudo-terminal for the live `noburn watch` test.

usage: python3 pty-driver.py COLS ROWS CMD [ARGS...]

The terminal's output goes to our stdout, byte for byte; our stdin goes to the terminal
(keys), except a line b"\\0RESIZE COLS ROWS\\n", which resizes it (the kernel sends the
program SIGWINCH). Exits with the program's exit code once it has ended.
"""
import fcntl
import os
import pty
import select
import struct
import sys
import termios


def set_size(fd, cols, rows):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def main():
    cols, rows, cmd = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
    pid, master = pty.fork()
    if pid == 0:
        set_size(0, cols, rows)
        os.execvp(cmd[0], cmd)
    out = sys.stdout.buffer
    stdin = sys.stdin.buffer.raw
    watching = [master, stdin]
    while True:
        ready, _, _ = select.select(watching, [], [], 0.05)
        if master in ready:
            try:
                data = os.read(master, 65536)
            except OSError:
                data = b""
            if not data:
                break
            out.write(data)
            out.flush()
        if stdin in ready:
            data = os.read(stdin.fileno(), 4096)
            if not data:
                watching = [master]
                continue
            while data:
                if data.startswith(b"\0RESIZE "):
                    line, _, data = data.partition(b"\n")
                    _, c, r = line.split(b" ")
                    set_size(master, int(c), int(r))
                    continue
                cut = data.find(b"\0")
                chunk, data = (data, b"") if cut < 0 else (data[:cut], data[cut:])
                os.write(master, chunk)
    _, status = os.waitpid(pid, 0)
    sys.exit(os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status >> 8)


main()
