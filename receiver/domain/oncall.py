"""Who a page reaches at an instant: the policy's contact references, through its schedules.

An escalation step names contact keys or ``schedule:<name>``; a schedule reference becomes
whoever ``policy.oncall`` says is on call at the moment of paging. A level none of whose
references reaches anybody (every schedule it names is empty then) is never paged silently:
``level_people`` falls to the chain's next level that applies, and ``schedule_empty_event``
puts it on the incident's timeline. Pure: the caller passes ``now``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from policy.model import EscalationStep, Policy
from policy.oncall import on_call, schedule_ref
from receiver.domain.model import Event, EventKind


@dataclass(frozen=True)
class Paged:
    """A person a page reaches, and the schedule that put them on call (None: named)."""

    contact: str
    schedule: str | None = None

    def describe(self) -> str:
        """``eng_b, on call for primary`` (or just the key for a named contact)."""
        return f"{self.contact}, on call for {self.schedule}" if self.schedule else self.contact

    def label(self, policy: Policy) -> str:
        """``Ben Okafor (eng_b, on call for primary)``, or the name of a named contact."""
        name = policy.contacts[self.contact].name
        return f"{name} ({self.describe()})" if self.schedule else name


@dataclass(frozen=True)
class LevelPeople:
    """The people a level pages at an instant.

    ``level`` is the level actually paged (a later one when the asked-for level had nobody);
    ``skipped`` the levels passed over; ``empty`` the schedules found with nobody on call.
    """

    level: str | None
    people: tuple[Paged, ...]
    skipped: tuple[str, ...] = ()
    empty: tuple[str, ...] = ()

    @property
    def contacts(self) -> tuple[str, ...]:
        return tuple(person.contact for person in self.people)

    def labels(self, policy: Policy) -> str:
        return ", ".join(person.label(policy) for person in self.people)


def resolve(policy: Policy, references: Sequence[str], now: float
            ) -> tuple[tuple[Paged, ...], tuple[str, ...]]:
    """(people, empty schedules) for contact ``references`` at ``now``, each person once."""
    people: list[Paged] = []
    empty: list[str] = []
    at = datetime.fromtimestamp(now, UTC)
    for reference in references:
        name = schedule_ref(reference)
        if name is None:
            person = Paged(reference)
        else:
            shift = on_call(policy.schedules[name], at)
            if shift.contact is None:
                empty.append(name)
                continue
            person = Paged(shift.contact, name)
        if person.contact not in {p.contact for p in people}:
            people.append(person)
    return tuple(people), tuple(empty)


def level_people(policy: Policy, chain: Sequence[EscalationStep], level: str, now: float,
                 priority: str | None = None) -> LevelPeople:
    """Who ``level`` of ``chain`` pages at ``now``: its steps' references resolved (only the
    steps for ``priority``, when given and any step of the level has it).

    When nobody is reached, the chain's following levels that apply to ``priority`` are tried
    in order; ``people`` is empty only when no level reaches anybody.
    """
    order = list(dict.fromkeys(step.level for step in chain))
    if level not in order:
        return LevelPeople(None, ())
    skipped: list[str] = []
    empty: list[str] = []
    for candidate in order[order.index(level):]:
        steps = [step for step in chain if step.level == candidate]
        applying = [step for step in steps if priority is None or priority in step.priorities]
        if candidate != level and not applying:
            continue  # a level that does not page this priority is no fallback for it
        references = [ref for step in (applying or steps) for ref in step.contacts]
        people, found_empty = resolve(policy, references, now)
        empty.extend(name for name in found_empty if name not in empty)
        if people:
            return LevelPeople(candidate, people, tuple(skipped), tuple(empty))
        skipped.append(candidate)
    return LevelPeople(None, (), tuple(skipped), tuple(empty))


def first_level(policy: Policy, now: float, priority: str | None = None) -> LevelPeople:
    """The people a new incident's route pages: the first engineering level's, at ``now``."""
    chain = policy.escalation.engineering
    if not chain:
        return LevelPeople(None, ())
    return level_people(policy, chain, chain[0].level, now, priority)


def schedule_empty_event(incident_id: str, asked: str, found: LevelPeople, now: float,
                         actor: str) -> Event | None:
    """The timeline event saying a schedule had nobody on call, and which level was paged
    instead (``paged_level`` None: nobody at all); None when every schedule had somebody."""
    if not found.empty:
        return None
    return Event(incident_id, now, EventKind.SCHEDULE_EMPTY, actor, {
        "schedules": list(found.empty), "level": asked, "paged_level": found.level,
        "skipped": list(found.skipped)})
