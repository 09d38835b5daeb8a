"""Skills frameworks: the model, readers and writers (seed JSON, CASE, Moodle CSV)
and the pure progress rules. No web framework, no database."""

from .case import case_uri, read_case, write_case
from .errors import FieldError, FrameworkError
from .ler import read_ler, write_ler
from .loader import bundled_paths, detect_format, load
from .model import (
    NAMESPACE,
    Framework,
    Level,
    Statement,
    framework_id,
    level_id,
    split_statement,
    statement_id,
)
from .moodle_csv import MOODLE_COLUMNS, write_moodle_csv
from .progress import LevelProgress, SignoffLogEntry, level_progress, met_statements, score

__all__ = [
    "MOODLE_COLUMNS",
    "NAMESPACE",
    "FieldError",
    "Framework",
    "FrameworkError",
    "Level",
    "LevelProgress",
    "SignoffLogEntry",
    "Statement",
    "bundled_paths",
    "case_uri",
    "detect_format",
    "framework_id",
    "level_id",
    "level_progress",
    "load",
    "met_statements",
    "read_case",
    "read_ler",
    "score",
    "split_statement",
    "statement_id",
    "write_case",
    "write_ler",
    "write_moodle_csv",
]
