// The verdict of ajv (JSON Schema 2020-12, as a JavaScript caller such as an n8n Code node would
// use it: default options) on each payload: reads the schema's path as argv[2] and one JSON payload
// a line on stdin, prints one line a payload: "valid" or "invalid". A warning of ajv's strict mode
// while compiling (it logs them by default) fails: the schema must compile cleanly.
const Ajv2020 = require("ajv/dist/2020");
const fs = require("fs");
const warnings = [];
const logger = { log: console.log, warn: (...a) => warnings.push(a.join(" ")), error: console.error };
const validate = new Ajv2020({ logger }).compile(JSON.parse(fs.readFileSync(process.argv[2], "utf8")));
if (warnings.length) {
  console.error("ajv warned while compiling the schema:\n" + warnings.join("\n"));
  process.exit(1);
}
const out = [];
for (const line of fs.readFileSync(0, "utf8").split("\n")) {
  if (line) out.push(validate(JSON.parse(line)) ? "valid" : "invalid");
}
process.stdout.write(out.join("\n") + "\n");
