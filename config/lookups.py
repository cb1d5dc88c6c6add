"""`field__any=[...]`: membership as one array parameter on PostgreSQL.

``field IN (%s, %s, ...)`` with a thousand values costs a thousand placeholders to render,
split and bind on every call, and a long list for PostgreSQL to parse and plan;
``field = ANY(%s)`` sends one array. Other databases get the plain IN of Django's `__in`.
Registered on every field when this module is imported (billing's AppConfig.ready).
"""

from django.db.models import Field
from django.db.models.lookups import In


@Field.register_lookup
class AnyOf(In):
    lookup_name = "any"

    def as_postgresql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        field = self.lhs.output_field
        values = [field.get_db_prep_value(v, connection, prepared=True) for v in self.rhs]
        return f"{lhs} = ANY(%s::{field.db_type(connection)}[])", (*lhs_params, values)
