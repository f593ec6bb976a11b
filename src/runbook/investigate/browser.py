"""The browser's view of a site: console errors, uncaught exceptions and failed requests on its
key pages, read in headless Chromium (the system's, driven by Playwright: no browser
download). The page is loaded from one node (the site's host name mapped to the node's
address), caches bypassed: the thresholds' "JavaScript errors" row, measured.
"""

from __future__ import annotations

from typing import Any

from runbook.errors import ExitCode, RunbookError
from runbook.rollout import visual

#: Per page: at most this many console messages and failed requests are kept.
MAX_ITEMS = 50
TEXT_LIMIT = 500
TIMEOUT_MS = 20_000


def chromium() -> str:
    return visual.browser("the browser check", "pass --no-browser")


def visit(targets: list[dict[str, Any]], pages: list[str]) -> list[dict[str, Any]]:
    """Each target (site, host name, node address) on each page: its status, console errors
    and warnings, uncaught exceptions, failed requests. One browser for them all."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    out: list[dict[str, Any]] = []
    try:
        with sync_playwright() as driver:
            for target in targets:
                # The site's host name reaches the chosen node, as in the visual check.
                browser = driver.chromium.launch(
                    executable_path=chromium(),
                    args=[
                        "--no-sandbox",
                        "--disable-gpu",
                        "--disable-quic",
                        "--disable-extensions",
                        f"--host-resolver-rules=MAP {target['host']} {target['address']}",
                    ],
                )
                try:
                    out += [_page(browser, target, path, PlaywrightError) for path in pages]
                finally:
                    browser.close()
    except PlaywrightError as exc:
        raise RunbookError(
            f"the browser check could not start Chromium: {str(exc).splitlines()[0]}",
            ExitCode.ENVIRONMENT,
        ) from None
    return out


def _page(
    browser: Any, target: dict[str, Any], path: str, error: type[BaseException]
) -> dict[str, Any]:
    host = target["host"]
    context = browser.new_context(
        extra_http_headers={"Cache-Control": "no-cache", "Pragma": "no-cache"},
        ignore_https_errors=True,
    )
    page = context.new_page()
    console: list[dict[str, Any]] = []
    exceptions: list[str] = []
    failed: list[dict[str, Any]] = []
    page.on(
        "console",
        lambda m: (
            console.append(
                {"type": m.type, "text": m.text[:TEXT_LIMIT], "url": (m.location or {}).get("url")}
            )
            if m.type in ("error", "warning") and len(console) < MAX_ITEMS
            else None
        ),
    )
    page.on(
        "pageerror",
        lambda e: exceptions.append(str(e)[:TEXT_LIMIT]) if len(exceptions) < MAX_ITEMS else None,
    )
    page.on(
        "response",
        lambda r: (
            failed.append({"url": r.url, "status": r.status})
            if r.status >= 400 and len(failed) < MAX_ITEMS
            else None
        ),
    )
    page.on(
        "requestfailed",
        lambda r: (
            failed.append({"url": r.url, "status": None, "failure": r.failure})
            if len(failed) < MAX_ITEMS and r.failure != "net::ERR_ABORTED"
            else None
        ),
    )
    status = None
    problem = None
    try:
        response = page.goto(f"http://{host}{path}", wait_until="load", timeout=TIMEOUT_MS)
        status = response.status if response else None
        page.wait_for_timeout(300)  # late errors: a script run on load
    except error as exc:
        problem = str(exc).splitlines()[0][:TEXT_LIMIT]
    finally:
        context.close()
    return {
        "site": target["site"],
        "host": target["node"],
        "page": path,
        "status": status,
        "console_errors": [c for c in console if c["type"] == "error"],
        "console_warnings": [c for c in console if c["type"] == "warning"],
        "exceptions": exceptions,
        "failed_requests": failed,
        "problem": problem,
    }
