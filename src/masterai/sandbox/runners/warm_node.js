// Node.js started ahead of its run (the bubblewrap backend's warm path; see
// masterai/sandbox/warm.py), loaded first with --require, before the run's own options:
//
//     node --require warm_node.js --require js_guard.js /sandbox/main.js
//     node --require warm_node.js --require js_guard.js ts_runner.js /sandbox/main.ts
//
// It runs in a sandbox built ahead (its own namespaces, mounts, seccomp filter, cgroup and
// empty workspace), serves exactly one run, and ends with it. For TypeScript it first loads
// the compiler the runner uses (the runner loads it before the program in a cold run too).
// It writes READY to its stdout, which the host reads before it hands the sandbox to a run,
// then waits for its go: one empty line on stdin, read byte by byte so the program's stdin
// follows untouched. Node.js then goes on as it would have without this module: the import
// guard reads the run's policy (written with the program, before the go) and the program
// runs as the main module, with the same argv, stack traces and exit. What this module leaves
// is taken back: its options in process.execArgv (processes the program forks would wait for
// a go too) and its entry in require.cache.
"use strict";
const fs = require("fs");
const path = require("path");

const READY = "masterai-warm-ready\n";

if (path.basename(process.argv[1] || "") === "ts_runner.js") require("typescript");
fs.writeSync(1, READY);
const byte = Buffer.alloc(1);
do {
  if (fs.readSync(0, byte, 0, 1, null) === 0) process.exit(125);
} while (byte[0] !== 0x0a);
const at = process.execArgv.indexOf(__filename);
if (at > 0) process.execArgv.splice(at - 1, 2);
delete require.cache[__filename];
