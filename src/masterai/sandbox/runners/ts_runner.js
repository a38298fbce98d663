// Runs a TypeScript program inside the sandbox: transpile with the TypeScript compiler's
// transpileModule (no type check, like ts-node --transpile-only), then run it as CommonJS.
"use strict";
const fs = require("fs");
const path = require("path");
const Module = require("module");
const ts = require("typescript");

const file = process.argv[2];
const source = fs.readFileSync(file, "utf8");
const out = ts.transpileModule(source, {
  fileName: file,
  reportDiagnostics: true,
  compilerOptions: {
    module: ts.ModuleKind.CommonJS,
    target: ts.ScriptTarget.ES2022,
    esModuleInterop: true,
  },
});
const errors = (out.diagnostics || []).filter((d) => d.category === ts.DiagnosticCategory.Error);
if (errors.length) {
  for (const d of errors) {
    const msg = ts.flattenDiagnosticMessageText(d.messageText, "\n");
    if (d.file && d.start !== undefined) {
      const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
      process.stderr.write(`${path.basename(file)}(${line + 1},${character + 1}): error TS${d.code}: ${msg}\n`);
    } else {
      process.stderr.write(`error TS${d.code}: ${msg}\n`);
    }
  }
  process.exit(2);
}
// Run with cwd-relative requires working as for a file in the working directory.
process.argv.splice(1, 1);
const m = new Module(file, null);
m.filename = file;
m.paths = Module._nodeModulePaths(process.cwd());
m._compile(out.outputText, file);
