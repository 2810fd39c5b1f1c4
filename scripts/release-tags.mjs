/* global fetch */
// The release's tags, through GitHub's REST API (no credential on a command line): `vX.Y.Z` at
// the commit, and the major tag (`v1`) moved to it. Run by .github/workflows/release.yml; tested
// against the fake GitHub in test/release-tags.test.ts.
//
// Env: VERSION (X.Y.Z), GITHUB_SHA, GITHUB_REPOSITORY (owner/repo), GITHUB_API_URL, GH_TOKEN.
//
// Every write may be repeated (a re-run after GitHub answered 5xx to a write that landed): a
// version tag already at this commit is taken as done, one at another commit is refused (a
// released version never moves), and the major tag is compared before it is moved.

const { VERSION = "", GITHUB_SHA = "", GITHUB_REPOSITORY = "", GH_TOKEN = "" } = process.env;
const api = (process.env.GITHUB_API_URL ?? "https://api.github.com").replace(/\/+$/, "");

function fail(message) {
  console.log(`::error::${message}`);
  process.exit(1);
}

if (!/^\d+\.\d+\.\d+$/.test(VERSION)) fail(`version must be X.Y.Z, got ${VERSION}`);
if (!/^[0-9a-f]{40}$/.test(GITHUB_SHA)) fail(`GITHUB_SHA is not a commit sha: ${GITHUB_SHA}`);
if (!/^[\w.-]+\/[\w.-]+$/.test(GITHUB_REPOSITORY))
  fail(`GITHUB_REPOSITORY is not owner/repo: ${GITHUB_REPOSITORY}`);

async function call(method, path, body) {
  const res = await fetch(`${api}/repos/${GITHUB_REPOSITORY}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${GH_TOKEN}`,
      accept: "application/vnd.github+json",
      "x-github-api-version": "2022-11-28",
      ...(body ? { "content-type": "application/json" } : {}),
    },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, data: text ? JSON.parse(text) : undefined };
}

/** Where `tag` points, or undefined when there is no such tag. */
async function tagSha(tag) {
  const r = await call("GET", `/git/ref/tags/${tag}`);
  if (r.status === 404) return undefined;
  if (r.status !== 200) fail(`reading tags/${tag}: GitHub answered ${r.status}`);
  return r.data.object.sha;
}

async function createTag(tag) {
  const r = await call("POST", "/git/refs", { ref: `refs/tags/${tag}`, sha: GITHUB_SHA });
  if (r.status === 201) return;
  // A repeat of a creation that landed: the tag is there, at this commit.
  if ((await tagSha(tag)) === GITHUB_SHA) return;
  fail(`creating tags/${tag}: GitHub answered ${r.status} ${r.data?.message ?? ""}`);
}

const version = `v${VERSION}`;
const major = `v${VERSION.split(".")[0]}`;

const existing = await tagSha(version);
if (existing !== undefined && existing !== GITHUB_SHA)
  fail(`${version} is already released at ${existing}; a released version never moves`);
if (existing === undefined) await createTag(version);

// The major tag only moves forward: a patch release of an older line leaves it where it is.
const majorAt = await tagSha(major);
if (majorAt === undefined) await createTag(major);
else if (majorAt !== GITHUB_SHA) {
  const compared = await call("GET", `/compare/${majorAt}...${GITHUB_SHA}`);
  if (compared.status !== 200)
    fail(`comparing ${major} with ${GITHUB_SHA}: GitHub answered ${compared.status}`);
  if (compared.data.status !== "ahead") {
    console.log(
      `Tagged ${version}; ${major} stays at ${majorAt} (this commit is ${compared.data.status} of it).`,
    );
    process.exit(0);
  }
  const r = await call("PATCH", `/git/refs/tags/${major}`, { sha: GITHUB_SHA, force: true });
  if (r.status !== 200 && (await tagSha(major)) !== GITHUB_SHA)
    fail(`moving tags/${major}: GitHub answered ${r.status} ${r.data?.message ?? ""}`);
}
console.log(`Tagged ${version} and moved ${major} to ${GITHUB_SHA}.`);
