"""How a deployed connector config differs from the rendered one, in words (pure).

Anyone can edit a connector through the Kafka Connect REST API. Connect echoes the config back as
it was PUT (``${file:...}`` references unresolved, ``name`` added), so the comparison is on the
text. A captured table that the deployed include lists leave out (or an exclude list catches)
has its changes silently skipped for as long as that config runs; when ``apply`` restores the
config the connector resumes from its stored offset, past those changes, so only a reconcile
with repair recovers them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

# Keys Connect adds or fills in itself when it stores a config.
IGNORED_KEYS = frozenset({"name"})
# Keys whose values are secrets: Kafka's PASSWORD-type client settings (the SASL JAAS config,
# which holds a password, and the SSL key and passwords) and the schema registry's credentials,
# all of which a connector config may carry for its producers, consumers and converters.
_SECRET_WORDS = ("password", "secret", "jaas.config", "user.info", "ssl.keystore.key", "token")
# Debezium's filters: regular expressions, comma-separated, fully matched, case-insensitive.
_INCLUDE_EXCLUDE = {
    "db": ("database.include.list", "database.exclude.list"),
    "schema": ("schema.include.list", "schema.exclude.list"),
    "table": ("table.include.list", "table.exclude.list"),
}
_MISSING = object()


@dataclass(frozen=True)
class KeyChange:
    """One key that differs: ``old`` the deployed value, ``new`` the rendered one (None: absent)."""

    key: str
    old: str | None
    new: str | None

    def describe(self) -> str:
        return f"{self.key}: {_shown(self.key, self.old)} -> {_shown(self.key, self.new)}"


@dataclass(frozen=True)
class ConfigDrift:
    """The deployed config of ``name`` differs from the rendered one."""

    name: str
    changes: tuple[KeyChange, ...]
    uncaptured: tuple[str, ...]  # tables the rendered config captures and the deployed does not
    # of those, tables new to the connectors (no change topic yet): the mappings changed and
    # `apply` has not run, which is not a config edited behind its back
    new: tuple[str, ...] = ()

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(c.key for c in self.changes)

    def describe_keys(self) -> str:
        return "; ".join(c.describe() for c in self.changes)

    def message(self) -> str:
        """The problem line for `connectors status` / `connectors health`."""
        if self.uncaptured and set(self.uncaptured) <= set(self.new):
            return (
                f"{self.name}: NOT APPLIED: the mappings capture {', '.join(self.new)}, which "
                "the deployed config does not (the mappings changed since the last `connectors "
                "apply`): trigger connectors with action apply (CLI: connectors apply), then "
                f"backfill {'it' if len(self.new) == 1 else 'them'} (README, Add a table). "
                f"Keys: {self.describe_keys()}"
            )
        text = (
            f"{self.name}: CONFIG DRIFT: the deployed config differs from the one the mappings "
            f"render (changed outside apply, e.g. through the Connect REST API): "
            f"{self.describe_keys()}. Trigger connectors with action apply "
            "(CLI: connectors apply) to restore it"
        )
        dropped = tuple(t for t in self.uncaptured if t not in self.new)
        if dropped:
            text += "; " + reconcile_hint(dropped, "the deployed config")
        return text


def reconcile_hint(tables: Sequence[str], what: str = "the previous config") -> str:
    """What to do about changes a config that left ``tables`` out never captured."""
    listed = ", ".join(tables)
    return (
        f"{what} does not capture {listed}, so changes made to "
        f"{'it' if len(tables) == 1 else 'them'} meanwhile were NOT captured and are not "
        "replayed when the config is restored: after apply, run reconcile with repair on "
        f"{'it' if len(tables) == 1 else 'them'} (CLI: reconcile --tables {' '.join(tables)} "
        "--repair --no-dry-run; DAG: trigger reconcile with these tables, repair on, dry_run off)"
    )


def config_changes(desired: Mapping[str, str], current: Mapping[str, str]) -> tuple[KeyChange, ...]:
    """The keys whose values differ (or that only one side has), sorted, ``name`` ignored."""
    keys = sorted((set(desired) | set(current)) - IGNORED_KEYS)
    out = []
    for key in keys:
        old, new = current.get(key, _MISSING), desired.get(key, _MISSING)
        if old != new:
            out.append(
                KeyChange(
                    key,
                    None if old is _MISSING else str(old),
                    None if new is _MISSING else str(new),
                )
            )
    return tuple(out)


def uncaptured_tables(config: Mapping[str, str], tables: Iterable[str]) -> tuple[str, ...]:
    """Of ``tables`` (``db.table`` / ``schema.table``), those the filters of ``config`` skip."""
    return tuple(t for t in tables if not captures(config, t))


def captures(config: Mapping[str, str], table: str) -> bool:
    """Whether Debezium with ``config``'s include/exclude lists captures ``table``."""
    namespace = table.split(".", 1)[0]
    for kind, (include_key, exclude_key) in _INCLUDE_EXCLUDE.items():
        subject = table if kind == "table" else namespace
        include = _patterns(config.get(include_key))
        if include and not any(_matches(p, subject) for p in include):
            return False
        if any(_matches(p, subject) for p in _patterns(config.get(exclude_key))):
            return False
    return True


def config_drift(
    name: str,
    desired: Mapping[str, str],
    current: Mapping[str, str],
    tables: Iterable[str],
) -> ConfigDrift | None:
    """None when the deployed ``current`` config is the rendered ``desired`` one."""
    changes = config_changes(desired, current)
    if not changes:
        return None
    return ConfigDrift(name, changes, uncaptured_tables(current, tables))


def _patterns(value: str | None) -> list[str]:
    return [p.strip() for p in (value or "").split(",") if p.strip()]


def _matches(pattern: str, subject: str) -> bool:
    try:
        return re.fullmatch(pattern, subject, re.IGNORECASE) is not None
    except re.error:  # Debezium refuses such a list; it captures nothing it names
        return False


def is_secret(key: str) -> bool:
    """Whether ``key``'s value is a secret (shown only as a config-provider reference)."""
    return any(w in key.lower() for w in _SECRET_WORDS)


def _shown(key: str, value: str | None) -> str:
    if value is None:
        return "(absent)"
    # a config-provider reference (${file:...}) names where the secret is, not the secret
    if is_secret(key) and not (value.startswith("${") and value.endswith("}")):
        return "(hidden)"
    return repr(value)
