// GitHub's advisory database, asked about the dependencies a diff adds or upgrades
// (core/manifests.ts): `GET /advisories` with `affects`, per ecosystem, twice — reviewed
// advisories (the vulnerabilities) and malware, which GitHub lists only when asked by type. So a
// task that changes no manifest costs no call, and one that does costs two per ecosystem (more
// only past ~7,000 characters of package names, where a URL would grow too long).
import type { Dependency, Ecosystem } from "../core/manifests.js";
import { normalizePythonName } from "../core/manifests.js";
import type { GitHub } from "./github.js";

export interface AdvisoryHit {
  ghsaId: string;
  type: "reviewed" | "malware";
  severity: string;
  summary: string;
  url: string;
  dependency: Dependency;
}

/** Under GitHub's 8,000-character URL limit, with room for the rest of the query. */
const MAX_AFFECTS_CHARS = 7000;

function chunks(items: string[]): string[][] {
  const out: string[][] = [];
  let current: string[] = [];
  let size = 0;
  for (const item of items) {
    const cost = encodeURIComponent(item).length + 3;
    if (current.length && size + cost > MAX_AFFECTS_CHARS) {
      out.push(current);
      current = [];
      size = 0;
    }
    current.push(item);
    size += cost;
  }
  if (current.length) out.push(current);
  return out;
}

const sameName = (ecosystem: Ecosystem, a: string, b: string) =>
  ecosystem === "pip"
    ? normalizePythonName(a) === normalizePythonName(b)
    : a.toLowerCase() === b.toLowerCase();

/**
 * The advisories that affect `deps`: each malware advisory naming one of them (whatever the
 * version: malware is the package itself), and each reviewed one that affects the version asked
 * for (or any version, where none is written). Throws when GitHub cannot be asked.
 */
export async function lookUpAdvisories(gh: GitHub, deps: readonly Dependency[]): Promise<AdvisoryHit[]> {
  const hits = new Map<string, AdvisoryHit>();
  const byEcosystem = new Map<Ecosystem, Dependency[]>();
  for (const d of deps) byEcosystem.set(d.ecosystem, [...(byEcosystem.get(d.ecosystem) ?? []), d]);
  for (const [ecosystem, list] of byEcosystem) {
    const asks: { type: "reviewed" | "malware"; affects: string[] }[] = [
      { type: "reviewed", affects: list.map((d) => (d.version ? `${d.name}@${d.version}` : d.name)) },
      { type: "malware", affects: list.map((d) => d.name) },
    ];
    for (const ask of asks)
      for (const part of chunks([...new Set(ask.affects)])) {
        const advisories = await gh.octokit.paginate(
          gh.octokit.rest.securityAdvisories.listGlobalAdvisories,
          {
            ecosystem,
            type: ask.type,
            affects: part.join(","),
            per_page: 100,
          },
        );
        for (const a of advisories) {
          if (a.withdrawn_at) continue;
          for (const v of a.vulnerabilities ?? []) {
            const name = v.package?.name;
            const dep = name ? list.find((d) => sameName(ecosystem, d.name, name)) : undefined;
            if (!dep) continue;
            hits.set(`${a.ghsa_id} ${dep.name}`, {
              ghsaId: a.ghsa_id,
              type: ask.type,
              severity: a.severity ?? "unknown",
              summary: a.summary.slice(0, 200),
              url: a.html_url,
              dependency: dep,
            });
          }
        }
      }
  }
  return [...hits.values()];
}
