"""Index types Django does not offer portably."""

from django.db import models


class BrinOrBtreeIndex(models.Index):
    """A BRIN index on PostgreSQL, a plain B-tree elsewhere (the embedded SQLite).

    For a column that grows with the table (a receipt time on an append-only log): BRIN keeps
    a summary per range of pages, so a date range finds its pages for almost no upkeep,
    where a B-tree would take an entry per row.
    """

    def create_sql(self, model, schema_editor, using="", **kwargs):
        if schema_editor.connection.vendor == "postgresql":
            using = " USING brin"
        return super().create_sql(model, schema_editor, using=using, **kwargs)
