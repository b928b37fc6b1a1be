"""The detector the XSS tests point at every page: did anything in it run script?

A :class:`ScriptWatch` is installed on a guarded page (see ``conftest.py``)
before its first visit. For each visit it reports :class:`Finding` s from
five independent signals:

- ``alert``, ``confirm``, ``prompt`` and ``print`` are replaced, in every
  frame and before any of the page's own script, by functions that report
  their call to Python at once (a binding, so a report survives the page
  navigating away). Nearly every payload of the corpus calls one of them.
- ``dialog``: a real dialog, from a frame the replacement missed.
- ``dom``: markup that can run script (``script``, ``iframe``, ``object``,
  ``embed``, ``base``, ``meta http-equiv``, SVG and MathML, any ``on*``
  attribute, a ``javascript:``/``vbscript:``/``data:`` URL), whatever it
  calls. kb's own pages contain none of it.
- ``offsite``: a request to a host other than 127.0.0.1 (blocked by the page
  guard). kb never loads anything from elsewhere and its sanitizer drops
  images from other hosts, so on kb's pages any such request means injected
  markup. In the positive control these are counted apart: fetching is not
  running script.
- ``navigation``: the page going somewhere nobody asked it to (a meta
  refresh, a script assigning ``location``).

After the page has loaded, every element of the page and of the frames it
can reach (same origin) gets a ``focus`` and a ``mouseover`` event; every
element with an inline ``on*`` handler is also focused for real and gets
each of its handlers' events (clicks and submits have their default action
cancelled, so no link is followed). Then the page gets two animation frames
for handlers that fire late (``onanimationstart``, timers). Frames of other
origins (``data:`` URLs) are not probed, but a payload running there on its
own is still reported by the replaced functions. Console errors are ignored:
they are not execution.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page

DETECTOR_SCRIPT = """
(() => {
  const payloadOf = () => {
    // Which element of the positive control's page ran this, when it can be told.
    try {
      const event = window.event;
      const source = (event && event.currentTarget && event.currentTarget.closest && event.currentTarget)
        || document.currentScript || window.frameElement;
      const holder = source && source.closest && source.closest("[data-payload]");
      return holder ? holder.dataset.payload : null;
    } catch (error) {
      return null;
    }
  };
  const report = (kind, detail) => {
    try {
      window.__kbScriptRan({kind, detail: String(detail).slice(0, 120), payload: payloadOf()});
    } catch (error) {
      // No binding in this frame: the real dialog below is the report.
    }
  };
  for (const name of ["alert", "confirm", "prompt", "print"]) {
    window[name] = function (message) { report(name, message); return null; };
  }
})();
"""

PROBE_SCRIPT = """
async (expected) => {
  // This document and every document framed in it that it may reach (the same
  // origin: srcdoc, about:blank and its own pages).
  const documents = [];
  const collect = (doc) => {
    documents.push(doc);
    for (const frame of doc.querySelectorAll("iframe, frame, object")) {
      try {
        if (frame.contentDocument) collect(frame.contentDocument);
      } catch (error) {}
    }
  };
  collect(document);
  const everything = () => documents.flatMap((doc) => Array.from(doc.querySelectorAll("*")));

  const noDefault = ["click", "auxclick", "dblclick", "submit", "keydown", "keypress"];
  const cancel = (event) => event.preventDefault();
  const views = documents.map((doc) => doc.defaultView).filter(Boolean);
  for (const view of views) for (const type of noDefault) view.addEventListener(type, cancel, true);
  const elements = everything();
  for (const element of elements) {
    const own = Array.from(element.attributes || [], (attr) => attr.name)
      .filter((name) => name.startsWith("on")).map((name) => name.slice(2));
    if (own.length) {
      try { element.focus && element.focus({preventScroll: true}); } catch (error) {}
    }
    for (const type of ["focus", "mouseover", ...own]) {
      try {
        const kind = type === "focus" ? FocusEvent : type === "mouseover" ? MouseEvent : Event;
        element.dispatchEvent(new kind(type, {cancelable: true}));
      } catch (error) {}
    }
  }
  for (const view of views) for (const type of noDefault) view.removeEventListener(type, cancel, true);
  await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));

  const runnable = new Set(["script", "iframe", "frame", "frameset", "object", "embed", "applet",
                            "base", "svg", "math", "portal", "fencedframe"]);
  const urlAttributes = new Set(["href", "src", "action", "formaction", "xlink:href", "data",
                                 "poster", "background", "lowsrc", "dynsrc", "srcdoc", "values",
                                 "from", "to", "by"]);
  const dangerousUrl = /^[\\s\\u0000-\\u001f]*(javascript|vbscript|data)\\s*:/i;
  const markup = [];
  for (const element of everything()) {
    const tag = element.localName;
    if (runnable.has(tag) || (tag === "meta" && element.hasAttribute("http-equiv"))) {
      markup.push(`<${tag}>`);
    }
    for (const attr of element.attributes || []) {
      if (attr.name.startsWith("on")) {
        markup.push(`<${tag} ${attr.name}>`);
      } else if (urlAttributes.has(attr.name) && dangerousUrl.test(attr.value)) {
        markup.push(`<${tag} ${attr.name}=${attr.value.slice(0, 40)}>`);
      }
    }
  }
  const squeeze = (text) => text.replace(/\\s+/g, " ").trim();
  const shown = squeeze(`${document.title} ${document.body ? document.body.textContent : ""}`);
  const missing = expected.filter((text) => !shown.includes(squeeze(text)));
  return {elements: elements.length, markup, missing};
}
"""


@dataclass(frozen=True)
class Finding:
    """One sign of script execution (or of markup or a request that could run or leak)."""

    kind: str  # alert, confirm, prompt, print, dialog, dom, offsite, navigation
    url: str
    detail: str = ""
    payload: str | None = None  # the positive control's payload number, when known

    @property
    def ran_script(self) -> bool:
        """True for a call or dialog: script certainly ran."""
        return self.kind in ("alert", "confirm", "prompt", "print", "dialog")

    def __str__(self) -> str:
        where = f" (payload {self.payload})" if self.payload is not None else ""
        return f"{self.kind}{where} at {self.url}: {self.detail}"


@dataclass
class Visit:
    """What one visit of one URL showed."""

    url: str
    status: int
    elements: int
    findings: list[Finding] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


class ScriptWatch:
    """Installs the detector on ``page`` (before it visits anything) and visits URLs with it.

    ``offsite_requests`` is the page guard's list of blocked URLs; the watch
    reports the ones added during each visit.
    """

    def __init__(self, page: Page, offsite_requests: list[str]):
        self.page = page
        self._offsite = offsite_requests
        self._pending: list[Finding] = []
        self._inspecting = False
        page.context.expose_binding("__kbScriptRan", self._on_report)
        page.context.add_init_script(DETECTOR_SCRIPT)
        page.on("dialog", self._on_dialog)
        page.on("framenavigated", self._on_navigation)

    def _on_report(self, source, info) -> None:
        self._pending.append(Finding(info["kind"], source["frame"].url, info["detail"],
                                     info.get("payload")))

    def _on_dialog(self, dialog) -> None:
        self._pending.append(Finding("dialog", self.page.url, f"{dialog.type}: {dialog.message}"))
        dialog.dismiss()

    def _on_navigation(self, frame) -> None:
        if frame == self.page.main_frame and self._inspecting:
            self._pending.append(Finding("navigation", frame.url, "the page navigated by itself"))

    def visit(self, url: str, expected: list[str] = ()) -> Visit:
        """Load ``url``, focus and hover everything, and report what ran.

        ``expected`` are texts the page must show (compared with white space
        squeezed); the ones it does not show are the visit's ``missing``.
        """
        return self.after(lambda: self.page.goto(url), expected)

    def after(self, navigate, expected: list[str] = ()) -> Visit:
        """Like :meth:`visit`, for the page that ``navigate()`` (say, a click) loads.

        ``navigate`` returns the navigation's response (or None).
        """
        offsite_before = len(self._offsite)
        status = 0
        try:
            response = navigate()
            status = response.status if response else 0
        except PlaywrightError as error:  # something on the page navigated it while it loaded
            self._pending.append(Finding("navigation", self.page.url, str(error).splitlines()[0]))
        url = self.page.url
        self._inspecting = True
        try:
            result = self.page.evaluate(PROBE_SCRIPT, list(expected))
        except PlaywrightError as error:  # the page went away under the probe
            self._pending.append(Finding("navigation", url, str(error).splitlines()[0]))
            result = {"elements": 0, "markup": [], "missing": list(expected)}
        finally:
            self._inspecting = False
        findings, self._pending = self._pending, []
        findings += [Finding("dom", url, found) for found in result["markup"]]
        findings += [Finding("offsite", url, request) for request in self._offsite[offsite_before:]]
        return Visit(url, status, result["elements"], findings, result["missing"])
