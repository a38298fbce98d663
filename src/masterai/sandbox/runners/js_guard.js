// Import guard of the sandbox's Node.js (preloaded with --require before the program):
// code_execution.allowed_packages, enforced. Does nothing unless the host wrote the run's
// policy to /sandbox/packages.json (see masterai/sandbox/packages.py). Then a curated package
// (under /opt/masterai/*/node_modules) may be required by the program only if it is allowed
// ("direct"), by a package if it is allowed or a dependency of one ("closure"), and by this
// project's runners always. Built-in modules and the program's own files are free. A policy,
// not the security boundary (the sandbox is).
"use strict";
const fs = require("fs");

let policy = null;
try {
  policy = JSON.parse(fs.readFileSync("/sandbox/packages.json", "utf8"));
} catch (e) {
  if (e.code !== "ENOENT") throw e;
}

if (policy !== null) {
  const Module = require("module");
  const CURATED = "/opt/masterai/";
  const RUNNERS = "/opt/masterai/runners/";
  const NM = "/node_modules/";
  const direct = new Set(policy.direct);
  const closure = new Set([...policy.closure, ...policy.direct]);
  const allowed = policy.allowed.join(", ") || "none";

  const packageOf = (file) => {
    const at = file.lastIndexOf(NM);
    if (at < 0) return null;
    const parts = file.slice(at + NM.length).split("/");
    return parts[0].startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0];
  };

  const resolve = Module._resolveFilename;
  Module._resolveFilename = function (request, parent, ...rest) {
    const file = resolve.call(this, request, parent, ...rest);
    if (typeof file !== "string" || !file.startsWith(CURATED) || file.startsWith(RUNNERS)) {
      return file; // built-in modules, the program's own files, the runners
    }
    const from = (parent && parent.filename) || "";
    if (from.startsWith(RUNNERS)) return file;
    const pkg = packageOf(file);
    const fromPkg = from.startsWith(CURATED) ? packageOf(from) : null;
    if (pkg === null || pkg === fromPkg) return file;
    if ((fromPkg === null ? direct : closure).has(pkg)) return file;
    const via = fromPkg === null ? "" : ` (required by ${fromPkg})`;
    const error = new Error(
      `require of '${request}'${via} is not allowed: package '${pkg}' is not in ` +
        `${policy.permission} of this user (allowed: ${allowed})`,
    );
    error.code = "MODULE_NOT_FOUND"; // optional requires treat it as absent
    throw error;
  };
}
