"""What the browser journeys share: the app served on a real port, page helpers that check every page with
axe-core, and keyboard-only helpers. The fixtures that build these are in conftest.py; FIXTURES.md describes them."""

from __future__ import annotations

import asyncio
import inspect
import re
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import Locator, Page

from dps.outbox.worker import DrainReport
from dps.settings import PROJECT_ROOT

AXE_SCRIPT = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.0, 2.1 and 2.2, levels A and AA (axe tags WCAG 2.2 rules wcag22aa; there is no wcag22a rule yet).
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
BLOCKING_IMPACTS = ("serious", "critical")


@dataclass
class LiveServer:
    """The real app on a real port. `clock` is the app's FixedClock (move it; never sleep); `mails` is the
    test's SMTP recorder (`.messages`, a list of email.message.EmailMessage); `drain` the `drain_outbox` fixture
    bound to this app's settings."""

    url: str
    clock: Any
    settings: Any
    app: Any
    mails: Any
    drain: Callable[[], Awaitable[DrainReport]] = field(repr=False)
    server: Any = field(repr=False, default=None)
    task: Any = field(repr=False, default=None)

    async def drain_outbox(self) -> DrainReport:
        """Deliver whatever the outbox holds now (email, search index, Stripe), as the app's worker would, without
        waiting for its idle pause. Safe alongside the app's own in-process worker (claims are leased)."""
        return await self.drain()

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05,
                       message: str = "the condition did not hold in time") -> Any:
        """Drain the outbox and check `predicate` (sync or async) until it returns something truthy, which is
        returned. Polls real time for work in flight; it never moves, nor waits for, the injected clock."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            await self.drain_outbox()
            value = predicate()
            if inspect.isawaitable(value):
                value = await value
            if value:
                return value
            if loop.time() > deadline:
                raise AssertionError(f"{message} (waited {timeout} s)")
            await asyncio.sleep(interval)

    def messages_to(self, address: str) -> list[Any]:
        return [message for message in self.mails.messages if message["To"] == address]

    async def email_to(self, address: str, timeout: float = 10.0) -> Any:
        """The newest email that reached `address`, once one has (the outbox is drained meanwhile)."""
        received = await self.wait_for(lambda: self.messages_to(address), timeout=timeout,
                                       message=f"no email reached {address}")
        return received[-1]

    async def link_in_email(self, address: str, path: str, timeout: float = 10.0) -> str:
        """The full URL of the one link to `path` in the newest email to `address` (what the person clicks)."""
        message = await self.email_to(address, timeout=timeout)
        body = message.get_content()
        links = re.findall(re.escape(self.url) + re.escape(path) + r"(?:\?\S+)?", body)
        assert len(links) == 1, f"expected one link to {path} in:\n{body}"
        return str(links[0])


# --- pages: every page a journey sees is checked with axe-core ---------------------------------------------------

_axe_source: str | None = None
# Per page: the URLs it loaded (recorded by the new_page fixture) and the URLs checked with axe.
LOADED: weakref.WeakKeyDictionary[Page, list[str]] = weakref.WeakKeyDictionary()
CHECKED: weakref.WeakKeyDictionary[Page, list[str]] = weakref.WeakKeyDictionary()


# Pages whose every state another test of the same run checks: the keyboard run of a journey the mouse run checks,
# and the PostgreSQL run of a journey the SQLite run checks.
AXE_CHECKED_ELSEWHERE: weakref.WeakSet[Page] = weakref.WeakSet()


def _axe() -> str:
    global _axe_source
    if _axe_source is None:
        if not AXE_SCRIPT.exists():
            raise RuntimeError(f"{AXE_SCRIPT.relative_to(PROJECT_ROOT)} is missing: run `npm ci` (make install)")
        _axe_source = AXE_SCRIPT.read_text(encoding="utf-8")
    return _axe_source


def page_key(url: str) -> str:
    """A loaded page's identity for the every-page-checked rule: path and query, no fragment."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def format_violations(url: str, violations: list[dict[str, Any]]) -> str:
    lines = [f"accessibility violations on {url}:"]
    for violation in violations:
        lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']} <{violation['helpUrl']}>")
        for node in violation["nodes"][:5]:
            lines.append(f"    at {' '.join(map(str, node['target']))}: {node.get('failureSummary', '')!s}"
                         .replace("\n", " "))
    return "\n".join(lines)


async def check_accessibility(page: Page) -> list[dict[str, Any]]:
    """Run axe-core (WCAG 2.0/2.1/2.2 A and AA) on the page as it is now; fail on any serious or critical violation.
    axe is already there in pages from `new_page` (an init script); elsewhere it goes in through evaluate. Neither is
    a <script> element, so the app's strict CSP stays on. Returns the lesser violations, for a test that wants them.
    A page whose every state another test checks (AXE_CHECKED_ELSEWHERE) is not checked twice."""
    if page in AXE_CHECKED_ELSEWHERE:
        return []
    await page.wait_for_load_state("load")
    if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
        await page.evaluate(_axe())
    results = await page.evaluate(
        "async (tags) => { const r = await axe.run(document, {runOnly: {type: 'tag', values: tags},"
        " resultTypes: ['violations']}); return r.violations; }", WCAG_TAGS)
    CHECKED.setdefault(page, []).append(page_key(page.url))
    blocking = [violation for violation in results if violation["impact"] in BLOCKING_IMPACTS]
    assert not blocking, format_violations(page.url, blocking)
    return [violation for violation in results if violation["impact"] not in BLOCKING_IMPACTS]


async def visit(page: Page, path: str, status: int = 200, axe: bool = True) -> Page:
    """Open `path` (relative to the live server) as if typed in the address bar, check the status and axe."""
    response = await page.goto(path)
    assert response is not None, f"no response for {path}"
    assert response.status == status, f"{path} answered {response.status}, not {status}"
    if axe:
        await check_accessibility(page)
    return page


async def _navigates(page: Page, action: Awaitable[Any], axe: bool = True) -> Page:
    async with page.expect_navigation():
        await action
    if axe:
        await check_accessibility(page)
    return page


async def submit(page: Page, button: str, exact: bool = False) -> Page:
    """Click the button named `button` (a real form submission), wait for the page it leads to, check it with axe."""
    return await _navigates(page, page.get_by_role("button", name=button, exact=exact).click())


async def follow(page: Page, link: str, exact: bool = False) -> Page:
    """Click the link named `link`, wait for the page it leads to, check it with axe."""
    return await _navigates(page, page.get_by_role("link", name=link, exact=exact).first.click())


async def fill_in(page: Page, fields: dict[str, str]) -> None:
    """Fill fields by their visible label (exact match)."""
    for label, value in fields.items():
        await page.get_by_label(label, exact=True).fill(value)




def unchecked_pages(page: Page) -> list[str]:
    if page in AXE_CHECKED_ELSEWHERE:
        return []
    checked = set(CHECKED.get(page, []))
    return [url for url in LOADED.get(page, []) if url not in checked]


# --- driving forms: with the mouse, or with the keyboard only -------------------------------------------------------

# The focus indicator a sighted keyboard user relies on: a box shadow or a visible outline on the focused control, or
# (radios and checkboxes, whose input is hidden under a drawn one) on its label's drawn box.
FOCUS_STYLE_JS = """el => {
  const visible = s => (s.boxShadow && s.boxShadow !== 'none')
      || (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0
          && !/rgba\\(.*, 0\\)|transparent/.test(s.outlineColor));
  if (visible(getComputedStyle(el))) return true;
  if ((el.type === 'radio' || el.type === 'checkbox') && el.labels && el.labels.length)
    return visible(getComputedStyle(el.labels[0], '::before'));
  return false;
}"""

# Where focus is relative to the target: 'self', 'group' (another radio of the target's group), 'before' (focus
# precedes the target in document order, so Tab moves towards it) or 'after'.
FOCUS_POSITION_JS = """el => {
  const a = document.activeElement;
  if (a === el) return 'self';
  if (a && el.type === 'radio' && a.type === 'radio' && a.name === el.name && a.form === el.form) return 'group';
  if (!a || a === document.body) return 'before';
  return (a.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING) ? 'before' : 'after';
}"""


# How many Tab presses (negative: Shift+Tab) should bring the focus from where it is to the target: the page's
# tab stops in document order, one per radio group. Only an estimate to skip checking after every press; the
# focus is always checked before a control is used.
TAB_DISTANCE_JS = """el => {
  const candidates = [...document.querySelectorAll('a[href], button, input, select, textarea, [tabindex]')]
    .filter(e => !e.disabled && e.type !== 'hidden' && e.tabIndex >= 0
            && e.checkVisibility({visibilityProperty: true}));
  const stops = [], groups = new Map();
  for (const e of candidates) {
    if (e.type === 'radio' && e.name) {
      const key = e.name + '|' + [...document.forms].indexOf(e.form);
      if (groups.has(key)) continue;
      groups.set(key, stops.length);
    }
    stops.push(e);
  }
  const index = x => stops.findIndex(s => s === x || (x && x.type === 'radio' && s.type === 'radio'
      && s.name === x.name && s.form === x.form));
  const target = index(el), active = index(document.activeElement);
  return target < 0 ? 0 : target - active;
}"""


class Driver:
    """Fills forms and moves between pages the way one kind of user does. Every page reached is checked with axe.
    `field(name)` finds a form control by its name; `button(text)`, `link(text)` by accessible name."""

    def __init__(self, page: Page, axe: bool = True) -> None:
        """`axe=False` only for a journey whose every page, in the same state, another test checks (the keyboard
        run of a journey the mouse run checks): axe would find the same thing twice, at a cost."""
        self.page = page
        self.axe = axe
        if not axe:
            AXE_CHECKED_ELSEWHERE.add(page)

    def field(self, name: str, scope: Locator | None = None) -> Locator:
        return (scope or self.page.locator("body")).locator(f'[name="{name}"]')

    def option(self, name: str, value: str, scope: Locator | None = None) -> Locator:
        return (scope or self.page.locator("body")).locator(f'input[name="{name}"][value="{value}"]')

    def button(self, text: str, exact: bool = False) -> Locator:
        return self.page.get_by_role("button", name=text, exact=exact)

    def link(self, text: str, exact: bool = False) -> Locator:
        return self.page.get_by_role("link", name=text, exact=exact).first

    async def fill_form(self, values: dict[str, Any], scope: Locator | None = None) -> None:
        """Answer each named control: a radio group takes the value to choose, a checkbox group a list of values to
        tick, anything else the text to type."""
        for name, value in values.items():
            if isinstance(value, list | tuple):
                for item in value:
                    await self.tick(self.option(name, item, scope))
                continue
            first = self.field(name, scope).first
            if await first.get_attribute("type") == "radio":
                await self.choose(self.option(name, value, scope))
            else:
                await self.type(first, value)

    async def open(self, path: str, status: int = 200) -> Page:
        """Type an address into the browser (the start of a journey, or a link from an email)."""
        return await visit(self.page, path, status, axe=self.axe)

    async def type(self, target: Locator, text: str) -> None:
        raise NotImplementedError

    async def choose(self, radio: Locator) -> None:
        raise NotImplementedError

    async def tick(self, checkbox: Locator) -> None:
        raise NotImplementedError

    async def select(self, select: Locator, label: str) -> None:
        """Pick the option shown as `label` in a <select>."""
        raise NotImplementedError

    async def activate(self, target: Locator) -> Page:
        """Press a button or follow a link; wait for the page it leads to and check it with axe."""
        raise NotImplementedError

    async def press(self, text: str, exact: bool = False) -> Page:
        return await self.activate(self.button(text, exact))

    async def follow(self, text: str, exact: bool = False) -> Page:
        return await self.activate(self.link(text, exact))


class MouseDriver(Driver):
    async def type(self, target: Locator, text: str) -> None:
        await target.fill(text)

    async def choose(self, radio: Locator) -> None:
        await radio.check()

    async def tick(self, checkbox: Locator) -> None:
        await checkbox.check()

    async def select(self, select: Locator, label: str) -> None:
        await select.select_option(label=label)

    async def activate(self, target: Locator) -> Page:
        return await _navigates(self.page, target.click(), axe=self.axe)


class KeyboardDriver(Driver):
    """Tab and Shift+Tab to move the focus, typing, Space and Enter and the arrow keys: never the mouse, and never a
    control filled without the focus. Each control reached must show a visible focus indicator."""

    max_presses = 150

    async def focus(self, target: Locator) -> str:
        await target.wait_for(state="attached")
        distance = int(await target.evaluate(TAB_DISTANCE_JS))
        for _ in range(min(abs(distance) - 1, self.max_presses)):  # the presses the focus surely needs
            await self.page.keyboard.press("Tab" if distance > 0 else "Shift+Tab")
        for _ in range(self.max_presses):
            position = await target.evaluate(FOCUS_POSITION_JS)
            if position in ("self", "group"):
                focused = self.page.locator(":focus")
                assert await focused.evaluate(FOCUS_STYLE_JS), f"no visible focus indicator on {focused}"
                return str(position)
            await self.page.keyboard.press("Tab" if position == "before" else "Shift+Tab")
        raise AssertionError(f"the keyboard never reached {target} in {self.max_presses} presses")

    async def type(self, target: Locator, text: str) -> None:
        await self.focus(target)
        await self.page.keyboard.press("ControlOrMeta+A")
        await self.page.keyboard.type(text)

    async def choose(self, radio: Locator) -> None:
        """Tab into the group, then Space (the focused radio is the one) or arrow keys (which move and select)."""
        if await self.focus(radio) == "self":
            await self.page.keyboard.press("Space")
        for _ in range(20):
            if await radio.is_checked():
                return
            await self.page.keyboard.press("ArrowDown")
        raise AssertionError(f"the arrow keys never selected {radio}")

    async def tick(self, checkbox: Locator) -> None:
        await self.focus(checkbox)
        if not await checkbox.is_checked():
            await self.page.keyboard.press("Space")
        assert await checkbox.is_checked()

    async def select(self, select: Locator, label: str) -> None:
        """Focus the select and move through its options with the arrow keys (a closed select changes at once)."""
        await self.focus(select)
        labels = [text.strip() for text in await select.locator("option").all_inner_texts()]
        want = labels.index(label)
        current = await select.evaluate("el => el.selectedIndex")
        key = "ArrowDown" if want > current else "ArrowUp"
        for _ in range(abs(want - current)):
            await self.page.keyboard.press(key)
        assert await select.evaluate("el => el.selectedIndex") == want, f"could not select {label!r} in {select}"

    async def activate(self, target: Locator) -> Page:
        await self.focus(target)
        return await _navigates(self.page, self.page.keyboard.press("Enter"), axe=self.axe)
