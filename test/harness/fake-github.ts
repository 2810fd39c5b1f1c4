// Public API of the fake GitHub REST API + git smart-HTTP server (see fake-github/index.ts).
//
//   const fake = await startFakeGitHub({ users: { alice: "admin" } });
//   const gh = getOctokit(fake.token, { baseUrl: fake.url });   // every call spec-validated
//   fake.seedIssue({ title: "x", labels: ["aegis"] });
//   fake.inject({ method: "PUT", route: "/contents/{path}", status: 502, when: "after" });
//   … run code …
//   fake.assertClean();            // no request broke the spec, no response broke it, no 501
//   await fake.close();
//
// Layout: spec.ts (load/patch/cache + router + Ajv), server.ts (auth, validation, faults, calls),
// git.ts / git-http.ts (bare repo plumbing, http-backend), state.ts / render.ts (model, JSON),
// routes/* (one file per API area), faults.ts, webhooks.ts (payload schemas).
export { DEFAULT_FILES, startFakeGitHub } from "./fake-github/index.js";
export type {
  FakeGitHub,
  FakeGitHubOptions,
  SeedIssue,
  Call,
  FaultSpec,
  ActiveFault,
  IssueRec,
  LabelRec,
  CommentRec,
  Permission,
} from "./fake-github/index.js";
export { BOT_LOGIN } from "./fake-github/render.js";
export { runGit, gitEnv } from "./fake-github/git.js";
