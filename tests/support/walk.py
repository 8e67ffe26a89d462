"""The page walk's checks, shared by the walks in Chromium (tests/hybridqc/test_safety_browser.py on a
small world, tests/hybridqc/test_walk_demo_browser.py on the demo data, the admin and the API):
which POST forms may appear and how each asks before changing more than one item, what counts as
raw error text, and a signed-in browser context that checks every page it opens (status, a
stylesheet applied, no console error, no raw error text, every POST form declared)."""

from __future__ import annotations

import contextlib
from urllib.parse import urlparse

from django.urls import Resolver404, resolve
from playwright.sync_api import Error as PlaywrightError

from tests.hybridqc.test_authz_matrix import concrete_url, rule_for, url_patterns
from tests.support.browser import login

# Every form that POSTs, by the view it posts to: how it asks before changing more than one item.
# "preview": the server answers with what will change and a token to confirm (hybridqc/confirm.py,
# tests/hybridqc/test_confirm.py); "dialog": the browser asks (data-confirm, static/js/app.js);
# "one": it changes one item (or only the user's own session, token or a new upload).
FORM_CONFIRMATION = {
    "dashboard:router_panel": "preview",
    "dashboard:router_revert": "preview",
    "dashboard:judge-start": "preview",
    "routing:router_retrain": "preview",
    "routing:router_promote": "dialog",
    "routing:router_rollback": "dialog",
    "reviewers:gold_mark": "preview",
    "dashboard:drift-to-humans": "preview",
    "dashboard:alarm-always-human": "preview",
    "dashboard:alarm-dismiss": "one",
    "dashboard:alarms-check": "one",  # looks for alarms: opens alarms, changes no item
    "dashboard:retry": "one",  # routes a failed batch's unrouted items as its import would have
    "dashboard:import-job-retry": "one",
    "dashboard:export-job-start": "one",  # writes a file; a holding gate asks first (409 with its reasons)
    "dashboard:export-job-retry": "one",
    "dashboard:upload": "one",
    "routing:backtest": "one",  # reads only
    "reviewers:submit": "one",
    "reviewers:undo": "one",  # the reviewer's own last label
    "reviewers:correct": "one",  # one of the reviewer's own labels
    "reviewers:skip": "one",
    "reviewers:next": "one",
    "reviewers:notification_resolve": "one",
    "reviewers:roster": "one",  # the roster CSV: refused whole on any bad row
    "reviewers:unstaffed": "one",  # offers the unstaffed tasks to the roster again
    "tokens:page": "one",
    "tokens:revoke": "one",
    "logout": "one",
    "login": "one",
    "password_reset": "one",  # sends one e-mail
    "admin:logout": "one",
    "admin:password_change": "one",  # the admin's own password
}
# The admin's forms, by the kind of view they post to: a change or add form saves one row, a
# user's password form one password; a changelist's form runs the selected bulk action, each of
# which must go through a confirmation page first (ADMIN_ACTIONS), or saves the rows whose
# list-editable fields were edited one by one.
ADMIN_FORM_SUFFIXES = {"_change": "one", "_add": "one", "_password": "one", "_changelist": "actions"}
# Every bulk action the admin offers: each answers the first POST with a page listing the selected
# rows and a "Yes, I'm sure" button, and changes nothing until that is pressed.
ADMIN_ACTIONS = {
    "delete_selected": "Django's own confirmation page",
    "revoke": "confirmation page (dashboard.admin)",
    "invite": "confirmation page (reviewers.admin)",
    "unpause": "confirmation page (reviewers.admin)",
    "cleanup_expired_attempts": "confirmation page (dashboard.admin, over axes' own action)",
}
# "fold cross-validation": scikit-learn's own message ("Requesting 2-fold cross-validation but..."); the
# model page's prose names "cross-validation (5 random folds)", which is not an error.
RAW_ERRORS = ("Traceback", "Exception", "fold cross-validation", "sklearn", "ValueError", "TemplateSyntaxError",
              "NoReverseMatch", "OperationalError")
NOT_PAGES = ("api/", "admin/", "accounts/logout/", "favicon.ico", ".jsonl", ".csv", "export/")
# A same-origin stylesheet with rules, and the navigation drawn in a font other than the browser's
# unstyled default (an unstyled page keeps it everywhere).
STYLED_JS = """([plain, nav]) => {
  const sheets = [...document.styleSheets].filter(s => { try { return s.cssRules.length > 0; } catch (e) {
    return false; } });
  const element = document.querySelector(nav) || document.body;
  return sheets.length > 0 && getComputedStyle(element).fontFamily !== plain;
}"""


def form_kind(view_name: str) -> str | None:
    if view_name in FORM_CONFIRMATION:
        return FORM_CONFIRMATION[view_name]
    if view_name.startswith("admin:"):
        return next((kind for suffix, kind in ADMIN_FORM_SUFFIXES.items() if view_name.endswith(suffix)), None)
    return None


def form_problems(page, path: str) -> list[str]:
    """Every POST form on the page is declared; a "dialog" form carries its data-confirm; a
    changelist offers only actions that are declared in ADMIN_ACTIONS."""
    problems = []
    for form in page.query_selector_all("form[method=post], form[method=POST]"):
        action = urlparse(form.get_attribute("action") or path).path or path
        try:
            name = resolve(action).view_name
        except Resolver404:
            problems.append(f"{path}: a form posts to {action}, which no pattern serves")
            continue
        kind = form_kind(name)
        if kind is None:
            problems.append(f"{path}: form to {name} is not declared in FORM_CONFIRMATION")
        elif kind == "dialog" and form.get_attribute("data-confirm") is None:
            problems.append(f"{path}: form to {name} changes many items without data-confirm")
        elif kind == "actions":
            offered = [o.get_attribute("value") for o in form.query_selector_all("select[name=action] option")]
            problems += [f"{path}: bulk action {a!r} is not declared in ADMIN_ACTIONS"
                         for a in offered if a and a not in ADMIN_ACTIONS]
    return problems


def page_problems(page, path: str, nav: str = "header.topbar nav") -> list[str]:
    """The site navigation (``nav``: a selector), no raw error text, every POST form declared."""
    problems = []
    if page.query_selector(nav) is None:
        problems.append(f"{path}: no site navigation")
    text = page.inner_text("body")
    problems += [f"{path}: raw error text {word!r}" for word in RAW_ERRORS if word in text]
    return problems + form_problems(page, path)


def role_paths(role: str, values: dict[str, str]) -> list[str]:
    """Every GET page the role may open, by the authorization matrix's rules, filled in from ``values``."""
    paths = []
    for route in url_patterns():
        rule = rule_for(route)
        if rule is None or rule.method != "get" or role not in rule.allowed or any(n in route for n in NOT_PAGES):
            continue
        paths.append(concrete_url(route, values))
    return paths


class PageWatch:
    """One browser context signed in as one user: every page it opens is checked for its status, a
    stylesheet applied, console errors and uncaught page errors, and :func:`page_problems`."""

    def __init__(self, browser, base: str) -> None:
        self.base = base
        self.context = browser.new_context()
        self.page = self.context.new_page()
        self.page.set_default_timeout(20_000)
        self.errors: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {str(e)[:200]}"))
        self.page.on("response", self._response)
        self.page.set_content("<p>plain</p>")
        self.plain_font = self.page.evaluate("() => getComputedStyle(document.body).fontFamily")
        self.visited = 0
        self.post_only: list[str] = []

    def _console(self, message) -> None:
        # The page's own answer (a 409 "held", say) is logged as a failed load: its status is checked apart.
        own = message.location.get("url") == self.page.url and message.text.startswith("Failed to load resource")
        if message.type == "error" and not own:
            self.errors.append(f"console: {message.text[:200]}")

    def _response(self, response) -> None:
        if response.request.resource_type in ("stylesheet", "script") and response.status >= 400:
            self.errors.append(f"{response.request.resource_type} {response.url}: {response.status}")

    def login(self, username: str, password: str, form: str = "/accounts/login/", *,
              expect_refusal: bool = False) -> None:
        login(self.page, self.base, username, password=password, form=form, expect_refusal=expect_refusal)

    def visit(self, path: str, *, statuses: frozenset[int] = frozenset({200}),
              nav: str = "header.topbar nav") -> list[str]:
        """Open ``path``; its problems (an empty list when none). ``statuses``: the answers expected."""
        self.errors = []
        try:
            response = self._goto(path)
            status = response.status if response else None
        except PlaywrightError as exc:  # an error answer with no body: Chromium shows its own page
            self._settle()
            status = self.page.request.get(f"{self.base}{path}", max_redirects=0).status
            if status == 405 and 405 in statuses:
                self.post_only.append(path)  # a POST-only action: its form is checked where it is shown
                return []
            return [f"{path}: {status}, no page ({str(exc).splitlines()[0]})"]
        self.visited += 1
        if status == 405 and 405 in statuses:
            self.post_only.append(path)  # a POST-only action: its form is checked where it is shown
        if status not in statuses:
            return [f"{path}: status {status}, expected one of {sorted(statuses)}"]
        styled = self.page.evaluate(STYLED_JS, [self.plain_font, nav])
        problems = [] if styled else [f"{path}: no stylesheet applied"]
        problems += page_problems(self.page, path, nav)
        return problems + [f"{path}: {e}" for e in self.errors]

    def _goto(self, path: str):
        try:
            return self.page.goto(f"{self.base}{path}")
        except PlaywrightError as exc:
            if "interrupted by another navigation" not in str(exc):
                raise
            self._settle()  # the error page of the previous visit, late: once more
            return self.page.goto(f"{self.base}{path}")

    def _settle(self) -> None:
        """Wait for Chromium's own error page to finish loading: a visit started before would be
        interrupted by it."""
        with contextlib.suppress(PlaywrightError):
            self.page.wait_for_url(lambda url: url.startswith("chrome-error:"), timeout=5_000)
        self.page.wait_for_load_state("load")

    def fetch(self, path: str, statuses: frozenset[int] = frozenset({200})) -> list[str]:
        """A file (an export, a CSV): fetched with the context's session, not opened as a page."""
        status = self.page.request.get(f"{self.base}{path}").status
        self.visited += 1
        return [] if status in statuses else [f"{path}: status {status}, expected one of {sorted(statuses)}"]

    def close(self) -> None:
        self.context.close()
