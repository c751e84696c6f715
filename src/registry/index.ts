// The registry module: where servers announce themselves and clients find them.
export * from './types.js';
export { MemoryRegistry, MemoryRegistryHub } from './memory-registry.js';
export { ZooKeeperRegistry, validateRoot, type ZooKeeperRegistryOptions } from './zookeeper-registry.js';
export { startRegistration, advertiseAddress, type RegistrationConfig, type ServerRegistration } from './start-registration.js';
export { Backoff, type BackoffOptions } from './backoff.js';
