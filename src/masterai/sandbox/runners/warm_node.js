// Node.js started ahead of its run (the bubblewrap backend's warm path; see
// masterai/sandbox/warm.py), loaded first with --require, before the run's own options:
//
//     node --require warm_node.js --require js_guard.js /sandbox/main.js
//
// It runs in a sandbox built ahead (its own namespaces, mounts, seccomp filter, cgroup and
// empty workspace), serves exactly one run, and ends with it. It writes READY to its stdout,
// which the host reads before it hands the sandbox to a run, then waits for its go: one empty
// line on stdin, read byte by byte so the program's stdin follows untouched. Node.js then
// goes on as it would have for `node --require js_guard.js /sandbox/main.js`: the import
// guard reads the run's policy (written with the program, before the go) and the program
// runs as the main module, with the same argv, stack traces and exit. Only process.execArgv
// is mended, so that processes the program forks do not wait for a go too.
"use strict";
const fs = require("fs");

const READY = "masterai-warm-ready\n";

fs.writeSync(1, READY);
const byte = Buffer.alloc(1);
do {
  if (fs.readSync(0, byte, 0, 1, null) === 0) process.exit(125);
} while (byte[0] !== 0x0a);
const at = process.execArgv.indexOf(__filename);
if (at > 0) process.execArgv.splice(at - 1, 2);
