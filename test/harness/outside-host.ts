// A stand-in "outside host" for egress tests: a network namespace joined to this one by a veth
// pair, with an HTTP server that records every request it receives. It also answers on a cloud
// metadata address of each family (routed to it for the test's duration), so a refusal there
// is the firewall's doing, not a missing route. Everything is removed by close().
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const exec = promisify(execFile);

export interface OutsideHost {
  v4: string;
  v6: string;
  /** A metadata address of each family that routes to this host. */
  metadataV4: string;
  metadataV6: string;
  port: number;
  /** `host:port` entries for `run.egress` that name this host. */
  egressEntries: string[];
  /** Request lines and bodies received, in order. */
  received(): Promise<string[]>;
  close(): Promise<void>;
}

const SERVER = `
const http = require('http'); const fs = require('fs');
const log = process.argv[1];
const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    fs.appendFileSync(log, JSON.stringify({ host: req.socket.localAddress, line: req.method + ' ' + req.url, body }) + '\\n');
    res.end('received');
  });
});
server.listen({ port: 8080, host: '::', ipv6Only: false }, () => fs.appendFileSync(log, ''));
`;

async function ip(...args: string[]): Promise<void> {
  await exec("ip", args);
}

function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, timeout: 500 }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
    socket.on("timeout", () => {
      socket.destroy();
      resolve(false);
    });
  });
}

export async function startOutsideHost(): Promise<OutsideHost> {
  const id = randomBytes(3).toString("hex");
  const octet = 1 + (randomBytes(1)[0]! % 250);
  const ns = `aegt-ns-${id}`;
  const hostSide = `aegh${id}`;
  const nsSide = `aegn${id}`;
  const v4 = `198.18.${octet}.2`;
  const v6 = `fd42:ae:${octet.toString(16)}::2`;
  const metadataV4 = "169.254.170.2";
  const metadataV6 = "fd00:ec2::254";
  const dir = await mkdtemp(path.join(os.tmpdir(), "aegis-outside-"));
  const log = path.join(dir, "received.jsonl");
  let server: ChildProcess | undefined;
  const close = async () => {
    server?.kill("SIGKILL");
    await exec("ip", ["route", "del", `${metadataV4}/32`, "dev", hostSide]).catch(() => undefined);
    await exec("ip", ["-6", "route", "del", `${metadataV6}/128`, "dev", hostSide]).catch(() => undefined);
    await exec("ip", ["link", "del", hostSide]).catch(() => undefined);
    await exec("ip", ["netns", "del", ns]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await ip("netns", "add", ns);
    await ip("link", "add", hostSide, "type", "veth", "peer", "name", nsSide);
    await ip("link", "set", nsSide, "netns", ns);
    await ip("addr", "add", `198.18.${octet}.1/24`, "dev", hostSide);
    await ip("-6", "addr", "add", `fd42:ae:${octet.toString(16)}::1/64`, "dev", hostSide, "nodad");
    await ip("link", "set", hostSide, "up");
    await ip("-n", ns, "link", "set", "lo", "up");
    await ip("-n", ns, "addr", "add", `${v4}/24`, "dev", nsSide);
    await ip("-n", ns, "addr", "add", `${metadataV4}/32`, "dev", nsSide);
    await ip("-n", ns, "-6", "addr", "add", `${v6}/64`, "dev", nsSide, "nodad");
    await ip("-n", ns, "-6", "addr", "add", `${metadataV6}/128`, "dev", nsSide, "nodad");
    await ip("-n", ns, "link", "set", nsSide, "up");
    await ip("-n", ns, "route", "add", "default", "via", `198.18.${octet}.1`);
    await ip("-n", ns, "-6", "route", "add", "default", "via", `fd42:ae:${octet.toString(16)}::1`);
    await ip("route", "add", `${metadataV4}/32`, "dev", hostSide, "via", v4);
    await ip("-6", "route", "add", `${metadataV6}/128`, "dev", hostSide, "via", v6);
    server = spawn("ip", ["netns", "exec", ns, process.execPath, "-e", SERVER, log], { stdio: "ignore" });
    for (let i = 0; i < 100 && !(await reachable(v4, 8080)); i++) await new Promise((r) => setTimeout(r, 50));
    if (!(await reachable(v4, 8080))) throw new Error("the outside host's server did not start");
    // The metadata stand-ins answer too: without the firewall they would be reachable.
    if (!(await reachable(metadataV4, 8080)) || !(await reachable(metadataV6, 8080)))
      throw new Error("the metadata stand-ins are not reachable from the test's own user");
  } catch (error) {
    await close();
    throw error;
  }
  return {
    v4,
    v6,
    metadataV4,
    metadataV6,
    port: 8080,
    egressEntries: [`${v4}:8080`, `[${v6}]:8080`],
    received: async () =>
      (await readFile(log, "utf8").catch(() => ""))
        .split("\n")
        .filter(Boolean)
        .map((l) => {
          const r = JSON.parse(l) as { host: string; line: string; body: string };
          return `${r.host} ${r.line} ${r.body}`;
        }),
    close,
  };
}
