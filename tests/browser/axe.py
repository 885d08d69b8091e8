"""axe-core (Deque's accessibility engine, vendored from npm: tests/browser/vendor) run in the page.

The rules run are WCAG 2.0, 2.1 and 2.2 at levels A and AA, and axe's best practices, with
target-size (2.2's 24 px targets, which axe leaves off by default) turned on. A page is
checked as it is at that moment, so a test checks each state it brings about (a form with its
errors, a job running, a job ended) where it stands.
"""

from pathlib import Path

AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]

RUN = """async (tags) => {
  const results = await axe.run(document, {
    runOnly: {type: "tag", values: tags}, rules: {"target-size": {enabled: true}}, resultTypes: ["violations"],
  });
  return results.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 3).map(n => n.target.join(" ") + ": " + n.failureSummary.split("\\n").slice(1, 2).join("")),
  }));
}"""


def violations(page) -> list[dict]:
    """What axe finds on the page now. The page's context needs bypass_csp=True: the
    Content-Security-Policy (rightly) refuses a script the page did not ask for."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    return page.evaluate(RUN, TAGS)


def described(found: dict[str, list[dict]]) -> str:
    lines = []
    for state, problems in found.items():
        for problem in problems:
            lines.append(f"{state}: {problem['id']} ({problem['impact']}): {problem['help']}")
            lines.extend(f"    {node}" for node in problem["nodes"])
    return "\n".join(lines)
