// Server configuration: the key schema, and loading from file, environment and flags.
export { CONFIG_KEYS, KEY_SPECS, envName, type KeySpec, type ServerConfig, type ConfigKey, type ValueType } from './schema.js';
export { loadConfig, coerceValue, parseFlags, configHelp, type LoadedConfig, type LoadOptions, type ConfigSource } from './load-config.js';
