// The server lifecycle hook that registers a running `caskdb server` in ZooKeeper from its `registry.*`
// config: started after listen, stopped first at shutdown (the node goes before the server stops serving).
// No-op when `registry.zookeeper` is empty. `setRole` lets Raft mode publish leader/follower changes.
import type { ServerHook, ServerHookContext } from '../server/hooks.js';
import { advertiseAddress, startRegistration, type ServerRegistration } from './start-registration.js';

export interface RegistryHook extends ServerHook {
  /** Publishes a role change; remembered and published at start when called before it. */
  setRole(role: string): Promise<void>;
}

export function createRegistryHook(initialRole = 'standalone'): RegistryHook {
  let registration: ServerRegistration | undefined;
  let role = initialRole;
  return {
    name: 'registry',
    start(context: ServerHookContext): void {
      const config = context.config;
      if (config['registry.zookeeper'] === '') return;
      const advertise = advertiseAddress(config['registry.advertise'], context.address.host, context.address.port);
      registration = startRegistration({
        zookeeper: config['registry.zookeeper'],
        root: config['registry.root'],
        cluster: config['registry.cluster'],
        weight: config['registry.weight'],
        advertise,
        role,
        sessionTimeoutMs: config['registry.sessionTimeoutMs'],
        log: (line) => context.log.warn(line, { component: 'registry' }),
      });
      context.log.info('registering in ZooKeeper', {
        zookeeper: config['registry.zookeeper'],
        path: `${config['registry.root']}/${config['registry.cluster']}/${advertise}`,
      });
    },
    async stop(): Promise<void> {
      const r = registration;
      registration = undefined;
      await r?.stop();
    },
    async setRole(next: string): Promise<void> {
      role = next;
      await registration?.setRole(next);
    },
  };
}
