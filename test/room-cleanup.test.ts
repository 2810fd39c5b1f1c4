// Cleaning up after the agent's room, attacked: a room process that keeps killing its user's
// processes (so every killer started as that user dies at once) is still reaped; files the room
// left in the shared temporary directories go; and the post step, handed a forged room state (as
// a `::save-state` line printed by the agent's code would make), cleans up the real room only —
// never a directory or a user the state names.
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { processesOf } from "../src/room/reaper.js";
import { openRoom, reopenRoom } from "../src/room/room.js";
import { defaultRoomUser } from "../src/room/user.js";
import { type FakeGitHub, startFakeGitHub } from "./harness/fake-github.js";
import { runAction, workflowDispatchEvent } from "./harness/runner.js";

const exec = promisify(execFile);
const asRoot = process.getuid?.() === 0;
const cleanups: (() => Promise<unknown>)[] = [];
let fake: FakeGitHub | undefined;
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  await fake?.close();
  fake = undefined;
});

async function testUser(tag: string): Promise<{ name: string; uid: number; gid: number }> {
  const name = `aegt-${tag}-${randomBytes(3).toString("hex")}`;
  await exec("useradd", ["--system", "--no-create-home", "--user-group", name]);
  cleanups.push(() => exec("userdel", [name]));
  const [uid, gid] = await Promise.all([exec("id", ["-u", name]), exec("id", ["-g", name])]).then((r) =>
    r.map((x) => Number(x.stdout.trim())),
  );
  return { name, uid: uid!, gid: gid! };
}

function startAs(user: { uid: number; gid: number }, script: string): void {
  const child = spawn(
    "setpriv",
    [`--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups", "--", "/bin/bash", "-c", script],
    { detached: true, stdio: "ignore", cwd: "/" },
  );
  child.unref();
}

async function waitFor(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(!asRoot)("cleaning up the agent's room", () => {
  it("reaps a room process that keeps killing its own user's processes, and removes what the room left in /tmp", async () => {
    const runnerTemp = await mkdtemp(path.join(os.tmpdir(), "aegis-cleanup-"));
    cleanups.push(() => rm(runnerTemp, { recursive: true, force: true }));
    const name = `aegt-k${randomBytes(4).toString("hex")}`;
    cleanups.push(() => exec("userdel", [name]));
    const room = await openRoom({ sandbox: "user", runnerTemp, userName: name });
    cleanups.push(() => room.dispose());
    const planted = path.join("/tmp", `aegis-planted-${randomBytes(4).toString("hex")}`);
    cleanups.push(() => rm(planted, { force: true }));
    // kill(-1) spares its caller: this loop kills every other process of the room's user — the
    // room's own killers included — the moment they appear.
    const cmd = room.launch(
      "/bin/bash",
      ["-c", `echo planted > ${planted}; sleep 300 & while :; do kill -KILL -1 2>/dev/null; done`],
      { PATH: "/usr/bin:/bin" },
    );
    const child = spawn(cmd.file, cmd.args, { env: cmd.env, detached: true, stdio: "ignore", cwd: "/" });
    child.unref();
    await waitFor(async () => existsSync(planted) && (await processesOf(room.user!.uid)).length > 0);

    await room.reap();
    expect(await processesOf(room.user!.uid)).toEqual([]);
    await room.dispose();
    expect(existsSync(planted)).toBe(false);
    expect(existsSync(room.base)).toBe(false);
  });

  it("leaves everything closed and sealed while a room process survives, and fails saying so", async () => {
    const runnerTemp = await mkdtemp(path.join(os.tmpdir(), "aegis-cleanup-"));
    cleanups.push(() => rm(runnerTemp, { recursive: true, force: true }));
    const folder = await mkdtemp(path.join("/var/tmp", "aegis-closed-"));
    await chmod(folder, 0o755);
    cleanups.push(() => rm(folder, { recursive: true, force: true }));
    const name = `aegt-s${randomBytes(4).toString("hex")}`;
    cleanups.push(() => exec("userdel", [name]));
    const room = await openRoom({ sandbox: "user", runnerTemp, userName: name });
    cleanups.push(async () => {
      await room.reap();
      await room.dispose();
    });
    expect(await room.closeOff([folder])).toEqual([folder]);
    const cmd = room.launch("/bin/bash", ["-c", "exec sleep 300"], { PATH: "/usr/bin:/bin" });
    spawn(cmd.file, cmd.args, { env: cmd.env, detached: true, stdio: "ignore", cwd: "/" }).unref();
    await waitFor(async () => (await processesOf(room.user!.uid)).length > 0);

    // Dispose with a survivor (as when reaping gave up): it must not hand anything back.
    await expect(room.dispose()).rejects.toThrow(/outlived every attempt to stop them/);
    expect(existsSync(room.base)).toBe(true);
    expect((await stat(folder)).mode & 0o007).toBe(0);
    const rules = await exec("iptables", ["-w", "-S", `AEGIS-EGRESS-${room.user!.uid}`]).then(
      (r) => r.stdout,
    );
    expect(rules).toMatch(/-j REJECT/);

    await room.reap();
    await room.dispose();
    expect(existsSync(room.base)).toBe(false);
    expect((await stat(folder)).mode & 0o777).toBe(0o755);
  });

  it("one step at a time per room: a second step is refused, and a post step leaves a live room alone", async () => {
    const runnerTemp = await mkdtemp(path.join(os.tmpdir(), "aegis-cleanup-"));
    cleanups.push(() => rm(runnerTemp, { recursive: true, force: true }));
    const name = `aegt-l${randomBytes(4).toString("hex")}`;
    cleanups.push(() => exec("userdel", [name]));
    const room = await openRoom({ sandbox: "user", runnerTemp, userName: name });
    cleanups.push(async () => {
      await room.reap();
      await room.dispose();
    });
    const cmd = room.launch("/bin/bash", ["-c", "exec sleep 300"], { PATH: "/usr/bin:/bin" });
    spawn(cmd.file, cmd.args, { env: cmd.env, detached: true, stdio: "ignore", cwd: "/" }).unref();
    await waitFor(async () => (await processesOf(room.user!.uid)).length > 0);

    await expect(openRoom({ sandbox: "user", runnerTemp, userName: name })).rejects.toThrow(
      /another aegis step on this machine is using the room's user/,
    );
    const previous = process.env.AEGIS_ROOM_USER;
    process.env.AEGIS_ROOM_USER = name;
    try {
      const post = await reopenRoom({ sandbox: "user" }, { runnerTemp });
      expect(await post.reap()).toBe(0);
      await post.dispose();
    } finally {
      if (previous === undefined) delete process.env.AEGIS_ROOM_USER;
      else process.env.AEGIS_ROOM_USER = previous;
    }
    expect(await processesOf(room.user!.uid)).not.toEqual([]);
    expect(existsSync(room.base)).toBe(true);

    await room.reap();
    await room.dispose();
    // Freed with the room: the next step opens it.
    const next = await openRoom({ sandbox: "user", runnerTemp, userName: name });
    await next.dispose();
  });

  it("hides the name services' sockets (systemd-resolved, the D-Bus system bus) from the room's processes", async () => {
    const dir = "/run/systemd/resolve";
    const made = !existsSync(dir);
    await mkdir(dir, { recursive: true });
    const socket = path.join(dir, `io.systemd.Resolve.aegt-${randomBytes(3).toString("hex")}`);
    const server = net.createServer((c) => c.end());
    await new Promise<void>((r) => server.listen(socket, r));
    await chmod(socket, 0o666);
    cleanups.push(async () => {
      await new Promise((r) => server.close(r));
      await rm(socket, { force: true });
      if (made) await rm("/run/systemd", { recursive: true, force: true });
    });
    const runnerTemp = await mkdtemp(path.join(os.tmpdir(), "aegis-cleanup-"));
    cleanups.push(() => rm(runnerTemp, { recursive: true, force: true }));
    const name = `aegt-h${randomBytes(4).toString("hex")}`;
    cleanups.push(() => exec("userdel", [name]));
    const room = await openRoom({
      sandbox: "user",
      runnerTemp,
      userName: name,
      egress: { kind: "allow", entries: [] },
    });
    cleanups.push(async () => {
      await room.reap();
      await room.dispose();
    });
    const probe = `test -S '${socket}' && echo visible || echo hidden; ls -A /run/dbus 2>/dev/null | wc -l; id -u`;
    const cmd = room.launch("/bin/bash", ["-c", probe], { PATH: "/usr/bin:/bin" });
    const { stdout } = await exec(cmd.file, cmd.args, { env: cmd.env });
    const [seen, dbusEntries, uid] = stdout.trim().split("\n");
    expect(seen).toBe("hidden");
    expect(dbusEntries).toBe("0");
    expect(Number(uid)).toBe(room.user!.uid);
    // Only the room's view changed: the machine still has its socket.
    expect(existsSync(socket)).toBe(true);
  });

  it("names the room's user after the runner", () => {
    expect(defaultRoomUser(undefined)).toBe("aegis-agent");
    expect(defaultRoomUser("runner-1")).toMatch(/^aegis-agent-[0-9a-f]{8}$/);
    expect(defaultRoomUser("runner-1")).not.toBe(defaultRoomUser("runner-2"));
  });

  it("the post step, given a forged room state, touches neither the directory nor the user it names", async () => {
    fake = await startFakeGitHub();
    const victim = await testUser("victim");
    const dir = await mkdtemp(path.join("/var/tmp", "aegis-victim-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await mkdir(path.join(dir, "keep"));
    await writeFile(path.join(dir, "keep", "data"), "precious");
    const marker = `aegis-victim-${randomBytes(4).toString("hex")}`;
    startAs(victim, `exec -a ${marker} sleep 300`);
    cleanups.push(() => exec("pkill", ["-KILL", "-u", String(victim.uid)]).catch(() => undefined));
    await waitFor(async () => (await processesOf(victim.uid)).length > 0);

    const forged = JSON.stringify({
      sandbox: "user",
      base: dir,
      user: victim,
      tag: "00000000-0000-0000-0000-000000000000",
      egress: true,
    });
    const post = await runAction({
      mode: "run",
      event: workflowDispatchEvent(fake),
      fake,
      env: { "STATE_aegis-post": "true", "STATE_aegis-room": forged },
    });
    cleanups.push(post.cleanup);
    expect(post.exitCode).toBe(0);
    expect(existsSync(path.join(dir, "keep", "data"))).toBe(true);
    expect(await processesOf(victim.uid)).not.toEqual([]);
  });
});
