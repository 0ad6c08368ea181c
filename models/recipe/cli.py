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
