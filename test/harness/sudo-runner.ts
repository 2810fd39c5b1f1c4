// A runner user with passwordless sudo, as GitHub-hosted runners' `runner`: the action runs as it
// (runAction's `asUser`) and reaches root only through sudo, as it does there. Named `aegt-*`, so
// the global setup removes any a killed test run left behind.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rm, writeFile } from "node:fs/promises";
import { promisify } from "node:util";

const exec = promisify(execFile);

/** Creates the user; `cleanups` gets what removes it (and its sudoers entry) again. */
export async function sudoRunner(
  cleanups: (() => Promise<unknown>)[],
): Promise<{ uid: number; gid: number }> {
  const name = `aegt-run-${randomBytes(3).toString("hex")}`;
  await exec("useradd", ["--system", "--no-create-home", "--user-group", name]);
  cleanups.push(() => exec("userdel", [name]));
  const sudoers = `/etc/sudoers.d/${name}`;
  await writeFile(sudoers, `${name} ALL=(ALL) NOPASSWD:ALL\n`, { mode: 0o440 });
  cleanups.push(() => rm(sudoers, { force: true }));
  const [uid, gid] = await Promise.all([exec("id", ["-u", name]), exec("id", ["-g", name])]).then((r) =>
    r.map((x) => Number(x.stdout.trim())),
  );
  return { uid: uid!, gid: gid! };
}
