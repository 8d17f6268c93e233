"""Clinical notes: readers to the canonical notes table and MARN's text pipeline.

Readers (registered by name in ``NOTE_SOURCES``, see :mod:`clincode.data.notes.sources`) return a
:class:`NotesTable` (the polars frame plus a report of skipped inputs and codes unknown to the
shipped code-system release); see :mod:`clincode.data.notes.result` for the table.
"""

from clincode.data.notes._skips import OnError
from clincode.data.notes.codiesp import read_codiesp
from clincode.data.notes.result import NOTES_COLUMNS, NotesTable
from clincode.data.notes.sources import NOTE_SOURCES, read_notes_source
from clincode.data.notes.table import read_notes_table
from clincode.data.notes.text import PAD_ID, UNK_ID, TextVocab, encode, tokenize
from clincode.data.notes.word2vec import train_word2vec

__all__ = [
    "NOTES_COLUMNS",
    "NOTE_SOURCES",
    "PAD_ID",
    "UNK_ID",
    "NotesTable",
    "OnError",
    "TextVocab",
    "encode",
    "read_codiesp",
    "read_notes_source",
    "read_notes_table",
    "tokenize",
    "train_word2vec",
]
