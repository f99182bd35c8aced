"""Tables of evaluation results in the papers' column order."""

from __future__ import annotations

from typing import Any

COLUMNS = ("Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle", "Mean")


def _cell(v: Any) -> str:
    return "  n/a" if v is None else f"{float(v):5.1f}"


def map_table(result: dict[str, Any], title: str = "mAP") -> str:
    """Two lines: the column header and the values (one decimal, like poseval's table)."""
    width = max(len(title), 10)
    head = f"{title:<{width}} | " + " | ".join(f"{c:>8}" for c in COLUMNS)
    row = f"{'':<{width}} | " + " | ".join(f"{_cell(result.get(c)):>8}" for c in COLUMNS)
    return head + "\n" + row


def rows_table(rows: dict[str, dict[str, Any]], title: str) -> str:
    """One row per named result (e.g. per degradation), columns as :data:`COLUMNS`."""
    width = max([len(title), *(len(k) for k in rows)]) if rows else len(title)
    lines = [f"{title:<{width}} | " + " | ".join(f"{c:>8}" for c in COLUMNS) + " |   frames"]
    for name, res in rows.items():
        cells = " | ".join(f"{_cell(res.get(c)):>8}" for c in COLUMNS)
        lines.append(f"{name:<{width}} | {cells} | {res.get('num_frames', ''):>8}")
    return "\n".join(lines)


def tracking_table(track: dict[str, Any]) -> str:
    """poseval's MOT table: MOTA per group and total, then MOTP, precision, recall totals."""
    cols = [*(f"MOTA {c}" for c in COLUMNS[:-1]), "MOTA", "MOTP", "Prec", "Rec"]
    vals = [track["mota"][c] for c in COLUMNS[:-1]] + [
        track["mota"]["Total"],
        track["motp"]["Total"],
        track["precision"]["Total"],
        track["recall"]["Total"],
    ]
    head = " | ".join(f"{c:>13}" for c in cols)
    row = " | ".join(f"{_cell(v):>13}" for v in vals)
    return head + "\n" + row


def coco_table(coco: dict[str, float]) -> str:
    keys = ("AP", "AP50", "AP75", "AR")
    head = "COCO OKS   | " + " | ".join(f"{k:>6}" for k in keys)
    row = "           | " + " | ".join(
        f"{_cell(coco[k] if coco[k] == coco[k] else None):>6}" for k in keys
    )
    return head + "\n" + row
