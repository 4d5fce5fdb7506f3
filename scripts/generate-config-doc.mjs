// Regenerates docs/configuration.md and the README's option table from the compiled schema:
// `npm run docs:config` (builds first).
import { readFileSync, writeFileSync } from 'node:fs';
import { README_TABLE_END, README_TABLE_START, configurationDoc, readmeTable } from '../dist/src/proxy/config/config-doc.js';

writeFileSync(new URL('../docs/configuration.md', import.meta.url), configurationDoc());
const readmeUrl = new URL('../README.md', import.meta.url);
const readme = readFileSync(readmeUrl, 'utf8');
const start = readme.indexOf(README_TABLE_START);
const end = readme.indexOf(README_TABLE_END);
if (start === -1 || end === -1) throw new Error('README.md has no config-table markers');
writeFileSync(readmeUrl, `${readme.slice(0, start)}${readmeTable()}${readme.slice(end + README_TABLE_END.length)}`);
