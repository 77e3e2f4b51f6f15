// Seeds the scenario into the server at JZ_BASE_URL with the administrator's token JZ_ADMIN_TOKEN
// and writes what the tests need (logins, the scenario's case) to world.json in the artifacts
// folder. `cargo xtask browser` runs it once before the tests.

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { ARTIFACTS, BASE } from './lib/browser.js';
import { seed } from './lib/seed.js';

const token = process.env.JZ_ADMIN_TOKEN;
if (!token) {
  console.error('JZ_ADMIN_TOKEN is not set (an administrator token from `jingzhi users add --role admin`)');
  process.exit(2);
}
const world = await seed(BASE, token);
writeFileSync(path.join(ARTIFACTS, 'world.json'), JSON.stringify(world, null, 2));
console.log(`seeded ${BASE}: scenario case ${world.scenarioCase.id} (${world.scenarioCase.state}), ${world.background.length} more cases`);
