// Runs one transform_data call inside the sandbox (masterai.services.data.transform): loads
// the input (`data`: parsed JSON, an array for JSONL, an array of row objects for CSV),
// removes the job's files, runs the caller's code as a script, and writes what it assigned
// to `result` (awaited if a promise) to transform_result.json (or .csv). The data never
// becomes code; `require` in the caller's code is checked like the program's own.
"use strict";
const fs = require("fs");
const vm = require("vm");
const Module = require("module");

const JOB = "transform_job.json";
const CODE = "transform_code.js";
const job = JSON.parse(fs.readFileSync(JOB, "utf8"));
const code = fs.readFileSync(CODE, "utf8");
const text = fs.readFileSync(job.input, "utf8");
let data;
if (job.format === "csv") {
  const Papa = require("papaparse");
  data = Papa.parse(text, { header: true, dynamicTyping: true, skipEmptyLines: true }).data;
} else if (job.format === "jsonl") {
  data = text.split("\n").filter((line) => line.trim()).map((line) => JSON.parse(line));
} else {
  data = JSON.parse(text);
}
for (const name of [JOB, CODE, job.input]) fs.unlinkSync(name);

globalThis.data = data;
// Resolved from the working directory, so the import guard treats it as the program's.
globalThis.require = Module.createRequire("/work/transform.js");
vm.runInThisContext(code, { filename: "transform.js" });
const value = vm.runInThisContext("typeof result === 'undefined' ? undefined : result");
Promise.resolve(value)
  .then((result) => {
    if (result === undefined) return;
    if (job.output === "csv") {
      fs.writeFileSync("transform_result.csv", require("papaparse").unparse(result));
    } else {
      fs.writeFileSync("transform_result.json", JSON.stringify(result));
    }
  })
  .catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
