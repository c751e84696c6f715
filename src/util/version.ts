// The package version, read once from package.json (works from src/ under tsx and from dist/src/).
import { readFileSync, existsSync } from 'node:fs';

function findPackageJson(): string {
  for (const rel of ['../../package.json', '../../../package.json']) {
    const url = new URL(rel, import.meta.url);
    if (existsSync(url)) return readFileSync(url, 'utf8');
  }
  return '{"version":"0.0.0"}';
}

export const version: string = (JSON.parse(findPackageJson()) as { version: string }).version;
