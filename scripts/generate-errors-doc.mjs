// Regenerates docs/errors.md from the compiled error catalog: `npm run build && npm run docs:errors`.
import { writeFileSync } from 'node:fs';
import { ERROR_CATALOG } from '../dist/src/shared/errors.js';

const header = `# Errors

Every error inteli-proxy throws, answers or sends is a \`ProxyError\` with a stable \`code\`. Branch on the
code, never on the message. Errors that reach an HTTP client carry the status below; control-plane
\`error\` frames carry the code in their \`code\` field. This table is checked against \`src/shared/errors.ts\` by
\`test/unit/shared/errors-doc.test.ts\`; regenerate it with \`npm run build && npm run docs:errors\`.

| code | HTTP status | meaning |
| --- | --- | --- |
`;
const rows = Object.entries(ERROR_CATALOG).map(([code, { status, summary }]) => `| \`${code}\` | ${status ?? '-'} | ${summary} |`);
writeFileSync(new URL('../docs/errors.md', import.meta.url), `${header}${rows.join('\n')}\n`);
