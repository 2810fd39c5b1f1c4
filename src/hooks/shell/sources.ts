// Helpers of the gate that read the syntax tree around a command: pipeline input, container
// commands, git settings passed through the environment.
import path from "node:path";
import { Op, child, list, nodeType, num, text, type Node } from "./syntax.js";
import { DYN, echoText, evalArgv, evalWord, plainArg, printfText, type Arg, type WordEnv } from "./words.js";
import { show, type Stdin } from "./rules/context.js";

/** What a pipeline's left side writes, when it is literal text (echo, printf, cat <<EOF). */
export function pipeSource(stmt: Node | null, env: WordEnv): Stdin {
  const cmd = child(stmt, "Cmd");
  const type = nodeType(cmd);
  if (type === "CallExpr") {
    const args = evalArgv(list(cmd, "Args"), env);
    const name = path.basename(args[0]?.value ?? "");
    const rest = args.slice(1).map((a) => a.value);
    if (name === "echo") return { kind: "text", text: echoText(rest) };
    if (name === "printf" && rest.length > 0) return { kind: "text", text: printfText(rest) };
    if (name === "cat" && rest.length === 0) {
      for (const r of list(stmt, "Redirs")) {
        const op = num(r, "Op");
        if (op === Op.Hdoc || op === Op.DashHdoc)
          return {
            kind: "text",
            text: list(child(r, "Hdoc"), "Parts")
              .map((p) => (nodeType(p) === "Lit" ? text(p, "Value") : DYN))
              .join(""),
          };
        if (op === Op.WordHdoc) return { kind: "text", text: evalWord(child(r, "Word") as Node, env).value };
      }
    }
    return { kind: "unknown", from: `the output of ${show(args[0] ?? plainArg("a command"))}` };
  }
  if (type === "BinaryCmd" && [Op.Pipe, Op.PipeAll].includes(num(cmd, "Op") as 12)) {
    // `… | cat | sh` passes the text through unchanged.
    const y = child(cmd, "Y");
    const yArgs = list(child(y, "Cmd"), "Args");
    if (yArgs.length === 1 && evalWord(yArgs[0] as Node, env).value === "cat")
      return pipeSource(child(cmd, "X"), env);
    return pipeSource(y, env).kind === "text"
      ? pipeSource(y, env)
      : { kind: "unknown", from: "the output of a pipeline" };
  }
  return { kind: "unknown", from: "the output of a compound command" };
}

const CONTAINER_VALUE_OPTS = new Set([
  "-u",
  "--user",
  "-w",
  "--workdir",
  "-e",
  "--env",
  "--env-file",
  "--name",
  "-v",
  "--volume",
  "--network",
  "--entrypoint",
  "-p",
  "--publish",
  "--platform",
  "-n",
  "--namespace",
  "-c",
  "--container",
  "--context",
]);

export function containerCommand(name: string, args: readonly Arg[]): Arg[] | null {
  const words = args.map((a) => a.value);
  if (name === "kubectl") {
    const dash = words.indexOf("--");
    return words.includes("exec") && dash !== -1 ? args.slice(dash + 1) : null;
  }
  let i = words.findIndex((w) => w === "exec" || w === "run");
  if (i === -1) return null;
  if (words[0] === "compose" || words[0] === "container") i = words.indexOf(words[i] as string, 1);
  let k = i + 1;
  while (k < args.length && (words[k] as string).startsWith("-"))
    k += CONTAINER_VALUE_OPTS.has(words[k] as string) ? 2 : 1;
  const rest = args.slice(k + 1); // after the container, service or image
  return rest.length > 0 ? rest : null;
}

export function gitEnvAliases(assigns: readonly string[]): ReadonlyMap<string, string> {
  const env = new Map(assigns.map((a) => [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] as const));
  const out = new Map<string, string>();
  for (const [k, v] of env) {
    const n = /^GIT_CONFIG_KEY_(\d+)$/.exec(k)?.[1];
    const alias = /^alias\.(.+)$/i.exec(v)?.[1];
    if (n !== undefined && alias) out.set(alias, env.get(`GIT_CONFIG_VALUE_${n}`) ?? "");
  }
  return out;
}
