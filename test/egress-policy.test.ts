// The egress policy as data: entries, the rule lists, and reading refusals back.
import { describe, expect, it } from "vitest";
import { parseConfig } from "../src/config.js";
import {
  dnsRedirectRules,
  buildRules,
  chainName,
  DEFAULT_EGRESS,
  egressPolicy,
  NEVER_V4,
  parseEgressEntry,
  refusedDestinations,
  refusedPackets,
} from "../src/core/egress.js";

describe("egress entries", () => {
  it("reads hosts, host:port, IPv4 and bracketed IPv6, and refuses the malformed", () => {
    expect(parseEgressEntry("registry.npmjs.org")).toEqual({ host: "registry.npmjs.org" });
    expect(parseEgressEntry("pypi.org:443")).toEqual({ host: "pypi.org", port: 443 });
    expect(parseEgressEntry("198.18.0.2:8080")).toEqual({ host: "198.18.0.2", port: 8080 });
    expect(parseEgressEntry("[fd42::2]:8080")).toEqual({ host: "fd42::2", port: 8080 });
    expect(parseEgressEntry("[fd42::2]")).toEqual({ host: "fd42::2" });
    for (const bad of ["", "host:0", "host:70000", "ho st", "[nope]:1", "http://x.org", "a:b:c", "x.org:"])
      expect(parseEgressEntry(bad), bad).toBeUndefined();
  });

  it("the default is the common registries; a bad entry in the config names the field and the form", () => {
    expect(parseConfig(undefined).run.egress).toEqual([...DEFAULT_EGRESS]);
    expect(DEFAULT_EGRESS.every((e) => parseEgressEntry(e) !== undefined)).toBe(true);
    expect(() => parseConfig("run:\n  egress: [registry.npmjs.org, 'http://evil.example']\n")).toThrow(
      /run\.egress\.1: expected a host, host:port, \[IPv6\]:port or "\*"/,
    );
    expect(egressPolicy(["*", "x.org"])).toEqual({ kind: "open" });
  });
});

describe("egress rules", () => {
  const uid = 995;
  const rules = buildRules({
    uid,
    policy: egressPolicy(["registry.npmjs.org:443", "10.1.2.3"]),
    resolved: [
      { host: "registry.npmjs.org", port: 443, v4: ["104.16.1.34"], v6: ["2606:4700::6810:122"] },
      { host: "10.1.2.3", v4: ["10.1.2.3"], v6: [] },
    ],
    log: true,
  });
  const text = (family: "v4" | "v6") => rules[family].map((r) => r.join(" "));

  it("refuses metadata first, then DNS to any resolver, allows loopback and each listed address, and refuses the rest", () => {
    const chain = chainName(uid);
    expect(text("v4")).toEqual([
      `-A ${chain} -d 169.254.0.0/16 -j REJECT`,
      `-A ${chain} -d 100.100.100.200/32 -j REJECT`,
      `-A ${chain} -d 168.63.129.16/32 -j REJECT`,
      `-A ${chain} -p udp --dport 53 -j REJECT`,
      `-A ${chain} -p tcp --dport 53 -j REJECT --reject-with tcp-reset`,
      `-A ${chain} -o lo -j RETURN`,
      `-A ${chain} -d 104.16.1.34 -p tcp --dport 443 -j RETURN`,
      `-A ${chain} -d 10.1.2.3 -j RETURN`,
      `-A ${chain} -j LOG --log-prefix aegis-egress-995  --log-uid`,
      `-A ${chain} -p tcp -j REJECT --reject-with tcp-reset`,
      `-A ${chain} -j REJECT`,
    ]);
    expect(text("v6")[0]).toBe(`-A ${chain} -d fd00:ec2::254/128 -j REJECT`);
    expect(text("v6")).toContain(`-A ${chain} -d 2606:4700::6810:122 -p tcp --dport 443 -j RETURN`);
    expect(text("v6")).toContain(`-A ${chain} -p udp --dport 53 -j REJECT`);
    expect(dnsRedirectRules(uid, { udp: 40001, tcp: 40002 }).map((r) => r.join(" "))).toEqual([
      `-A AEGIS-DNS-${uid} -p udp --dport 53 -j REDIRECT --to-ports 40001`,
      `-A AEGIS-DNS-${uid} -p tcp --dport 53 -j REDIRECT --to-ports 40002`,
    ]);
  });

  it('"*" keeps only the metadata refusals, then returns everything else to OUTPUT', () => {
    const open = buildRules({ uid, policy: { kind: "open" }, resolved: [], log: true });
    expect(open.v4.at(-1)).toEqual(["-A", chainName(uid), "-j", "RETURN"]);
    expect(open.v4.filter((r) => r.includes("REJECT"))).toHaveLength(NEVER_V4.length);
    // The chain never accepts: a rule the operator keeps after aegis's jump still applies.
    expect([...open.v4, ...open.v6, ...rules.v4, ...rules.v6].some((r) => r.includes("ACCEPT"))).toBe(false);
  });

  it("reads refusals back: packet counts from the listing, destinations from this step's kernel log lines", () => {
    const listing = [
      "Chain AEGIS-EGRESS-995 (1 references)",
      "    pkts      bytes target     prot opt in     out     source               destination",
      "       2      120 REJECT     0    --  *      *       0.0.0.0/0            169.254.0.0/16       reject-with icmp-port-unreachable",
      "      40     2400 ACCEPT     0    --  *      lo      0.0.0.0/0            0.0.0.0/0",
      "       3      180 LOG        0    --  *      *       0.0.0.0/0            0.0.0.0/0            LOG flags 8 level 4",
      "       3      180 REJECT     6    --  *      *       0.0.0.0/0            0.0.0.0/0            reject-with tcp-reset",
    ].join("\n");
    expect(refusedPackets(listing)).toBe(5);
    const log = [
      "[  100.000001] aegis-egress-995 IN= OUT=eth0 SRC=10.0.0.2 DST=198.18.0.9 LEN=60 PROTO=TCP SPT=1 DPT=80 UID=995",
      "[  200.000001] aegis-egress-995 IN= OUT=eth0 SRC=10.0.0.2 DST=198.18.0.2 LEN=60 PROTO=TCP SPT=1 DPT=8080 UID=995",
      "[  200.500001] aegis-egress-995 IN= OUT=eth0 SRC=10.0.0.2 DST=198.18.0.2 LEN=60 PROTO=TCP SPT=2 DPT=8080 UID=995",
      "[  201.000001] aegis-egress-995 IN= OUT=v SRC=fd42::1 DST=fd42:0000:0000:0000:0000:0000:0000:0002 LEN=80 PROTO=TCP SPT=3 DPT=443 UID=995",
      "[  201.000001] aegis-egress-9951 IN= OUT=eth0 SRC=10.0.0.2 DST=203.0.113.1 LEN=60 PROTO=TCP SPT=1 DPT=80 UID=9951",
    ].join("\n");
    expect(refusedDestinations(log, 995, { since: 150 })).toEqual([
      "198.18.0.2:8080 (×2)",
      "[fd42:0000:0000:0000:0000:0000:0000:0002]:443",
    ]);
  });
});
