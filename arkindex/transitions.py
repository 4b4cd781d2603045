"""
State machines of the objects that move through states (tasks, datasets, exports, model and worker
versions): one declaration per model, the states it may reach each with the states it may come
from, and one compare-and-set to move a row.

A move is an `UPDATE … WHERE pk = … AND state = <the state read>`: applied twice, or raced by
another request, it changes the row once, and the loser learns it changed nothing. No lock is
held beyond the statement.
"""

from arkindex.api.exceptions import Conflict


class Transitions:
    def __init__(self, sources_by_target, *, field="state", name="object"):
        self.sources = {target: frozenset(sources) for target, sources in sources_by_target.items()}
        self.field = field
        self.name = name

    def allows(self, current, target):
        return current in self.sources.get(target, ())

    def targets_from(self, current):
        return sorted(target for target, sources in self.sources.items() if current in sources)

    def check(self, current, target):
        """A 409 naming the allowed moves when `current` cannot become `target` (staying put is allowed)."""
        if current != target and not self.allows(current, target):
            allowed = ", ".join(self.targets_from(current)) or "none"
            message = f"A {current} {self.name} cannot become {target} (allowed: {allowed})."
            raise Conflict(message, code="state_transition")

    def apply(self, obj, target, **values):
        """
        Move `obj` from the state it has in memory to `target` with `values`, if the move is allowed
        and the row is still in that state: returns whether it moved (and then updates `obj`).
        """
        current = getattr(obj, self.field)
        if not self.allows(current, target):
            return False
        values = {self.field: target, **values}
        return self._update(obj, {self.field: current}, values)

    def move(self, obj, target, **values):
        """
        Move `obj` to `target` from whichever allowed state its row is in now, whatever `obj` last
        read: for moves that any allowed state may make (failing an export, for instance).
        """
        values = {self.field: target, **values}
        return self._update(obj, {f"{self.field}__in": self.sources.get(target, ())}, values)

    @staticmethod
    def _update(obj, condition, values):
        changed = type(obj)._default_manager.filter(pk=obj.pk, **condition).update(**values)
        if changed:
            for name, value in values.items():
                setattr(obj, name, value)
        return bool(changed)
