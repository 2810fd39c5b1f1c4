// JSON builders for GitHub's response schemas: every required field, nothing from GitHub's
// examples (some of which fail their own schemas).
import type {
  CommentRec,
  EventRec,
  IssueRec,
  LabelRec,
  Permission,
  ReactionRec,
  ReviewCommentRec,
  Store,
} from "./state.js";

export interface Site {
  url: string;
  owner: string;
  repo: string;
}

export const BOT_LOGIN = "github-actions[bot]";

function hashId(s: string): number {
  let h = 7;
  for (const c of s) h = (h * 31 + c.charCodeAt(0)) % 2_000_000_000;
  return h;
}

export function repoApi(site: Site): string {
  return `${site.url}/repos/${site.owner}/${site.repo}`;
}

export function repoHtml(site: Site): string {
  return `${site.url}/${site.owner}/${site.repo}`;
}

export function user(site: Site, login: string): Record<string, unknown> {
  const u = `${site.url}/users/${encodeURIComponent(login)}`;
  return {
    login,
    id: hashId(login),
    node_id: `U_${hashId(login)}`,
    avatar_url: `${site.url}/avatars/${encodeURIComponent(login)}`,
    gravatar_id: "",
    url: u,
    html_url: `${site.url}/${encodeURIComponent(login)}`,
    followers_url: `${u}/followers`,
    following_url: `${u}/following{/other_user}`,
    gists_url: `${u}/gists{/gist_id}`,
    starred_url: `${u}/starred{/owner}{/repo}`,
    subscriptions_url: `${u}/subscriptions`,
    organizations_url: `${u}/orgs`,
    repos_url: `${u}/repos`,
    events_url: `${u}/events{/privacy}`,
    received_events_url: `${u}/received_events`,
    type: login.endsWith("[bot]") ? "Bot" : "User",
    user_view_type: "public",
    site_admin: false,
  };
}

export function label(site: Site, l: LabelRec): Record<string, unknown> {
  return {
    id: l.id,
    node_id: `LA_${l.id}`,
    url: `${repoApi(site)}/labels/${encodeURIComponent(l.name)}`,
    name: l.name,
    description: l.description,
    color: l.color,
    default: l.default,
  };
}

function authorAssociation(store: Store, login: string): string {
  const p = store.users.get(login);
  if (login === BOT_LOGIN) return "NONE";
  return p === "admin" || p === "maintain" || p === "write" ? "COLLABORATOR" : "NONE";
}

function reactions(url: string): Record<string, unknown> {
  return {
    url: `${url}/reactions`,
    total_count: 0,
    "+1": 0,
    "-1": 0,
    laugh: 0,
    confused: 0,
    heart: 0,
    hooray: 0,
    eyes: 0,
    rocket: 0,
  };
}

export function issue(site: Site, store: Store, i: IssueRec): Record<string, unknown> {
  const api = `${repoApi(site)}/issues/${i.number}`;
  const labels = i.labels.map((id) => store.labels.get(id)).filter((l): l is LabelRec => l !== undefined);
  const body: Record<string, unknown> = {
    id: i.id,
    node_id: `I_${i.id}`,
    url: api,
    repository_url: repoApi(site),
    labels_url: `${api}/labels{/name}`,
    comments_url: `${api}/comments`,
    events_url: `${api}/events`,
    html_url: `${repoHtml(site)}/${i.pull ? "pull" : "issues"}/${i.number}`,
    number: i.number,
    state: i.state,
    state_reason: i.stateReason,
    title: i.title,
    body: i.body,
    user: user(site, i.user),
    labels: labels.map((l) => label(site, l)),
    assignee: i.assignees[0] ? user(site, i.assignees[0]) : null,
    assignees: i.assignees.map((a) => user(site, a)),
    milestone: null,
    locked: i.locked,
    active_lock_reason: null,
    comments: store.commentsOf(i.number).length,
    closed_at: i.closedAt,
    created_at: i.createdAt,
    updated_at: i.updatedAt,
    closed_by: i.closedBy ? user(site, i.closedBy) : null,
    author_association: authorAssociation(store, i.user),
    reactions: reactions(api),
  };
  if (i.pull) {
    body.pull_request = {
      url: `${repoApi(site)}/pulls/${i.number}`,
      html_url: `${repoHtml(site)}/pull/${i.number}`,
      diff_url: `${repoHtml(site)}/pull/${i.number}.diff`,
      patch_url: `${repoHtml(site)}/pull/${i.number}.patch`,
      merged_at: i.pull.mergedAt,
    };
    body.draft = i.pull.draft;
  }
  return body;
}

export function comment(site: Site, store: Store, c: CommentRec): Record<string, unknown> {
  return {
    id: c.id,
    node_id: `IC_${c.id}`,
    url: `${repoApi(site)}/issues/comments/${c.id}`,
    html_url: `${repoHtml(site)}/issues/${c.issue}#issuecomment-${c.id}`,
    issue_url: `${repoApi(site)}/issues/${c.issue}`,
    body: c.body,
    user: user(site, c.user),
    created_at: c.createdAt,
    updated_at: c.updatedAt,
    author_association: authorAssociation(store, c.user),
    reactions: reactions(`${repoApi(site)}/issues/comments/${c.id}`),
  };
}

export function reviewComment(site: Site, store: Store, c: ReviewCommentRec): Record<string, unknown> {
  const self = `${repoApi(site)}/pulls/comments/${c.id}`;
  const html = `${repoHtml(site)}/pull/${c.pull}#discussion_r${c.id}`;
  const pull = `${repoApi(site)}/pulls/${c.pull}`;
  return {
    url: self,
    pull_request_review_id: c.id + 1,
    id: c.id,
    node_id: `PRRC_${c.id}`,
    diff_hunk: `@@ -${c.line},1 +${c.line},1 @@`,
    path: c.path,
    position: c.line,
    original_position: c.line,
    commit_id: c.commitId,
    original_commit_id: c.commitId,
    user: user(site, c.user),
    body: c.body,
    created_at: c.createdAt,
    updated_at: c.createdAt,
    html_url: html,
    pull_request_url: pull,
    author_association: authorAssociation(store, c.user),
    _links: { self: { href: self }, html: { href: html }, pull_request: { href: pull } },
    line: c.line,
    original_line: c.line,
    side: "RIGHT",
    subject_type: "line",
    reactions: reactions(self),
    ...(c.inReplyTo ? { in_reply_to_id: c.inReplyTo } : {}),
  };
}

export function reaction(site: Site, r: ReactionRec): Record<string, unknown> {
  return {
    id: r.id,
    node_id: `REA_${r.id}`,
    user: user(site, r.user),
    content: r.content,
    created_at: r.createdAt,
  };
}

export function labeledEvent(site: Site, e: EventRec): Record<string, unknown> {
  return {
    id: e.id,
    node_id: `LE_${e.id}`,
    url: `${repoApi(site)}/issues/events/${e.id}`,
    actor: user(site, e.actor),
    event: e.event,
    commit_id: null,
    commit_url: null,
    created_at: e.createdAt,
    performed_via_github_app: null,
    ...(e.label ? { label: e.label } : {}),
  };
}

export function permissionsFor(p: Permission): Record<string, boolean> {
  const rank = ["none", "read", "triage", "write", "maintain", "admin"].indexOf(p);
  return { admin: rank >= 5, maintain: rank >= 4, push: rank >= 3, triage: rank >= 2, pull: rank >= 1 };
}

/** `permission` is the legacy base role: maintain maps to write, triage to read. */
export function legacyPermission(p: Permission): "admin" | "write" | "read" | "none" {
  if (p === "maintain") return "write";
  if (p === "triage") return "read";
  return p;
}

export function repository(
  site: Site,
  defaultBranch: string,
  createdAt: string,
  perm: Permission,
): Record<string, unknown> {
  const api = repoApi(site);
  const html = repoHtml(site);
  return {
    id: hashId(`${site.owner}/${site.repo}`),
    node_id: `R_${hashId(site.repo)}`,
    name: site.repo,
    full_name: `${site.owner}/${site.repo}`,
    owner: user(site, site.owner),
    private: false,
    html_url: html,
    description: "Fake repository served by the aegis test harness",
    fork: false,
    url: api,
    archive_url: `${api}/{archive_format}{/ref}`,
    assignees_url: `${api}/assignees{/user}`,
    blobs_url: `${api}/git/blobs{/sha}`,
    branches_url: `${api}/branches{/branch}`,
    collaborators_url: `${api}/collaborators{/collaborator}`,
    comments_url: `${api}/comments{/number}`,
    commits_url: `${api}/commits{/sha}`,
    compare_url: `${api}/compare/{base}...{head}`,
    contents_url: `${api}/contents/{+path}`,
    contributors_url: `${api}/contributors`,
    deployments_url: `${api}/deployments`,
    downloads_url: `${api}/downloads`,
    events_url: `${api}/events`,
    forks_url: `${api}/forks`,
    git_commits_url: `${api}/git/commits{/sha}`,
    git_refs_url: `${api}/git/refs{/sha}`,
    git_tags_url: `${api}/git/tags{/sha}`,
    git_url: `${html}.git`,
    issue_comment_url: `${api}/issues/comments{/number}`,
    issue_events_url: `${api}/issues/events{/number}`,
    issues_url: `${api}/issues{/number}`,
    keys_url: `${api}/keys{/key_id}`,
    labels_url: `${api}/labels{/name}`,
    languages_url: `${api}/languages`,
    merges_url: `${api}/merges`,
    milestones_url: `${api}/milestones{/number}`,
    notifications_url: `${api}/notifications{?since,all,participating}`,
    pulls_url: `${api}/pulls{/number}`,
    releases_url: `${api}/releases{/id}`,
    ssh_url: `git@127.0.0.1:${site.owner}/${site.repo}.git`,
    stargazers_url: `${api}/stargazers`,
    statuses_url: `${api}/statuses/{sha}`,
    subscribers_url: `${api}/subscribers`,
    subscription_url: `${api}/subscription`,
    tags_url: `${api}/tags`,
    teams_url: `${api}/teams`,
    trees_url: `${api}/git/trees{/sha}`,
    clone_url: `${html}.git`,
    mirror_url: null,
    hooks_url: `${api}/hooks`,
    svn_url: html,
    homepage: null,
    language: "TypeScript",
    forks_count: 0,
    forks: 0,
    stargazers_count: 0,
    watchers_count: 0,
    watchers: 0,
    size: 1,
    default_branch: defaultBranch,
    open_issues_count: 0,
    open_issues: 0,
    is_template: false,
    topics: [],
    has_issues: true,
    has_projects: false,
    has_wiki: false,
    has_pages: false,
    has_downloads: false,
    has_discussions: false,
    archived: false,
    disabled: false,
    visibility: "public",
    pushed_at: createdAt,
    created_at: createdAt,
    updated_at: createdAt,
    permissions: permissionsFor(perm),
    allow_rebase_merge: true,
    allow_squash_merge: true,
    allow_merge_commit: true,
    allow_auto_merge: false,
    delete_branch_on_merge: false,
    license: null,
    network_count: 0,
    subscribers_count: 0,
  };
}
