// Test harness: makes sure the mmap addon (native/mmap) is built before a test relies on it. `npm install`
// builds it where python3, make and a C compiler exist; on a machine without them this installs the Debian
// toolchain with apt-get and builds it, so the memory-mapped read path is always tested, never skipped.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url)); // dist/test/support → package root
const ADDON = `${ROOT}native/mmap/build/Release/caskdb_mmap.node`;

export function ensureMmapAddon(): void {
  if (existsSync(ADDON)) return;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const tools = ['python3', 'make', 'gcc', 'g++'];
  if (tools.some((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0)) {
    let r = spawnSync('apt-get', ['install', '-y', '-q', ...tools], { stdio: 'ignore', env, timeout: 600_000 });
    if (r.status !== 0) {
      spawnSync('apt-get', ['update', '-q'], { stdio: 'ignore', env, timeout: 300_000 });
      r = spawnSync('apt-get', ['install', '-y', '-q', ...tools], { stdio: 'ignore', env, timeout: 600_000 });
    }
  }
  const build = spawnSync(process.execPath, [`${ROOT}scripts/build-native.mjs`, '--required'], { encoding: 'utf8', timeout: 600_000 });
  if (build.status !== 0 || !existsSync(ADDON)) throw new Error(`the mmap addon could not be built:\n${build.stdout}${build.stderr}`);
}
