/**
 * The room's name server: a loopback DNS server of the action's (UDP and TCP) that the room's
 * user is sent to whatever resolver it asks (a nat REDIRECT in the egress rules). Queries for the
 * names of `run.egress` go on to the machine's resolver and the answer comes back; any other name
 * is answered REFUSED here, so it never leaves the machine (see core/dns.ts).
 */
import dgram from "node:dgram";
import net, { isIP } from "node:net";
import {
  type DnsQuery,
  nameAllowed,
  parseQuery,
  RCODE_FORMERR,
  RCODE_REFUSED,
  refusal,
} from "../core/dns.js";

export interface DnsFilter {
  udpPort: number;
  tcpPort: number;
  /** Names refused (the first 20) and how many queries were. */
  refused(): { count: number; names: string[] };
  close(): Promise<void>;
}

const UPSTREAM_TIMEOUT_MS = 4_000;
const MAX_TCP_MESSAGE = 65_535;

export async function startDnsFilter(opts: { allowed: string[]; upstream: string[] }): Promise<DnsFilter> {
  const upstream = opts.upstream.find((a) => isIP(a));
  const refusedNames = new Set<string>();
  let refusedCount = 0;

  /** The answer to one query: forwarded when its name is allowed, refused here otherwise. */
  const answer = async (msg: Buffer, overTcp: boolean): Promise<Buffer | undefined> => {
    const query = parseQuery(msg);
    if (!query) return refusal(msg, undefined, RCODE_FORMERR);
    if (!upstream || !nameAllowed(query.name, opts.allowed)) {
      refusedCount++;
      if (refusedNames.size < 20) refusedNames.add(query.name);
      return refusal(msg, query, RCODE_REFUSED);
    }
    return overTcp ? forwardTcp(upstream, msg) : forwardUdp(upstream, msg, query);
  };

  const udp = dgram.createSocket({ type: "udp4" });
  udp.on("message", (msg, rinfo) => {
    void answer(msg, false).then((reply) => {
      if (reply) udp.send(reply, rinfo.port, rinfo.address);
    });
  });
  udp.on("error", () => undefined);
  await new Promise<void>((resolve, reject) => {
    udp.once("error", reject);
    udp.bind(0, "127.0.0.1", () => resolve());
  });

  const tcp = net.createServer((socket) => {
    let buffered = Buffer.alloc(0);
    let busy = Promise.resolve();
    socket.setTimeout(10_000, () => socket.destroy());
    socket.on("error", () => undefined);
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2) {
        const len = buffered.readUInt16BE(0);
        if (buffered.length < 2 + len) break;
        const msg = buffered.subarray(2, 2 + len);
        buffered = buffered.subarray(2 + len);
        busy = busy.then(async () => {
          const reply = await answer(Buffer.from(msg), true);
          if (!reply || socket.destroyed) return;
          const head = Buffer.alloc(2);
          head.writeUInt16BE(reply.length);
          socket.write(Buffer.concat([head, reply]));
        });
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    tcp.once("error", reject);
    tcp.listen(0, "127.0.0.1", () => resolve());
  });
  let closed = false;
  // Neither keeps the action alive: they serve while the room runs, and go with the process.
  udp.unref();
  tcp.unref();

  return {
    udpPort: udp.address().port,
    tcpPort: (tcp.address() as net.AddressInfo).port,
    refused: () => ({ count: refusedCount, names: [...refusedNames] }),
    close: async () => {
      if (closed) return;
      closed = true;
      await new Promise<void>((resolve) => udp.close(() => resolve()));
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    },
  };
}

function forwardUdp(upstream: string, msg: Buffer, query: DnsQuery): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket(isIP(upstream) === 6 ? "udp6" : "udp4");
    const done = (reply: Buffer | undefined) => {
      clearTimeout(timer);
      socket.close();
      resolve(reply);
    };
    // No answer: the room's resolver asks again, as it would of a slow server.
    const timer = setTimeout(() => done(undefined), UPSTREAM_TIMEOUT_MS);
    socket.on("message", (reply) => {
      if (reply.length >= 2 && reply.readUInt16BE(0) === query.id) done(reply);
    });
    socket.on("error", () => done(undefined));
    socket.send(msg, 53, upstream);
  });
}

function forwardTcp(upstream: string, msg: Buffer): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: upstream, port: 53 });
    let buffered = Buffer.alloc(0);
    const done = (reply: Buffer | undefined) => {
      socket.destroy();
      resolve(reply);
    };
    socket.setTimeout(UPSTREAM_TIMEOUT_MS, () => done(undefined));
    socket.on("error", () => done(undefined));
    socket.on("connect", () => {
      const head = Buffer.alloc(2);
      head.writeUInt16BE(msg.length);
      socket.write(Buffer.concat([head, msg]));
    });
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length > 2 + MAX_TCP_MESSAGE) return done(undefined);
      if (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0))
        done(buffered.subarray(2, 2 + buffered.readUInt16BE(0)));
    });
  });
}
