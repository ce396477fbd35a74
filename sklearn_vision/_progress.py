"""A one-line progress bar on stderr, shared by the long-running loops."""

import sys
import time


class ProgressBar:
    """Items done out of ``n_total``, a detail about the current one, times.

    Disabled (``enabled=False``) it only counts, so callers need no branches.
    """

    def __init__(self, n_total, enabled, *, unit="items"):
        self.n_total, self.enabled, self.unit = n_total, enabled, unit
        self.done, self.start = 0, time.perf_counter()

    def update(self, n=1, detail=""):
        self.done += n
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.start
        remaining = elapsed / self.done * (self.n_total - self.done) if self.done else 0.0
        filled = int(20 * self.done / max(self.n_total, 1))
        detail = f" | {detail}" if detail else ""
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (20 - filled)}] {self.done}/{self.n_total} {self.unit}"
            f"{detail} | {elapsed:.0f}s elapsed, ~{remaining:.0f}s left"
        )
        if self.done >= self.n_total:
            sys.stderr.write("\n")
        sys.stderr.flush()
