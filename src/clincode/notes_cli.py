"""Logic of ``clincode prepare notes`` (``clincode synth notes`` calls generate_notes directly).

``prepare_notes`` reads a notes release (a source in :data:`clincode.data.notes.sources.NOTE_SOURCES`:
MIMIC-III, MIMIC-IV-Note, CodiEsp) into the canonical notes table and writes ``OUT/notes.parquet`` +
``OUT/dataset.json`` into a directory that appears atomically (built next to ``OUT``, renamed into
place).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from clincode.data.notes.sources import read_notes_source
from clincode.io import check_output_target, staging_dir, write_parquet


def prepare_notes(source: str, path: Path, out: Path, *, overwrite: bool = False, **options: Any) -> tuple[Path, dict[str, Any]]:
    """Read a notes release and write it to ``out``.

    ``options`` are those of :func:`clincode.data.notes.sources.read_notes_source`.

    Returns:
        (``out``, the report written to ``out/dataset.json``: documents per split, skipped
        inputs by reason, unknown codes).

    Raises:
        FileExistsError: ``out`` is not empty and ``overwrite`` is False (checked before reading).
        UnknownNameError / ValueError: unknown source, or an option that does not apply to it.
        plus whatever the reader raises.
    """
    out = Path(out)
    check_output_target(out, overwrite)
    table = read_notes_source(source, path, **options)
    from clincode import __version__

    report = table.report
    info = {
        "source": source,
        "path": str(path),
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in sorted(options.items())},
        "clincode_version": __version__,
        **report,
        "codes_distinct": int(table.frame["codes"].explode().drop_nulls().n_unique()),
        "files": ["notes.parquet", "dataset.json"],
    }
    with staging_dir(out, overwrite) as tmp:
        write_parquet(table.frame, tmp / "notes.parquet")
        (tmp / "dataset.json").write_text(json.dumps(info, indent=2, default=list) + "\n", encoding="utf-8")
    return out, info
