// `caskdb/client`: the load-balancing client. Discovers servers in ZooKeeper (or takes a fixed list),
// spreads requests with a pluggable balancer, fails over safely, and raises typed CaskErrors.
export { createClient, CaskClient, CaskMulti, type ClientOptions, type ClientTarget, type SetOptions, type ScanOptions, type Value } from './caskdb-client.js';
export {
  createBalancer, createPrng, BALANCER_NAMES, DEFAULT_VIRTUAL_NODES, DEFAULT_WEIGHT,
  type Balancer, type BalancerName, type BalancerRequest, type BalancerServer, type RandomSource,
} from '../balancer/index.js';
export type { Registry, ServerRecord, RegistrationData } from '../registry/types.js';
export { CaskError, ErrorCode, isCaskError, type ErrorCodeValue } from '../util/errors.js';
