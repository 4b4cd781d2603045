"""How the console words states, durations and dates."""

from datetime import timedelta

from django import template
from django.utils import timezone

from users.models import Role

register = template.Library()

# Badge colours of the status page, by state of a process, a task or an activity.
STATE_COLOURS = {
    "unscheduled": "grey",
    "queued": "grey",
    "pending": "blue",
    "started": "blue",
    "running": "blue",
    "stopping": "orange",
    "stopped": "orange",
    "completed": "green",
    "processed": "green",
    "failed": "red",
    "error": "red",
}


@register.inclusion_tag("console/badge.html")
def state_badge(state):
    value = getattr(state, "value", state) or "unscheduled"
    return {"state": value, "colour": STATE_COLOURS.get(value, "grey")}


def human_duration(delta):
    """`3 h 05 min`, `4 min 10 s`, `12 s`: the two largest units, as people read a duration."""
    seconds = int(delta.total_seconds())
    if seconds < 0:
        seconds = 0
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {seconds:02d} s"
    return f"{seconds} s"


@register.filter
def run_time(obj):
    """How long a process or a task ran (started → finished), or has been running; empty before it starts."""
    started = getattr(obj, "started", None)
    if started is None:
        return ""
    return human_duration((getattr(obj, "finished", None) or timezone.now()) - started)


@register.filter
def seconds(value):
    """A number of seconds as a duration (mean processing times)."""
    if value is None:
        return "—"
    if value < 10:
        return f"{value:.2f} s"
    return human_duration(timedelta(seconds=value))


@register.filter
def from_now(moment):
    """An estimated completion: `in 4 min 10 s (14:32)`."""
    if moment is None:
        return "—"
    local = timezone.localtime(moment)
    delta = moment - timezone.now()
    if delta.total_seconds() <= 0:
        return f"any moment now ({local:%H:%M})"
    return f"in {human_duration(delta)} ({local:%H:%M})"


@register.filter
def level_name(level):
    """The role a level gives (`Admin`, `Contributor`, `Guest`), or an empty string for none."""
    reached = [role for role in Role if (level or 0) >= role]
    return reached[-1].label if reached else ""
