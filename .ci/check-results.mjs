// Reads vitest's JSON report and fails when any test failed or was skipped:
// tests that need root, namespaces or nspawn may skip on a laptop, never in CI.
import { readFileSync } from 'node:fs';

const report = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const skipped = [];
let passed = 0;
let failed = 0;
for (const file of report.testResults) {
  for (const test of file.assertionResults) {
    if (test.status === 'passed') passed++;
    else if (test.status === 'failed') failed++;
    else skipped.push(`${file.name.replace(process.cwd(), '.')}: ${test.fullName} (${test.status})`);
  }
}
for (const line of skipped) console.error(`skipped in CI: ${line}`);
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped.length} skipped`);
if (failed > 0 || skipped.length > 0 || passed === 0) process.exit(1);
