// Repository metadata, rate limit and collaborator permissions.
import { type Handler, json } from "../http.js";
import * as render from "../render.js";
import type { Permission } from "../state.js";

/**
 * A login missing from the seeded map is treated as a non-collaborator of a public repository:
 * GitHub answers `permission: "read"` for any user there (observed behaviour, see the report).
 */
export function permissionOf(users: Map<string, Permission>, login: string): Permission {
  return users.get(login) ?? "read";
}

const resource = (limit: number) => ({
  limit,
  used: 0,
  remaining: limit,
  reset: Math.floor(Date.now() / 1000) + 3600,
});

export const repoHandlers: Record<string, Handler> = {
  "repos/get": (ctx) =>
    json(
      200,
      render.repository(
        ctx.site,
        ctx.defaultBranch,
        "2024-01-01T00:00:00Z",
        ctx.actor.endsWith("[bot]") ? "write" : permissionOf(ctx.store.users, ctx.actor),
      ),
    ),
  "rate-limit/get": () =>
    json(200, {
      resources: { core: resource(5000), search: resource(30), graphql: resource(5000) },
      rate: resource(5000),
    }),
  "repos/get-collaborator-permission-level": (ctx) => {
    const login = ctx.params.username ?? "";
    const p = permissionOf(ctx.store.users, login);
    const u = { ...render.user(ctx.site, login), permissions: render.permissionsFor(p), role_name: p };
    return json(200, { permission: render.legacyPermission(p), role_name: p, user: u });
  },
};
