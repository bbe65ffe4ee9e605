"""Load test: many logged-in users on a running registry, latency per page.

    python benchmarks/load_test.py                       # 25 users, 30 s, :8000
    python benchmarks/load_test.py --users 50 --duration 60 --url http://127.0.0.1:8001
    python benchmarks/load_test.py --requests 2000       # stop after 2,000 requests

Against a registry that is already serving (``make serve-prod`` in another
terminal, then ``make loadtest``) with the demo logins of ``seed_demo``: each
virtual user logs in with its own session as ``nurse``, ``manager`` or
``analyst`` in turn, then requests the pages its role may open, picked at
random, one after the other: with no pause by default (the server always busy),
or after a random pause of mean ``--think`` seconds, as a user reading each page
(a pause that would run past the end ends that user's run):

* ``list``: the patient list, ``/patients/``;
* ``sorted list``: the list sorted by the stored strategy,
  ``/patients/?sort=strategy`` (read down an index of the stored facts);
* ``patient``: a patient's page, ``/patients/<id>/``, ids taken from the list;
* ``data quality``: ``/data-quality/``;
* ``survival report``: ``/reports/result/?...`` with the survival-only
  specification of docs/examples/demo-survival.json (counted in the database).

Nurses open the four registry pages (their first site's patients), managers all
five (every site), analysts the report only. It prints, per page, the requests,
requests per second (answers while every user was still running, so the tail of
requests in flight at the end does not dilute it), the 50th, 95th and 99th
percentile latency and the errors
(any answer but 200, a redirect included: a lost session shows as errors), with
the cohort size (the manager's home page count, or ``--patients``).

It stops by itself: after ``--duration`` seconds or ``--requests`` requests,
whichever comes first; a request waits at most ``--timeout`` seconds. It only
ever talks to this machine (127.0.0.1, localhost or ::1) and refuses any other
host. Each demo account is tried once before the other users log in, and the
test stops at the first refused login: django-axes locks an account after five
failed logins, and 25 users with a wrong password would lock all three.

Why threads and the standard library rather than asyncio with httpx or aiohttp:
it needs no dependency beyond Python (it runs from requirements.txt alone); the
server it measures (gunicorn's sync workers) closes the connection after every
response, so the keep-alive and connection pools of an async client buy nothing;
and a few dozen threads that spend their time waiting on a socket release the
GIL, so the client is not the bottleneck while it shares the machine's cores
with the server (urllib costs less CPU per request than httpx does). Latency is
measured from the request sent to the last byte of the body read.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import random
import re
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field

#: The hosts the load test may target: this machine only.
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}

#: Demo accounts of seed_demo: (username, password).
DEMO_USERS = (
    ("nurse", "nurse-demo-2026"),
    ("manager", "manager-demo-2026"),
    ("analyst", "analyst-demo-2026"),
)

#: The survival-only report of docs/examples/demo-survival.json, as the report
#: builder's form (analytics/forms.py) sends it.
SURVIVAL_REPORT_QUERY = urllib.parse.urlencode(
    {
        "name": "Load test: survival by resection strategy (survival only)",
        "group_by": "strategy",
        "endpoint": "os",
        "index": "diagnosis",
        "as_of": "2009-12-31",
        "time_unit": "months",
        "times": "12, 24, 36, 60",
        "conf_type": "log-log",
        "conf_level": "0.95",
        "reference": "synchronous",
        "contents": "survival",
        "diagnosed_from": "2002-01-01",
        "diagnosed_to": "2008-12-31",
    }
)

#: Page name -> path (a patient's page takes an id).
PAGES = {
    "list": "/patients/",
    "sorted list": "/patients/?sort=strategy",
    "patient": "/patients/{id}/",
    "data quality": "/data-quality/",
    "survival report": f"/reports/result/?{SURVIVAL_REPORT_QUERY}",
}

#: The pages each demo account may open.
ROLE_PAGES = {
    "nurse": ("list", "sorted list", "patient", "data quality"),
    "manager": tuple(PAGES),
    "analyst": ("survival report",),
}

PATIENT_LINK = re.compile(r'href="/patients/(\d+)/"')
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
HOME_TOTAL = re.compile(r"([\d,]+) patients? with colorectal cancer")


class LoadTestError(Exception):
    """The load test cannot start (a refused host or login, a server that is down)."""


class _KeepEveryStatus(urllib.request.HTTPErrorProcessor):
    """Return every response as it is: no redirect followed, no error raised."""

    def http_response(self, request, response):
        return response

    https_response = http_response


@dataclass
class Session:
    """One logged-in user: their cookies, and the patient ids they may open."""

    base_url: str
    username: str
    timeout: float
    patient_ids: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), _KeepEveryStatus()
        )

    def request(self, path: str, data: dict | None = None) -> tuple[int, str]:
        """Return the status and body of GET `path` (POST of `data` if given)."""
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(self.base_url + path, data=body)
        if data is not None:
            # Django checks the Referer of a POST only over HTTPS; sent anyway.
            request.add_header("Referer", self.base_url + path)
        with self.opener.open(request, timeout=self.timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")

    def log_in(self, password: str) -> None:
        """Log in, or raise LoadTestError (the password is never retried)."""
        status, page = self.request("/accounts/login/")
        token = CSRF_INPUT.search(page)
        if status != 200 or not token:
            raise LoadTestError(f"the login page answered {status} without a form")
        status, _ = self.request(
            "/accounts/login/",
            {
                "username": self.username,
                "password": password,
                "csrfmiddlewaretoken": token.group(1),
                "next": "/",
            },
        )
        if status != 302:
            raise LoadTestError(
                f"{self.username!r} could not log in (status {status}); the test "
                "stops before django-axes locks the account. Is the registry "
                "seeded with seed_demo?"
            )


def check_local(url: str) -> str:
    """Return `url` without a trailing slash; refuse any host but this machine."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise LoadTestError(f"{url!r}: give an http:// or https:// URL")
    if parts.hostname not in LOCAL_HOSTS:
        raise LoadTestError(
            f"{url!r}: the load test only targets this machine "
            f"({', '.join(sorted(LOCAL_HOSTS))}), never another host"
        )
    return url.rstrip("/")


def patient_ids(session: Session) -> list[int]:
    """Return ids of patients the session may open, from both ends of the list."""
    ids: set[int] = set()
    for sort in ("registry_number", "-registry_number"):
        status, page = session.request(f"/patients/?per_page=200&sort={sort}")
        if status == 200:
            ids.update(int(pk) for pk in PATIENT_LINK.findall(page))
    return sorted(ids)


def cohort_size(session: Session) -> int | None:
    """Return the patient count on the session's home page (None if not shown)."""
    status, page = session.request("/")
    found = HOME_TOTAL.search(page) if status == 200 else None
    return int(found.group(1).replace(",", "")) if found else None


@dataclass
class Results:
    """Latencies (seconds) and error counts per page, shared by the users."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    error_examples: dict[str, str] = field(default_factory=dict)
    #: When each page's requests were answered (time.monotonic()).
    answered: dict[str, list[float]] = field(default_factory=dict)
    requests: int = 0
    #: When the first user stopped: until then, every user was busy.
    first_stop: float | None = None

    def __post_init__(self) -> None:
        self.lock = threading.Lock()

    def claim(self, limit: int | None) -> bool:
        """Count one more request; return False once `limit` are claimed."""
        with self.lock:
            if limit is not None and self.requests >= limit:
                return False
            self.requests += 1
            return True

    def record(self, page: str, seconds: float, error: str | None) -> None:
        with self.lock:
            self.latencies.setdefault(page, []).append(seconds)
            self.answered.setdefault(page, []).append(time.monotonic())
            if error:
                self.errors[page] = self.errors.get(page, 0) + 1
                self.error_examples.setdefault(page, error)

    def stopped(self) -> None:
        """Note that a user has stopped (the first one ends the full-load window)."""
        with self.lock:
            if self.first_stop is None:
                self.first_stop = time.monotonic()

    def rate(self, page: str | None, started: float) -> float:
        """Return the answers per second of `page` (None: all) while all users ran."""
        end = self.first_stop or time.monotonic()
        pages = [page] if page else list(self.answered)
        answered = sum(
            1 for name in pages for when in self.answered.get(name, []) if when <= end
        )
        return answered / max(end - started, 1e-9)


def drive(
    session: Session,
    pages: Sequence[str],
    *,
    deadline: float,
    limit: int | None,
    results: Results,
    rng: random.Random,
    think: float = 0.0,
) -> None:
    """Request random pages of `pages` until the deadline or the request limit,
    pausing a random time of mean `think` seconds (exponential) before each.

    A pause that reaches the deadline ends the user's run: every pausing user
    would otherwise wake at the deadline together and send one request each at
    the same instant, a burst no real users make (at 10^5 it put every page's
    p95 at 0.4-0.7 s, its requests queued behind one another).
    """
    while time.monotonic() < deadline:
        if think:
            pause = min(rng.expovariate(1 / think), 60)
            if time.monotonic() + pause >= deadline:
                time.sleep(max(deadline - time.monotonic(), 0))  # reads on to the end
                break
            time.sleep(pause)
        if not results.claim(limit):
            break
        page = rng.choice(pages)
        path = PAGES[page]
        if page == "patient":
            path = path.format(id=rng.choice(session.patient_ids))
        error = None
        started = time.perf_counter()
        try:
            status, _ = session.request(path)
            if status != 200:
                error = f"status {status}"
        except (OSError, urllib.error.URLError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        results.record(page, time.perf_counter() - started, error)
    results.stopped()


def percentile(values: Sequence[float], q: float) -> float:
    """Return the `q`-th percentile (0-100) of `values` by the nearest-rank method."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n * q / 100), at least 1
    return ordered[int(rank) - 1]


def report(results: Results, started: float) -> str:
    """Return the per-page table of the results."""
    lines = [
        f"{'page':<16} {'requests':>8} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'p99 ms':>8} {'errors':>6}"
    ]
    every: list[float] = []
    for page in PAGES:
        values = results.latencies.get(page, [])
        if not values:
            continue
        every.extend(values)
        rate = results.rate(page, started)
        lines.append(_row(page, values, results.errors.get(page, 0), rate))
    if every:
        rate = results.rate(None, started)
        lines.append(_row("all", every, sum(results.errors.values()), rate))
    for page, example in results.error_examples.items():
        lines.append(f"first error of {page}: {example}")
    return "\n".join(lines)


def _row(name: str, values: Sequence[float], errors: int, rate: float) -> str:
    p50, p95, p99 = (percentile(values, q) * 1000 for q in (50, 95, 99))
    return (
        f"{name:<16} {len(values):>8} {rate:>7.2f} {p50:>8.0f} "
        f"{p95:>8.0f} {p99:>8.0f} {errors:>6}"
    )


def log_in_users(
    base_url: str, users: int, timeout: float
) -> tuple[list[Session], int | None]:
    """Return `users` logged-in sessions (demo accounts in turn) and the cohort size.

    Each account is tried once on its own first, so a wrong password costs one
    failed login, not one per user.
    """
    passwords = dict(DEMO_USERS)
    probes = {}
    for username, password in DEMO_USERS:
        probe = Session(base_url, username, timeout)
        probe.log_in(password)
        if "patient" in ROLE_PAGES[username]:
            probe.patient_ids = patient_ids(probe)
            if not probe.patient_ids:
                raise LoadTestError(f"{username!r} sees no patients: seed_demo first")
        probes[username] = probe
    size = cohort_size(probes["manager"])
    sessions = []
    for number in range(users):
        username = DEMO_USERS[number % len(DEMO_USERS)][0]
        if number < len(DEMO_USERS):
            sessions.append(probes[username])
            continue
        session = Session(base_url, username, timeout)
        session.log_in(passwords[username])
        session.patient_ids = probes[username].patient_ids
        sessions.append(session)
    return sessions, size


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--users", type=int, default=25, help="concurrent users")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds")
    parser.add_argument("--requests", type=int, help="stop after this many requests")
    parser.add_argument("--timeout", type=float, default=60.0, help="per request")
    parser.add_argument(
        "--patients", type=int, help="cohort size to print (default: counted)"
    )
    parser.add_argument("--seed", type=int, default=2026, help="of the page choice")
    parser.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="mean seconds a user reads a page before the next click (default 0: "
        "each user asks again as soon as answered, the server always saturated)",
    )
    args = parser.parse_args(argv)
    if args.users < 1 or args.duration <= 0 or (args.requests or 1) < 1:
        parser.error("--users, --duration and --requests must be positive")
    if args.think < 0:
        parser.error("--think must not be negative")
    try:
        base_url = check_local(args.url)
        sessions, counted = log_in_users(base_url, args.users, args.timeout)
    except (LoadTestError, OSError) as exc:
        print(f"load test: {exc}", file=sys.stderr)
        return 2
    patients = args.patients if args.patients is not None else counted
    roles = {name: 0 for name, _ in DEMO_USERS}
    for session in sessions:
        roles[session.username] += 1
    print(
        f"{base_url}: {patients if patients is not None else '?'} patients; "
        f"{args.users} users ("
        + ", ".join(f"{n} {name}" for name, n in roles.items())
        + f"); for {args.duration:g} s"
        + (f", {args.think:g} s mean think time" if args.think else "")
        + (f" or {args.requests} requests" if args.requests else "")
    )
    results = Results()
    rng = random.Random(args.seed)
    started = time.monotonic()
    deadline = started + args.duration
    threads = [
        threading.Thread(
            target=drive,
            args=(session, ROLE_PAGES[session.username]),
            kwargs={
                "deadline": deadline,
                "limit": args.requests,
                "results": results,
                "rng": random.Random(rng.random()),
                "think": args.think,
            },
            daemon=True,
        )
        for session in sessions
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    full_load = (results.first_stop or started) - started
    print(
        f"{results.requests} requests, the last answered after {elapsed:.1f} s; "
        f"req/s counts the answers while all {args.users} users ran "
        f"({full_load:.1f} s)"
    )
    print(report(results, started))
    return 1 if results.errors else 0


if __name__ == "__main__":
    sys.exit(main())
