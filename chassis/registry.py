"""The installed services, found through the `aftersales.services` entry points.

chassis names no service. A service declares on its class what the platform must know about
it (see `chassis.service.PlatformService`): its `stack` (SITE, HEADQUARTERS or EVERY), the
`downlink_events` headquarters sends on to every dealer site, and its `operator_commands`
(`aftersales ops <command> <service>`). Everything here reads those declarations.

Loading a class imports its service module (nameko, SQLAlchemy, ...), so these functions are
called when a command or a process needs them, never at import. This module imports nothing
from chassis, so the modules that ask (config, uplink, cli, runner) do not depend on each other.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points

ENTRY_POINT_GROUP = "aftersales.services"
SITE = "site"                  # runs at every dealer site
HEADQUARTERS = "headquarters"  # runs once, at the OEM's headquarters
# Runs in every stack, each instance for its own stack alone (identity: a site's staff sign in
# at their site with the WAN down): which one a process is, its settings say (`stack:`).
# Nothing of such a service crosses the links, so the link code leaves it out.
EVERY = "every"
STACKS = (SITE, HEADQUARTERS)  # where a process runs; a service declares one of these or EVERY


@functools.cache
def _installed() -> tuple[EntryPoint, ...]:
    # Reading the entry points scans every installed distribution (about 20 ms here), and
    # settings ask for a stack each time they are built; what is installed does not change
    # while a process runs.
    return tuple(sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name))


def service_names() -> list[str]:
    """Every installed service's name, without loading any of them."""
    return [ep.name for ep in _installed()]


def service_classes() -> dict[str, type]:
    """Every installed service, by name."""
    return {ep.name: ep.load() for ep in _installed()}


def find_service_class(name: str) -> type | None:
    """The class installed under `name`, or None when no service has that name."""
    for ep in _installed():
        if ep.name == name:
            return ep.load()
    return None


def stack_of(name: str) -> str:
    """Where a service runs, as its class declares it: SITE, HEADQUARTERS or EVERY (then its
    settings say which stack a process is). A name no installed service has (a test's or a
    benchmark's stand-in service) runs at a site, which is also PlatformService's default."""
    cls = find_service_class(name)
    return getattr(cls, "stack", SITE) if cls is not None else SITE


def runs_on(declared: str, stack: str) -> bool:
    """Whether a service declared for `declared` may run in a process of `stack`."""
    return declared == stack or declared == EVERY


def services_on(stack: str, classes: Mapping[str, type] | None = None) -> list[str]:
    """The names of the services declared for `stack` alone, sorted: those whose events the
    links carry (a site's up to headquarters, headquarters' down). A service of EVERY stack
    keeps to its own and is not listed; `services_running_on` lists it too."""
    classes = service_classes() if classes is None else classes
    return sorted(name for name, cls in classes.items()
                  if getattr(cls, "stack", SITE) == stack)


def services_running_on(stack: str, classes: Mapping[str, type] | None = None) -> list[str]:
    """The names of every service that runs on `stack`, those of EVERY stack included."""
    classes = service_classes() if classes is None else classes
    return sorted(name for name, cls in classes.items()
                  if runs_on(getattr(cls, "stack", SITE), stack))


def downlink_events(classes: Mapping[str, type] | None = None) -> dict[str, tuple[str, ...]]:
    """Per headquarters service, the event types it sends on to every dealer site."""
    classes = service_classes() if classes is None else classes
    return {name: tuple(cls.downlink_events)  # type: ignore[attr-defined]
            for name, cls in sorted(classes.items())
            if getattr(cls, "stack", SITE) == HEADQUARTERS
            and getattr(cls, "downlink_events", ())}


def operator_commands(classes: Mapping[str, type] | None = None
                      ) -> dict[str, dict[str, str]]:
    """`{command: {service: "module:function"}}` over every service's `operator_commands`."""
    classes = service_classes() if classes is None else classes
    found: dict[str, dict[str, str]] = {}
    for name, cls in sorted(classes.items()):
        for command, target in sorted(getattr(cls, "operator_commands", {}).items()):
            found.setdefault(command, {})[name] = target
    return found
