// Builds the server configuration from defaults, a YAML/JSON file (`--config`), environment variables and
// command-line flags; later sources override earlier ones: defaults < file < environment < flags. Every
// value is validated; an unknown key or a bad value is a CASKDB_CONFIG error naming the key and its source.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { CaskError, ErrorCode } from '../util/errors.js';
import { CONFIG_KEYS, KEY_SPECS, envName, type KeySpec, type ServerConfig } from './schema.js';

export type ConfigSource = 'default' | 'file' | 'env' | 'flag' | 'runtime';

export interface LoadedConfig {
  config: ServerConfig;
  sources: Record<string, ConfigSource>;
  configFile: string | undefined;
}

export interface LoadOptions {
  argv: readonly string[];
  env?: Readonly<Record<string, string | undefined>>;
  readFile?: (path: string) => string;
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1000, kb: 1024, m: 1e6, mb: 1024 ** 2, g: 1e9, gb: 1024 ** 3 };

/** Edit distance (insertions, deletions, substitutions, swaps of neighbours), for the key a typo meant. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_r, i) => Array.from({ length: b.length + 1 }, (_c, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * `; did you mean X?` for the closest config key within a couple of edits of `typed`, else ''.
 * `looseSeparators`: '.', '-' and '_' count as the same (environment names lose the difference).
 */
function didYouMean(typed: string, show: (key: string) => string, looseSeparators = false): string {
  const norm = (s: string) => (looseSeparators ? s.toLowerCase().replace(/[-_.]/g, '.') : s.toLowerCase());
  const allowed = Math.max(1, Math.min(3, Math.floor(typed.length / 3)));
  let best: { key: string; distance: number } | undefined;
  for (const spec of CONFIG_KEYS) {
    const distance = editDistance(norm(typed), norm(spec.key));
    if (distance <= allowed && (best === undefined || distance < best.distance)) best = { key: spec.key, distance };
  }
  return best === undefined ? '' : `; did you mean ${show(best.key)}?`;
}

function configError(message: string): CaskError {
  return new CaskError(ErrorCode.Config, message);
}

/** Converts a raw value for `spec`; throws a CASKDB_CONFIG error that says where the value came from. */
export function coerceValue(spec: KeySpec, raw: unknown, origin: string): string | number {
  const bad = (why: string) => configError(`invalid value for '${spec.key}' (${origin}): ${JSON.stringify(raw)} ${why}`);
  switch (spec.type) {
    case 'string':
    {
      if (typeof raw !== 'string' && typeof raw !== 'number') throw bad('is not a string');
      const why = spec.validate?.(String(raw));
      if (why !== undefined) throw bad(why);
      return String(raw);
    }
    case 'enum': {
      const text = String(raw).toLowerCase();
      if (!spec.values!.includes(text)) throw bad(`is not one of ${spec.values!.join(', ')}`);
      return text;
    }
    case 'int':
    case 'bytes': {
      let n: number;
      if (typeof raw === 'number') n = raw;
      else if (typeof raw === 'string') {
        const m = spec.type === 'bytes' ? /^(-?\d+)\s*([a-z]*)$/i.exec(raw.trim()) : /^(-?\d+)()$/.exec(raw.trim());
        const unit = m === null ? undefined : UNITS[m[2]!.toLowerCase()];
        if (m === null || unit === undefined) throw bad(spec.type === 'bytes' ? 'is not a size (e.g. 512mb, 64kb, 1048576)' : 'is not an integer');
        n = Number(m[1]) * unit;
      } else throw bad('is not a number');
      if (!Number.isSafeInteger(n)) throw bad('is not an integer');
      if (spec.min !== undefined && n < spec.min) throw bad(`is below the minimum ${spec.min}`);
      if (spec.max !== undefined && n > spec.max) throw bad(`is above the maximum ${spec.max}`);
      return n;
    }
  }
}

/** Flattens nested objects into dotted keys: { registry: { root: '/x' } } → registry.root. */
function flatten(value: unknown, prefix: string, out: Map<string, unknown>): void {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) flatten(v, prefix === '' ? k : `${prefix}.${k}`, out);
  } else {
    out.set(prefix, value);
  }
}

export interface ParsedFlags {
  values: Map<string, string>;
  configFile: string | undefined;
  help: boolean;
}

/** Parses `--key value`, `--key=value`, `--config file`, `--help`. */
export function parseFlags(argv: readonly string[]): ParsedFlags {
  const values = new Map<string, string>();
  let configFile: string | undefined;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    if (!arg.startsWith('--')) throw configError(`unexpected argument '${arg}' (options are --key value)`);
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    let value: string | undefined = eq < 0 ? undefined : arg.slice(eq + 1);
    if (value === undefined) {
      value = argv[i + 1];
      if (value === undefined) throw configError(`option --${name} needs a value`);
      i++;
    }
    if (name === 'config') configFile = value;
    else if (!KEY_SPECS.has(name)) throw configError(`unknown option --${name}${didYouMean(name, (k) => `--${k}`)}`);
    else values.set(name, value);
  }
  return { values, configFile, help };
}

export function loadConfig(options: LoadOptions): LoadedConfig {
  const env = options.env ?? process.env;
  const flags = parseFlags(options.argv);
  const raw = new Map<string, { value: unknown; source: ConfigSource; origin: string }>();

  if (flags.configFile !== undefined) {
    const path = flags.configFile;
    let text: string;
    try {
      text = (options.readFile ?? ((p) => readFileSync(p, 'utf8')))(path);
    } catch (error) {
      throw configError(`cannot read config file ${path}: ${(error as Error).message}`);
    }
    let doc: unknown;
    try {
      doc = parseYaml(text);
    } catch (error) {
      throw configError(`config file ${path} is not valid YAML: ${(error as Error).message}`);
    }
    if (doc !== null && doc !== undefined && (typeof doc !== 'object' || Array.isArray(doc))) {
      throw configError(`config file ${path} must hold a mapping of keys to values`);
    }
    const entries = new Map<string, unknown>();
    flatten(doc ?? {}, '', entries);
    for (const [key, value] of entries) {
      if (!KEY_SPECS.has(key)) throw configError(`unknown key '${key}' in config file ${path}${didYouMean(key, (k) => `'${k}'`)}`);
      raw.set(key, { value, source: 'file', origin: `config file ${path}` });
    }
  }

  const envByName = new Map(CONFIG_KEYS.map((s) => [envName(s.key), s.key]));
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('CASKDB_') || value === undefined) continue;
    const key = envByName.get(name);
    if (key === undefined) {
      const typed = name.slice('CASKDB_'.length).toLowerCase().replace(/_/g, '.');
      throw configError(`unknown environment variable ${name} (no config key maps to it)${didYouMean(typed, envName, true)}`);
    }
    raw.set(key, { value, source: 'env', origin: `environment variable ${name}` });
  }

  for (const [key, value] of flags.values) raw.set(key, { value, source: 'flag', origin: `flag --${key}` });

  const config: Record<string, string | number> = {};
  const sources: Record<string, ConfigSource> = {};
  for (const spec of CONFIG_KEYS) {
    const given = raw.get(spec.key);
    config[spec.key] = given === undefined ? spec.default : coerceValue(spec, given.value, given.origin);
    sources[spec.key] = given?.source ?? 'default';
  }
  return { config: config as unknown as ServerConfig, sources, configFile: flags.configFile };
}

export function configHelp(): string {
  const lines = [
    'usage: caskdb server [--config caskdb.yaml] [--key value]…',
    '',
    'Every key can be given in the config file (YAML or JSON), as an environment variable, or as a flag;',
    'flags override environment variables, which override the file. Key raft.id ↔ --raft.id ↔ CASKDB_RAFT_ID.',
    '',
  ];
  for (const s of CONFIG_KEYS) {
    lines.push(`  --${s.key.padEnd(28)} ${s.description} (default: ${s.default === '' ? '""' : s.default}${s.settable ? '; CONFIG SET' : ''})`);
  }
  return lines.join('\n');
}
