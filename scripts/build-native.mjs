// Builds the optional native addon (native/mmap: memory-mapped reads for the engine's `mmapReads` option)
// with the node-gyp that npm ships. Run by `npm install`. Without python3, make and a C compiler it prints
// why and exits 0: caskdb works without the addon, reading with pread. `--required` makes a failure fatal
// (the test harness uses it after installing the toolchain).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const required = process.argv.includes('--required');
const addonDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'native', 'mmap');

function nodeGypScript() {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return fromNpm;
  // npm beside this node: <prefix>/bin/node → <prefix>/lib/node_modules/npm/node_modules/node-gyp
  const bundled = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  return existsSync(bundled) ? bundled : undefined;
}

function fail(reason, output = '') {
  const message = `caskdb: the mmap addon was not built (${reason}); the engine reads with pread and \`mmapReads\` has no effect.`;
  if (required) {
    console.error(output);
    console.error(message);
    process.exit(1);
  }
  console.warn(message);
  process.exit(0);
}

const missingTools = ['python3', 'make', 'cc', 'g++'].filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
if (missingTools.length > 0) fail(`missing ${missingTools.join(', ')}`);
const script = nodeGypScript();
if (script === undefined) fail("npm's node-gyp was not found");
const args = [script, 'rebuild'];
// npm passes its nodedir setting to scripts it runs; a direct run takes it from the same place.
const nodedir = process.env.npm_config_nodedir ?? spawnSync('npm', ['config', 'get', 'nodedir'], { encoding: 'utf8' }).stdout?.trim();
if (nodedir && nodedir !== 'undefined' && nodedir !== 'null') args.push(`--nodedir=${nodedir}`);
const result = spawnSync(process.execPath, args, { cwd: addonDir, encoding: 'utf8', timeout: 300_000 });
if (result.status !== 0) fail('node-gyp rebuild failed', `${result.stdout ?? ''}${result.stderr ?? ''}`);
console.log('caskdb: built the mmap addon (native/mmap)');
