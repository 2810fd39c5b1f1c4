// The room's egress policy as data: which destinations `run.egress` names, what is never
// reachable, and the owner-matched firewall rules that say so — built here as argument lists,
// run by the egress adapter. Pure, so the rules are tested without a kernel.
import { isIP } from "node:net";

/**
 * The package registries a build commonly needs, and nothing else. Host names are resolved when
 * the rules are made (see the README: a registry behind a CDN may move to addresses the rules
 * do not hold; name it again, or use `"*"`).
 */
export const DEFAULT_EGRESS: readonly string[] = [
  // npm and yarn
  "registry.npmjs.org:443",
  "registry.yarnpkg.com:443",
  // PyPI
  "pypi.org:443",
  "files.pythonhosted.org:443",
  // crates.io
  "crates.io:443",
  "index.crates.io:443",
  "static.crates.io:443",
  // Go module proxy and checksum database
  "proxy.golang.org:443",
  "sum.golang.org:443",
  // Maven Central
  "repo.maven.apache.org:443",
  "repo1.maven.org:443",
  // RubyGems
  "rubygems.org:443",
  "index.rubygems.org:443",
  // NuGet
  "api.nuget.org:443",
];

/**
 * Never reachable from the room, whatever `run.egress` says: cloud metadata and link-local
 * (AWS, GCP, Azure IMDS at 169.254.169.254; Alibaba's 100.100.100.200; Azure's WireServer at
 * 168.63.129.16, which GitHub's hosted runners — Azure VMs — can reach; the IPv6 metadata
 * addresses of AWS and GCP).
 */
export const NEVER_V4 = ["169.254.0.0/16", "100.100.100.200/32", "168.63.129.16/32"];
export const NEVER_V6 = ["fd00:ec2::254/128", "fd20:ce::254/128", "fe80::/10"];

export interface EgressEntry {
  host: string;
  port?: number;
}

export type EgressPolicy = { kind: "open" } | { kind: "allow"; entries: EgressEntry[] };

const HOST =
  /^(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*\.?$/;

/** `host`, `host:port`, an IPv4 address (with `:port`), `[v6]` or `[v6]:port`; undefined when malformed. */
export function parseEgressEntry(text: string): EgressEntry | undefined {
  const t = text.trim();
  let host = t;
  let port: string | undefined;
  const v6 = /^\[([0-9A-Fa-f:.]+)\](?::(\d+))?$/.exec(t);
  if (v6) {
    host = v6[1]!;
    port = v6[2];
    if (isIP(host) !== 6) return undefined;
  } else {
    const i = t.lastIndexOf(":");
    if (i >= 0) {
      host = t.slice(0, i);
      port = t.slice(i + 1);
      if (!/^\d+$/.test(port)) return undefined;
    }
    if (isIP(host) !== 4 && !HOST.test(host)) return undefined;
  }
  if (port === undefined) return { host };
  const n = Number(port);
  return n >= 1 && n <= 65535 ? { host, port: n } : undefined;
}

export function egressPolicy(list: readonly string[]): EgressPolicy {
  if (list.includes("*")) return { kind: "open" };
  const entries = list.map(parseEgressEntry).filter((e): e is EgressEntry => e !== undefined);
  return { kind: "allow", entries };
}

export interface ResolvedEntry {
  host: string;
  port?: number;
  v4: string[];
  v6: string[];
}

export interface RuleSet {
  v4: string[][];
  v6: string[][];
}

/** Chain names are short (nftables-backed iptables takes 28 characters): one per room user. */
export function chainName(uid: number): string {
  return `AEGIS-EGRESS-${uid}`;
}

export function logPrefix(uid: number): string {
  return `aegis-egress-${uid} `;
}

/**
 * The chain's rules, in order, per family: never-reachable addresses refused first; then, under
 * an allow-list, any DNS query still bound for port 53 (every IPv4 query was already redirected
 * to the room's name filter on loopback by `dnsRedirectRules`; an IPv6 one, or one the redirect
 * missed, must not reach a resolver that would pass any name on); loopback (the model proxy, the
 * name filter, the project's own test servers); each allowed address (and port); then every other
 * attempt is logged and refused at once (a TCP reset, so a build fails fast rather than hanging).
 * `open` keeps only the never-reachable part.
 *
 * The chain only ever refuses: what it lets through RETURNs to OUTPUT, so a firewall the runner's
 * operator keeps after aegis's jump still applies to the room (an ACCEPT here would skip it).
 */
export function buildRules(opts: {
  uid: number;
  policy: EgressPolicy;
  resolved: ResolvedEntry[];
  log: boolean;
  /** The name filter's loopback ports (under an allow-list). */
  dnsPorts?: { udp: number; tcp: number };
}): RuleSet {
  const chain = chainName(opts.uid);
  const rules: RuleSet = { v4: [], v6: [] };
  for (const [family, never] of [
    ["v4", NEVER_V4],
    ["v6", NEVER_V6],
  ] as const) {
    const add = (...args: string[]) => rules[family].push(["-A", chain, ...args]);
    for (const cidr of never) add("-d", cidr, "-j", "REJECT");
    if (opts.policy.kind === "open") {
      add("-j", "RETURN");
      continue;
    }
    // A redirected query keeps the interface of its first route: it is matched by where it now goes.
    if (family === "v4" && opts.dnsPorts) {
      add("-d", "127.0.0.1", "-p", "udp", "--dport", String(opts.dnsPorts.udp), "-j", "RETURN");
      add("-d", "127.0.0.1", "-p", "tcp", "--dport", String(opts.dnsPorts.tcp), "-j", "RETURN");
    }
    add("-p", "udp", "--dport", "53", "-j", "REJECT");
    add("-p", "tcp", "--dport", "53", "-j", "REJECT", "--reject-with", "tcp-reset");
    add("-o", "lo", "-j", "RETURN");
    for (const entry of opts.resolved) {
      for (const address of family === "v4" ? entry.v4 : entry.v6) {
        if (entry.port) add("-d", address, "-p", "tcp", "--dport", String(entry.port), "-j", "RETURN");
        else add("-d", address, "-j", "RETURN");
      }
    }
    if (opts.log) add("-j", "LOG", "--log-prefix", logPrefix(opts.uid), "--log-uid");
    add("-p", "tcp", "-j", "REJECT", "--reject-with", "tcp-reset");
    add("-j", "REJECT");
  }
  return rules;
}

/** The nat chain (IPv4) that sends the user's DNS queries to the room's name filter. */
export function dnsChainName(uid: number): string {
  return `AEGIS-DNS-${uid}`;
}

/** Every DNS query of the user, to whatever resolver, goes to the filter's loopback ports instead. */
export function dnsRedirectRules(uid: number, ports: { udp: number; tcp: number }): string[][] {
  const chain = dnsChainName(uid);
  return [
    ["-A", chain, "-p", "udp", "--dport", "53", "-j", "REDIRECT", "--to-ports", String(ports.udp)],
    ["-A", chain, "-p", "tcp", "--dport", "53", "-j", "REDIRECT", "--to-ports", String(ports.tcp)],
  ];
}

/** A sealed chain: every packet of the user refused (a process survived the reaping). */
export function sealedRules(uid: number): RuleSet {
  const rule = ["-I", chainName(uid), "1", "-j", "REJECT"];
  return { v4: [rule], v6: [rule] };
}

/** Packets the chain refused (the REJECT rules after the allow list), from `iptables -L CHAIN -v -x -n`. */
export function refusedPackets(listing: string): number {
  let total = 0;
  for (const line of listing.split("\n")) {
    const cols = line.trim().split(/\s+/);
    // pkts bytes target …: the never-reachable rules and the final refusals alike.
    if (cols.length >= 3 && /^\d+$/.test(cols[0]!) && cols[2] === "REJECT") total += Number(cols[0]);
  }
  return total;
}

/** `host:port` destinations of the refused attempts, from the kernel log lines the LOG rule wrote. */
export function refusedDestinations(
  kernelLog: string,
  uid: number,
  opts: { since?: number; limit?: number } = {},
): string[] {
  const prefix = logPrefix(uid);
  const seen = new Map<string, number>();
  for (const line of kernelLog.split("\n")) {
    if (!line.includes(prefix)) continue;
    // `[ 2383.064361] aegis-egress-…`: seconds since boot, for lines of this step only.
    const at = Number(/^\[\s*(\d+\.\d+)\]/.exec(line)?.[1] ?? "NaN");
    if (opts.since !== undefined && Number.isFinite(at) && at < opts.since) continue;
    const dst = /\bDST=([0-9a-fA-F:.]+)/.exec(line)?.[1];
    const port = /\bDPT=(\d+)/.exec(line)?.[1];
    if (!dst) continue;
    const key = port ? (dst.includes(":") ? `[${dst}]:${port}` : `${dst}:${port}`) : dst;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  return [...seen.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, opts.limit ?? 20)
    .map(([k, n]) => (n > 1 ? `${k} (×${n})` : k));
}
