"""The recipe scripts' command lines: argparse, with a flag given twice refused as vgen, vbench, mkmodel and
convert.py refuse it (argparse alone keeps the last value without a word: `--steps 100 --steps 10` ran 10)."""
import argparse
import os
import re


class _Once(argparse.Action):
    """argparse's plain store, refusing a second value for the same destination on one command line."""

    def __call__(self, parser, namespace, values, option_string=None):
        given = parser.__dict__.setdefault("_recipe_given", {})
        if self.dest in given:
            first, first_flag = given[self.dest]
            parser.error("%s is given twice ('%s', then '%s'): give it once" % (
                option_string or self.dest, first, values if option_string == first_flag else
                "%s %s" % (option_string, values)))
        given[self.dest] = (values, option_string)
        setattr(namespace, self.dest, values)


class _OneLine(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line, as vgen's are ("prog: message (see prog --help)", exit
    2): argparse prints its usage block first, so a wrong flag gave several lines."""

    def error(self, message):
        import sys
        print("%s: %s (see %s --help)" % (self.prog, _one_line(message), self.prog), file=sys.stderr)
        sys.exit(2)


def parser(**kw):
    """argparse.ArgumentParser(**kw) whose plain (store) arguments may be given once each, and whose usage errors
    are one line."""
    p = _OneLine(**kw)
    p.register("action", None, _Once)
    p.register("action", "store", _Once)
    return p


SEED_MAX = 2 ** 64 - 1  # vgen's and vbench's --seed: 0 to 2^64 - 1


def _number(text, kind):
    """text as an int (digits only, with a leading '-': as vgen, which refuses '+5', ' 5' and '1_000') or a
    float; None where it is not one."""
    if kind is int:
        return int(text) if re.fullmatch(r"-?[0-9]+", text) else None
    try:
        return float(text)
    except ValueError:
        return None


def at_least(low, kind=int, high=None):
    """An argparse type: a number of `kind` that is at least `low` (and at most `high` where given); a float must
    be finite (--steps -5 ran no step and marked the stage done; --seeds 0 printed an accuracy of nan; --cfg nan
    sampled from NaN probabilities)."""
    what = "a whole number" if kind is int else "a finite number"

    def parse(text):
        v = _number(text, kind)
        if v is None:
            raise argparse.ArgumentTypeError("expected %s, got '%s'" % (
                "a whole number" if kind is int else "a number", text))
        if not (v >= low and (high is None or v <= high) and v != float("inf")):  # NaN fails v >= low
            raise argparse.ArgumentTypeError("expected %s %s, got '%s'" % (
                what, ">= %s" % low if high is None else "from %s to %s" % (low, high), text))
        return v
    parse.__name__ = "%s >= %s" % (kind.__name__, low)
    return parse


def above(low):
    """An argparse type: a finite float greater than `low` (a learning rate, minutes between checkpoints)."""
    def parse(text):
        v = _number(text, float)
        if v is None:
            raise argparse.ArgumentTypeError("expected a number, got '%s'" % text)
        if not (v > low and v != float("inf")):
            raise argparse.ArgumentTypeError("expected a finite number > %s, got '%s'" % (low, text))
        return v
    parse.__name__ = "float > %s" % low
    return parse


def whole_list(p, flag, text, low, high, most=None):
    """The comma-separated whole numbers of `flag` (a --depths, --ks), each from low to high, none twice, at most
    `most` of them; a usage error (exit 2) otherwise, so that a bad list is refused before any work (show.py ran
    vgen at depth 16 before it found the 0 of '16,0')."""
    vals = [_number(x, int) for x in text.split(",")]
    if None in vals:
        p.error("%s %s: expected whole numbers separated by commas" % (flag, text))
    bad = [v for v in vals if not low <= v <= high]
    if bad:
        p.error("%s %s: each must be from %d to %d, not %d" % (flag, text, low, high, bad[0]))
    twice = [v for i, v in enumerate(vals) if v in vals[:i]]
    if twice:
        p.error("%s %s: %d is listed twice" % (flag, text, twice[0]))
    if most is not None and len(vals) > most:
        p.error("%s %s: at most %d values" % (flag, text, most))
    return vals


def output_file(p, flag, path):
    """Refuses (usage error, exit 2), before any work, an output file that cannot be written: a folder, a name in a
    folder that does not exist or is not writable, an existing file that is not writable."""
    folder = os.path.dirname(path) or "."
    if os.path.isdir(path):
        p.error("%s %s: a folder, not a file to write" % (flag, path))
    if not os.path.isdir(folder):
        p.error("%s %s: no folder %s (No such file or directory)" % (flag, path, folder))
    if not os.access(folder, os.W_OK | os.X_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        p.error("%s %s: not writable (Permission denied)" % (flag, path))


def output_folder(p, flag, path):
    """Refuses (usage error, exit 2), before any work, an output folder that cannot be made or written: one that is
    a file, or whose nearest existing parent is a file or not writable. Nothing is created here: the caller makes
    the folder once it has something to put in it."""
    if not path:
        p.error("%s: empty path" % flag)
    if os.path.islink(path) and not os.path.exists(path):  # os.makedirs would fail on it ("File exists")
        p.error("%s %s: a symbolic link to a missing folder (%s)" % (flag, path, os.readlink(path)))
    if os.path.exists(path) and not os.path.isdir(path):
        p.error("%s %s: a file, not a folder" % (flag, path))
    up = os.path.abspath(path)
    while not os.path.exists(up):
        up = os.path.dirname(up)
    if not os.path.isdir(up):
        p.error("%s %s: %s is a file, not a folder" % (flag, path, up))
    if not os.access(up, os.W_OK | os.X_OK):
        p.error("%s %s: %s is not writable (Permission denied)" % (flag, path, up))


def replace_file(path, write):
    """Calls write(tmp) for a temporary name next to path, then renames it to path: a failure part-way (a full
    disk, an exception) leaves no half-written file, and an existing file stays as it was."""
    tmp = "%s.tmp%d" % (path, os.getpid())
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def module_main(doc):
    """What a module of the recipe (imported by the scripts, not a command itself) does when run: its docstring
    for --help or -h (exit 0); anything else is one line and exit 2, rather than doing nothing without a word."""
    import sys
    prog = os.path.basename(sys.argv[0])

    def main():
        if sys.argv[1:] in (["--help"], ["-h"]):
            print(doc.strip())
            return
        print("%s: a module of the recipe (imported by its scripts), not a command: %s --help describes it" % (
            prog, prog), file=sys.stderr)
        sys.exit(2)
    run(main)


def _one_line(text):
    return "".join(c if c >= " " and c != "\x7f" else c.encode("unicode_escape").decode("ascii") for c in text)


def _failure(e, prog):
    """The exit status and one line for an exception out of a script's main()."""
    import subprocess
    if isinstance(e, subprocess.CalledProcessError):
        cmd = e.cmd[0] if isinstance(e.cmd, (list, tuple)) else str(e.cmd).split()[0]
        # 2 stays 2: the program has refused its input (one line naming it, above), a usage error as ours are
        return (2 if e.returncode == 2 else 1), "%s failed (exit %s)" % (cmd, e.returncode)
    if isinstance(e, (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)):
        return 2, "%s: %s" % (e.filename, e.strerror) if e.filename else str(e)
    if isinstance(e, OSError):
        return 1, "%s%s" % ("%s: " % e.filename if e.filename else "", e.strerror or e)
    if isinstance(e, ValueError) and str(e):  # the scripts' own refusals of what they read (st_io: not safetensors)
        return 2, str(e)
    return 1, "%s: %s (VARCL_TRACEBACK=1 shows where)" % (type(e).__name__, e)


class Stopped(KeyboardInterrupt):
    """SIGTERM (a batch system's time limit) or SIGHUP, raised where the script is, so that what Ctrl-C cleans up
    (export's staging folder, a checkpoint's temporary) is cleaned up too; Python's default ends the process at once."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def _stop(signum, _frame):
    raise Stopped(signum)


def run(main):
    """Runs a recipe script's main() so that a failure is one line on stderr and an exit status, never a traceback:
    2 for a missing, unreadable or misnamed input (FileNotFoundError and its kin) and for a program the script runs
    refusing its input (its exit status 2, passed on), 1 for anything else (a program the script runs failing
    otherwise, a full disk, a damaged checkpoint, standard output not writable), 130 for Ctrl-C.
    VARCL_TRACEBACK=1 lets the exception through, with its traceback, for whoever debugs the script."""
    import os
    import sys
    import signal
    prog = os.path.basename(sys.argv[0])
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is not signal.SIG_IGN:  # nohup's SIGHUP stays ignored
            signal.signal(sig, _stop)
    try:
        main()
        code = 0
    except SystemExit as e:  # argparse's --help and usage errors, the scripts' own sys.exit
        code = e.code if isinstance(e.code, int) else 0 if e.code is None else 1
        if not isinstance(e.code, (int, type(None))):
            print(_one_line(str(e.code)), file=sys.stderr)
    except KeyboardInterrupt as e:
        if isinstance(e, Stopped):
            print("%s: stopped by signal %d" % (prog, e.signum), file=sys.stderr)
            code = 128 + e.signum
        else:
            print("%s: interrupted" % prog, file=sys.stderr)
            code = 130
    except Exception as e:  # noqa: BLE001 - every kind ends as one line
        if os.environ.get("VARCL_TRACEBACK") == "1":
            raise
        code, msg = _failure(e, prog)
        print("%s: %s" % (prog, _one_line(msg)), file=sys.stderr)
    try:
        sys.stdout.flush()  # here, not at exit: a full disk (> /dev/full) is one line and exit 1
    except OSError as e:
        # what is still buffered would fail again when Python flushes at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print("%s: cannot write to standard output: %s" % (prog, e.strerror or e), file=sys.stderr)
        code = code or 1
    sys.exit(code)


if __name__ == "__main__":
    module_main(__doc__)
