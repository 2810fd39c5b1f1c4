// The gate reads the script files a command runs (bash x.sh, ./x.sh, python3 x.py, node x.js, . x.sh)
// and checks their text like inline code. Real files in temporary directories, the real analysis.
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { analyzeCommand, type GateOptions } from "../../src/hooks/shell/analyze.js";
import { pathPolicy } from "../../src/hooks/paths.js";
import { MAX_SCRIPT_BYTES } from "../../src/hooks/shell/scripts.js";
import { REPO } from "./spawn-hook.js";

let root: string;
let ws: string;
let home: string;

beforeAll(() => {
  root = mkdtempSync(path.join(os.tmpdir(), "aegis-scripts-"));
  ws = path.join(root, "ws");
  home = path.join(root, "home");
  mkdirSync(ws);
  mkdirSync(home);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const options = (over: Partial<GateOptions> = {}): GateOptions => ({
  cwd: ws,
  home,
  tempDirs: ["/tmp"],
  policy: pathPolicy(ws, {}),
  gitAliases: () => new Map(),
  ...over,
});
const reason = (cmd: string, over?: Partial<GateOptions>): string | null => {
  const v = analyzeCommand(cmd, options(over));
  return v.allowed ? null : v.reason;
};
/** Writes `files` (relative to the workspace) and returns nothing; `+x` marks them executable. */
const files = (entries: Record<string, string>, executable = false): void => {
  for (const [name, text] of Object.entries(entries)) {
    const p = path.join(ws, name);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, text);
    if (executable) chmodSync(p, 0o755);
  }
};

describe("script files run by a shell or by path", () => {
  it("blocks what the script would do and names the script", () => {
    files({ "push.sh": "#!/bin/bash\necho pushing\ngit push --force origin main\n" });
    expect(reason("bash push.sh")).toMatch(/^Blocked: in the script push\.sh: git push/);
    expect(reason("sh ./push.sh")).toMatch(/in the script \.\/push\.sh: git push/);
    expect(reason("busybox sh push.sh")).toMatch(/git push/);
    expect(reason("bash -e -x push.sh")).toMatch(/git push/);
    expect(reason("bash < push.sh")).toMatch(/in the script push\.sh: git push/);
    expect(reason(". ./push.sh")).toMatch(/git push/);
    expect(reason("source push.sh")).toMatch(/git push/);
    expect(reason("sudo -u nobody bash push.sh")).toMatch(/git push/);
    // Only parsed, never run.
    expect(reason("bash -n push.sh")).toBeNull();
  });

  it("reads executables run by path, by their #! line", () => {
    files({ "wipe.sh": "#!/usr/bin/env bash\nrm -rf ~\n" }, true);
    expect(reason("./wipe.sh")).toMatch(
      /^Blocked: in the script \.\/wipe\.sh: recursive delete.*home directory/,
    );
    expect(reason(`${path.join(ws, "wipe.sh")} --force`)).toMatch(/home directory/);
    expect(reason("nohup ./wipe.sh &")).toMatch(/home directory/);
    expect(reason("find . -name '*.txt' -exec ./wipe.sh {} \\;")).toMatch(/home directory/);
    // No #! line: the shell runs it as shell text.
    files({ "bin/tool": "git push origin HEAD:main\n" }, true);
    expect(reason("bin/tool")).toMatch(/in the script bin\/tool: git push/);
    files(
      {
        "bin/py-tool": '#!/usr/bin/env python3\nimport os, shutil\nshutil.rmtree(os.path.expanduser("~"))\n',
      },
      true,
    );
    expect(reason("./bin/py-tool")).toMatch(
      /in the script \.\/bin\/py-tool: python code that deletes under the home/,
    );
    files(
      {
        "bin/node-tool":
          "#!/usr/bin/env -S node --no-warnings\nrequire('child_process').execSync('git push -f');\n",
      },
      true,
    );
    expect(reason("./bin/node-tool")).toMatch(/node code that runs a blocked shell command \(git push/);
  });

  it("blocks an environment dump in a script", () => {
    files({ "dump.sh": "#!/bin/sh\nenv\n" });
    expect(reason("sh dump.sh")).toMatch(/in the script dump\.sh: env prints the environment/);
  });

  it("follows scripts that run scripts, to a bounded depth", () => {
    files({ "a.sh": "echo a\nbash b.sh\n", "b.sh": "echo b\ngit push\n" });
    expect(reason("bash a.sh")).toMatch(/^Blocked: in the script a\.sh: in the script b\.sh: git push/);
    files({ "loop.sh": "bash loop.sh\n" });
    expect(reason("bash loop.sh")).toMatch(/nested more than 4 deep/);
    files({
      "d1.sh": "bash d2.sh\n",
      "d2.sh": "bash d3.sh\n",
      "d3.sh": "bash d4.sh\n",
      "d4.sh": "echo fine\n",
      "d5.sh": "bash d1.sh\n",
    });
    expect(reason("bash d1.sh")).toBeNull();
    expect(reason("bash d5.sh")).toMatch(/d4\.sh is run by scripts nested more than 4 deep/);
    // Many calls of the same script are bounded too, not re-read without end.
    files({
      "many.sh": "./many2.sh\n".repeat(30),
      "many2.sh": "./many3.sh\n./many3.sh\n",
      "many3.sh": "echo x\n",
    });
    chmodSync(path.join(ws, "many2.sh"), 0o755);
    chmodSync(path.join(ws, "many3.sh"), 0o755);
    expect(reason("bash many.sh")).toMatch(/runs more than 40 scripts/);
  });

  it("gives the script its arguments and its own directory, and keeps its cd to itself", () => {
    files({ "clean.sh": 'set -e\ncd "$(dirname "$0")"\nrm -rf "$1"\n' });
    expect(reason("bash clean.sh dist")).toBeNull();
    expect(reason("bash clean.sh ~")).toMatch(/in the script clean\.sh: recursive delete.*home directory/);
    expect(reason("bash clean.sh")).toMatch(/only known at run time/);
    files({ "go-root.sh": "cd /\n" });
    // A child shell's cd ends with it; a sourced script's cd stays.
    expect(reason("bash go-root.sh && rm -rf build")).toBeNull();
    expect(reason(". ./go-root.sh && rm -rf build")).toMatch(/outside the workspace/);
  });

  it("refuses a script the gate cannot read, with advice", () => {
    expect(reason("printf 'git push' > x.sh && bash x.sh")).toMatch(
      /^Blocked: the script x\.sh does not exist yet.*Write the script first, then run it in a separate command/,
    );
    expect(reason("cat > gen.sh <<'EOF'\nls\nEOF\n./gen.sh")).toMatch(/gen\.sh does not exist yet/);
    files({ "ok.sh": "echo ok\n" });
    expect(reason("bash ok.sh")).toBeNull();
    expect(reason("echo 'git push' >> ok.sh; bash ok.sh")).toMatch(/both writes and runs the script ok\.sh/);
    expect(reason("cp /tmp/other.sh ok.sh && bash ok.sh")).toMatch(/both writes and runs/);
    files({ "big.sh": `${"echo fine\n".repeat(Math.ceil(MAX_SCRIPT_BYTES / 10))}` });
    expect(reason("bash big.sh")).toMatch(/big\.sh is 257 KiB, too large to check/);
    const half = "echo fine\n".repeat(Math.ceil(MAX_SCRIPT_BYTES / 20) + 10);
    files({ "half1.sh": half, "half2.sh": half });
    expect(reason("bash half1.sh")).toBeNull();
    expect(reason("bash half1.sh && bash half2.sh")).toMatch(
      /hold more than 256 KiB of text, too much to check/,
    );
    files({ "blob.sh": "echo \u0000 binary" });
    expect(reason("bash blob.sh")).toMatch(/binary file/);
    execFileSync("mkfifo", [path.join(ws, "pipe.sh")]);
    expect(reason("bash pipe.sh")).toMatch(/cannot read the script pipe\.sh \(not a regular file\)/);
    expect(reason('bash "$SCRIPT"')).toMatch(/generated or downloaded at run time/);
    expect(reason('python3 "$SCRIPT"')).toMatch(/the script "…" is only known at run time/);
    expect(reason('cd "$X" && bash ok.sh')).toMatch(/cd to a literal path first/);
    expect(reason("bash ./o*.sh")).toMatch(/is a pattern/);
  });

  it("lets compiled programs run by path, but not other binaries", () => {
    copyFileSync("/bin/true", path.join(ws, "true-bin"));
    chmodSync(path.join(ws, "true-bin"), 0o755);
    expect(reason("./true-bin --version")).toBeNull();
    writeFileSync(path.join(ws, "odd-bin"), Buffer.from([0xca, 0xfe, 0xba, 0xbe, 0, 1, 2]));
    expect(reason("./odd-bin")).toMatch(/binary file/);
  });

  it("reads only what the agent can write: the workspace and the temp directories", () => {
    const elsewhere = path.join(root, "installed");
    files({ "../installed/tool.sh": "git push --force\n" });
    const outside = { tempDirs: [] };
    expect(reason(`bash ${path.join(elsewhere, "tool.sh")}`, outside)).toBeNull();
    expect(reason(`bash ${path.join(elsewhere, "tool.sh")}`)).toMatch(/git push/);
    // A symlink counts where it points.
    symlinkSync(path.join(elsewhere, "tool.sh"), path.join(ws, "linked.sh"));
    expect(reason("bash linked.sh", outside)).toBeNull();
    expect(reason(`bash ${path.join(elsewhere, "missing.sh")}`, outside)).toMatch(/does not exist yet/);
  });

  it("allows ordinary scripts", () => {
    files({
      "scripts/test.sh":
        '#!/usr/bin/env bash\nset -euo pipefail\ncd "$(dirname "$0")/.."\nrm -rf coverage\nnpm test\n',
      configure:
        '#!/bin/sh\nprefix=/usr/local\ncommand -v cc >/dev/null || echo "no cc"\necho "PREFIX=$prefix" > config.mk\n',
      "bin/hello": "#!/usr/bin/env python3\nprint('hello')\n",
    });
    chmodSync(path.join(ws, "configure"), 0o755);
    chmodSync(path.join(ws, "bin/hello"), 0o755);
    expect(reason("bash scripts/test.sh")).toBeNull();
    expect(reason("./scripts/test.sh")).toBeNull();
    expect(reason("sh ./configure")).toBeNull();
    expect(reason("./configure --prefix=/tmp/x && make")).toBeNull();
    expect(reason("./bin/hello")).toBeNull();
    expect(reason("npm test")).toBeNull();
    // `$RUNNER x.py` is guessed as each guarded command, bash included: python text is not a reason.
    files({ "tool.py": "def main():\n    print('hi')\n" });
    expect(reason("$RUNNER tool.py")).toBeNull();
  });
});

describe("script files run by an interpreter", () => {
  it("blocks destructive python, node and perl files", () => {
    files({
      "wipe.py": 'import os\nimport shutil\n\nshutil.rmtree(os.path.expanduser("~"))\n',
      "push.js": "const cp = require('child_process');\ncp.execSync('git push');\n",
      "push.mjs": 'import { spawnSync } from "node:child_process";\nspawnSync("git", ["push", "--force"]);\n',
      "dump.pl": 'print "$_=$ENV{$_}\\n" for keys %ENV;\n',
      "drop.rb": 'system("psql -c \\"DROP TABLE users\\"")\n',
    });
    expect(reason("python3 wipe.py")).toMatch(
      /^Blocked: in the script wipe\.py: python code that deletes under the home or current directory\. Change the script/,
    );
    expect(reason("python -u -W ignore wipe.py")).toMatch(/wipe\.py: python code/);
    expect(reason("python3 < wipe.py")).toMatch(/wipe\.py: python code/);
    expect(reason("node push.js")).toMatch(
      /in the script push\.js: node code that runs a blocked shell command \(git push/,
    );
    expect(reason("node push")).toMatch(/in the script push: node code/);
    expect(reason("node --no-warnings push.mjs")).toMatch(/git push/);
    expect(reason("perl dump.pl")).toMatch(/perl code that prints the whole environment/);
    expect(reason("ruby drop.rb")).toMatch(/in the script drop\.rb: ruby code that runs DROP/);
    expect(reason("python3 missing.py")).toMatch(/missing\.py does not exist yet/);
    // A node program that runs a script: the script is read too.
    files({ "run.js": "require('child_process').execSync('bash b.sh');\n" });
    expect(reason("node run.js")).toMatch(
      /in the script run\.js: node code that runs a blocked shell command \(in the script b\.sh: git push/,
    );
  });

  it("allows ordinary programs", () => {
    files({
      "setup.py":
        'import os, shutil, subprocess, sys\nif "--help" in sys.argv:\n    print("usage")\nshutil.rmtree(os.path.join(os.getcwd(), "build"), ignore_errors=True)\nsubprocess.run(["git", "status"], check=True)\n',
      "build.js":
        "const fs = require('fs');\nconst { execSync } = require('child_process');\nfs.rmSync('dist', { recursive: true, force: true });\nexecSync('npx tsc -p .', { stdio: 'inherit' });\nconsole.log(`built ${process.cwd()}`);\n",
      "pkg/__main__.py": "print('package main')\n",
      "lib/index.js": "module.exports = 1;\n",
    });
    expect(reason("python3 setup.py --help")).toBeNull();
    expect(reason("python3 -m pytest -q")).toBeNull();
    expect(reason("node build.js")).toBeNull();
    expect(reason("node build")).toBeNull();
    expect(reason("node lib")).toBeNull();
    expect(reason("python3 pkg")).toBeNull();
    expect(reason("node --check push.js")).toBeNull();
    expect(reason("env NODE_ENV=production node build.js")).toBeNull();
  });

  it("reads node_modules/.bin entries through their symlinks", () => {
    const repo = { cwd: REPO, policy: pathPolicy(REPO, {}) };
    expect(reason("./node_modules/.bin/tsc --version", repo)).toBeNull();
    expect(reason("./node_modules/.bin/vitest run", repo)).toBeNull();
    expect(reason("./node_modules/.bin/eslint .", repo)).toBeNull();
    files({
      "node_modules/good/cli.js":
        "#!/usr/bin/env node\nrequire('../lib/main.js').run(process.argv.slice(2));\n",
      "node_modules/bad/cli.js":
        "#!/usr/bin/env node\nrequire('child_process').execSync('git push --force');\n",
    });
    mkdirSync(path.join(ws, "node_modules/.bin"), { recursive: true });
    symlinkSync("../good/cli.js", path.join(ws, "node_modules/.bin/good"));
    symlinkSync("../bad/cli.js", path.join(ws, "node_modules/.bin/bad"));
    expect(reason("./node_modules/.bin/good --help")).toBeNull();
    expect(reason("./node_modules/.bin/bad")).toMatch(
      /in the script \.\/node_modules\/\.bin\/bad: node code.*git push/,
    );
  });
});
