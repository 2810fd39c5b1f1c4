// Destructive SQL sent to database clients, by argument or on standard input.
import type { Arg } from "../words.js";
import type { Stdin } from "./context.js";

/** Option names carrying SQL text, per client. */
const SQL_OPTIONS: Record<string, readonly string[]> = {
  psql: ["-c", "--command"],
  mysql: ["-e", "--execute"],
  mariadb: ["-e", "--execute"],
  sqlite3: ["-cmd"],
  sqlite: ["-cmd"],
  duckdb: ["-c", "-cmd"],
  sqlcmd: ["-Q", "-q"],
  "clickhouse-client": ["-q", "--query"],
  clickhouse: ["-q", "--query"],
  cockroach: ["-e", "--execute"],
  mongo: ["--eval"],
  mongosh: ["--eval"],
  "redis-cli": [],
};

export const SQL_CLIENTS = new Set([...Object.keys(SQL_OPTIONS), "dropdb", "dropuser"]);

export function sqlRefusal(name: string, args: readonly Arg[], stdin: Stdin): string | null {
  if (name === "dropdb" || name === "dropuser")
    return `Blocked: ${name} destroys a database object. Schema changes go through migrations in a pull request.`;
  const opts = SQL_OPTIONS[name] ?? [];
  const texts: string[] = [];
  const words = args.map((a) => a.value);
  for (let i = 0; i < words.length; i++) {
    const w = words[i] as string;
    for (const o of opts) {
      if (w === o) texts.push(words[i + 1] ?? "");
      else if (o.startsWith("--") && w.startsWith(`${o}=`)) texts.push(w.slice(o.length + 1));
      else if (!o.startsWith("--") && o.length === 2 && w.startsWith(o) && w.length > 2 && name !== "sqlite3")
        texts.push(w.slice(2));
    }
  }
  if (name === "sqlite3" || name === "sqlite" || name === "duckdb") {
    // sqlite3 DB "SQL…": every operand after the database file is SQL.
    const operands = words.filter((w, i) => !w.startsWith("-") && !opts.includes(words[i - 1] ?? ""));
    texts.push(...operands.slice(1));
  }
  if (name === "redis-cli") {
    const cmd = words.find((w) => /^(flushall|flushdb|del|unlink|config|shutdown|script|eval)$/i.test(w));
    if (cmd && /^(flushall|flushdb|shutdown)$/i.test(cmd))
      return `Blocked: redis-cli ${cmd} wipes or stops the database.`;
    return null;
  }
  if (stdin.kind === "text") texts.push(stdin.text);
  for (const t of texts) {
    const why = destructiveSql(t);
    if (why)
      return `Blocked: ${why} sent to ${name}. Destructive schema or data changes go through migrations in a pull request, never against a live database.`;
  }
  return null;
}

/** Names the destructive statement in `sql`, or null. Mongo shell calls are recognised too. */
export function destructiveSql(sql: string): string | null {
  const cleaned = sql
    .replace(/--[^\n]*/g, " ")
    .replace(/\/\*[\s\S]*?\*\//g, " ")
    .replace(/'(?:[^']|'')*'/g, "''");
  if (/\.(dropDatabase|drop)\s*\(|\.(deleteMany|remove)\s*\(\s*\{\s*\}\s*\)/.test(cleaned))
    return "a MongoDB drop/delete-all";
  for (const stmt of cleaned.split(";")) {
    const s = stmt.trim().replace(/\s+/g, " ");
    if (
      /\bdrop\s+(table|database|schema|view|index|column|constraint|user|role|function|procedure|trigger|sequence|type|extension|materialized|owned|if\s+exists)\b/i.test(
        s,
      ) ||
      /^drop\b/i.test(s)
    )
      return "DROP";
    if (/^truncate\b|\btruncate\s+table\b/i.test(s)) return "TRUNCATE";
    if (/\bdelete\s+(\w+\s+)?from\b/i.test(s) && !/\bwhere\b/i.test(s)) return "DELETE without WHERE";
    if (/^(with\b.*\)\s*)?update\s+\S+(\s+\w+)?\s+set\b/i.test(s) && !/\bwhere\b/i.test(s))
      return "UPDATE without WHERE";
  }
  return null;
}
