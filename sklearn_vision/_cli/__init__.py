"""The command line: ``sklearn-vision`` and ``python -m sklearn_vision``.

``sample-size`` answers "how many images do we need?" for a folder of class
subfolders (or the bundled digits); ``train`` fits a classifier on a folder and
saves it; ``predict`` labels image files with a saved classifier.

Exit status: 0 on success, 1 when the job fails (unreadable data, weights that
cannot be had, a file that cannot be written), 2 on a usage error.
"""

import argparse
import logging
import os
import re
import sys

from .._tf_backend import import_tensorflow_quietly
from .._version import __version__
from . import _predict, _sample_size, _train
from ._study import CommandError

# TensorFlow's C++ start-up lines that TF_CPP_MIN_LOG_LEVEL does not hide (absl's
# "before InitializeLog" notice, the CUDA stub on a machine without a GPU, oneDNN
# and CPU-feature notices): written to file descriptor 2 while TensorFlow imports.
_STARTUP_NOISE = re.compile(
    r"absl::InitializeLog|cudart_stub|Could not find cuda drivers|oneDNN custom operations"
    r"|This TensorFlow binary is optimized|rebuild TensorFlow with|Unable to register cu"
    r"|computation placer|TF-TRT Warning"
)


def main(argv=None):
    """Run the command line with ``argv`` (``sys.argv[1:]`` by default); return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # TensorFlow's Python warnings (retracing notices) are for developers.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    try:
        import_tensorflow_quietly(_STARTUP_NOISE)
        return args.run(args)
    except (CommandError, OSError, ValueError) as exc:
        print(f"sklearn-vision {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        resume = (
            f"; run the same command again to resume from {args.cache_dir}"
            if getattr(args, "cache_dir", None)
            else ""
        )
        print(f"sklearn-vision {args.command}: interrupted{resume}", file=sys.stderr)
        return 130


def _parser():
    parser = argparse.ArgumentParser(
        prog="sklearn-vision",
        description="Keras transfer learning for images, and how many images you need.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in (_sample_size, _train, _predict):
        command.add_command(commands)
    return parser


def console():
    """Entry point of the ``sklearn-vision`` console script."""
    sys.exit(main())
