/**
 * The room's tree of a checkout as a view, not a copy: an overlay whose lower layer is the
 * runner's checkout itself, mounted read-only and id-mapped so that its files show as the room
 * user's, and whose upper layer takes every write of the room. Setting it up costs the same for
 * ten files as for a hundred thousand (a copy of a 500 MB `node_modules` costs seconds and
 * doubles the disk it takes), and a fresh tree for the branch's tests is a new, empty upper layer.
 *
 * What the scrub plan says (checkout-copy.ts) is laid into the upper layer before the view is
 * mounted: a whiteout for each file left out, the rewritten git configs in place of the
 * checkout's. The room never reaches the layers themselves: they sit in a folder only root may
 * enter, and the lower one is read-only whatever the room's rights.
 *
 * The kernel calls (open_tree, mount_setattr with MOUNT_ATTR_IDMAP, move_mount; Linux 5.19 for
 * id-mapped layers under overlayfs) have no command in util-linux before 2.39, so a short Python
 * program, run as root with the system's `/usr/bin/python3`, makes them. Where any of it is
 * missing the room copies the checkout, as before (`viewUnavailable` says why).
 */
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { copyCheckout, type ScrubPlan } from "./checkout-copy.js";
import { type Privilege, privileged } from "./privilege.js";

export const SYSTEM_PYTHON = "/usr/bin/python3";

export interface ViewRequest {
  /** The runner's checkout (the lower layer, never written). */
  source: string;
  /** Where the room sees it (room.work). */
  target: string;
  /** A folder of the room's directory for the layers; made here, root's alone (0700). */
  layers: string;
  /** The checkout's owner, shown as `room` in the view. */
  owner: { uid: number; gid: number };
  room: { uid: number; gid: number };
  plan: ScrubPlan;
  /** Where the plan is handed to the helper (a folder of the action's, closed to the room). */
  scratch: string;
}

/** Why a view cannot be had on this machine, or undefined when it may be tried. */
export function viewUnavailable(): string | undefined {
  if (process.platform !== "linux") return "not Linux";
  if (!existsSync(SYSTEM_PYTHON)) return `${SYSTEM_PYTHON} is not installed`;
  if (process.env.AEGIS_CHECKOUT_VIEW === "copy") return "AEGIS_CHECKOUT_VIEW=copy";
  return undefined;
}

/** Mounts the view at `req.target` (throws, leaving nothing mounted, where the kernel refuses). */
export async function mountView(privilege: Privilege, req: ViewRequest): Promise<void> {
  const dir = await mkdtemp(path.join(req.scratch, "aegis-view-"));
  try {
    const planFile = path.join(dir, "plan.json");
    const plan = {
      source: req.source,
      target: req.target,
      layers: req.layers,
      owner: req.owner,
      room: req.room,
      whiteouts: req.plan.leftOut.map((l) => l.path),
      rewrites: req.plan.rewrites,
    };
    await writeFile(planFile, JSON.stringify(plan), { mode: 0o600 });
    await privileged(
      privilege,
      SYSTEM_PYTHON,
      ["-I", "-S", "-c", HELPER, planFile],
      "laying the checkout's view",
    );
  } catch (error) {
    await unmountViews(privilege, req.layers).catch(() => undefined);
    await unmountViews(privilege, req.target).catch(() => undefined);
    throw error;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export type CheckoutTaken = { kind: "view" } | { kind: "copy"; why: string };

/**
 * The room's tree of the checkout at `work`: a view where this machine allows one, else a copy
 * (and a copy at once for every later tree, once a view was refused); `drop` takes it away.
 */
export function checkoutTree(
  privilege: Privilege,
  room: { uid: number; gid: number },
  work: string,
  layers: string,
) {
  let viewed = false;
  let noView: string | undefined;
  return {
    viewed: () => viewed,
    async take(source: string, plan: ScrubPlan, scratch: string): Promise<CheckoutTaken> {
      const unavailable = noView ?? viewUnavailable();
      if (!unavailable) {
        try {
          // The checkout's owner (the runner; root where a container job made it) shows as the room.
          const { uid, gid } = await stat(source);
          await mountView(privilege, {
            source,
            target: work,
            layers,
            owner: { uid, gid },
            room,
            plan,
            scratch,
          });
          viewed = true;
          return { kind: "view" };
        } catch (error) {
          // Not on this machine (an older kernel, a file system without id-mapped mounts): the
          // copy is as safe, only slower.
          noView = (error as Error).message;
        }
      }
      await copyCheckout(source, work, plan);
      return { kind: "copy", why: noView ?? unavailable ?? "" };
    },
    /** Unmounts a view and removes its layers (the caller empties `work`). */
    async drop(): Promise<void> {
      if (!viewed) return;
      await unmountViews(privilege, work);
      await unmountViews(privilege, layers);
      await privileged(privilege, "rm", ["-rf", "--one-file-system", layers], "removing the view's layers");
      viewed = false;
    },
  };
}

/** Mount points at or below `dir`, deepest first (from this process's mount table). */
export async function mountsUnder(dir: string): Promise<string[]> {
  const table = await readFile("/proc/self/mountinfo", "utf8").catch(() => "");
  const unescape = (s: string) =>
    s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return table
    .split("\n")
    .map((line) => unescape(line.split(" ")[4] ?? ""))
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/**
 * Unmounts every mount at or below `dir` (the view, then its lower layer), and throws if one is
 * left: a folder is never removed while the runner's checkout is mounted below it (`rm
 * --one-file-system` does not stop at a bind of the same file system).
 */
export async function unmountViews(privilege: Privilege, dir: string): Promise<void> {
  for (const m of await mountsUnder(dir))
    await privileged(privilege, "umount", ["--lazy", "--", m], `unmounting ${m}`).catch(() => undefined);
  const left = await mountsUnder(dir);
  if (left.length) throw new Error(`could not unmount ${left.join(", ")}: ${dir} is left as it is`);
}

/**
 * The helper, as root: the id-mapped, read-only bind of the checkout (a user namespace of a child
 * process carries the mapping; the child exits at once), the plan laid into the upper layer, then
 * the overlay. Paths of the plan are relative to the checkout and are refused if they climb out.
 */
const HELPER = String.raw`
import ctypes, json, os, stat, struct, sys
plan = json.load(open(sys.argv[1]))
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def check(r, what):
    if r < 0:
        e = ctypes.get_errno()
        sys.exit(what + ": " + os.strerror(e))
    return r
layers, target, source = plan["layers"], plan["target"], plan["source"]
if any(c in layers for c in ",:\\"):
    sys.exit("the room's folder has a character overlayfs options cannot carry: " + layers)
lower, upper, work = (os.path.join(layers, n) for n in ("lower", "upper", "work"))
os.mkdir(layers, 0o700)
os.chown(layers, 0, 0)
os.chmod(layers, 0o700)
for d in (lower, upper, work):
    os.mkdir(d, 0o700)
own, room = plan["owner"], plan["room"]
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(w)
    if libc.unshare(0x10000000) != 0:
        os._exit(1)
    os.read(r, 1)
    os._exit(0)
os.close(r)
try:
    me = os.readlink("/proc/self/ns/user")
    for _ in range(2000):
        if os.readlink("/proc/%d/ns/user" % pid) != me:
            break
        os.sched_yield()
    else:
        sys.exit("the user namespace for the id map was not made")
    for name, line in (("uid_map", "%d %d 1\n" % (own["uid"], room["uid"])), ("gid_map", "%d %d 1\n" % (own["gid"], room["gid"]))):
        fd = os.open("/proc/%d/%s" % (pid, name), os.O_WRONLY)
        os.write(fd, line.encode())
        os.close(fd)
    ns = os.open("/proc/%d/ns/user" % pid, os.O_RDONLY)
    tree = check(libc.syscall(428, -100, source.encode(), 1 | 0o2000000 | 0x8000), "open_tree")
    attr = struct.pack("QQQQ", 0x100000 | 0x1 | 0x2 | 0x4, 0, 0, ns)
    buf = ctypes.create_string_buffer(attr, len(attr))
    check(libc.syscall(442, tree, b"", 0x1000 | 0x8000, buf, ctypes.c_size_t(len(attr))), "mount_setattr (an id-mapped mount)")
    check(libc.syscall(429, tree, b"", -100, lower.encode(), 4), "move_mount")
finally:
    os.write(w, b"x")
    os.waitpid(pid, 0)
def inside(rel):
    p = os.path.normpath(os.path.join(upper, rel))
    if not p.startswith(upper + "/"):
        sys.exit("a path of the plan leaves the checkout: " + rel)
    return p
def parents(p):
    d = os.path.dirname(p)
    if d == upper or os.path.isdir(d):
        return
    parents(d)
    st = os.lstat(os.path.join(lower, os.path.relpath(d, upper)))
    if not stat.S_ISDIR(st.st_mode):
        sys.exit("a path of the plan goes through a non-folder: " + d)
    os.mkdir(d)
    # As the folder shows below (through the id map): the room's, or nobody's.
    os.chown(d, st.st_uid, st.st_gid)
    os.chmod(d, stat.S_IMODE(st.st_mode))
for rw in plan["rewrites"]:
    p = inside(rw["path"])
    parents(p)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    os.write(fd, rw["content"].encode())
    os.fchown(fd, room["uid"], room["gid"])
    os.close(fd)
for rel in plan["whiteouts"]:
    p = inside(rel)
    parents(p)
    if os.path.lexists(p):
        os.unlink(p)
    os.mknod(p, stat.S_IFCHR | 0o600, os.makedev(0, 0))
# The action, a user other than the room's, must still enter the tree to start the room's processes.
os.chown(upper, room["uid"], room["gid"])
os.chmod(upper, 0o755)
# Pinned, whatever the kernel's defaults: no redirects or metadata-only copies to reason about.
opts = "lowerdir=%s,upperdir=%s,workdir=%s,redirect_dir=off,metacopy=off,index=off" % (lower, upper, work)
# volatile (Linux 5.10): no sync of the upper layer, which is thrown away; unmounting a view
# would otherwise wait for every dirty page of the file system (a fresh npm ci's, say).
def mount(o):
    return libc.mount(b"overlay", target.encode(), b"overlay", ctypes.c_ulong(0x2 | 0x4), o.encode())
if mount(opts + ",volatile") != 0:
    check(mount(opts), "mounting the overlay")
`;
