// Configuration loading: defaults, YAML/JSON file, environment, flags; precedence flags > env > file;
// the naming rule; unknown keys and bad values refused with a message naming them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONFIG_KEYS, envName, loadConfig } from '../../src/config/index.js';
import { isCaskError, ErrorCode } from '../../src/util/errors.js';

const load = (argv: string[], env: Record<string, string> = {}, files: Record<string, string> = {}) =>
  loadConfig({
    argv,
    env,
    readFile: (p) => {
      const text = files[p];
      if (text === undefined) throw new Error('ENOENT: no such file');
      return text;
    },
  });

function refuses(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isCaskError(e, ErrorCode.Config));
    assert.match((e as Error).message, message);
    return true;
  });
}

test('defaults: standalone on 127.0.0.1:7379, ./data, everysec', () => {
  const { config, sources } = load([]);
  assert.equal(config.dir, './data');
  assert.equal(config.bind, '127.0.0.1');
  assert.equal(config.port, 7379);
  assert.equal(config.sync, 'everysec');
  assert.equal(config.mode, 'standalone');
  assert.equal(config['registry.root'], '/caskdb');
  assert.equal(config['registry.cluster'], 'default');
  assert.equal(config['registry.weight'], 100);
  assert.equal(sources.port, 'default');
});

test('the naming rule: key raft.id ↔ flag --raft.id ↔ CASKDB_RAFT_ID', () => {
  assert.equal(envName('raft.id'), 'CASKDB_RAFT_ID');
  assert.equal(envName('proto-max-bulk-len'), 'CASKDB_PROTO_MAX_BULK_LEN');
  assert.equal(load([], { CASKDB_REGISTRY_CLUSTER: 'blue' }).config['registry.cluster'], 'blue');
  assert.equal(load(['--registry.cluster', 'green']).config['registry.cluster'], 'green');
  assert.equal(load(['--registry.cluster=red']).config['registry.cluster'], 'red');
});

test('precedence: flags override environment, which overrides the file', () => {
  const files = { 'c.yaml': 'port: 1000\nsync: none\nbind: 0.0.0.0\nregistry:\n  weight: 5\n' };
  const both = load(['--config', 'c.yaml', '--port', '3000'], { CASKDB_PORT: '2000', CASKDB_SYNC: 'always' }, files);
  assert.equal(both.config.port, 3000);
  assert.equal(both.sources.port, 'flag');
  assert.equal(both.config.sync, 'always');
  assert.equal(both.sources.sync, 'env');
  assert.equal(both.config.bind, '0.0.0.0');
  assert.equal(both.sources.bind, 'file');
  assert.equal(both.config['registry.weight'], 5);
});

test('JSON is accepted as YAML, and sizes take units', () => {
  const { config } = load(['--config', 'c.json'], {}, { 'c.json': '{"proto-max-bulk-len": "2mb", "client-output-buffer-limit": "64kb", "maxclients": 5}' });
  assert.equal(config['proto-max-bulk-len'], 2 * 1024 * 1024);
  assert.equal(config['client-output-buffer-limit'], 64 * 1024);
  assert.equal(config.maxclients, 5);
});

test('unknown keys are refused, naming the key and where it came from', () => {
  refuses(() => load(['--nosuch', '1']), /unknown option --nosuch/);
  refuses(() => load([], { CASKDB_NOSUCH: '1' }), /unknown environment variable CASKDB_NOSUCH/);
  refuses(() => load(['--config', 'c.yaml'], {}, { 'c.yaml': 'registry:\n  nosuch: 1\n' }), /unknown key 'registry.nosuch' in config file c.yaml/);
  refuses(() => load(['positional']), /unexpected argument 'positional'/);
  refuses(() => load(['--port']), /option --port needs a value/);
  refuses(() => load(['--config', 'missing.yaml']), /cannot read config file missing.yaml/);
  refuses(() => load(['--config', 'c.yaml'], {}, { 'c.yaml': '- a\n- b\n' }), /must hold a mapping/);

});

test('a near miss of a key names the key it probably meant; a far one suggests nothing', () => {
  refuses(() => load(['--prot', '1']), /unknown option --prot; did you mean --port\?$/);
  refuses(() => load(['--config', 'c.yaml'], {}, { 'c.yaml': 'raft:\n  election-tick: 5\n' }), /^unknown key 'raft.election-tick' in config file c.yaml; did you mean 'raft.election-ticks'\?$/);
  refuses(() => load([], { CASKDB_RAFT_TICKMS: '5' }), /unknown environment variable CASKDB_RAFT_TICKMS \(no config key maps to it\); did you mean CASKDB_RAFT_TICK_MS\?$/);
  refuses(() => load([], { CASKDB_MAXCLIENT: '5' }), /did you mean CASKDB_MAXCLIENTS\?$/);
  assert.throws(() => load(['--nosuch', '1']), (e: Error) => !e.message.includes('did you mean'));
  assert.throws(() => load(['--zzzzzzzzzz', '1']), (e: Error) => !e.message.includes('did you mean'));
});

test('bad values are refused, naming the key, the value and the source', () => {
  refuses(() => load(['--port', '70000']), /invalid value for 'port' \(flag --port\): "70000" is above the maximum 65535/);
  refuses(() => load([], { CASKDB_SYNC: 'sometimes' }), /invalid value for 'sync' \(environment variable CASKDB_SYNC\)/);
  refuses(() => load(['--maxclients', '1.5']), /'maxclients'.*is not an integer/);
  refuses(() => load(['--proto-max-bulk-len', '12 parsecs']), /'proto-max-bulk-len'.*is not a size/);
  refuses(() => load(['--config', 'c.yaml'], {}, { 'c.yaml': 'port: [1]\n' }), /invalid value for 'port' \(config file c.yaml\)/);
});

test('every key has a default that passes its own validation', () => {
  for (const spec of CONFIG_KEYS) {
    const flag = spec.default === '' ? [] : [`--${spec.key}`, String(spec.default)];
    assert.doesNotThrow(() => load(flag), spec.key);
  }
});
