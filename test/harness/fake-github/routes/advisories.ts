// GitHub's global advisory database, as `GET /advisories` answers it: filtered by ecosystem, by
// type (reviewed unless asked; malware only when asked) and by `affects` — package names, or
// `name@version` matched against each vulnerability's range (the comparators GitHub writes:
// `>= 1.0.0, < 1.2.3`, `< 4.17.21`, `= 2.0.0`).
import { type Handler, HttpError, json } from "../http.js";
import type { AdvisoryRec } from "../state.js";

function parts(v: string): number[] {
  return v
    .replace(/^v/, "")
    .split(/[.+-]/)
    .slice(0, 3)
    .map((p) => Number.parseInt(p, 10) || 0);
}

function compare(a: string, b: string): number {
  const [x, y] = [parts(a), parts(b)];
  for (let i = 0; i < 3; i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
}

export function inRange(version: string, range: string): boolean {
  return range.split(",").every((clause) => {
    const m = /^\s*(>=|<=|>|<|=)?\s*(\S+)\s*$/.exec(clause);
    if (!m) return false;
    const c = compare(version, m[2]!);
    switch (m[1] ?? "=") {
      case ">=":
        return c >= 0;
      case "<=":
        return c <= 0;
      case ">":
        return c > 0;
      case "<":
        return c < 0;
      default:
        return c === 0;
    }
  });
}

function affects(a: AdvisoryRec, asked: string[]): boolean {
  return asked.some((item) => {
    const at = item.lastIndexOf("@");
    const [name, version] = at > 0 ? [item.slice(0, at), item.slice(at + 1)] : [item, undefined];
    return a.vulnerabilities.some(
      (v) =>
        v.name.toLowerCase() === name.toLowerCase() && (version === undefined || inRange(version, v.range)),
    );
  });
}

function render(site: { url: string }, a: AdvisoryRec): Record<string, unknown> {
  return {
    ghsa_id: a.ghsaId,
    cve_id: null,
    url: `${site.url}/advisories/${a.ghsaId}`,
    html_url: `${site.url}/advisories/${a.ghsaId}`,
    repository_advisory_url: null,
    summary: a.summary,
    description: a.summary,
    type: a.type,
    severity: a.severity,
    source_code_location: null,
    identifiers: [{ type: "GHSA", value: a.ghsaId }],
    references: [],
    published_at: "2026-01-01T00:00:00Z",
    updated_at: "2026-01-01T00:00:00Z",
    github_reviewed_at: a.type === "reviewed" ? "2026-01-01T00:00:00Z" : null,
    nvd_published_at: null,
    withdrawn_at: null,
    vulnerabilities: a.vulnerabilities.map((v) => ({
      package: { ecosystem: a.ecosystem, name: v.name },
      vulnerable_version_range: v.range,
      first_patched_version: null,
      vulnerable_functions: [],
    })),
    cvss: null,
    cwes: [],
    credits: [],
  };
}

export const advisoryHandlers: Record<string, Handler> = {
  "security-advisories/list-global-advisories": (ctx) => {
    const type = ctx.query.type ?? "reviewed";
    const asked = (ctx.query.affects ?? "").split(",").filter(Boolean);
    if (asked.length > 1000) throw new HttpError(422, "affects: at most 1000 packages");
    const perPage = Math.min(Number(ctx.query.per_page ?? 30) || 30, 100);
    const found = ctx.store.advisories.filter(
      (a) =>
        a.type === type &&
        (!ctx.query.ecosystem || a.ecosystem === ctx.query.ecosystem) &&
        (!asked.length || affects(a, asked)),
    );
    return json(
      200,
      found.slice(0, perPage).map((a) => render(ctx.site, a)),
    );
  },
};
