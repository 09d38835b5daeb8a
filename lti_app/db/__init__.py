"""Database access: engine, sessions and the declarative base.

Services take a ``Session`` argument and only flush; whoever opened the unit of
work (a request, a CLI command, the worker) commits or rolls back.
"""

from lti_app.db.base import Base, utcnow
from lti_app.db.engine import Database

__all__ = ["Base", "Database", "utcnow"]
