// Deploys, releases and infrastructure changes: never part of a code change the action proposes.
import type { Arg } from "../words.js";

const DEPLOY_SCRIPT = /(^|[:_-])(deploy|publish|release|ship|promote)([:_-]|$)/i;

/** Subcommand words (first operands) that change remote state, per tool. */
const VERBS: Record<string, RegExp> = {
  wrangler: /^(deploy|publish|secret|delete|rollback|versions|pages|kv:.*|kv|r2|d1|queues)$/,
  kubectl:
    /^(apply|delete|create|replace|patch|scale|rollout|edit|set|drain|cordon|uncordon|taint|label|annotate|run|expose|autoscale)$/,
  oc: /^(apply|delete|create|replace|patch|scale|rollout|edit|set|new-app|start-build)$/,
  terraform: /^(apply|destroy|import|taint|untaint|state|force-unlock|workspace)$/,
  tofu: /^(apply|destroy|import|taint|untaint|state|force-unlock|workspace)$/,
  terragrunt: /^(apply|destroy|run-all|import|state)$/,
  helm: /^(install|upgrade|uninstall|delete|rollback|push)$/,
  netlify: /^(deploy|sites:delete|env:set|env:unset|link)$/,
  ntl: /^(deploy|sites:delete|env:set|env:unset)$/,
  fly: /^(deploy|launch|destroy|secrets|scale|apps|machine|machines|postgres|volumes)$/,
  flyctl: /^(deploy|launch|destroy|secrets|scale|apps|machine|machines|postgres|volumes)$/,
  firebase: /^(deploy|hosting:disable|firestore:delete|database:remove|database:set|functions:delete)$/,
  serverless: /^(deploy|remove)$/,
  sls: /^(deploy|remove)$/,
  cdk: /^(deploy|destroy)$/,
  pulumi: /^(up|update|destroy|refresh|import)$/,
  heroku:
    /^(container:push|container:release|releases:rollback|apps:destroy|config:set|config:unset|pg:reset|ps:scale|deploy.*)$/,
  ansible: /^.*$/,
  "ansible-playbook": /^.*$/,
  twine: /^upload$/,
  cargo: /^(publish|yank|owner)$/,
  gem: /^(push|yank|owner)$/,
  poetry: /^publish$/,
  uv: /^publish$/,
  hatch: /^publish$/,
  flit: /^publish$/,
  mvn: /^deploy$/,
  docker: /^(push)$/,
  podman: /^(push)$/,
  supabase: /^(db|functions|secrets)$/,
  railway: /^(up|deploy|down)$/,
  az: /^.*$/,
};

export function deployRefusal(name: string, args: readonly Arg[]): string | null {
  const words = args.map((a) => a.value);
  const operands = words.filter((w) => !w.startsWith("-"));
  const say = (what: string): string =>
    `Blocked: ${what} deploys or changes live infrastructure. The action only proposes code changes; leave deploys to the project's release process.`;
  switch (name) {
    case "npm":
    case "pnpm":
    case "yarn":
    case "bun": {
      const [first, second] = operands;
      if (first && /^(publish|unpublish|deprecate|dist-tag|owner|access|token|adduser|login)$/.test(first))
        return say(`${name} ${first}`);
      if ((first === "run" || first === "run-script") && second && DEPLOY_SCRIPT.test(second))
        return say(`${name} run ${second}`);
      // yarn, pnpm and bun run package scripts by bare name (`yarn deploy`).
      if (name !== "npm" && first && DEPLOY_SCRIPT.test(first)) return say(`${name} ${first}`);
      return null;
    }
    case "make":
    case "just":
    case "task":
      return operands.some((o) => DEPLOY_SCRIPT.test(o)) ? say(`${name} ${operands.join(" ")}`) : null;
    case "vercel":
      if (words.some((w) => /^(--version|-v|--help|-h)$/.test(w))) return null;
      if (
        operands.length === 0 ||
        words.includes("--prod") ||
        /^(deploy|remove|rm|promote|rollback|alias|env|secrets|redeploy)$/.test(operands[0] ?? "")
      )
        return say(`vercel ${words.join(" ")}`.trim());
      return null;
    case "aws": {
      const [service, op, ...more] = operands;
      if (
        service === "s3" &&
        op &&
        (/^(rm|rb|mv)$/.test(op) ||
          (/^(cp|sync)$/.test(op) && (more[more.length - 1] ?? "").startsWith("s3://")))
      )
        return say(`aws s3 ${op}`);
      if (
        op &&
        /^(delete|put|create|update|terminate|run|stop|start|reboot|modify|remove|attach|detach|deregister|register|revoke|authorize|deploy|publish|invoke|import|restore|reset|disable|enable|tag|untag|set|replace|associate|disassociate|send|upload|cancel)(-|$)/.test(
          op,
        )
      )
        return say(`aws ${service} ${op}`);
      return null;
    }
    case "gcloud":
      return operands
        .slice(1)
        .some((o) =>
          /^(deploy|delete|create|update|patch|resize|reset|stop|start|rollback|import|undelete|restore|disable|enable|set-.*|add-.*|remove-.*)$/.test(
            o,
          ),
        )
        ? say(`gcloud ${operands.join(" ")}`)
        : null;
    case "az":
      return operands
        .slice(1)
        .some((o) => /^(create|delete|update|deploy|set|start|stop|restart|purge|import|swap)$/.test(o))
        ? say(`az ${operands.join(" ")}`)
        : null;
    case "docker":
    case "podman":
      if (
        operands[0] === "push" ||
        (operands[0] === "buildx" && words.includes("--push")) ||
        (operands[0] === "compose" && operands.includes("push"))
      )
        return say(`${name} push`);
      return null;
    default: {
      const verbs = VERBS[name];
      if (!verbs) return null;
      if (name === "ansible" || name === "ansible-playbook") return say(name);
      // The first two operands: a global option's value (`kubectl -n prod apply`) may come first.
      const verb = operands.slice(0, 2).find((o) => verbs.test(o));
      return verb !== undefined ? say(`${name} ${verb}`) : null;
    }
  }
}

export const DEPLOY_TOOLS = new Set([
  ...Object.keys(VERBS),
  "npm",
  "pnpm",
  "yarn",
  "bun",
  "make",
  "just",
  "task",
  "vercel",
  "aws",
  "gcloud",
]);
