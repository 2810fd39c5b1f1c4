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
 * The advisories that affect `deps`: malware first (by `name@version` where a version is known —
 * a compromised release is malware of that version — else by name), then the reviewed ones that
 * affect the version asked for (or any version, where none is written). A request that fails is
 * told in `errors` and the others still run; nothing is thrown.
 */
export async function lookUpAdvisories(
  gh: GitHub,
  deps: readonly Dependency[],
): Promise<{ hits: AdvisoryHit[]; errors: string[] }> {
  const hits = new Map<string, AdvisoryHit>();
  const errors: string[] = [];
  const byEcosystem = new Map<Ecosystem, Dependency[]>();
  for (const d of deps) byEcosystem.set(d.ecosystem, [...(byEcosystem.get(d.ecosystem) ?? []), d]);
  const asked = (d: Dependency) => (d.version ? `${d.name}@${d.version}` : d.name);
  for (const [ecosystem, list] of byEcosystem)
    for (const type of ["malware", "reviewed"] as const)
      for (const part of chunks([...new Set(list.map(asked))])) {
        let advisories;
        try {
          // One page of 100: advisories that affect the versions a diff adds are a handful. One
          // retry: a lookup that still fails is a warning, not a reason to hold the step.
          const { data } = await gh.octokit.rest.securityAdvisories.listGlobalAdvisories({
            ecosystem,
            type,
            affects: part.join(","),
            per_page: 100,
            request: { retries: 1 },
          });
          advisories = data;
        } catch (error) {
          errors.push(`${type} advisories for ${ecosystem}: ${(error as Error).message.slice(0, 160)}`);
          continue;
        }
        for (const a of advisories) {
          if (a.withdrawn_at) continue;
          for (const v of a.vulnerabilities ?? []) {
            const name = v.package?.name;
            const dep = name ? list.find((d) => sameName(ecosystem, d.name, name)) : undefined;
            if (!dep) continue;
            hits.set(`${a.ghsa_id} ${dep.name}`, {
              ghsaId: a.ghsa_id,
              type,
              severity: a.severity ?? "unknown",
              summary: a.summary.slice(0, 200),
              url: a.html_url,
              dependency: dep,
            });
          }
        }
      }
  return { hits: [...hits.values()], errors };
}
