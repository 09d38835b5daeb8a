"""Orchestration between the web layer, the database and the pure packages.

Services take a SQLAlchemy ``Session``, flush, and never commit: the caller owns
the transaction. They never touch ``flask.request`` or ``flask.session``.
"""
