// `caskdb server`: loads the configuration, opens the engine (standalone), starts the Redis-protocol
// server, logs one startup line, and shuts down cleanly on SIGTERM/SIGINT or SHUTDOWN (exit code 0).
// A second server on the same directory fails fast: the engine's directory lock refuses it.
import { loadConfig, configHelp } from '../config/load-config.js';
import { valueCacheBytesOf, type ServerConfig } from '../config/schema.js';
import { FIELD_BYTES_MAX } from '../codec/record.js';
import { Db } from '../engine/db.js';
import { StandaloneStore } from '../store/standalone-store.js';
import { CaskError, ErrorCode } from '../util/errors.js';
import { version } from '../util/version.js';
import type { KvStore } from '../store/kv-store.js';
import type { ServerHook } from './hooks.js';
import { ServerLogger } from './logger.js';
import { CaskServer } from './server.js';

/** A Raft store's current role and role-change events (the registry publishes them). */
interface RoleSource {
  readonly role: string;
  onRole(listener: (role: string) => void): void;
}

function isRoleSource(store: KvStore): store is KvStore & RoleSource {
  return typeof (store as Partial<RoleSource>).onRole === 'function';
}

function roleOf(store: KvStore): string {
  return isRoleSource(store) ? store.role : 'follower';
}

function onRoleChange(store: KvStore, listener: (role: string) => void): void {
  if (isRoleSource(store)) store.onRole(listener);
}

/** ZooKeeper registration, loaded only when `registry.zookeeper` is set. */
async function registryHook(config: ServerConfig, log: ServerLogger): Promise<ServerHook> {
  const { startRegistration, advertiseAddress } = await import('../registry/index.js');
  let registration: { stop(): Promise<void>; setRole(role: string): Promise<void> } | undefined;
  return {
    name: 'registry',
    start(context) {
      const advertise = advertiseAddress(config['registry.advertise'], config.bind, context.address.port);
      registration = startRegistration({
        zookeeper: config['registry.zookeeper'],
        root: config['registry.root'],
        cluster: config['registry.cluster'],
        weight: config['registry.weight'],
        advertise,
        role: context.store.mode === 'standalone' ? 'standalone' : roleOf(context.store),
        sessionTimeoutMs: config['registry.sessionTimeoutMs'],
        log: (line) => log.info(line, { component: 'registry' }),
      });
      const reg = registration;
      onRoleChange(context.store, (role) => {
        if (role === 'pre-candidate') return;
        reg.setRole(role).catch((error: unknown) => log.warn('publishing the role failed', { component: 'registry', error: (error as Error).message }));
      });
      log.info('registering in ZooKeeper', { zookeeper: config['registry.zookeeper'], cluster: config['registry.cluster'], advertise });
    },
    async stop() {
      await registration?.stop();
    },
  };
}

export interface RunningServer {
  server: CaskServer;
  /** Resolves with the exit code once the server has stopped. */
  exited: Promise<number>;
}

export const serverCommand = {
  async run(argv: string[]): Promise<number> {
    const started = performance.now();
    const { config, sources, configFile } = loadConfig({ argv });
    if (argv.includes('--help') || argv.includes('-h')) {
      process.stdout.write(configHelp() + '\n');
      return 0;
    }
    const log = new ServerLogger(config['log-level']);
    let store: KvStore;
    if (config.mode === 'raft') {
      // Lock, recover the engine, recover the Raft log, join the cluster — then (below) open the client port.
      const { openRaftStore } = await import('../cluster/index.js');
      store = await openRaftStore(config, log);
    } else {
      const engine = await Db.open({
        dir: config.dir,
        sync: config.sync,
        syncThread: config['sync-thread'],
        valueCacheBytes: valueCacheBytesOf(config),
        mmapReads: config['mmap-reads'] === 'yes',
        // 'auto' (the default) leaves the choice to the engine: mapped where the addon is built, except under
        // sync always; a machine without the addon then starts without a warning.
        ...(config['mmap-writes'] === 'auto' ? {} : { mmapWrites: config['mmap-writes'] === 'yes' }),
        // The server's own limit is proto-max-bulk-len, settable at run time; the engine takes any value the
        // format can hold, so raising it needs no restart.
        valueBytesMax: FIELD_BYTES_MAX,
        logger: (entry) => log.log({ ...entry, component: 'engine' }),
      });
      store = new StandaloneStore(engine, { stringBytesMax: config['proto-max-bulk-len'], valueBytesMax: FIELD_BYTES_MAX });
    }
    const hooks: ServerHook[] = [];
    if (config['registry.zookeeper'] !== '') hooks.push(await registryHook(config, log));
    const server = new CaskServer({ config, sources, configFile, store, log, hooks });
    try {
      await server.listen();
    } catch (error) {
      await store.close();
      throw new CaskError(ErrorCode.Config, `cannot listen on ${config.bind}:${config.port}: ${(error as Error).message}`);
    }
    const ms = Math.round(performance.now() - started);
    log.info(
      `caskdb ${version} ready: mode=${store.mode} address=${server.address.host}:${server.address.port} dir=${config.dir} keys=${store.view.size} in ${ms} ms`,
      { event: 'ready', version, mode: store.mode, host: server.address.host, port: server.address.port, dir: config.dir, keys: store.view.size, startupMs: ms, sync: config.sync },
    );
    const onSignal = (signal: string) => {
      void server.shutdown(signal).catch(() => undefined);
    };
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    process.on('SIGINT', () => onSignal('SIGINT'));
    try {
      await server.stopped;
    } catch {
      return 1;
    }
    process.removeAllListeners('SIGTERM');
    process.removeAllListeners('SIGINT');
    return server.closeError === undefined ? 0 : 1;
  },
};
