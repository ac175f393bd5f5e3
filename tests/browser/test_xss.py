"""Untrusted e-mail in Chromium: script, event-handler and ``javascript:`` payloads in the subject, sender
name, text and HTML body of an e-mail go through the import pipeline; none of them runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from hub.api import create_app
from hub.config import HubConfig
from tests.api.helpers import PASSWORD, make_team, xss_email
from tests.browser.conftest import LiveServer, login, watch
from tests.core import samples
from tests.core.test_pipeline import run_import

#: what the page may contain: no element with an on* attribute, no javascript: URL, no script but app.js
DOM_CHECK = """() => {
  const bad = [];
  for (const el of document.querySelectorAll('*')) {
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase(), value = (attr.value || '').trim().toLowerCase();
      if (name.startsWith('on')) bad.push(el.tagName + ' ' + name);
      if (['href', 'src', 'action', 'formaction', 'xlink:href'].includes(name) && value.startsWith('javascript:'))
        bad.push(el.tagName + ' ' + name + '=' + value);
    }
  }
  for (const s of document.scripts) if (!s.src.endsWith('/static/app.js')) bad.push('script ' + (s.src || 'inline'));
  for (const tag of ['iframe', 'object', 'embed', 'form[action^="javascript"]']) {
    if (document.querySelector('main ' + tag)) bad.push(tag);
  }
  return bad;
}"""


def test_email_payloads_never_run_in_the_browser(
    browser: Any, sqlite_engine: Engine, tmp_path: Path, artifacts: Path
) -> None:
    corpus = tmp_path / "xss"
    samples.write(corpus, "email", "20261105T020000Z_xss.eml", xss_email())
    config = HubConfig()
    stats = run_import(sqlite_engine, corpus, config)
    assert stats.messages == 1 and stats.cases_opened == 1, stats.summary()
    make_team(sqlite_engine)
    with LiveServer(create_app(sqlite_engine, config)) as server:
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        page.set_default_timeout(15_000)
        seen = watch(page)
        login(page, server.url, "alice", PASSWORD)

        # the queue shows the payload as text
        summary = page.locator("tr.case-row td.summary").first.inner_text()
        assert "<script>" in summary
        assert page.evaluate(DOM_CHECK) == []

        page.click("tr.case-row a.case-link")
        page.wait_for_selector("#timeline")
        text = page.locator("#timeline li.message .text").first.inner_text()
        assert "<script>window.__xss='text'</script>" in text and "javascript:" in text, "shown, as text"
        assert "<script>" in page.locator("#timeline li.message .subject").first.inner_text()
        assert "onerror" in page.locator("dl.facts").inner_text()  # the sender's name, as text

        # the original HTML, sanitised: open it, click its links
        page.click("details.html-part summary")
        html = page.locator("details.html-part .html")
        assert html.is_visible() and "水壶漏水" in html.inner_text()
        assert html.locator("a[href='https://shop.example.com/o/66666']").count() == 1
        assert html.locator("img, svg, iframe, form, script, [style]").count() == 0
        for link in html.locator("a:not([href])").all():
            link.click()
        html.locator("div").first.click()
        page.screenshot(path=str(artifacts / "case-xss.png"), full_page=True)

        page.wait_for_timeout(300)
        assert page.evaluate(DOM_CHECK) == []
        assert page.evaluate("typeof window.__xss") == "undefined", "a payload ran"
        assert page.url.startswith(f"{server.url}/cases/")
        assert seen == {"errors": [], "console": [], "dialogs": []}, seen
        page.close()
