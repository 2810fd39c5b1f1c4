// In-memory model of the repository's issue tracker. The git side lives in the bare repo.
export type Permission = "admin" | "maintain" | "write" | "triage" | "read" | "none";

export interface LabelRec {
  id: number;
  name: string;
  color: string;
  description: string | null;
  default: boolean;
}

export interface PullRec {
  head: string;
  base: string;
  draft: boolean;
  merged: boolean;
  mergedAt: string | null;
  mergeCommitSha: string | null;
  mergedBy: string | null;
  /** Head sha frozen when the head branch is deleted after a merge or close. */
  lastHeadSha: string | null;
  /** Logins asked to review. */
  reviewers?: string[];
}

export interface IssueRec {
  number: number;
  id: number;
  title: string;
  body: string | null;
  state: "open" | "closed";
  stateReason: "completed" | "not_planned" | "reopened" | "duplicate" | null;
  /** Label ids, in the order they were added. */
  labels: number[];
  assignees: string[];
  user: string;
  createdAt: string;
  updatedAt: string;
  closedAt: string | null;
  closedBy: string | null;
  locked: boolean;
  deleted: boolean;
  pull?: PullRec;
}

export interface CommentRec {
  id: number;
  issue: number;
  body: string;
  user: string;
  createdAt: string;
  updatedAt: string;
}

/** An inline review comment on a pull request's diff. */
export interface ReviewCommentRec {
  id: number;
  pull: number;
  path: string;
  line: number;
  body: string;
  user: string;
  commitId: string;
  createdAt: string;
  /** The thread's first comment, for a reply. */
  inReplyTo?: number;
}

/** A reaction on a conversation comment or an inline review comment. */
export interface ReactionRec {
  id: number;
  subject: "issue-comment" | "review-comment";
  commentId: number;
  user: string;
  content: string;
  createdAt: string;
}

export interface EventRec {
  id: number;
  issue: number;
  event: "labeled" | "unlabeled" | "closed" | "reopened" | "merged";
  actor: string;
  label?: { name: string; color: string };
  createdAt: string;
}

/** GitHub timestamps have second precision; a monotonic clock keeps orderings stable. */
export class Clock {
  private last = 0;
  now(): string {
    const t = Math.max(Date.now(), this.last + 1);
    this.last = t;
    return new Date(t).toISOString().replace(/\.\d{3}Z$/, "Z");
  }
}

/** An advisory of GitHub's global database (routes/advisories.ts). */
export interface AdvisoryRec {
  ghsaId: string;
  type: "reviewed" | "malware" | "unreviewed";
  severity: "low" | "medium" | "high" | "critical" | "unknown";
  summary: string;
  ecosystem: string;
  vulnerabilities: { name: string; range: string }[];
}

export class Store {
  readonly clock = new Clock();
  readonly labels = new Map<number, LabelRec>();
  readonly issues = new Map<number, IssueRec>();
  readonly comments = new Map<number, CommentRec>();
  readonly reviewComments = new Map<number, ReviewCommentRec>();
  readonly reactions: ReactionRec[] = [];
  readonly events: EventRec[] = [];
  readonly users = new Map<string, Permission>();
  readonly advisories: AdvisoryRec[] = [];
  /** Commits made through the REST API without a signature of their own: GitHub signs them. */
  readonly signedCommits = new Set<string>();
  private nextIssue = 1;
  private nextId = 1000;

  id(): number {
    return this.nextId++;
  }

  issueNumber(): number {
    return this.nextIssue++;
  }

  /** Case-insensitive, like GitHub. */
  findLabel(name: string): LabelRec | undefined {
    const key = name.toLowerCase();
    for (const l of this.labels.values()) if (l.name.toLowerCase() === key) return l;
    return undefined;
  }

  ensureLabel(name: string): LabelRec {
    const found = this.findLabel(name);
    if (found) return found;
    const rec: LabelRec = { id: this.id(), name, color: "ededed", description: null, default: false };
    this.labels.set(rec.id, rec);
    return rec;
  }

  labelNames(issue: IssueRec): string[] {
    return issue.labels.map((id) => this.labels.get(id)?.name).filter((n): n is string => n !== undefined);
  }

  commentsOf(issue: number): CommentRec[] {
    return [...this.comments.values()].filter((c) => c.issue === issue).sort((a, b) => a.id - b.id);
  }

  event(issue: number, event: EventRec["event"], actor: string, label?: LabelRec): void {
    this.events.push({
      id: this.id(),
      issue,
      event,
      actor,
      createdAt: this.clock.now(),
      ...(label ? { label: { name: label.name, color: label.color } } : {}),
    });
  }
}
