"""The rich progress bar of a run: one bar per epoch with loss, accuracy and images per second."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

__all__ = ["EpochProgress"]


class EpochProgress:
    """Context manager; every method is a no-op when ``enabled`` is False (quiet runs, rank > 0)."""

    def __init__(self, enabled: bool, total_epochs: int) -> None:
        self.enabled = enabled
        self.total_epochs = total_epochs
        self._progress: Progress | None = None
        self._task = None

    def __enter__(self) -> EpochProgress:
        if self.enabled:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[stats]}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def start_epoch(self, epoch: int, batches: int) -> None:
        if self._progress is not None:
            self._task = self._progress.add_task(
                f"epoch {epoch}/{self.total_epochs}", total=batches, stats=""
            )

    def update(self, advance: int, loss: float, acc: float, images_per_second: float) -> None:
        if self._progress is not None and self._task is not None:
            stats = f"loss {loss:.4f}  acc {acc:.4f}  {images_per_second:,.0f} img/s"
            self._progress.update(self._task, advance=advance, stats=stats)

    def end_epoch(self, summary: str) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, stats=summary)

    def note(self, message: str) -> None:
        if self._progress is not None:
            self._progress.console.print(message)
