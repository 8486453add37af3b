"""What a fault test counts, and the table the suite prints at its end (issue 17).

Each test records one Tally per fault it injected: what it did, under which load, how long the
system took to be whole again, and how many acknowledged writes were lost or duplicated. The
suite's conftest prints every tally as one table after the session, so a `pytest e2e/faults`
run ends with the note's table.
"""

from __future__ import annotations

from dataclasses import dataclass

TALLIES: list[Tally] = []
COLUMNS = ("fault", "load", "recovered in", "lost", "duplicated", "notes")


@dataclass(frozen=True)
class Tally:
    fault: str
    load: str
    recovered_s: float | None  # None: nothing had to recover (the fault never stopped service)
    lost: int
    duplicated: int
    note: str = ""

    def row(self) -> tuple[str, ...]:
        recovered = "-" if self.recovered_s is None else f"{self.recovered_s:.1f} s"
        return self.fault, self.load, recovered, str(self.lost), str(self.duplicated), self.note


def record(tally: Tally) -> Tally:
    """Keep ``tally`` for the session's table and print it (shown with -s or on failure)."""
    TALLIES.append(tally)
    print("faults:", " | ".join(tally.row()), flush=True)
    return tally


def table(tallies: list[Tally]) -> list[str]:
    """The tallies as a Markdown table."""
    rows = [COLUMNS, *(t.row() for t in tallies)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return lines
