/**
 * Kernel-enforced egress for the agent's room: an iptables/ip6tables chain per room user, jumped
 * to from OUTPUT for packets that user owns (`-m owner --uid-owner`). Nobody else's traffic is
 * touched. The rules are in place before anything of the room runs and removed when the step ends
 * — by the main step, and again by the post step, so a crash, a timeout or a cancelled job leaves
 * nothing for a later job on the same machine.
 */
import { lookup } from "node:dns/promises";
import { readFile } from "node:fs/promises";
import { isIP } from "node:net";
import { type DnsFilter, startDnsFilter } from "./dns-filter.js";
import {
  buildRules,
  chainName,
  dnsChainName,
  dnsRedirectRules,
  type EgressPolicy,
  refusedDestinations,
  refusedPackets,
  type ResolvedEntry,
  sealedRules,
} from "../core/egress.js";

/** Runs a command with root's rights (the room's `privileged`); throws with `what` on failure. */
export type Privileged = (file: string, args: string[], what: string) => Promise<string>;

const FAMILIES = [
  ["v4", "iptables"],
  ["v6", "ip6tables"],
] as const;

export interface EgressReport {
  refused: number;
  destinations: string[];
  /** Name lookups the room's name filter refused, and (printable ones) which names. */
  lookupsRefused?: number;
  names?: string[];
}

async function resolve(
  entries: { host: string; port?: number }[],
): Promise<{ resolved: ResolvedEntry[]; unresolved: string[] }> {
  const resolved: ResolvedEntry[] = [];
  const unresolved: string[] = [];
  await Promise.all(
    entries.map(async (e) => {
      if (isIP(e.host)) {
        resolved.push({
          ...e,
          v4: isIP(e.host) === 4 ? [e.host] : [],
          v6: isIP(e.host) === 6 ? [e.host] : [],
        });
        return;
      }
      try {
        const found = await lookup(e.host, { all: true, verbatim: true });
        resolved.push({
          ...e,
          v4: [...new Set(found.filter((a) => a.family === 4).map((a) => a.address))],
          v6: [...new Set(found.filter((a) => a.family === 6).map((a) => a.address))],
        });
      } catch {
        unresolved.push(e.host);
      }
    }),
  );
  return { resolved, unresolved };
}

/** Name servers of /etc/resolv.conf: the room must resolve names to reach what it may reach. */
async function resolvers(): Promise<string[]> {
  const text = await readFile("/etc/resolv.conf", "utf8").catch(() => "");
  return [...text.matchAll(/^\s*nameserver\s+(\S+)/gm)]
    .map((m) => m[1]!.replace(/%.*$/, ""))
    .filter((a) => isIP(a));
}

async function uptime(): Promise<number> {
  const text = await readFile("/proc/uptime", "utf8").catch(() => "0");
  return Number(text.split(" ")[0]) || 0;
}

/** One shell word: the rules are built from chain names, ports and addresses, quoted all the same. */
const word = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
const line = (tool: string, args: readonly string[]) => [tool, "-w", ...args].map(word).join(" ");

/**
 * Runs iptables commands in one shell with root's rights, stopping at the first that fails (its
 * message is the error's): one `sudo` for a whole rule set, not one per rule.
 */
async function runRules(run: Privileged, commands: string[], what: string): Promise<string> {
  return run("/bin/sh", ["-c", ["set -e", ...commands].join("\n")], what);
}

/** Removes the chain of `uid` (and every jump to it); quiet when there is none. */
export async function removeEgress(run: Privileged, uid: number): Promise<void> {
  const chain = chainName(uid);
  const dns = dnsChainName(uid);
  const jump = (target: string) => ["-m", "owner", "--uid-owner", String(uid), "-j", target];
  const commands: string[] = [];
  // Every jump goes (a crash may have left several), then the chain; none of it may stop the rest.
  for (const [, tool] of FAMILIES)
    commands.push(
      `i=0; while [ $i -lt 20 ] && ${line(tool, ["-D", "OUTPUT", ...jump(chain)])} 2>/dev/null; do i=$((i+1)); done`,
      `${line(tool, ["-F", chain])} 2>/dev/null || true`,
      `${line(tool, ["-X", chain])} 2>/dev/null || true`,
    );
  commands.push(
    `i=0; while [ $i -lt 20 ] && ${line("iptables", ["-t", "nat", "-D", "OUTPUT", ...jump(dns)])} 2>/dev/null; do i=$((i+1)); done`,
    `${line("iptables", ["-t", "nat", "-F", dns])} 2>/dev/null || true`,
    `${line("iptables", ["-t", "nat", "-X", dns])} 2>/dev/null || true`,
  );
  await runRules(run, commands, "").catch(() => undefined);
}

/**
 * Refuses every packet of `uid`, in both families: for a room whose processes survived the
 * reaping, so that lifting the step's rules never hands a survivor the network. The refusal
 * goes in at the top of the chain (never a flush first, which would open it for a moment); the
 * jump from OUTPUT stays, or is made.
 */
export async function sealEgress(run: Privileged, uid: number): Promise<void> {
  const chain = chainName(uid);
  const rules = sealedRules(uid);
  for (const [family, tool] of FAMILIES) {
    await run(tool, ["-w", "-N", chain], "").catch(() => undefined);
    for (const rule of rules[family]) await run(tool, ["-w", ...rule], "sealing the egress chain");
    const hooked = await run(
      tool,
      ["-w", "-C", "OUTPUT", "-m", "owner", "--uid-owner", String(uid), "-j", chain],
      "",
    ).then(
      () => true,
      () => false,
    );
    if (!hooked)
      await run(
        tool,
        ["-w", "-I", "OUTPUT", "1", "-m", "owner", "--uid-owner", String(uid), "-j", chain],
        "hooking the sealed chain into OUTPUT",
      );
  }
}

/** Whether a chain for `uid` exists in either family (for tests and the post step's report). */
export async function egressInstalled(run: Privileged, uid: number): Promise<boolean> {
  for (const [, tool] of FAMILIES) {
    const listed = await run(tool, ["-w", "-S", chainName(uid)], "").then(
      () => true,
      () => false,
    );
    if (listed) return true;
  }
  return false;
}

export interface InstalledEgress {
  /** Host names that did not resolve (not reachable; reported in the summary). */
  unresolved: string[];
  report(): Promise<EgressReport>;
  /** Removes the rules and stops the name filter. */
  remove(): Promise<void>;
  /** Stops the name filter (the rules are removed by `removeEgress`). */
  close(): Promise<void>;
}

/** Names as they may appear in a summary: host-name characters only, bounded. */
const PRINTABLE_NAME = /^[a-z0-9_.-]{1,80}$/;

/**
 * Installs the chain for `uid`. Throws (the caller fails closed) when iptables is missing or a
 * rule is refused; whatever was installed is removed first.
 */
export async function installEgress(
  run: Privileged,
  uid: number,
  policy: EgressPolicy,
  opts: { resolvers?: string[] } = {},
): Promise<InstalledEgress> {
  const chain = chainName(uid);
  await removeEgress(run, uid);
  const { resolved, unresolved } =
    policy.kind === "allow" ? await resolve(policy.entries) : { resolved: [], unresolved: [] };
  const base = { uid, policy, resolved };
  // The LOG target names refused destinations where the kernel has it; without it, counts only.
  const probed = await runRules(
    run,
    [
      line("iptables", ["-N", chain]),
      `if ${line("iptables", ["-A", chain, "-j", "LOG", "--log-prefix", "aegis-probe "])} 2>/dev/null; then echo log; fi`,
      line("iptables", ["-F", chain]),
    ],
    "creating the egress chain",
  );
  const log = probed.trim() === "log";
  // Under an allow-list the room resolves names only through the filter, and only the listed ones.
  let filter: DnsFilter | undefined;
  if (policy.kind === "allow")
    filter = await startDnsFilter({
      allowed: policy.entries.map((e) => e.host).filter((h) => !isIP(h)),
      upstream: opts.resolvers ?? (await resolvers()),
    });
  const rules = buildRules({
    ...base,
    log,
    ...(filter ? { dnsPorts: { udp: filter.udpPort, tcp: filter.tcpPort } } : {}),
  });
  const hook = (tool: string, table: string[], target: string) =>
    line(tool, [...table, "-I", "OUTPUT", "1", "-m", "owner", "--uid-owner", String(uid), "-j", target]);
  const commands: string[] = [];
  for (const [family, tool] of FAMILIES) {
    if (family === "v6") commands.push(line(tool, ["-N", chain]));
    for (const rule of rules[family]) commands.push(line(tool, rule));
    commands.push(hook(tool, [], chain));
  }
  if (filter) {
    const dns = dnsChainName(uid);
    commands.push(line("iptables", ["-t", "nat", "-N", dns]));
    for (const rule of dnsRedirectRules(uid, { udp: filter.udpPort, tcp: filter.tcpPort }))
      commands.push(line("iptables", ["-t", "nat", ...rule]));
    commands.push(hook("iptables", ["-t", "nat"], dns));
  }
  try {
    await runRules(run, commands, "adding the egress rules");
  } catch (error) {
    await removeEgress(run, uid);
    await filter?.close();
    throw error;
  }
  // Kernel log lines carry seconds since boot: only lines from this installation count.
  const since = await uptime();
  return {
    unresolved,
    async report() {
      let refused = 0;
      for (const [, tool] of FAMILIES)
        refused += refusedPackets(await run(tool, ["-w", "-L", chain, "-v", "-x", "-n"], "").catch(() => ""));
      let destinations: string[] = [];
      if (refused > 0 && log) {
        const kernelLog = await run("dmesg", [], "").catch(() => "");
        destinations = refusedDestinations(kernelLog, uid, { since: since - 1 });
      }
      const lookups = filter?.refused();
      return {
        refused,
        destinations,
        ...(lookups?.count
          ? { lookupsRefused: lookups.count, names: lookups.names.filter((n) => PRINTABLE_NAME.test(n)) }
          : {}),
      };
    },
    remove: async () => {
      await removeEgress(run, uid);
      await filter?.close();
    },
    close: async () => {
      await filter?.close();
    },
  };
}
