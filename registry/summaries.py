"""Per-site summaries, computed once per version of the data.

The home pages and the data-quality page count every patient of the user's
sites: per-site aggregates over the stored facts, each one scan of them in the
database, whatever the page shows (a few hundred milliseconds at 10^5 patients,
seconds at 10^6). Their answer changes only when the data do, and every change
to clinical data writes a history row, on every path (the registry's rule): the
data version (:func:`data_version`, one query of index look-ups) changes with
every write. So a summary is computed once per data version, set of sites and
day, and kept in Django's cache (``settings.CACHES``: each server process's own
memory unless a shared cache is configured) for :data:`TIMEOUT` seconds; the
next write makes the next page compute it again. What does not write history
(the data queries' steps, the confirmed warnings) is never summarised here.

What is counted per site is kept per site (:meth:`Scope.per_site`), under the
version of that site's data (``registry.models.SiteVersion``), which
registry.facts renews in the transaction of every write to a patient of the
site: after a write, the next page counts the written site again, not all of
them (at 10^6 patients in 40 sites, the manager's home after a write went
from about 2 s to 0.15-0.25 s).
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache
from django.db import connections
from django.utils.functional import cached_property

from registry.models import Patient, Site, SiteVersion

T = TypeVar("T")

#: How long a summary is kept (seconds), at most: a write ends it sooner.
TIMEOUT = 15 * 60


def data_version() -> str:
    """Return a version of the registry's data: it changes with every write.

    Every change to clinical data (and to a site, whose name labels groups)
    writes a history row on every path, the registry's rule; the highest history
    id of each history table therefore changes whenever the data a report or a
    summary reads can have changed (an edit, an addition, a deletion, a revert,
    an import). The stored facts change without history only when
    ``check_facts --fix`` rewrites them, and each check records itself
    (FactsCheck): its highest id counts too.

    A history id is drawn when its row is written, not when it commits: a long
    transaction (an import) that commits after later writes moves no highest
    id. So the version also holds every site's data version (SiteVersion),
    which each write to a patient renews in its transaction and which changes
    when it commits. Two queries of index look-ups (the sites are tens), whatever
    the registry's size, read from where reports read (the replica, when one is
    configured).
    """
    alias = Patient.objects.all().db
    sites = SiteVersion.objects.using(alias).order_by("site")
    versions = [*highest_history_ids(alias), list(sites.values_list("site", "version"))]
    return hashlib.sha256(repr(versions).encode()).hexdigest()


def highest_history_ids(alias: str) -> list[tuple[tuple[str, str], int | None]]:
    """Return the highest id of each history table (and of FactsCheck), in one
    query of index look-ups."""
    from django.apps import apps

    marks = sorted(
        (model._meta.db_table, "history_id")
        for model in apps.get_app_config("registry").get_models()
        if any(f.name == "history_id" for f in model._meta.concrete_fields)
    )
    checks = apps.get_model("registry", "FactsCheck")._meta
    marks.append((checks.db_table, checks.pk.column))
    connection = connections[alias]
    q = connection.ops.quote_name
    columns = ", ".join(
        f"(SELECT MAX({q(column)}) FROM {q(table)})" for table, column in marks
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns}")
        row = cursor.fetchone()
    return list(zip(marks, row, strict=True))


class Scope:
    """A user's summaries for one page: the key's sites and data version read
    once (three queries), however many summaries the page shows; the versions of
    the sites' data once more (one query) for the summaries kept per site.

    Make one per request: the versions are read at the first summary, so a
    write later in the same request is not seen by this scope.
    """

    def __init__(self, user):
        self.user = user

    @cached_property
    def site_list(self) -> list[tuple[int, str, str]]:
        """The user's sites as (id, code, name), in order of code."""
        sites = Site.objects.for_user(self.user).order_by("code")
        return list(sites.values_list("pk", "code", "name"))

    @cached_property
    def sites(self) -> str:
        return ",".join(map(str, sorted(pk for pk, _, _ in self.site_list)))

    @cached_property
    def version(self) -> str:
        return data_version()

    @cached_property
    def site_versions(self) -> dict[int, int]:
        """The version of each site's data (registry.models.SiteVersion)."""
        ids = [pk for pk, _, _ in self.site_list]
        versions = SiteVersion.objects.filter(site__in=ids)
        return dict(versions.values_list("site", "version"))

    def per_site(
        self,
        name: str,
        compute: Callable[[list[int]], dict[int, T]],
        *,
        today: datetime.date | None = None,
    ) -> dict[int, T]:
        """Return, for each of the user's sites, its value of ``compute(sites)``,
        kept per site and version of the site's data.

        ``compute`` takes a list of site ids and returns the value of each (one
        query, or a fixed few, for any number of sites). A write to a patient of
        one site gives that site's data a new version (registry.facts), so the
        next page computes that site alone and reads every other site's value
        as kept: at 10^6 patients in 40 sites, a 40th of the work. The value of
        a site must depend on that site's patients' data only (and on `today`,
        when given): its name and code are read on every page, never kept in
        it. A site with no version yet is computed on every page.
        """
        versions = self.site_versions
        keys = {
            pk: self.key(name, f"site {pk}", today, str(versions[pk]))
            for pk, _, _ in self.site_list
            if pk in versions
        }
        # kept as 1-tuples: a value may be None
        found = cache.get_many(list(keys.values())) if keys else {}
        values = {pk: found[key][0] for pk, key in keys.items() if key in found}
        missing = [pk for pk, _, _ in self.site_list if pk not in values]
        if missing:
            computed = compute(missing)
            values.update((pk, computed[pk]) for pk in missing)
            kept = {keys[pk]: (computed[pk],) for pk in missing if pk in keys}
            cache.set_many(kept, TIMEOUT)
        return values

    @staticmethod
    def key(name: str, sites: str, today: datetime.date | None, version: str) -> str:
        parts = "|".join([name, sites, str(today or ""), version])
        return "registry-summary:" + hashlib.sha256(parts.encode()).hexdigest()

    def get(
        self,
        name: str,
        compute: Callable[[], T],
        *,
        today: datetime.date | None = None,
    ) -> T:
        """Return ``compute()`` for the user's sites, computed once per data
        version.

        `name` says what is summarised; the key is the name, the sites the user
        may see (their summary is the sites', not the user's), `today` when the
        summary depends on the day (overdue follow-up), and :func:`data_version`.
        """
        key = self.key(name, self.sites, today, self.version)
        found = cache.get(key)
        if found is None:
            found = compute()
            cache.set(key, found, TIMEOUT)
        return found


def per_version(
    name: str,
    user,
    compute: Callable[[], T],
    *,
    today: datetime.date | None = None,
) -> T:
    """Return ``compute()`` for `user`'s sites, computed once per data version:
    :meth:`Scope.get` for a page with one summary (two queries, plus
    ``compute``'s when the summary is not kept)."""
    return Scope(user).get(name, compute, today=today)
