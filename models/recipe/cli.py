"""The recipe scripts' command lines: argparse, with a flag given twice refused as vgen, vbench, mkmodel and
convert.py refuse it (argparse alone keeps the last value without a word: `--steps 100 --steps 10` ran 10)."""
import argparse


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


def parser(**kw):
    """argparse.ArgumentParser(**kw) whose plain (store) arguments may be given once each."""
    p = argparse.ArgumentParser(**kw)
    p.register("action", None, _Once)
    p.register("action", "store", _Once)
    return p


def at_least(low, kind=int):
    """An argparse type: a number of `kind` that is at least `low` (--steps -5 ran no step and marked the stage
    done; --seeds 0 printed an accuracy of nan)."""
    def parse(text):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError("expected %s, got '%s'" % (
                "a whole number" if kind is int else "a number", text))
        if not v >= low:  # NaN too
            raise argparse.ArgumentTypeError("expected %s >= %s, got '%s'" % (
                "a whole number" if kind is int else "a number", low, text))
        return v
    parse.__name__ = "%s >= %s" % (kind.__name__, low)
    return parse


def above(low):
    """An argparse type: a finite float greater than `low` (a learning rate, minutes between checkpoints)."""
    def parse(text):
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError("expected a number, got '%s'" % text)
        if not (v > low and v != float("inf")):
            raise argparse.ArgumentTypeError("expected a finite number > %s, got '%s'" % (low, text))
        return v
    parse.__name__ = "float > %s" % low
    return parse


def _one_line(text):
    return "".join(c if c >= " " and c != "\x7f" else c.encode("unicode_escape").decode("ascii") for c in text)


def _failure(e, prog):
    """The exit status and one line for an exception out of a script's main()."""
    import subprocess
    if isinstance(e, subprocess.CalledProcessError):
        cmd = e.cmd[0] if isinstance(e.cmd, (list, tuple)) else str(e.cmd).split()[0]
        return 1, "%s failed (exit %s)" % (cmd, e.returncode)
    if isinstance(e, (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)):
        return 2, "%s: %s" % (e.filename, e.strerror) if e.filename else str(e)
    if isinstance(e, OSError):
        return 1, "%s%s" % ("%s: " % e.filename if e.filename else "", e.strerror or e)
    if isinstance(e, ValueError) and str(e):  # the scripts' own refusals of what they read (st_io: not safetensors)
        return 2, str(e)
    return 1, "%s: %s (VARCL_TRACEBACK=1 shows where)" % (type(e).__name__, e)


def run(main):
    """Runs a recipe script's main() so that a failure is one line on stderr and an exit status, never a traceback:
    2 for a missing, unreadable or misnamed input (FileNotFoundError and its kin), 1 for anything else (a program
    the script runs failing, a full disk, a damaged checkpoint, standard output not writable), 130 for Ctrl-C.
    VARCL_TRACEBACK=1 lets the exception through, with its traceback, for whoever debugs the script."""
    import os
    import sys
    prog = os.path.basename(sys.argv[0])
    try:
        main()
        code = 0
    except SystemExit as e:  # argparse's --help and usage errors, the scripts' own sys.exit
        code = e.code if isinstance(e.code, int) else 0 if e.code is None else 1
        if not isinstance(e.code, (int, type(None))):
            print(_one_line(str(e.code)), file=sys.stderr)
    except KeyboardInterrupt:
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
