/**
 * The DNS messages the room's name filter reads and writes (RFC 1035, the parts a stub
 * resolver's query uses). A name lookup is a way out of the machine even when every address is
 * refused: the resolver forwards `<data>.attacker.example` to the attacker's name server. So the
 * room's queries are answered only for the names it may reach (`run.egress`); any other gets
 * REFUSED without leaving the machine.
 */

export interface DnsQuery {
  id: number;
  /** Lower case, no trailing dot. */
  name: string;
  qtype: number;
  /** Where the (single) question ends. */
  questionEnd: number;
}

const HEADER = 12;
export const RCODE_REFUSED = 5;
export const RCODE_FORMERR = 1;

/** The one question of a standard query, or undefined for anything else (a reply, a compressed name, junk). */
export function parseQuery(msg: Buffer): DnsQuery | undefined {
  if (msg.length < HEADER + 5) return undefined;
  const flags = msg.readUInt16BE(2);
  const opcode = (flags >> 11) & 0xf;
  if (flags & 0x8000 || opcode !== 0 || msg.readUInt16BE(4) !== 1) return undefined;
  const labels: string[] = [];
  let at = HEADER;
  let total = 0;
  for (;;) {
    if (at >= msg.length) return undefined;
    const len = msg[at]!;
    at++;
    if (len === 0) break;
    // A pointer (0xc0) or the reserved forms: a query's one name is never compressed.
    if (len > 63 || at + len > msg.length) return undefined;
    total += len + 1;
    if (total > 255) return undefined;
    labels.push(
      msg
        .subarray(at, at + len)
        .toString("latin1")
        .toLowerCase(),
    );
    at += len;
  }
  if (at + 4 > msg.length) return undefined;
  return {
    id: msg.readUInt16BE(0),
    name: labels.join("."),
    qtype: msg.readUInt16BE(at),
    questionEnd: at + 4,
  };
}

/** An answer with no records and `rcode`, echoing the query's id, its question, and its RD bit. */
export function refusal(msg: Buffer, query: DnsQuery | undefined, rcode: number): Buffer {
  const out = Buffer.alloc(HEADER);
  out.writeUInt16BE(msg.length >= 2 ? msg.readUInt16BE(0) : 0, 0);
  const rd = msg.length >= 4 ? msg.readUInt16BE(2) & 0x0100 : 0;
  out.writeUInt16BE(0x8000 | rd | 0x0080 | rcode, 2);
  if (!query) return out;
  out.writeUInt16BE(1, 4);
  return Buffer.concat([out, msg.subarray(HEADER, query.questionEnd)]);
}

/** Whether `name` is one of `hosts` (compared without case or a trailing dot). */
export function nameAllowed(name: string, hosts: readonly string[]): boolean {
  const n = name.toLowerCase().replace(/\.$/, "");
  return hosts.some((h) => h.toLowerCase().replace(/\.$/, "") === n);
}
