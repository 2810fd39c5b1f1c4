// Validates webhook payloads against the webhook schemas shipped inside GitHub's REST description
// (`components.schemas.webhook-<event>-<action>`), so payload builders cannot drift from GitHub.
import { Ajv, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import { loadPatchedSpec } from "./spec.js";

const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ??
  addFormatsModule) as unknown as (ajv: Ajv) => void;

let ajv: Promise<{ ajv: Ajv; names: Set<string> }> | undefined;
const compiled = new Map<string, ValidateFunction>();

function load(): Promise<{ ajv: Ajv; names: Set<string> }> {
  ajv ??= loadPatchedSpec().then(({ spec }) => {
    const a = new Ajv({ strict: false, allErrors: true });
    addFormats(a);
    a.addFormat("repo.nwo", /^[^/]+\/[^/]+$/);
    a.addSchema(spec as object, "gh");
    const schemas =
      (spec as { components?: { schemas?: Record<string, unknown> } }).components?.schemas ?? {};
    return { ajv: a, names: new Set(Object.keys(schemas)) };
  });
  return ajv;
}

/**
 * Problems with a payload for `eventName` (e.g. `issues`, `pull_request`); `undefined` when GitHub
 * publishes no schema for that event/action (`schedule` has none).
 */
export async function validateWebhookPayload(
  eventName: string,
  payload: Record<string, unknown>,
): Promise<string[] | undefined> {
  const { ajv: a, names } = await load();
  const base = `webhook-${eventName.replace(/_/g, "-")}`;
  const action =
    typeof payload.action === "string" ? `${base}-${payload.action.replace(/_/g, "-")}` : undefined;
  const name = action && names.has(action) ? action : names.has(base) ? base : undefined;
  if (!name) return undefined;
  let validate = compiled.get(name);
  if (!validate) {
    validate = a.compile({ $ref: `gh#/components/schemas/${name}` });
    compiled.set(name, validate);
  }
  validate(payload);
  return (validate.errors ?? []).map(
    (e) => `${name}${e.instancePath} ${e.message ?? ""} ${JSON.stringify(e.params)}`,
  );
}
