"""A column's type as its server reports it (information_schema), for SQL that can skip work
when the stored form already is the canonical one."""

from __future__ import annotations

from dataclasses import dataclass

INTEGER_TYPES = frozenset({"tinyint", "smallint", "mediumint", "int", "integer", "bigint"})


@dataclass(frozen=True)
class StoredType:
    data_type: str = ""  # lower case, e.g. "decimal", "datetime", "double", "bigint"; "" = unknown
    scale: int | None = None  # numeric scale
    fsp: int | None = None  # fractional-second digits of a datetime / timestamp
    zerofill: bool = False  # MySQL ZEROFILL: the value prints padded with zeros

    @classmethod
    def from_row(cls, data_type: object, scale: object, fsp: object) -> StoredType:
        """``data_type`` as a dialect's ``table_columns_sql`` reports it (MySQL appends
        ' zerofill' to a ZEROFILL column's type)."""
        text = str(data_type or "").lower()
        return cls(
            text.removesuffix(" zerofill"),
            None if scale is None else int(str(scale)),
            None if fsp is None else int(str(fsp)),
            text.endswith(" zerofill"),
        )

    @property
    def is_integer(self) -> bool:
        return self.data_type in INTEGER_TYPES
