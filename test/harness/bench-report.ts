// The benchmark's figures, their targets, and the table they are printed as. Pure: no I/O, so
// test/bench.test.ts checks target logic and rendering without running the bench.

export type Comparator = "<=" | ">=" | "==";

export interface Target {
  op: Comparator;
  limit: number | boolean;
}

export interface Figure {
  /** Stable key for the JSON (`api.intake`, `ledger.10000.cycle`). */
  id: string;
  section: string;
  label: string;
  /** `null`: could not be measured in this run (see `note`). */
  value: number | boolean | null;
  unit: string;
  /** No target: the figure is informational. */
  target?: Target;
  note?: string;
  /** API calls per endpoint (`GET contents/{path}` → 1), for the figures that count calls. */
  breakdown?: Record<string, number>;
  /** The measurement broke: something that must work did not. Fails the bench like a miss. */
  error?: string;
}

export type Status = "ok" | "MISSED" | "FAILED" | "n/a" | "info";

export function statusOf(figure: Figure): Status {
  if (figure.error !== undefined) return "FAILED";
  if (figure.value === null) return "n/a";
  if (!figure.target) return "info";
  return meets(figure.value, figure.target) ? "ok" : "MISSED";
}

export function meets(value: number | boolean, target: Target): boolean {
  if (typeof target.limit === "boolean" || typeof value === "boolean") {
    return target.op === "==" && value === target.limit;
  }
  switch (target.op) {
    case "<=":
      return value <= target.limit;
    case ">=":
      return value >= target.limit;
    case "==":
      return value === target.limit;
  }
}

/** Figures that fail the bench: a target missed, or a measurement that broke. */
export function missed(figures: readonly Figure[]): Figure[] {
  return figures.filter((f) => statusOf(f) === "MISSED" || statusOf(f) === "FAILED");
}

const OP_TEXT: Record<Comparator, string> = { "<=": "≤", ">=": "≥", "==": "=" };

export function formatNumber(n: number): string {
  if (Number.isInteger(n)) return n.toLocaleString("en-US");
  const digits = Math.abs(n) >= 100 ? 0 : Math.abs(n) >= 10 ? 1 : 2;
  return n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${formatNumber(Math.round((n / 1024) * 10) / 10)} KiB`;
  return `${formatNumber(Math.round((n / 1024 / 1024) * 100) / 100)} MiB`;
}

export function formatValue(value: number | boolean | null, unit: string): string {
  if (value === null) return "not available";
  if (typeof value === "boolean") return value ? "yes" : "NO";
  if (unit === "bytes") return formatBytes(value);
  if (unit === "×") return `${formatNumber(value)}×`;
  if (!unit) return formatNumber(value);
  // "1 call", "1 retry": the plural units the bench uses.
  const singular =
    value === 1 ? ({ calls: "call", retries: "retry" } as Record<string, string>)[unit] : undefined;
  return `${formatNumber(value)} ${singular ?? unit}`;
}

export function formatTarget(figure: Figure): string {
  const t = figure.target;
  if (!t) return "—";
  if (typeof t.limit === "boolean") return t.limit ? "yes" : "no";
  const limit = figure.unit === "bytes" ? formatBytes(t.limit) : formatNumber(t.limit);
  return `${OP_TEXT[t.op]} ${limit}${figure.unit === "×" ? "×" : ""}`;
}

/** `GET /repos/{owner}/{repo}/contents/{path}` → `GET contents/{path}`: the repo prefix is noise. */
export function shortRoute(route: string): string {
  return route.replace(" /repos/{owner}/{repo}/", " ").replace(" /repos/{owner}/{repo}", " repo");
}

/**
 * Calls per endpoint, git smart-HTTP (`GIT …`, the checkout) left out: it is not REST quota.
 * Failed calls are keyed apart (`… → 404`): a call that fails is the plainest kind of waste.
 */
export function countByRoute(calls: readonly { route: string; status?: number }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const { route, status } of calls) {
    if (route.startsWith("GIT")) continue;
    const key = shortRoute(route) + (status !== undefined && status >= 400 ? ` → ${status}` : "");
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

export function totalCalls(counts: Readonly<Record<string, number>>): number {
  return Object.values(counts).reduce((sum, n) => sum + n, 0);
}

export function addCounts(...parts: readonly Readonly<Record<string, number>>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of parts) for (const [k, n] of Object.entries(part)) out[k] = (out[k] ?? 0) + n;
  return out;
}

/** `a − b` per endpoint, zeros dropped: the marginal cost of what `a` did beyond `b`. */
export function subtractCounts(
  a: Readonly<Record<string, number>>,
  b: Readonly<Record<string, number>>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const n = (a[key] ?? 0) - (b[key] ?? 0);
    if (n !== 0) out[key] = n;
  }
  return out;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error("median of nothing");
  const sorted = [...values].sort((x, y) => x - y);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The plan summary's "after N concurrent-write retries" (absent when there were none). */
export function retriesFromSummary(summary: string): number {
  const m = /after (\d+) concurrent-write retr(?:y|ies)/.exec(summary);
  return m ? Number(m[1]) : 0;
}

function pad(text: string, width: number): string {
  // Characters, not UTF-16 units: "≤" and "×" are one column each.
  return text + " ".repeat(Math.max(0, width - [...text].length));
}

/** One aligned plain-text table, a blank line between sections. */
export function renderTable(figures: readonly Figure[]): string {
  const head = ["Figure", "Value", "Target", "Status"];
  const rows = figures.map((f) => [
    f.label,
    f.error !== undefined ? "failed" : formatValue(f.value, f.unit),
    formatTarget(f),
    statusOf(f),
  ]);
  const INDENT = "  ";
  const widths = head.map((h, i) =>
    Math.max([...h].length, ...rows.map((r) => [...r[i]!].length + (i === 0 ? INDENT.length : 0))),
  );
  const line = (cells: string[]) =>
    cells
      .map((c, i) => pad(c, widths[i]!))
      .join("  ")
      .trimEnd();
  const out = [line(head), line(widths.map((w) => "─".repeat(w)))];
  let section: string | undefined;
  figures.forEach((f, i) => {
    if (f.section !== section) {
      if (section !== undefined) out.push("");
      out.push(`${f.section}`);
      section = f.section;
    }
    out.push(line(rows[i]!.map((c, j) => (j === 0 ? `${INDENT}${c}` : c))));
  });
  return out.join("\n");
}

/** Notes and endpoint breakdowns under the table, so waste is visible per operation. */
export function renderDetails(figures: readonly Figure[]): string {
  const out: string[] = [];
  for (const f of figures) {
    const parts: string[] = [];
    if (f.breakdown && Object.keys(f.breakdown).length) {
      parts.push(
        Object.entries(f.breakdown)
          .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
          .map(([route, n]) => `${route} ×${n}`)
          .join(" · "),
      );
    }
    if (f.error !== undefined) parts.push(`FAILED: ${f.error}`);
    if (f.note) parts.push(f.note);
    if (parts.length) out.push(`- ${f.label}: ${parts.join(" — ")}`);
  }
  return out.join("\n");
}

export interface BenchDocument {
  startedAt: string;
  durationMs: number;
  machine: { node: string; cpus: number; platform: string };
  /** The action entry point measured (dist/index.js unless AEGIS_BENCH_ENTRY says otherwise). */
  entry: string;
  passed: boolean;
  missed: string[];
  figures: (Figure & { status: Status })[];
}

export function benchDocument(
  figures: readonly Figure[],
  meta: Omit<BenchDocument, "passed" | "missed" | "figures">,
): BenchDocument {
  const miss = missed(figures).map((f) => f.id);
  return {
    ...meta,
    passed: miss.length === 0,
    missed: miss,
    figures: figures.map((f) => ({ ...f, status: statusOf(f) })),
  };
}
