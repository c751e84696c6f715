// `caskdb server`: loads the configuration, opens the engine (standalone), starts the Redis-protocol
// server, logs one startup line, and shuts down cleanly on SIGTERM/SIGINT or SHUTDOWN (exit code 0).
// A second server on the same directory fails fast: the engine's directory lock refuses it.
import { loadConfig, configHelp } from '../config/load-config.js';
import type { ServerConfig } from '../config/schema.js';
import { Db } from '../engine/db.js';
import { StandaloneStore } from '../store/standalone-store.js';
import { CaskError, ErrorCode } from '../util/errors.js';
import { version } from '../util/version.js';
import type { ServerHook } from './hooks.js';
import { ServerLogger } from './logger.js';
import { CaskServer } from './server.js';

/** ZooKeeper registration, loaded only when `registry.zookeeper` is set. */
async function registryHook(config: ServerConfig, log: ServerLogger): Promise<ServerHook> {
  const { startRegistration, advertiseAddress } = await import('../registry/index.js');
  let registration: { stop(): Promise<void> } | undefined;
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
        role: context.store.mode === 'standalone' ? 'standalone' : 'follower',
        sessionTimeoutMs: config['registry.sessionTimeoutMs'],
        log: (line) => log.info(line, { component: 'registry' }),
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
    if (config.mode === 'raft') {
      throw new CaskError(ErrorCode.Config, "mode 'raft' is not available in this build yet: run with mode standalone (the default)");
    }
    const log = new ServerLogger(config['log-level']);
    const engine = await Db.open({
      dir: config.dir,
      sync: config.sync,
      valueBytesMax: Math.max(config['proto-max-bulk-len'], 1024 * 1024),
      logger: (entry) => log.log({ ...entry, component: 'engine' }),
    });
    const store = new StandaloneStore(engine, { stringBytesMax: config['proto-max-bulk-len'] });
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
      `caskdb ${version} ready: mode=${store.mode} address=${server.address.host}:${server.address.port} dir=${config.dir} keys=${engine.size} in ${ms} ms`,
      { event: 'ready', version, mode: store.mode, host: server.address.host, port: server.address.port, dir: config.dir, keys: engine.size, startupMs: ms, sync: config.sync },
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
    return 0;
  },
};
