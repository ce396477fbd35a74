"""Progress of the long-running loops, drawn by rich (which Keras already depends on).

In a terminal or a notebook, a live bar: items done, a detail about the current
one, time elapsed and left, the time left weighted by the work left (a fit on
800 images counts for more than one on 50). Elsewhere (a log file, a CI job),
no stream of redraws: one summary line when the loop ends.
"""

import sys
import time


class ProgressBar:
    """``n_total`` items of total ``work`` (one unit each by default), and a detail.

    Disabled (``enabled=False``) it only counts, so callers need no branches.
    As a context manager it is closed however the loop ends. Inside another
    bar (the fits of a learning curve computing features) it stays quiet:
    one bar is drawn at a time.
    """

    _drawing = None  # the bar on screen, if any

    def __init__(self, n_total, enabled, *, unit="items", work=None, description=""):
        self.n_total, self.enabled, self.unit = n_total, enabled, unit
        self.done, self.start = 0, time.perf_counter()
        self._bar = None
        if enabled and ProgressBar._drawing is not None:
            self.enabled = enabled = False
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        console = Console(file=sys.stderr)
        if not (console.is_terminal or console.is_jupyter):
            return
        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[count]}"),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            TextColumn("elapsed,"),
            TimeRemainingColumn(),
            TextColumn("left"),
            console=console,
        )
        self._task = self._bar.add_task(
            description,
            total=n_total if work is None else float(work),
            count=self._count(),
            detail="",
        )
        self._bar.start()
        ProgressBar._drawing = self

    def _count(self):
        return f"{self.done}/{self.n_total} {self.unit}"

    def update(self, n=1, detail="", work=None):
        """``n`` more items done, of ``work`` units (``n`` by default)."""
        self.done += n
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(
                self._task, advance=n if work is None else work, count=self._count(), detail=detail
            )
        if self.done >= self.n_total:
            self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        """Stop the bar; off a terminal, write the one summary line."""
        if not self.enabled:
            return
        self.enabled = False
        elapsed = time.perf_counter() - self.start
        if self._bar is not None:
            self._bar.stop()
            if ProgressBar._drawing is self:
                ProgressBar._drawing = None
        else:
            sys.stderr.write(f"{self._count()} in {elapsed:.0f} s\n")
            sys.stderr.flush()
