// The in-memory registry passes the same conformance suite as the ZooKeeper one.
import { MemoryRegistryHub, type MemoryRegistry } from '../../src/registry/index.js';
import { registryConformance } from './conformance.js';

const hub = new MemoryRegistryHub();
registryConformance('memory registry', () => ({
  open: async () => hub.connect(),
  expire: async (session) => hub.expire(session as MemoryRegistry),
  outage: async (whileDown) => {
    hub.setReachable(false);
    try { await whileDown(); } finally { hub.setReachable(true); }
  },
}));
